//! The slow path: a line that did not parse into the expected shape is re-read as a generic
//! JSON value to say exactly which field is wrong.

use super::analyzer::Analyzer;
use super::record_view::{borrowed, RecordView, Turn};
use super::ModelRules;
use serde_json::Value;
use std::borrow::Cow;

/// Images one message may hold (the Nova user guide; AWS's validator).
const MAX_IMAGES_PER_MESSAGE: usize = 10;

impl<'o> Analyzer<'o> {
    /// Structural diagnosis of a line that did not parse into the expected shape.
    pub(super) fn view_from_value<'v>(&mut self, value: &'v Value, line: usize) -> RecordView<'v> {
        let mut view = RecordView {
            schema_version: None,
            system: Vec::new(),
            messages: Vec::new(),
        };
        let Some(object) = value.as_object() else {
            self.error(
                line,
                "record",
                format!("expected a JSON object, found {}", kind(value)),
            );
            return view;
        };
        for key in object.keys() {
            if !matches!(key.as_str(), "schemaVersion" | "system" | "messages") {
                self.warn(line, key.clone(), "unknown field; Bedrock reads only schemaVersion, system and messages: remove it");
            }
        }
        if let Some(version) = object.get("schemaVersion") {
            if let Some(version) = version.as_str() {
                view.schema_version = Some(Cow::Borrowed(version));
            } else {
                self.error(
                    line,
                    "schemaVersion",
                    format!(
                        "must be a string such as \"bedrock-conversation-2024\", found {}",
                        kind(version)
                    ),
                );
            }
        }
        match object.get("system") {
            None | Some(Value::Null) => {}
            Some(Value::Array(blocks)) => {
                for (i, block) in blocks.iter().enumerate() {
                    if let Some(text) =
                        self.text_block(block, &format!("system[{i}]"), "system", line)
                    {
                        view.system.push(borrowed(text));
                    }
                }
            }
            Some(other) => self.error(
                line,
                "system",
                format!(
                    "must be a list of {{\"text\": ...}} blocks, found {}",
                    kind(other)
                ),
            ),
        }
        let messages = match object.get("messages") {
            Some(Value::Array(messages)) => messages,
            Some(other) => {
                self.error(
                    line,
                    "messages",
                    format!("must be a list of messages, found {}", kind(other)),
                );
                return view;
            }
            None => {
                self.error(
                    line,
                    "messages",
                    "missing: every record needs a \"messages\" list of user/assistant turns",
                );
                return view;
            }
        };
        for (i, message) in messages.iter().enumerate() {
            let field = format!("messages[{i}]");
            let Some(message) = message.as_object() else {
                self.error(
                    line,
                    field,
                    format!(
                        "expected an object with role and content, found {}",
                        kind(message)
                    ),
                );
                continue;
            };
            for key in message.keys() {
                if !matches!(key.as_str(), "role" | "content") {
                    self.warn(
                        line,
                        format!("{field}.{key}"),
                        "unknown field; a message has only role and content: remove it",
                    );
                }
            }
            let role = match message.get("role") {
                Some(Value::String(role)) => role.as_str(),
                Some(other) => {
                    self.error(
                        line,
                        format!("{field}.role"),
                        format!("must be a string, found {}", kind(other)),
                    );
                    ""
                }
                None => {
                    self.error(
                        line,
                        format!("{field}.role"),
                        "missing: add \"role\": \"user\" or \"assistant\"",
                    );
                    ""
                }
            };
            let mut texts = Vec::new();
            match message.get("content") {
                Some(Value::Array(blocks)) => {
                    self.check_media_counts(blocks, &field, line);
                    for (j, block) in blocks.iter().enumerate() {
                        if let Some(text) =
                            self.text_block(block, &format!("{field}.content[{j}]"), role, line)
                        {
                            texts.push(borrowed(text));
                        }
                    }
                }
                Some(other) => self.error(
                    line,
                    format!("{field}.content"),
                    format!(
                        "must be a list of {{\"text\": ...}} blocks, found {}",
                        kind(other)
                    ),
                ),
                None => self.error(
                    line,
                    format!("{field}.content"),
                    "missing: add \"content\": [{\"text\": \"...\"}]",
                ),
            }
            view.messages.push(Turn {
                role: Cow::Borrowed(role),
                content: texts,
            });
        }
        view
    }

    /// A `{"text": ...}` block; media, reasoning and tool blocks are checked against the base
    /// model's rules (Nova 2 Lite takes images or videos from the user and reasoning from the
    /// assistant; Nova Micro takes text only).
    fn text_block<'v>(
        &mut self,
        block: &'v Value,
        field: &str,
        role: &str,
        line: usize,
    ) -> Option<&'v str> {
        let Some(object) = block.as_object() else {
            self.error(
                line,
                field,
                format!("expected {{\"text\": ...}}, found {}", kind(block)),
            );
            return None;
        };
        let mut text = None;
        for (key, value) in object {
            match key.as_str() {
                "text" => match value {
                    Value::String(s) => text = Some(s.as_str()),
                    other => self.error(line, format!("{field}.text"), format!("must be a string, found {}", kind(other))),
                },
                "image" | "video" if self.options.model.takes_media() => {
                    self.media_block(key, value, &format!("{field}.{key}"), role, line)
                }
                "reasoningContent" if self.options.model.takes_reasoning() => {
                    self.reasoning_block(value, &format!("{field}.{key}"), role, line)
                }
                "image" | "video" | "document" => {
                    let message = if self.options.model.takes_media() {
                        "Invalid content, document samples are not supported for fine-tuning: keep text, image or video blocks".to_string()
                    } else {
                        format!("Invalid content, image/video/document samples not supported by {} model: keep text blocks only (Nova Lite, Pro and 2 Lite take images or videos)", self.options.model.name())
                    };
                    self.error(line, format!("{field}.{key}"), message)
                }
                "toolUse" | "toolResult" | "reasoningContent" => self.error(line,
                    format!("{field}.{key}"),
                    format!("tool and reasoning blocks are not supported for {} fine-tuning: keep text blocks only", self.options.model.name()),
                ),
                _ => self.error(line, format!("{field}.{key}"), "unknown content block: a block is {\"text\": \"...\"}"),
            }
        }
        if text.is_none() && object.is_empty() {
            self.error(
                line,
                field,
                "Invalid content, empty text content: the block has no \"text\"",
            );
        }
        text
    }
}

impl Analyzer<'_> {
    /// An image or video block of a user turn (Nova Lite, Pro, 2 Lite): `{"format": ..., "source": {"s3Location":
    /// {"uri": ...}} | {"bytes": ...}}`, one kind per record (and, checked by the collector,
    /// per dataset).
    fn media_block(&mut self, key: &str, value: &Value, field: &str, role: &str, line: usize) {
        if role != "user" {
            self.error(
                line,
                field,
                format!("{key} blocks belong in user turns only"),
            );
            return;
        }
        // Nova 1's formats are AWS's validator's; Nova 2 takes Converse's video formats.
        let formats: &[&str] = match (key, self.options.model) {
            ("image", _) => &["png", "jpeg", "gif", "webp"],
            (_, ModelRules::Nova2) => &[
                "mp4", "mov", "mkv", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp",
            ],
            _ => &["mp4", "mov", "mkv", "webm"],
        };
        match value.get("format").and_then(Value::as_str) {
            Some(format) if formats.contains(&format) => {}
            _ => self.error(
                line,
                format!("{field}.format"),
                format!("must be one of {}", formats.join(", ")),
            ),
        }
        let source = value.get("source");
        let uri = source
            .and_then(|s| s.pointer("/s3Location/uri"))
            .and_then(Value::as_str);
        let located = uri.is_some_and(|u| u.starts_with("s3://"));
        if let Some(uri) = uri.filter(|u| located && !is_plain_path(&u["s3://".len()..])) {
            self.error(line, format!("{field}.source.s3Location.uri"), format!("Invalid characters in 'uri' {uri:?}. Only alphanumeric, underscores, hyphens, slashes, and dots are allowed: rename the object"));
        }
        let inline = source
            .and_then(|s| s.get("bytes"))
            .is_some_and(Value::is_string);
        if !located && !inline {
            self.error(
                line,
                format!("{field}.source"),
                "needs {\"s3Location\": {\"uri\": \"s3://...\"}} (or base64 \"bytes\")",
            );
        }
        let kind = if key == "image" { "image" } else { "video" };
        match self.media {
            Some(other) if other != kind => self.error(
                line,
                field,
                format!(
                    "a record holds {other} and {kind} blocks: use one kind of media per dataset"
                ),
            ),
            _ => self.media = Some(kind),
        }
    }

    /// At most 10 images or one video in one message, never both (the Nova user guide and
    /// AWS's validator); each block's own checks are [`Self::media_block`]'s.
    fn check_media_counts(&mut self, blocks: &[Value], field: &str, line: usize) {
        if !self.options.model.takes_media() {
            return;
        }
        let count = |key: &str| blocks.iter().filter(|b| b.get(key).is_some()).count();
        let (images, videos) = (count("image"), count("video"));
        if images > MAX_IMAGES_PER_MESSAGE {
            self.error(line, format!("{field}.content"), format!("Invalid content, number of images {images} exceed maximum allowed limit of {MAX_IMAGES_PER_MESSAGE}: split the message"));
        }
        if videos > 1 {
            self.error(
                line,
                format!("{field}.content"),
                format!("Only one video is allowed per sample, found {videos}"),
            );
        }
        if images > 0 && videos > 0 {
            self.error(
                line,
                format!("{field}.content"),
                "'content' list cannot contain both video items and image items for a given sample",
            );
        }
    }

    /// A reasoning block of a Nova 2 assistant turn: `{"reasoningText": {"text": ...}}`.
    fn reasoning_block(&mut self, value: &Value, field: &str, role: &str, line: usize) {
        if role != "assistant" {
            self.error(
                line,
                field,
                "reasoningContent belongs in assistant turns only",
            );
            return;
        }
        let text = value.pointer("/reasoningText/text").and_then(Value::as_str);
        if text.is_none_or(|t| t.trim().is_empty()) {
            self.error(
                line,
                format!("{field}.reasoningText.text"),
                "must be non-empty text: {\"reasoningText\": {\"text\": \"...\"}}",
            );
        }
    }
}

/// Letters, digits, `_`, `-`, `/` and `.` only: what AWS's validator allows in a media URI (and
/// the Nova user guide in data file names).
fn is_plain_path(path: &str) -> bool {
    !path.is_empty()
        && path
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '/' | '.'))
}

pub(super) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

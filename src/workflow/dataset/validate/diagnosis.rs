//! The slow path: a line that did not parse into the expected shape is re-read as a generic
//! JSON value to say exactly which field is wrong.

use super::analyzer::Analyzer;
use super::record_view::{borrowed, RecordView, Turn};
use serde_json::Value;
use std::borrow::Cow;

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
                    if let Some(text) = self.text_block(block, &format!("system[{i}]"), line) {
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
                    for (j, block) in blocks.iter().enumerate() {
                        if let Some(text) =
                            self.text_block(block, &format!("{field}.content[{j}]"), line)
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

    /// A `{"text": ...}` block; media and tool blocks are reported as unsupported by Nova Micro.
    fn text_block<'v>(&mut self, block: &'v Value, field: &str, line: usize) -> Option<&'v str> {
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
                "image" | "video" | "document" => self.error(line,
                    format!("{field}.{key}"),
                    "Invalid content, image/video/document samples not supported by Nova Micro model: keep text blocks only",
                ),
                "toolUse" | "toolResult" | "reasoningContent" => self.error(line,
                    format!("{field}.{key}"),
                    "tool and reasoning blocks are not supported for Nova Micro fine-tuning: keep text blocks only",
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

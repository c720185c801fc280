//! The semantic rules of bedrock-conversation-2024, shared by every parse path, so each rule
//! is written once.

use super::super::record::SCHEMA_VERSION;
use super::super::stats::{system_hash, RecordFacts};
use super::analyzer::{Analyzer, Outcome};
use super::record_view::{NeedsDiagnosis, RecordView, SystemInfo, SystemSource, TextBlock, Turn};
use super::{reserved_strings, Reserved, Task};
use crate::error::Result;
use crate::tokens::estimate_tokens;
use serde_json::value::RawValue;
use std::borrow::Cow;

impl<'o> Analyzer<'o> {
    /// The semantic rules, shared by every parse path. Fails only when a raw system prompt
    /// does not parse, before anything is reported, so the caller can diagnose the line.
    pub(super) fn check_view<'v>(
        &mut self,
        view: &RecordView<'v>,
        system: SystemSource<'_, 'v>,
        line: usize,
        keep: bool,
    ) -> Result<Outcome<'v>, NeedsDiagnosis> {
        let errors_before = self.errors;
        let system_ok = self.check_system(system, line)?;
        let task = self.options.task;
        if let Some(version) = view
            .schema_version
            .as_deref()
            .filter(|v| *v != SCHEMA_VERSION)
        {
            self.warn(
                line,
                "schemaVersion",
                format!(
                    "{version:?} is not the format name {SCHEMA_VERSION:?}: use that exact string"
                ),
            );
        }
        let system_tokens = match (&self.system, system_ok) {
            (Some(info), true) => info.tokens,
            _ => 0,
        };
        let messages = &view.messages;
        let needed = match task {
            Task::FineTuning => 2,
            Task::Distillation | Task::ReinforcementFineTuning => 1,
        };
        if messages.len() < needed {
            let message = match task {
                Task::FineTuning => {
                    "Invalid messages, both ['user', 'assistant'] are needed in sample"
                }
                Task::Distillation | Task::ReinforcementFineTuning => {
                    "Invalid messages, a prompt needs at least one user message"
                }
            };
            self.error(line, "messages", message);
        }
        let (mut input_tokens, mut output_tokens) = (system_tokens, 0usize);
        let answer_index = match messages.last() {
            Some(turn) if turn.role == "assistant" && messages.len() > 1 => {
                Some(messages.len() - 1)
            }
            _ => None,
        };
        for (
            i,
            Turn {
                role,
                content: texts,
            },
        ) in messages.iter().enumerate()
        {
            let field = || format!("messages[{i}]");
            let expected = if i % 2 == 0 { "user" } else { "assistant" };
            if role != "user" && role != "assistant" {
                self.error(line, format!("{}.role", field()), format!("Invalid value for role {role:?}, valid values are ['user', 'assistant'] (put system instructions in the top-level \"system\" list)"));
            } else if role != expected {
                self.error(line, format!("{}.role", field()), format!("Invalid messages, expected {expected} role but found {role}: turns must alternate user, assistant, user, ..."));
            }
            if texts.is_empty() {
                // AWS's validator takes an empty content list; nothing documents a rule.
                self.warn(
                    line,
                    format!("{}.content", field()),
                    "empty content list: the turn says nothing; add a {\"text\": ...} block",
                );
            }
            for (j, TextBlock { text }) in texts.iter().enumerate() {
                let text_field = || format!("{}.content[{j}].text", field());
                let of = if role == "assistant" {
                    TextOf::Answer
                } else {
                    TextOf::Prompt
                };
                self.check_text(text, text_field, line, of);
                let tokens = estimate_tokens(text);
                if Some(i) == answer_index {
                    output_tokens += tokens;
                } else {
                    input_tokens += tokens;
                }
            }
        }
        if task == Task::FineTuning && messages.len() >= 2 {
            if let Some(Turn { role, .. }) = messages.last() {
                if role != "assistant" {
                    self.error(line, format!("messages[{}].role", messages.len() - 1), "Invalid messages, last turn should have assistant role: end each record with the answer");
                }
            }
        }
        let tokens = input_tokens + output_tokens;
        if tokens > self.options.max_record_tokens {
            self.warn(line, "record", format!("about {tokens} tokens (estimated), over the {} commonly quoted as a record's limit (Bedrock publishes none): shorten or split it", self.options.max_record_tokens));
        }
        if self.errors != errors_before {
            return Ok(self.take());
        }
        let prompt_end = answer_index.unwrap_or(messages.len());
        let prompt_turns = messages[..prompt_end]
            .iter()
            .map(|m| (m.role.as_ref(), m.content.as_slice()));
        let answer = answer_index.map(|i| match messages[i].content.as_slice() {
            [TextBlock {
                text: Cow::Borrowed(text),
            }] => Cow::Borrowed(*text),
            blocks => Cow::Owned(
                blocks
                    .iter()
                    .map(|b| b.text.as_ref())
                    .collect::<Vec<_>>()
                    .join("\n"),
            ),
        });
        let info = self
            .system
            .as_ref()
            .expect("a valid record has a checked system prompt");
        let facts = RecordFacts::of(
            info.hash,
            &info.texts,
            prompt_turns,
            answer,
            (input_tokens, output_tokens),
            self.last_system_hash,
        );
        let record = keep.then(|| view.to_conversation(&info.texts));
        self.last_system_hash = Some(facts.system_hash);
        Ok(Outcome {
            issues: std::mem::take(&mut self.issues),
            facts: Some(facts),
            record,
            media: None,
        })
    }

    /// Check a record's system prompt and remember it when it passes. Most records repeat the
    /// last prompt, which is then recognised by its raw bytes (or texts) and not checked again.
    /// Returns whether it passed; fails when raw JSON does not parse as text blocks.
    fn check_system(
        &mut self,
        source: SystemSource<'_, '_>,
        line: usize,
    ) -> Result<bool, NeedsDiagnosis> {
        let parsed: Vec<TextBlock<'_>>;
        let (blocks, raw): (&[TextBlock<'_>], Option<&str>) = match source {
            SystemSource::Raw(raw) => {
                let raw_text = raw.map_or("null", RawValue::get);
                if self
                    .system
                    .as_ref()
                    .is_some_and(|s| s.raw.as_deref() == Some(raw_text))
                {
                    return Ok(true);
                }
                parsed = serde_json::from_str::<Option<Vec<TextBlock<'_>>>>(raw_text)
                    .map_err(|_| NeedsDiagnosis)?
                    .unwrap_or_default();
                (&parsed, Some(raw_text))
            }
            SystemSource::Blocks(blocks) => {
                let same = self.system.as_ref().is_some_and(|s| {
                    s.texts.len() == blocks.len()
                        && s.texts.iter().zip(blocks).all(|(a, b)| *a == b.text)
                });
                if same {
                    return Ok(true);
                }
                (blocks, None)
            }
        };
        let errors_before = self.errors;
        for (i, block) in blocks.iter().enumerate() {
            self.check_text(
                &block.text,
                || format!("system[{i}].text"),
                line,
                TextOf::System,
            );
        }
        if self.errors != errors_before {
            return Ok(false);
        }
        let texts: Vec<String> = blocks.iter().map(|b| b.text.to_string()).collect();
        self.system = Some(SystemInfo {
            raw: raw.map(Box::from),
            tokens: texts.iter().map(|t| estimate_tokens(t)).sum(),
            hash: system_hash(&texts),
            texts,
        });
        Ok(true)
    }

    /// A text block's rules: a text of length 0 in a turn refused, as AWS's validator does,
    /// and the user guide's reserved strings in a system or user prompt, as the guide says
    /// they fail the job; what may still fail a job is warned about (blank text, an empty
    /// system text, reserved strings in other spellings or in an answer).
    fn check_text(&mut self, text: &str, field: impl Fn() -> String, line: usize, of: TextOf) {
        if text.is_empty() {
            match of {
                TextOf::Prompt | TextOf::Answer => {
                    self.error(line, field(), "Invalid content, empty text content")
                }
                TextOf::System => self.warn(line, field(), "empty system text: remove the block"),
            }
            return;
        }
        if text.trim().is_empty() {
            self.warn(
                line,
                field(),
                "blank text (only white space): the turn says nothing",
            );
            return;
        }
        let prompt = matches!(of, TextOf::System | TextOf::Prompt);
        if let Some(reserved) = Reserved::find(text, prompt) {
            self.push(reserved.severity(), line, field(), reserved.message());
        }
    }
}

/// Where a text block stands: its rules differ.
#[derive(Clone, Copy)]
enum TextOf {
    System,
    /// A user turn.
    Prompt,
    /// An assistant turn.
    Answer,
}

/// The first reserved string in `text`, matched case-insensitively.
pub fn find_reserved(text: &str) -> Option<&'static str> {
    // Every reserved string ends in ':' or starts with '<' or '[', so only those bytes can
    // anchor a match; memchr finds them with SIMD and skips the rest at memory speed.
    let bytes = text.as_bytes();
    for at in memchr::memchr3_iter(b':', b'<', b'[', bytes) {
        let byte = bytes[at];
        let found = if byte == b':' {
            reserved_strings().find(|r| {
                let word = &r.as_bytes()[..r.len() - 1];
                r.ends_with(':')
                    && at >= word.len()
                    && bytes[at - word.len()..at].eq_ignore_ascii_case(word)
            })
        } else {
            reserved_strings().find(|r| {
                let r = r.as_bytes();
                r[0] == byte
                    && bytes.len() - at >= r.len()
                    && bytes[at..at + r.len()].eq_ignore_ascii_case(r)
            })
        };
        if found.is_some() {
            return found;
        }
    }
    None
}

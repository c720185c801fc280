//! The borrowed view every check runs on: a record's fields borrowed from the line (fast
//! path), from a generic JSON value (the diagnosing slow path) or from records in memory.

use super::super::record::{Conversation, Message, Role};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// A record as the checks see it: fields borrowed from the line (fast path), from a generic
/// JSON value (the diagnosing slow path) or from records in memory.
#[derive(Debug)]
pub(super) struct RecordView<'a> {
    pub(super) schema_version: Option<Cow<'a, str>>,
    pub(super) system: Vec<TextBlock<'a>>,
    pub(super) messages: Vec<Turn<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct TextBlock<'a> {
    #[serde(borrow)]
    pub(super) text: Cow<'a, str>,
}

impl AsRef<str> for TextBlock<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Turn<'a> {
    #[serde(borrow)]
    pub(super) role: Cow<'a, str>,
    #[serde(borrow)]
    pub(super) content: Vec<TextBlock<'a>>,
}

/// The fast path's parse: `system` is kept as raw JSON so a repeated system prompt can be
/// recognised by its bytes, without unescaping and re-checking it for every record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FastRecord<'a> {
    #[serde(rename = "schemaVersion", borrow, default)]
    pub(super) schema_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub(super) system: Option<&'a RawValue>,
    #[serde(borrow)]
    pub(super) messages: Vec<Turn<'a>>,
}

/// Where a record's system prompt comes from.
pub(super) enum SystemSource<'s, 'v> {
    /// Already parsed (slow path, records in memory).
    Blocks(&'s [TextBlock<'v>]),
    /// The raw JSON of the `system` field (fast path); `None` when absent.
    Raw(Option<&'v RawValue>),
}

/// A system prompt that passed the checks, remembered because most records repeat it.
pub(super) struct SystemInfo {
    /// The raw JSON it was parsed from, when it came from the fast path.
    pub(super) raw: Option<Box<str>>,
    pub(super) texts: Vec<String>,
    pub(super) tokens: usize,
    pub(super) hash: u64,
}

/// The raw `system` JSON could not be parsed as text blocks: diagnose the line slowly.
pub(super) struct NeedsDiagnosis;

pub(super) fn borrowed(text: &str) -> TextBlock<'_> {
    TextBlock {
        text: Cow::Borrowed(text),
    }
}

impl<'a> RecordView<'a> {
    pub(super) fn from_conversation(record: &'a Conversation) -> Self {
        RecordView {
            schema_version: None,
            system: record.system.iter().map(|s| borrowed(s)).collect(),
            messages: record
                .messages
                .iter()
                .map(|m| Turn {
                    role: Cow::Borrowed(m.role.as_str()),
                    content: m.texts.iter().map(|t| borrowed(t)).collect(),
                })
                .collect(),
        }
    }

    pub(super) fn to_conversation(&self, system: &[String]) -> Conversation {
        Conversation {
            system: system.to_vec(),
            messages: self
                .messages
                .iter()
                .map(|m| Message {
                    role: if m.role == "assistant" {
                        Role::Assistant
                    } else {
                        Role::User
                    },
                    texts: m.content.iter().map(|b| b.text.to_string()).collect(),
                })
                .collect(),
        }
    }
}

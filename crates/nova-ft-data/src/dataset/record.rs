//! One training example in Bedrock's `bedrock-conversation-2024` schema.

use crate::json_dumps::write_python_json;
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

/// The schema version string Bedrock's Nova customization expects.
pub const SCHEMA_VERSION: &str = "bedrock-conversation-2024";

/// Who speaks a turn. Nova fine-tuning data has no `system` role inside `messages`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    User,
    Assistant,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }
}

/// One turn: a role and its text blocks (Nova Micro is text-only).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Message {
    pub role: Role,
    pub texts: Vec<String>,
}

impl Message {
    pub fn user(text: impl Into<String>) -> Self {
        Message {
            role: Role::User,
            texts: vec![text.into()],
        }
    }

    pub fn assistant(text: impl Into<String>) -> Self {
        Message {
            role: Role::Assistant,
            texts: vec![text.into()],
        }
    }

    /// All text blocks joined by newlines, the way a model reads the turn.
    pub fn text(&self) -> String {
        self.texts.join("\n")
    }
}

/// A conversation record: optional system prompt blocks and alternating turns.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Conversation {
    pub system: Vec<String>,
    pub messages: Vec<Message>,
}

impl Conversation {
    /// The common single-turn shape: system prompt, user text, optional assistant answer.
    pub fn single_turn(system: &str, user: impl Into<String>, answer: Option<String>) -> Self {
        let mut messages = vec![Message::user(user)];
        if let Some(answer) = answer {
            messages.push(Message::assistant(answer));
        }
        let system = if system.is_empty() {
            vec![]
        } else {
            vec![system.to_string()]
        };
        Conversation { system, messages }
    }

    pub fn system_text(&self) -> String {
        self.system.join("\n")
    }

    /// Everything the model reads: every turn but a final assistant answer.
    pub fn prompt_messages(&self) -> &[Message] {
        match self.messages.last() {
            Some(last) if last.role == Role::Assistant => &self.messages[..self.messages.len() - 1],
            _ => &self.messages,
        }
    }

    /// The user-side text (all prompt turns), used for duplicate and leakage checks.
    pub fn input_text(&self) -> String {
        self.prompt_messages()
            .iter()
            .map(Message::text)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The final assistant answer, if the record has one (distillation prompts may not).
    pub fn target(&self) -> Option<String> {
        match self.messages.last() {
            Some(last) if last.role == Role::Assistant => Some(last.text()),
            _ => None,
        }
    }

    /// Append this record as one JSONL line, byte-identical to Python's `json.dumps`.
    pub fn write_jsonl_line(&self, out: &mut Vec<u8>) {
        write_python_json(out, self).expect("serializing to memory cannot fail");
        out.push(b'\n');
    }
}

struct TextBlocks<'a>(&'a [String]);

impl Serialize for TextBlocks<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.iter().map(|text| {
            let mut block = serde_json::Map::with_capacity(1);
            block.insert("text".into(), serde_json::Value::String(text.clone()));
            block
        }))
    }
}

impl Serialize for Message {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("role", self.role.as_str())?;
        map.serialize_entry("content", &TextBlocks(&self.texts))?;
        map.end()
    }
}

impl Serialize for Conversation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let fields = if self.system.is_empty() { 2 } else { 3 };
        let mut record = serializer.serialize_struct("Conversation", fields)?;
        record.serialize_field("schemaVersion", SCHEMA_VERSION)?;
        if !self.system.is_empty() {
            record.serialize_field("system", &TextBlocks(&self.system))?;
        }
        record.serialize_field("messages", &self.messages)?;
        record.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_in_tutorial_key_order() {
        let record = Conversation::single_turn("sys", "hi", Some("flight".into()));
        let mut out = Vec::new();
        record.write_jsonl_line(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"schemaVersion\": \"bedrock-conversation-2024\", \"system\": [{\"text\": \"sys\"}], \"messages\": [{\"role\": \"user\", \"content\": [{\"text\": \"hi\"}]}, {\"role\": \"assistant\", \"content\": [{\"text\": \"flight\"}]}]}\n"
        );
    }

    #[test]
    fn prompt_and_target_split_the_last_answer() {
        let record = Conversation::single_turn("", "q", Some("a".into()));
        assert_eq!(record.input_text(), "q");
        assert_eq!(record.target().as_deref(), Some("a"));
        let prompt_only = Conversation::single_turn("", "q", None);
        assert_eq!(prompt_only.target(), None);
    }
}

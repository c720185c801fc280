//! Bedrock's rules for Nova fine-tuning data, checked before anything is uploaded.
//!
//! Every rule of `bedrock-conversation-2024` for Nova Micro (see docs/data-rules.md) is checked
//! line by line while streaming, and every problem is reported as `file:line: field: message`.
//! The happy path parses each line into borrowed structs (fast); only a line that does not
//! fit is re-read as a generic JSON value to say exactly which field is wrong. Both paths end
//! in the same semantic checks, so each rule is written once.

use super::record::{Conversation, Message, Role, SCHEMA_VERSION};
use super::stats::{system_hash, DataStats, RecordFacts, StatsBuilder};
use crate::core::error::{NovaError, Result};
use crate::core::tokens::estimate_tokens;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;
use std::io::Read;
use std::path::Path;

/// Strings that make a Nova job fail "due to data issues" when they appear in a system or user
/// prompt (AWS docs list the first seven; AWS's own validator adds the last two and matches
/// case-insensitively, as we do).
pub const RESERVED_STRINGS: [&str; 9] = [
    "User:",
    "Bot:",
    "Assistant:",
    "System:",
    "<image>",
    "<video>",
    "[EOS]",
    "Thought:",
    "<unk>",
];

/// Estimated tokens above which a record is flagged. Bedrock does not publish the per-record
/// limit for Nova Micro fine-tuning; 32k is the commonly quoted figure, and the estimate is ours.
pub const DEFAULT_MAX_RECORD_TOKENS: usize = 32_000;

/// How many problems are listed before the rest are only counted.
pub const DEFAULT_MAX_ISSUES: usize = 100;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem found in a data file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Issue {
    pub file: String,
    /// 1-based line number; `None` for problems of the whole file or data set.
    pub line: Option<usize>,
    /// JSON path of the offending field (`messages[1].role`), or `record`/`file`/`dataset`.
    pub field: String,
    pub message: String,
    pub severity: Severity,
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(
                f,
                "{}:{}: {}: {}",
                self.file, line, self.field, self.message
            ),
            None => write!(f, "{}: {}: {}", self.file, self.field, self.message),
        }
    }
}

/// What kind of customization job the data is for; the rules differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Task {
    /// Supervised fine-tuning: every record ends with the assistant's answer; 8–20,000 records.
    FineTuning,
    /// Distillation: prompts (answers optional, the teacher writes them); 100–15,000 prompts.
    Distillation,
}

impl Task {
    pub fn parse(name: &str) -> Result<Task> {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "sft" | "fine_tuning" | "finetuning" => Ok(Task::FineTuning),
            "distillation" => Ok(Task::Distillation),
            other => Err(NovaError::invalid(format!(
                "unknown task {other:?}: use \"sft\" (FINE_TUNING) or \"distillation\" (DISTILLATION)"
            ))),
        }
    }

    /// Inclusive bounds on the number of records, over all files of one job together.
    pub fn record_bounds(self) -> (usize, usize) {
        match self {
            Task::FineTuning => (8, 20_000),
            Task::Distillation => (100, 15_000),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Task::FineTuning => "SFT",
            Task::Distillation => "distillation",
        }
    }
}

#[derive(Debug, Clone)]
pub struct ValidationOptions {
    pub task: Task,
    pub max_issues: usize,
    pub max_record_tokens: usize,
    /// Check the record-count bounds (off when validating one file that is part of a larger set).
    pub check_counts: bool,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            task: Task::FineTuning,
            max_issues: DEFAULT_MAX_ISSUES,
            max_record_tokens: DEFAULT_MAX_RECORD_TOKENS,
            check_counts: true,
        }
    }
}

/// Records per file, as read.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub path: String,
    pub records: usize,
}

/// The outcome of validating one or more files as one job's data.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    pub task: Task,
    pub files: Vec<FileSummary>,
    pub errors: Vec<Issue>,
    pub warnings: Vec<Issue>,
    /// Errors found beyond `max_issues`, counted but not listed.
    pub omitted_errors: usize,
    pub omitted_warnings: usize,
    pub stats: DataStats,
}

impl ValidationReport {
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && self.omitted_errors == 0
    }

    pub fn error_count(&self) -> usize {
        self.errors.len() + self.omitted_errors
    }

    /// Turn a failed report into the error users get from upload and training calls.
    pub fn into_result(self) -> Result<ValidationReport> {
        if self.ok() {
            return Ok(self);
        }
        let files: Vec<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        let mut summary = format!(
            "{} problem(s) in {}; nothing was uploaded or written. Fix these lines and run again:",
            self.error_count(),
            files.join(", ")
        );
        for issue in self.errors.iter().take(10) {
            summary.push_str("\n  ");
            summary.push_str(&issue.to_string());
        }
        if self.error_count() > 10 {
            summary.push_str(&format!("\n  ... and {} more", self.error_count() - 10));
        }
        Err(NovaError::DatasetValidation {
            summary,
            issues: self.errors,
            omitted: self.omitted_errors,
        })
    }
}

/// Validate files as the data of one job (the record-count bounds apply to their sum).
pub fn validate_files<P: AsRef<Path>>(
    paths: &[P],
    options: &ValidationOptions,
) -> Result<ValidationReport> {
    let mut collector = Collector::new(options.clone());
    for path in paths {
        collector.read_file(path.as_ref(), false)?;
    }
    Ok(collector.finish())
}

/// Read one JSONL file into records, failing with every problem found if any rule is broken.
pub fn load_conversations(path: &Path, task: Task) -> Result<Vec<Conversation>> {
    let options = ValidationOptions {
        task,
        check_counts: false,
        ..ValidationOptions::default()
    };
    let mut collector = Collector::new(options);
    let records = collector.read_file(path, true)?;
    collector.finish().into_result()?;
    Ok(records)
}

/// Validate named in-memory sources (for example objects read from S3) as one job's data, with
/// the record-count bounds over all of them, and return each source's records; on any error,
/// every problem found.
pub fn load_sources(
    sources: &[(&str, &[u8])],
    task: Task,
) -> Result<(Vec<Vec<Conversation>>, ValidationReport)> {
    let options = ValidationOptions {
        task,
        ..ValidationOptions::default()
    };
    let mut collector = Collector::new(options);
    let mut all = Vec::with_capacity(sources.len());
    for (name, bytes) in sources {
        let records = collector
            .read_source(*bytes, name, true)
            .map_err(|e| NovaError::io(*name, e))?;
        all.push(records);
    }
    let report = collector.finish().into_result()?;
    Ok((all, report))
}

/// Validate splits already in memory as one job's data. Each split is reported as the file it
/// would be written to (`<split>.jsonl`), with 1-based record numbers as line numbers.
pub fn validate_records(
    splits: &[(&str, &[Conversation])],
    options: &ValidationOptions,
) -> ValidationReport {
    let mut collector = Collector::new(options.clone());
    let mut analyzer = Analyzer::new(options);
    for (name, records) in splits {
        collector.start_file(&format!("{name}.jsonl"));
        for (i, record) in records.iter().enumerate() {
            let view = RecordView::from_conversation(record);
            let outcome = analyzer
                .check_view(&view, SystemSource::Blocks(&view.system), i + 1, false)
                .unwrap_or_default();
            collector.absorb(outcome, i + 1);
        }
        collector.end_file();
    }
    collector.finish()
}

// ---------------------------------------------------------------------------------------------
// The borrowed view every check runs on.

/// A record as the checks see it: fields borrowed from the line (fast path), from a generic
/// JSON value (the diagnosing slow path) or from records in memory.
#[derive(Debug)]
struct RecordView<'a> {
    schema_version: Option<Cow<'a, str>>,
    system: Vec<TextBlock<'a>>,
    messages: Vec<Turn<'a>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TextBlock<'a> {
    #[serde(borrow)]
    text: Cow<'a, str>,
}

impl AsRef<str> for TextBlock<'_> {
    fn as_ref(&self) -> &str {
        &self.text
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Turn<'a> {
    #[serde(borrow)]
    role: Cow<'a, str>,
    #[serde(borrow)]
    content: Vec<TextBlock<'a>>,
}

/// The fast path's parse: `system` is kept as raw JSON so a repeated system prompt can be
/// recognised by its bytes, without unescaping and re-checking it for every record.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FastRecord<'a> {
    #[serde(rename = "schemaVersion", borrow, default)]
    schema_version: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    system: Option<&'a RawValue>,
    #[serde(borrow)]
    messages: Vec<Turn<'a>>,
}

/// Where a record's system prompt comes from.
enum SystemSource<'s, 'v> {
    /// Already parsed (slow path, records in memory).
    Blocks(&'s [TextBlock<'v>]),
    /// The raw JSON of the `system` field (fast path); `None` when absent.
    Raw(Option<&'v RawValue>),
}

/// A system prompt that passed the checks, remembered because most records repeat it.
struct SystemInfo {
    /// The raw JSON it was parsed from, when it came from the fast path.
    raw: Option<Box<str>>,
    texts: Vec<String>,
    tokens: usize,
    hash: u64,
}

/// The raw `system` JSON could not be parsed as text blocks: diagnose the line slowly.
struct NeedsDiagnosis;

fn borrowed(text: &str) -> TextBlock<'_> {
    TextBlock {
        text: Cow::Borrowed(text),
    }
}

impl<'a> RecordView<'a> {
    fn from_conversation(record: &'a Conversation) -> Self {
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

    fn to_conversation(&self, system: &[String]) -> Conversation {
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

// ---------------------------------------------------------------------------------------------
// Checking: an `Analyzer` checks lines on its own (one per thread) and a `Collector` merges
// their outcomes in line order, so reports are the same whatever the number of threads.

/// A problem found on a line, before the collector names its file.
struct LineIssue {
    line: usize,
    field: String,
    message: String,
    severity: Severity,
}

/// What checking one line gives: its problems, and the record's facts when it is valid.
/// The facts may borrow from the line, so outcomes live as long as their block of lines.
#[derive(Default)]
struct Outcome<'a> {
    issues: Vec<LineIssue>,
    facts: Option<RecordFacts<'a>>,
    record: Option<Conversation>,
}

/// Bytes per block of lines handed to the threads; big enough to amortise spawning them.
const BLOCK_BYTES: usize = 4 << 20;
/// Below this many lines a block is checked on the calling thread.
const PARALLEL_MIN_LINES: usize = 2_000;

/// Checks lines against the rules. Holds only caches, never results, so one per thread works.
struct Analyzer<'o> {
    options: &'o ValidationOptions,
    issues: Vec<LineIssue>,
    errors: usize,
    /// The last system prompt that passed: most records repeat it.
    system: Option<SystemInfo>,
    last_system_hash: Option<u64>,
}

impl<'o> Analyzer<'o> {
    fn new(options: &'o ValidationOptions) -> Self {
        Analyzer {
            options,
            issues: Vec::new(),
            errors: 0,
            system: None,
            last_system_hash: None,
        }
    }

    fn push(
        &mut self,
        severity: Severity,
        line: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) {
        if severity == Severity::Error {
            self.errors += 1;
        }
        self.issues.push(LineIssue {
            line,
            field: field.into(),
            message: message.into(),
            severity,
        });
    }

    fn error(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, line, field, message);
    }

    fn warn(&mut self, line: usize, field: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, line, field, message);
    }

    /// The issues found so far, as the outcome of a line without a valid record.
    fn take<'v>(&mut self) -> Outcome<'v> {
        Outcome {
            issues: std::mem::take(&mut self.issues),
            facts: None,
            record: None,
        }
    }

    /// Check one raw line (without its newline).
    fn check_line<'v>(&mut self, bytes: &'v [u8], line: usize, keep: bool) -> Outcome<'v> {
        // Fast path: parse straight from the bytes (serde_json checks UTF-8 as it goes).
        if let Ok(fast) = serde_json::from_slice::<FastRecord<'_>>(bytes) {
            let view = RecordView {
                schema_version: fast.schema_version,
                system: Vec::new(),
                messages: fast.messages,
            };
            if let Ok(outcome) = self.check_view(&view, SystemSource::Raw(fast.system), line, keep)
            {
                return outcome;
            }
        }
        // Slow path: find out what exactly is wrong with this line.
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                self.error(
                    line,
                    "record",
                    format!(
                        "invalid UTF-8 at byte {} of the line: save the file as UTF-8",
                        e.valid_up_to() + 1
                    ),
                );
                return self.take();
            }
        };
        if text.trim().is_empty() {
            self.error(
                line,
                "record",
                "empty line: every line must hold one JSON record; remove blank lines",
            );
            return self.take();
        }
        let value: Value = match serde_json::from_str(text) {
            Ok(value) => value,
            Err(e) => {
                self.error(line, "record", format!("Invalid JSON syntax - {e}"));
                return self.take();
            }
        };
        let errors_before = self.errors;
        let view = self.view_from_value(&value, line);
        if self.errors > errors_before {
            return self.take();
        }
        // Parsed blocks never need diagnosis, so the default (empty) outcome is unreachable.
        let outcome = self
            .check_view(&view, SystemSource::Blocks(&view.system), line, keep)
            .unwrap_or_default();
        Outcome {
            facts: outcome.facts.map(RecordFacts::into_owned),
            ..outcome
        }
    }

    /// Structural diagnosis of a line that did not parse into the expected shape.
    fn view_from_value<'v>(&mut self, value: &'v Value, line: usize) -> RecordView<'v> {
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
                "image" | "video" | "document" => self.error(
                    line,
                    format!("{field}.{key}"),
                    "Invalid content, image/video/document samples not supported by Nova Micro model: keep text blocks only",
                ),
                "toolUse" | "toolResult" | "reasoningContent" => self.error(
                    line,
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

    /// The semantic rules, shared by every parse path.
    /// The semantic rules, shared by every parse path. Fails only when a raw system prompt
    /// does not parse, before anything is reported, so the caller can diagnose the line.
    fn check_view<'v>(
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
            Task::Distillation => 1,
        };
        if messages.len() < needed {
            let message = match task {
                Task::FineTuning => {
                    "Invalid messages, both ['user', 'assistant'] are needed in sample"
                }
                Task::Distillation => "Invalid messages, a prompt needs at least one user message",
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
                self.error(
                    line,
                    format!("{}.content", field()),
                    "Invalid content, empty content list: add a {\"text\": ...} block",
                );
            }
            for (j, TextBlock { text }) in texts.iter().enumerate() {
                let text_field = || format!("{}.content[{j}].text", field());
                if role == "user" {
                    self.check_prompt_text(text, text_field, line);
                } else if text.trim().is_empty() {
                    self.error(line, text_field(), "Invalid content, empty text content");
                }
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
            self.error(line, "record", format!("about {tokens} tokens (estimated), over the {} a record may hold: shorten or split it", self.options.max_record_tokens));
        }
        if self.errors != errors_before {
            return Ok(self.take());
        }
        let prompt_end = answer_index.unwrap_or(messages.len());
        let prompt_turns: Vec<(&str, &[TextBlock<'v>])> = messages[..prompt_end]
            .iter()
            .map(|m| (m.role.as_ref(), m.content.as_slice()))
            .collect();
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
            &prompt_turns,
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
            self.check_prompt_text(&block.text, || format!("system[{i}].text"), line);
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

    fn check_prompt_text(&mut self, text: &str, field: impl Fn() -> String, line: usize) {
        if text.trim().is_empty() {
            self.error(line, field(), "Invalid content, empty text content");
            return;
        }
        if let Some(found) = find_reserved(text) {
            self.error(line, field(), format!("Invalid text content, following tokens are invalid: `{found}`. Bedrock fails the job on reserved strings in prompts ({}): reword them", RESERVED_STRINGS.join(" ")));
        }
    }
}

/// Merges outcomes in line order: names files, caps the issue lists, gathers statistics.
struct Collector {
    options: ValidationOptions,
    file: String,
    file_records: usize,
    files: Vec<FileSummary>,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
    omitted_errors: usize,
    omitted_warnings: usize,
    stats: StatsBuilder,
}

impl Collector {
    fn new(options: ValidationOptions) -> Self {
        Collector {
            options,
            file: String::new(),
            file_records: 0,
            files: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
            omitted_errors: 0,
            omitted_warnings: 0,
            stats: StatsBuilder::default(),
        }
    }

    fn error_count(&self) -> usize {
        self.errors.len() + self.omitted_errors
    }

    fn push(&mut self, severity: Severity, line: Option<usize>, field: String, message: String) {
        let (list, omitted) = match severity {
            Severity::Error => (&mut self.errors, &mut self.omitted_errors),
            Severity::Warning => (&mut self.warnings, &mut self.omitted_warnings),
        };
        if list.len() >= self.options.max_issues {
            *omitted += 1;
            return;
        }
        list.push(Issue {
            file: self.file.clone(),
            line,
            field,
            message,
            severity,
        });
    }

    fn start_file(&mut self, file: &str) {
        self.file = file.to_string();
        self.file_records = 0;
        let name = Path::new(file)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if let Some(bad) = name
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "_-/.".contains(*c)))
        {
            self.push(
                Severity::Error,
                None,
                "file".into(),
                format!("file name {name:?} contains {bad:?}; Bedrock accepts only letters, digits and _ - / . in data file names: rename the file"),
            );
        }
    }

    fn end_file(&mut self) {
        self.files.push(FileSummary {
            path: self.file.clone(),
            records: self.file_records,
        });
    }

    /// Take one line's outcome; returns the record it carried, if any.
    fn absorb(&mut self, outcome: Outcome<'_>, line: usize) -> Option<Conversation> {
        for issue in outcome.issues {
            self.push(issue.severity, Some(issue.line), issue.field, issue.message);
        }
        let facts = outcome.facts?;
        self.file_records += 1;
        self.stats.add(facts, (self.files.len(), line));
        outcome.record
    }

    /// Stream a file in blocks of whole lines: a reader thread reads the next block while every
    /// core checks the current one, and outcomes are merged in line order.
    fn read_file(&mut self, path: &Path, keep: bool) -> Result<Vec<Conversation>> {
        let file = std::fs::File::open(path).map_err(|e| NovaError::io(path, e))?;
        self.read_source(file, &path.display().to_string(), keep)
            .map_err(|e| NovaError::io(path, e))
    }

    /// Stream any reader as the data file `name` (a path, or an S3 URI in the emulator).
    fn read_source(
        &mut self,
        source: impl Read + Send,
        name: &str,
        keep: bool,
    ) -> std::io::Result<Vec<Conversation>> {
        self.start_file(name);
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let options = self.options.clone();
        let mut analyzers: Vec<Analyzer<'_>> =
            (0..threads).map(|_| Analyzer::new(&options)).collect();
        let mut records = Vec::new();
        let mut next_line = 1usize;
        let mut saw_bytes = false;
        std::thread::scope(|scope| -> std::io::Result<()> {
            let (sender, blocks) = std::sync::mpsc::sync_channel::<std::io::Result<Vec<u8>>>(1);
            scope.spawn(move || read_blocks(source, BLOCK_BYTES, sender));
            for block in blocks {
                let block = block?;
                saw_bytes |= !block.is_empty();
                let lines = split_lines(&block);
                self.stats.reserve(lines.len());
                let first_line = next_line;
                next_line += lines.len();
                for (i, outcome) in check_block(&mut analyzers, &lines, first_line, keep)
                    .into_iter()
                    .enumerate()
                {
                    if let Some(record) = self.absorb(outcome, first_line + i) {
                        records.push(record);
                    }
                }
            }
            Ok(())
        })?;
        if !saw_bytes {
            self.push(
                Severity::Error,
                None,
                "file".into(),
                "the file is empty: it needs one JSON record per line".into(),
            );
        }
        self.end_file();
        Ok(records)
    }

    fn finish(mut self) -> ValidationReport {
        let records: usize = self.files.iter().map(|f| f.records).sum();
        self.file = self
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
            .join(" + ");
        if self.options.check_counts && self.error_count() == 0 {
            let (low, high) = self.options.task.record_bounds();
            if records < low || records > high {
                let task = self.options.task.label();
                self.push(Severity::Error, None, "dataset".into(), format!("Number of samples {records} out of bounds between {low} and {high} for micro with task type {task} (train and validation together)"));
            }
        }
        let file_names: Vec<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        let stats = std::mem::take(&mut self.stats).finish(&file_names);
        for (field, message) in stats.warnings(self.options.task) {
            self.push(Severity::Warning, None, field, message);
        }
        ValidationReport {
            task: self.options.task,
            files: self.files,
            errors: self.errors,
            warnings: self.warnings,
            omitted_errors: self.omitted_errors,
            omitted_warnings: self.omitted_warnings,
            stats,
        }
    }
}

/// Read `reader` as blocks of about `size` bytes that end at a line break (the last block
/// ends where the file does) and send them in order. Stops early if the receiver goes away.
fn read_blocks(
    mut reader: impl Read,
    size: usize,
    sender: std::sync::mpsc::SyncSender<std::io::Result<Vec<u8>>>,
) {
    let mut carry: Vec<u8> = Vec::new();
    loop {
        let mut block = std::mem::take(&mut carry);
        // `take` + `read_to_end` fills without zeroing the buffer first.
        let read = match (&mut reader).take(size as u64).read_to_end(&mut block) {
            Ok(read) => read,
            Err(e) => {
                let _ = sender.send(Err(e));
                return;
            }
        };
        let at_eof = read < size;
        if !at_eof {
            match memchr::memrchr(b'\n', &block) {
                Some(end) => carry = block.split_off(end + 1),
                None => {
                    // One line longer than a block: keep reading until it ends.
                    carry = block;
                    continue;
                }
            }
        }
        if sender.send(Ok(block)).is_err() || at_eof {
            return;
        }
    }
}

/// The lines of a block, without their `\n` (a final line may lack one). memchr finds the
/// newlines with SIMD: this runs on one thread for every byte, so it must be fast.
fn split_lines(block: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::with_capacity(block.len() / 256 + 1);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', block) {
        lines.push(&block[start..end]);
        start = end + 1;
    }
    if start < block.len() {
        lines.push(&block[start..]);
    }
    lines
}

/// Check a block's lines, split into one contiguous run per analyzer, and return the outcomes
/// in line order.
fn check_block<'b>(
    analyzers: &mut [Analyzer<'_>],
    lines: &[&'b [u8]],
    first_line: usize,
    keep: bool,
) -> Vec<Outcome<'b>> {
    let run = |analyzer: &mut Analyzer<'_>, lines: &[&'b [u8]], first: usize| -> Vec<Outcome<'b>> {
        lines
            .iter()
            .enumerate()
            .map(|(i, bytes)| analyzer.check_line(bytes, first + i, keep))
            .collect()
    };
    if analyzers.len() == 1 || lines.len() < PARALLEL_MIN_LINES {
        return run(&mut analyzers[0], lines, first_line);
    }
    let chunk = lines.len().div_ceil(analyzers.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = analyzers
            .iter_mut()
            .zip(lines.chunks(chunk))
            .enumerate()
            .map(|(k, (analyzer, part))| {
                scope.spawn(move || run(analyzer, part, first_line + k * chunk))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("a validation thread panicked"))
            .collect()
    })
}

/// The first reserved string in `text`, matched case-insensitively.
pub fn find_reserved(text: &str) -> Option<&'static str> {
    // One pass: every reserved string ends in ':' or starts with '<' or '[', so only those
    // bytes can anchor a match; text without them (most of it) is skipped at memory speed.
    let bytes = text.as_bytes();
    for (at, &byte) in bytes.iter().enumerate() {
        let found = match byte {
            b':' => RESERVED_STRINGS.iter().find(|r| {
                let word = &r.as_bytes()[..r.len() - 1];
                r.ends_with(':')
                    && at >= word.len()
                    && bytes[at - word.len()..at].eq_ignore_ascii_case(word)
            }),
            b'<' | b'[' => RESERVED_STRINGS.iter().find(|r| {
                let r = r.as_bytes();
                r[0] == byte
                    && bytes.len() - at >= r.len()
                    && bytes[at..at + r.len()].eq_ignore_ascii_case(r)
            }),
            _ => None,
        };
        if found.is_some() {
            return found.copied();
        }
    }
    None
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(lines: &[&str], task: Task) -> ValidationReport {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.jsonl");
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let options = ValidationOptions {
            task,
            check_counts: false,
            ..Default::default()
        };
        validate_files(&[path], &options).unwrap()
    }

    const GOOD: &str = r#"{"schemaVersion": "bedrock-conversation-2024", "system": [{"text": "s"}], "messages": [{"role": "user", "content": [{"text": "q"}]}, {"role": "assistant", "content": [{"text": "a"}]}]}"#;

    fn fields(report: &ValidationReport) -> Vec<(Option<usize>, String)> {
        report
            .errors
            .iter()
            .map(|i| (i.line, i.field.clone()))
            .collect()
    }

    #[test]
    fn good_records_pass() {
        let report = check(&[GOOD, GOOD], Task::FineTuning);
        assert!(report.ok(), "{:?}", report.errors);
        assert_eq!(report.files[0].records, 2);
    }

    #[test]
    fn each_rule_names_its_line_and_field() {
        let bad_role = GOOD.replace(r#""role": "assistant""#, r#""role": "system""#);
        let wrong_order = r#"{"messages": [{"role": "assistant", "content": [{"text": "a"}]}, {"role": "user", "content": [{"text": "q"}]}]}"#;
        let empty_text = GOOD.replace(r#"{"text": "q"}"#, r#"{"text": "  "}"#);
        let reserved = GOOD.replace(r#"{"text": "q"}"#, r#"{"text": "bot: hello"}"#);
        let image = GOOD.replace(r#"{"text": "q"}"#, r#"{"image": {"format": "png"}}"#);
        let one_turn = r#"{"messages": [{"role": "user", "content": [{"text": "q"}]}]}"#;
        let report = check(
            &[
                GOOD,
                "{not json",
                &bad_role,
                wrong_order,
                &empty_text,
                &reserved,
                &image,
                one_turn,
                "[1]",
                "",
            ],
            Task::FineTuning,
        );
        let got = fields(&report);
        let expect = [
            (2, "record"),
            (3, "messages[1].role"),
            (4, "messages[0].role"),
            (5, "messages[0].content[0].text"),
            (6, "messages[0].content[0].text"),
            (7, "messages[0].content[0].image"),
            (8, "messages"),
            (9, "record"),
            (10, "record"),
        ];
        for (line, field) in expect {
            assert!(
                got.contains(&(Some(line), field.to_string())),
                "missing {line} {field} in {got:?}"
            );
        }
        assert!(!got.iter().any(|(line, _)| *line == Some(1)));
    }

    #[test]
    fn distillation_accepts_prompts_without_answers() {
        let prompt = r#"{"schemaVersion": "bedrock-conversation-2024", "messages": [{"role": "user", "content": [{"text": "q"}]}]}"#;
        assert!(check(&[prompt], Task::Distillation).ok());
        assert!(!check(&[prompt], Task::FineTuning).ok());
    }

    #[test]
    fn record_bounds_apply_to_all_files_together() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.jsonl");
        std::fs::write(&a, format!("{GOOD}\n").repeat(5)).unwrap();
        let options = ValidationOptions::default();
        let report = validate_files(&[&a], &options).unwrap();
        assert_eq!(report.errors[0].field, "dataset");
        let report = validate_files(&[&a, &a], &options).unwrap();
        assert!(report.ok(), "{:?}", report.errors);
    }

    #[test]
    fn issues_are_capped_and_counted() {
        let lines = vec!["{bad"; 30];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        let options = ValidationOptions {
            max_issues: 10,
            check_counts: false,
            ..Default::default()
        };
        let report = validate_files(&[path], &options).unwrap();
        assert_eq!(report.errors.len(), 10);
        assert_eq!(report.omitted_errors, 20);
        assert_eq!(report.error_count(), 30);
    }

    #[test]
    fn invalid_utf8_and_bad_file_names_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("train data.jsonl");
        let mut bytes = GOOD.as_bytes().to_vec();
        bytes.extend_from_slice(b"\n\xff\xfe\n");
        std::fs::write(&path, bytes).unwrap();
        let options = ValidationOptions {
            check_counts: false,
            ..Default::default()
        };
        let report = validate_files(&[path], &options).unwrap();
        let got = fields(&report);
        assert!(got.contains(&(None, "file".into())));
        assert!(got.contains(&(Some(2), "record".into())));
    }

    #[test]
    fn large_files_keep_exact_line_numbers_across_blocks_and_threads() {
        // ~5 MB: more than one block, and enough lines for the parallel path.
        let filler = "x".repeat(200);
        let good = GOOD.replace(r#"{"text": "q"}"#, &format!(r#"{{"text": "q {filler}"}}"#));
        let bad_lines = [1usize, 5_000, 10_001, 12_000];
        let lines: Vec<String> = (1..=12_000)
            .map(|n| {
                if bad_lines.contains(&n) {
                    "{oops".to_string()
                } else {
                    good.replace('q', &format!("q{n}"))
                }
            })
            .collect();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.jsonl");
        std::fs::write(&path, lines.join("\n")).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() as usize > BLOCK_BYTES);
        let options = ValidationOptions {
            check_counts: false,
            ..Default::default()
        };
        let report = validate_files(&[&path], &options).unwrap();
        let got: Vec<usize> = report.errors.iter().filter_map(|i| i.line).collect();
        assert_eq!(got, bad_lines);
        assert_eq!(report.files[0].records, 12_000 - bad_lines.len());
        assert_eq!(report.stats.duplicate_records, 0);
        let loaded = load_conversations(&dir.path().join("big.jsonl"), Task::FineTuning);
        assert!(loaded.is_err());
    }

    #[test]
    fn reserved_strings_match_case_insensitively() {
        assert_eq!(find_reserved("the ASSISTANT: said"), Some("Assistant:"));
        assert_eq!(find_reserved("price <video>"), Some("<video>"));
        assert_eq!(find_reserved("time 10:30 at gate [a]"), None);
    }
}

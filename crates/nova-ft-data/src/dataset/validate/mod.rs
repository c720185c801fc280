//! Bedrock's rules for Nova fine-tuning data, checked before anything is uploaded.
//!
//! Every rule of `bedrock-conversation-2024` for Nova Micro (see docs/data-rules.md) is checked
//! line by line while streaming, and every problem is reported as `file:line: field: message`.
//! The happy path parses each line into borrowed structs (fast); only a line that does not
//! fit is re-read as a generic JSON value to say exactly which field is wrong. Both paths end
//! in the same semantic checks, so each rule is written once.

mod analyzer;
mod blocks;
mod collector;
mod diagnosis;
mod record_view;
mod rules;
#[cfg(test)]
mod tests;

pub use rules::find_reserved;

use super::record::Conversation;
use super::stats::DataStats;
use crate::error::{NovaError, Result};
use analyzer::Analyzer;
use collector::Collector;
use record_view::{RecordView, SystemSource};
use serde::Serialize;
use std::fmt;
use std::path::Path;

/// The reserved strings the Nova user guide documents, spelled as it spells them: a system or
/// user prompt holding one fails the job, so they are refused there. AWS's published validator
/// does not check them; elsewhere and in other spellings they are warned about.
pub const REFUSED_STRINGS: [&str; 7] = [
    "User:",
    "Bot:",
    "Assistant:",
    "System:",
    "<image>",
    "<video>",
    "[EOS]",
];

/// Reserved too, by AWS's validators but not the user guide: `Thought:` in an update of the
/// validator that was proposed but not merged, `<unk>` in an earlier one. Warned about.
pub const ALSO_RESERVED: [&str; 2] = ["Thought:", "<unk>"];

/// Every reserved string, matched case-insensitively to warn ([`REFUSED_STRINGS`], then
/// [`ALSO_RESERVED`]).
pub fn reserved_strings() -> impl Iterator<Item = &'static str> {
    REFUSED_STRINGS.into_iter().chain(ALSO_RESERVED)
}

/// A reserved string in a turn's text, and what it costs there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reserved {
    /// One of [`REFUSED_STRINGS`] as the user guide spells it, in a system or user prompt:
    /// the job fails.
    Refused(&'static str),
    /// Another spelling, one of [`ALSO_RESERVED`], or any in an answer: warned about.
    Warned(&'static str),
}

impl Reserved {
    /// The first reserved string in `text`, a system or user prompt when `prompt`, else an
    /// answer. SFT and RFT data share this rule.
    pub fn find(text: &str, prompt: bool) -> Option<Reserved> {
        let found = rules::find_reserved(text)?;
        let refused = prompt
            .then(|| REFUSED_STRINGS.iter().find(|r| text.contains(*r)))
            .flatten();
        Some(match refused {
            Some(r) => Reserved::Refused(r),
            None => Reserved::Warned(found),
        })
    }

    pub fn severity(self) -> Severity {
        match self {
            Reserved::Refused(_) => Severity::Error,
            Reserved::Warned(_) => Severity::Warning,
        }
    }

    /// The report's message: what was found and what to do.
    pub fn message(self) -> String {
        match self {
            Reserved::Refused(r) => format!("holds the reserved string `{r}`: the Nova user guide says prompts holding {} fail the job; reword it", REFUSED_STRINGS.join(" ")),
            Reserved::Warned(found) => format!("holds `{found}`: Nova reserves {} in prompts and a job may fail on it here too; reword it to be safe", reserved_strings().collect::<Vec<_>>().join(" ")),
        }
    }
}

/// Estimated tokens above which a record is warned about. Bedrock does not publish the
/// per-record limit for Nova Micro fine-tuning (AWS's validator checks none); 32k is the
/// commonly quoted figure, and the estimate is ours.
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
    /// Reinforcement fine-tuning: prompts with reference answers for the grader; 100–20,000
    /// records (see [`crate::dataset::rft`]).
    ReinforcementFineTuning,
}

impl Task {
    pub fn parse(name: &str) -> Result<Task> {
        match name.to_ascii_lowercase().replace('-', "_").as_str() {
            "sft" | "fine_tuning" | "finetuning" => Ok(Task::FineTuning),
            "distillation" => Ok(Task::Distillation),
            "rft" | "reinforcement_fine_tuning" => Ok(Task::ReinforcementFineTuning),
            other => Err(NovaError::invalid(format!(
                "unknown task {other:?}: use \"sft\" (FINE_TUNING), \"distillation\" (DISTILLATION) or \"rft\" (REINFORCEMENT_FINE_TUNING)"
            ))),
        }
    }

    /// Inclusive bounds on the number of records, over all files of one job together.
    pub fn record_bounds(self) -> (usize, usize) {
        match self {
            Task::FineTuning => (8, 20_000),
            Task::Distillation => (100, 15_000),
            Task::ReinforcementFineTuning => (100, 20_000),
        }
    }

    fn label(self) -> &'static str {
        match self {
            Task::FineTuning => "SFT",
            Task::Distillation => "distillation",
            Task::ReinforcementFineTuning => "RFT",
        }
    }
}

/// Which base model's data rules apply: they differ in what content a record may hold and in
/// how many records a job takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub enum ModelRules {
    /// Amazon Nova Micro: text only, 8-20,000 SFT records.
    #[default]
    Nova1,
    /// Amazon Nova Lite and Pro (1.0): text, and images or videos in user turns (at most 10
    /// images or one video a message, one kind per dataset), 8-20,000 SFT records (the Nova
    /// user guide's "Preparing data for fine-tuning understanding models" and AWS's validator).
    Nova1Multimodal,
    /// Amazon Nova 2 Lite: `reasoningContent` in assistant turns, image or video blocks in
    /// user turns (one kind per dataset), 200-20,000 SFT records (AWS's Nova dataset validator).
    Nova2,
}

impl ModelRules {
    /// The rules of a base model id or ARN (`amazon.nova-2-lite-v1:0:256k` -> Nova 2,
    /// `amazon.nova-lite-v1:0:300k` -> Nova Lite).
    pub fn for_model(model: &str) -> ModelRules {
        let model = model.to_ascii_lowercase();
        if model.contains("nova-2") {
            ModelRules::Nova2
        } else if model.contains("nova-lite") || model.contains("nova-pro") {
            ModelRules::Nova1Multimodal
        } else {
            ModelRules::Nova1
        }
    }

    pub fn parse(name: &str) -> Result<ModelRules> {
        match name.to_ascii_lowercase().as_str() {
            "" | "nova" | "nova-1" | "nova1" | "nova-micro" | "micro" => Ok(ModelRules::Nova1),
            "nova-lite" | "lite" | "nova-pro" | "pro" => Ok(ModelRules::Nova1Multimodal),
            "nova-2" | "nova2" | "nova-2-lite" => Ok(ModelRules::Nova2),
            other if other.starts_with("amazon.") || other.contains(":foundation-model/") => {
                Ok(Self::for_model(other))
            }
            other => Err(NovaError::invalid(format!(
                "unknown model {other:?}: pass a base model id (amazon.nova-micro-v1:0:128k, amazon.nova-lite-v1:0:300k, amazon.nova-2-lite-v1:0:256k)"
            ))),
        }
    }

    /// Whether user turns may hold image and video blocks.
    pub fn takes_media(self) -> bool {
        self != ModelRules::Nova1
    }

    /// Whether assistant turns may hold `reasoningContent`.
    pub fn takes_reasoning(self) -> bool {
        self == ModelRules::Nova2
    }

    /// The name a message gives the model.
    pub fn name(self) -> &'static str {
        match self {
            ModelRules::Nova1 => "Nova Micro",
            ModelRules::Nova1Multimodal => "Nova Lite/Pro",
            ModelRules::Nova2 => "Nova 2 Lite",
        }
    }

    /// The name AWS's validator gives the model in its record-count message.
    fn validator_name(self) -> &'static str {
        match self {
            ModelRules::Nova1 => "micro",
            ModelRules::Nova1Multimodal => "lite",
            ModelRules::Nova2 => "Nova 2 Lite",
        }
    }
}

impl ValidationOptions {
    /// The record-count bounds for this task on this model.
    pub fn record_bounds(&self) -> (usize, usize) {
        match (self.task, self.model) {
            (Task::FineTuning, ModelRules::Nova2) => (200, 20_000),
            (task, _) => task.record_bounds(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ValidationOptions {
    pub task: Task,
    /// The base model's rules (default Nova Micro's).
    pub model: ModelRules,
    pub max_issues: usize,
    pub max_record_tokens: usize,
    /// Check the record-count bounds (off when validating one file that is part of a larger set).
    pub check_counts: bool,
}

impl Default for ValidationOptions {
    fn default() -> Self {
        ValidationOptions {
            task: Task::FineTuning,
            model: ModelRules::Nova1,
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
    if options.task == Task::ReinforcementFineTuning {
        return super::rft::validate_files(paths, options);
    }
    let mut collector = Collector::new(options.clone());
    let paths: Vec<&Path> = paths.iter().map(AsRef::as_ref).collect();
    collector.read_files(&paths, false)?;
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
    let mut records = collector.read_files(&[path], true)?;
    collector.finish().into_result()?;
    Ok(records.pop().unwrap_or_default())
}

/// Validate named in-memory sources (for example objects read from S3) as one job's data, with
/// the record-count bounds over all of them, and return each source's records; on any error,
/// every problem found.
pub fn load_sources(
    sources: &[(&str, &[u8])],
    task: Task,
) -> Result<(Vec<Vec<Conversation>>, ValidationReport)> {
    load_sources_for(sources, task, ModelRules::Nova1)
}

/// [`load_sources`] under a base model's rules (Nova 2 Lite's media, reasoning and bounds).
pub fn load_sources_for(
    sources: &[(&str, &[u8])],
    task: Task,
    model: ModelRules,
) -> Result<(Vec<Vec<Conversation>>, ValidationReport)> {
    let options = ValidationOptions {
        task,
        model,
        ..ValidationOptions::default()
    };
    let mut collector = Collector::new(options);
    let readers = sources
        .iter()
        .map(|(name, bytes)| (name.to_string(), *bytes))
        .collect();
    let all = collector
        .read_sources(readers, true)
        .map_err(|(i, e)| NovaError::io(sources[i].0, e))?;
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
            let mut outcome = analyzer
                .check_view(&view, SystemSource::Blocks(&view.system), i + 1, false)
                .unwrap_or_default();
            collector.absorb(&mut outcome, i + 1);
        }
        collector.end_file();
    }
    collector.finish()
}

//! Reinforcement fine-tuning data: one JSON object per line with OpenAI-style `messages`
//! (an optional system turn, then user turns; the model writes the answer) and a
//! `reference_answer` (any JSON) that only the grader sees, plus an optional `id` and any
//! extra fields, which reach the grader as metadata (Nova user guide, AWS's RFT sample).
//!
//! Checked line by line as SFT data is, with the same `file:line: field: message` reports:
//! roles, non-empty text, Nova's reserved strings in prompts, a reference answer on every
//! record, unique ids, and 100 to 20,000 records per job.

use super::stats::DataStats;
use super::validate::{
    FileSummary, Issue, Reserved, Severity, Task, ValidationOptions, ValidationReport,
};
use crate::error::{NovaError, Result};
use crate::tokens::estimate_tokens;
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::path::Path;

/// One RFT record.
#[derive(Debug, Clone, PartialEq)]
pub struct RftRecord {
    /// The record's `id` as text (numbers as written), when it has one.
    pub id: Option<String>,
    /// (role, text) of each turn: `system` first if present, then `user` (and `assistant`
    /// turns of earlier exchanges), ending with a user turn.
    pub messages: Vec<(String, String)>,
    pub reference_answer: Value,
    /// Fields besides `messages`, `reference_answer` and `id`, passed to the grader.
    pub extra: Map<String, Value>,
}

impl RftRecord {
    pub fn system(&self) -> &str {
        self.messages
            .first()
            .filter(|(r, _)| r == "system")
            .map_or("", |(_, t)| t.as_str())
    }

    /// The turns after the system prompt.
    pub fn turns(&self) -> &[(String, String)] {
        match self.messages.first() {
            Some((r, _)) if r == "system" => &self.messages[1..],
            _ => &self.messages,
        }
    }

    /// The record as the JSON object it is written as.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        if let Some(id) = &self.id {
            out.insert("id".into(), Value::String(id.clone()));
        }
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|(role, text)| serde_json::json!({"role": role, "content": text}))
            .collect();
        out.insert("messages".into(), Value::Array(messages));
        out.insert("reference_answer".into(), self.reference_answer.clone());
        for (k, v) in &self.extra {
            out.insert(k.clone(), v.clone());
        }
        Value::Object(out)
    }
}

struct Checker<'o> {
    options: &'o ValidationOptions,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
    omitted_errors: usize,
    omitted_warnings: usize,
    ids: HashSet<String>,
    stats: DataStats,
}

impl Checker<'_> {
    fn issue(&mut self, severity: Severity, file: &str, line: usize, field: &str, message: String) {
        let (list, omitted) = match severity {
            Severity::Error => (&mut self.errors, &mut self.omitted_errors),
            Severity::Warning => (&mut self.warnings, &mut self.omitted_warnings),
        };
        if list.len() < self.options.max_issues {
            list.push(Issue {
                file: file.to_string(),
                line: Some(line),
                field: field.to_string(),
                message,
                severity,
            });
        } else {
            *omitted += 1;
        }
    }

    fn error(&mut self, file: &str, line: usize, field: &str, message: impl Into<String>) {
        self.issue(Severity::Error, file, line, field, message.into());
    }

    /// One line: the record, or `None` with its problems reported.
    fn check_line(&mut self, file: &str, line: usize, text: &str) -> Option<RftRecord> {
        let value: Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(e) => {
                self.error(
                    file,
                    line,
                    "record",
                    format!("not valid JSON ({e}); each line must be one JSON object"),
                );
                return None;
            }
        };
        let Value::Object(mut map) = value else {
            self.error(
                file,
                line,
                "record",
                "each line must be a JSON object with messages and reference_answer",
            );
            return None;
        };
        let errors_before = self.errors.len() + self.omitted_errors;
        let id = match map.remove("id") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(_) => {
                self.error(file, line, "id", "id must be a string or a number");
                None
            }
        };
        if let Some(id) = &id {
            if !self.ids.insert(id.clone()) {
                self.issue(Severity::Warning, file, line, "id", format!("the id {id:?} appears more than once; the grader cannot tell these records apart"));
            }
        }
        let reference_answer = match map.remove("reference_answer") {
            None | Some(Value::Null) => {
                self.error(file, line, "reference_answer", "missing: every RFT record needs a reference_answer for the grader (the label, the gold SQL, or any JSON it checks against)");
                Value::Null
            }
            Some(v) => v,
        };
        let mut messages = Vec::new();
        match map.remove("messages") {
            Some(Value::Array(items)) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    let field = format!("messages[{i}]");
                    let role = item.get("role").and_then(Value::as_str);
                    let content = match item.get("content") {
                        Some(Value::String(s)) => Some(s.clone()),
                        // Converse-style content blocks of text are accepted too.
                        Some(Value::Array(blocks)) => blocks
                            .iter()
                            .map(|b| b.get("text").and_then(Value::as_str))
                            .collect::<Option<Vec<&str>>>()
                            .map(|t| t.join("")),
                        _ => None,
                    };
                    let Some(role) = role.filter(|r| matches!(*r, "system" | "user" | "assistant"))
                    else {
                        self.error(
                            file,
                            line,
                            &format!("{field}.role"),
                            "role must be \"system\", \"user\" or \"assistant\"",
                        );
                        continue;
                    };
                    let Some(content) = content.filter(|c| !c.trim().is_empty()) else {
                        self.error(
                            file,
                            line,
                            &format!("{field}.content"),
                            "content must be non-empty text",
                        );
                        continue;
                    };
                    if role == "system" && i != 0 {
                        self.error(
                            file,
                            line,
                            &format!("{field}.role"),
                            "a system message may only come first",
                        );
                    }
                    // The same rule as SFT data's (validate::Reserved).
                    if let Some(reserved) = Reserved::find(&content, role != "assistant") {
                        let at = format!("{field}.content");
                        self.issue(reserved.severity(), file, line, &at, reserved.message());
                    }
                    messages.push((role.to_string(), content));
                }
                match messages.last() {
                    Some((role, _)) if role == "user" => {}
                    Some(_) => self.error(file, line, "messages", "the last message must be the user's: the model writes the answer, and the grader scores it"),
                    None => {}
                }
            }
            _ => self.error(
                file,
                line,
                "messages",
                "missing or empty: a list of {role, content} turns ending with the user's",
            ),
        }
        if self.errors.len() + self.omitted_errors > errors_before {
            return None;
        }
        self.stats.records += 1;
        let tokens: usize = messages.iter().map(|(_, t)| estimate_tokens(t)).sum();
        self.stats.input_tokens += tokens as u64;
        self.stats.max_record_tokens = self.stats.max_record_tokens.max(tokens);
        Some(RftRecord {
            id,
            messages,
            reference_answer,
            extra: map,
        })
    }

    fn read(&mut self, file: &str, bytes: &[u8]) -> (Vec<RftRecord>, usize) {
        let mut records = Vec::new();
        let mut seen = 0;
        for (i, raw) in bytes.split(|b| *b == b'\n').enumerate() {
            let line = i + 1;
            let Ok(text) = std::str::from_utf8(raw) else {
                self.error(file, line, "record", "not UTF-8 text");
                seen += 1;
                continue;
            };
            if text.trim().is_empty() {
                continue;
            }
            seen += 1;
            if let Some(record) = self.check_line(file, line, text.trim_end_matches('\r')) {
                records.push(record);
            }
        }
        (records, seen)
    }

    fn finish(mut self, files: Vec<FileSummary>) -> ValidationReport {
        let total: usize = files.iter().map(|f| f.records).sum();
        let (low, high) = Task::ReinforcementFineTuning.record_bounds();
        if self.options.check_counts && !(low..=high).contains(&total) {
            let issue = Issue {
                file: files
                    .iter()
                    .map(|f| f.path.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                line: None,
                field: "dataset".into(),
                message: format!("{total} records; RFT needs {low} to {high} records per job"),
                severity: Severity::Error,
            };
            self.errors.push(issue);
        }
        self.stats.token_estimator = super::stats::TOKEN_ESTIMATOR;
        ValidationReport {
            task: Task::ReinforcementFineTuning,
            files,
            errors: self.errors,
            warnings: self.warnings,
            omitted_errors: self.omitted_errors,
            omitted_warnings: self.omitted_warnings,
            stats: self.stats,
        }
    }
}

/// Check named in-memory sources as one RFT job's data; each source's records and the report.
pub fn check_sources(
    sources: &[(&str, &[u8])],
    options: &ValidationOptions,
) -> (Vec<Vec<RftRecord>>, ValidationReport) {
    let mut checker = Checker {
        options,
        errors: Vec::new(),
        warnings: Vec::new(),
        omitted_errors: 0,
        omitted_warnings: 0,
        ids: HashSet::new(),
        stats: DataStats::default(),
    };
    let mut all = Vec::new();
    let mut files = Vec::new();
    for (name, bytes) in sources {
        let (records, seen) = checker.read(name, bytes);
        files.push(FileSummary {
            path: name.to_string(),
            records: seen,
        });
        all.push(records);
    }
    let report = checker.finish(files);
    (all, report)
}

/// Validate RFT files as one job's data.
pub fn validate_files<P: AsRef<Path>>(
    paths: &[P],
    options: &ValidationOptions,
) -> Result<ValidationReport> {
    let mut blobs = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| NovaError::io(path, e))?;
        blobs.push((path.display().to_string(), bytes));
    }
    let sources: Vec<(&str, &[u8])> = blobs
        .iter()
        .map(|(n, b)| (n.as_str(), b.as_slice()))
        .collect();
    Ok(check_sources(&sources, options).1)
}

/// Read RFT sources, failing with every problem found if any rule is broken.
pub fn load_sources(sources: &[(&str, &[u8])]) -> Result<Vec<Vec<RftRecord>>> {
    load_with(sources, true)
}

/// Read a validation file: every record's rules, but not the per-job record counts, which
/// are the training file's.
pub fn load_validation_sources(sources: &[(&str, &[u8])]) -> Result<Vec<Vec<RftRecord>>> {
    load_with(sources, false)
}

fn load_with(sources: &[(&str, &[u8])], check_counts: bool) -> Result<Vec<Vec<RftRecord>>> {
    let options = ValidationOptions {
        task: Task::ReinforcementFineTuning,
        check_counts,
        ..ValidationOptions::default()
    };
    let (records, report) = check_sources(sources, &options);
    report.into_result()?;
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(check_counts: bool) -> ValidationOptions {
        ValidationOptions {
            task: Task::ReinforcementFineTuning,
            check_counts,
            ..ValidationOptions::default()
        }
    }

    #[test]
    fn good_records_load_with_their_extra_fields() {
        let line = r#"{"id": 7, "messages": [{"role": "system", "content": "Pick one of: a, b"}, {"role": "user", "content": "which?"}], "reference_answer": "a", "difficulty": "easy"}"#;
        let (records, report) = check_sources(&[("t.jsonl", line.as_bytes())], &options(false));
        assert!(report.ok(), "{:?}", report.errors);
        let record = &records[0][0];
        assert_eq!(record.id.as_deref(), Some("7"));
        assert_eq!(record.system(), "Pick one of: a, b");
        assert_eq!(record.turns().len(), 1);
        assert_eq!(record.extra["difficulty"], "easy");
        assert_eq!(record.to_json()["reference_answer"], "a");
    }

    #[test]
    fn each_problem_names_its_line_and_field() {
        let data = concat!(
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}], \"reference_answer\": \"x\"}\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"hi\"}]}\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"User: hi\"}], \"reference_answer\": 1}\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"a\"}], \"reference_answer\": 1}\n",
            "not json\n",
        );
        let (_, report) = check_sources(&[("d.jsonl", data.as_bytes())], &options(true));
        let found: Vec<(usize, &str)> = report
            .errors
            .iter()
            .filter_map(|i| Some((i.line?, i.field.as_str())))
            .collect();
        assert_eq!(
            found,
            [
                (2, "reference_answer"),
                (3, "messages[0].content"),
                (4, "messages"),
                (5, "record")
            ]
        );
        // Five records is below RFT's 100.
        assert!(report.errors.iter().any(|i| i.field == "dataset"));
    }

    #[test]
    fn reserved_strings_follow_the_sft_rule() {
        // As the user guide spells it in a prompt: refused; another spelling, or in an
        // earlier answer: warned.
        let data = concat!(
            "{\"messages\": [{\"role\": \"user\", \"content\": \"the user: said hi\"}], \"reference_answer\": 1}\n",
            "{\"messages\": [{\"role\": \"user\", \"content\": \"q\"}, {\"role\": \"assistant\", \"content\": \"Bot: a\"}, {\"role\": \"user\", \"content\": \"and?\"}], \"reference_answer\": 1}\n",
            "{\"messages\": [{\"role\": \"system\", \"content\": \"System: be brief\"}, {\"role\": \"user\", \"content\": \"q\"}], \"reference_answer\": 1}\n",
        );
        let (_, report) = check_sources(&[("r.jsonl", data.as_bytes())], &options(false));
        let at = |issues: &[Issue]| -> Vec<(usize, String)> {
            issues
                .iter()
                .filter_map(|i| Some((i.line?, i.field.clone())))
                .collect()
        };
        assert_eq!(at(&report.errors), [(3, "messages[0].content".to_string())]);
        assert_eq!(
            at(&report.warnings),
            [
                (1, "messages[0].content".to_string()),
                (2, "messages[1].content".to_string())
            ]
        );
        assert!(report.errors[0].message.contains("`System:`"));
    }
}

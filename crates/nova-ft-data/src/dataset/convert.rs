//! From the data people already have (intent rows, text-to-SQL rows) to conversation records.

use super::record::Conversation;
use super::validate::{Issue, Reserved, Severity, DEFAULT_MAX_ISSUES};
use crate::error::{NovaError, Result};
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;

/// The system prompt AWS's Nova Micro text-to-SQL sample trains and serves with.
pub const SQL_SYSTEM_PROMPT: &str = "You are a powerful text-to-SQL model. Your job is to answer questions about a database. You are given a question and context regarding one or more tables.\n\nYou must output the SQL query that answers the question.";

/// The first sentence of an intent system prompt unless the caller gives one.
pub const DEFAULT_INTENT_INSTRUCTION: &str = "Classify the intent of the user's query.";

/// The user turn of a text-to-SQL record, in the layout of AWS's sample.
pub fn sql_user_prompt(question: &str, context: &str) -> String {
    format!("### Input:\n{question}\n\n### Context:\n{context}\n\n### Response:\n")
}

/// The system prompt of an intent classifier over `labels`, in the tutorial's wording.
pub fn intent_system_prompt(instruction: &str, labels: &[String]) -> String {
    format!(
        "{instruction} Choose one intent from this list: {}\n\nRespond with only the intent name, nothing else.",
        labels.join(", ")
    )
}

/// One input row: its fields and where it came from (1-based line of the file).
#[derive(Debug, Clone)]
pub struct SourceRow {
    pub line: usize,
    pub fields: Map<String, Value>,
}

/// How to turn rows into records.
#[derive(Debug, Clone)]
pub enum RowSpec {
    Intent {
        text_field: String,
        label_field: String,
        instruction: String,
        /// The label list for the system prompt; `None` = the sorted labels found in the rows.
        labels: Option<Vec<String>>,
    },
    Sql {
        question_field: String,
        context_field: String,
        sql_field: String,
    },
}

impl RowSpec {
    pub fn intent() -> Self {
        RowSpec::Intent {
            text_field: "text".into(),
            label_field: "label".into(),
            instruction: DEFAULT_INTENT_INSTRUCTION.into(),
            labels: None,
        }
    }

    pub fn sql() -> Self {
        RowSpec::Sql {
            question_field: "question".into(),
            context_field: "context".into(),
            sql_field: "sql".into(),
        }
    }
}

/// Rows converted to records, with the label set (intent data) used in the system prompt.
#[derive(Debug, Clone)]
pub struct Converted {
    pub records: Vec<Conversation>,
    pub labels: Option<Vec<String>>,
}

/// Read rows from a `.jsonl`/`.json` (one object per line) or `.csv` (header row) file.
pub fn read_rows(path: &Path) -> Result<Vec<SourceRow>> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "csv" => read_csv(path),
        "jsonl" | "json" | "ndjson" => read_jsonl(path),
        _ => Err(NovaError::invalid(format!(
            "{}: unknown file type {ext:?}; give a .jsonl (one JSON object per line) or .csv file with a header row",
            path.display()
        ))),
    }
}

fn read_jsonl(path: &Path) -> Result<Vec<SourceRow>> {
    let file = std::fs::File::open(path).map_err(|e| NovaError::io(path, e))?;
    let mut rows = Vec::new();
    let mut issues = IssueList::new(path);
    for (i, line) in BufReader::new(file).lines().enumerate() {
        let line_no = i + 1;
        let line = line.map_err(|e| NovaError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(fields)) => rows.push(SourceRow {
                line: line_no,
                fields,
            }),
            Ok(_) => issues.push(
                line_no,
                "record",
                "expected a JSON object with the row's fields",
            ),
            Err(e) => issues.push(line_no, "record", format!("Invalid JSON syntax - {e}")),
        }
    }
    issues.check()?;
    Ok(rows)
}

fn read_csv(path: &Path) -> Result<Vec<SourceRow>> {
    let mut reader = csv::Reader::from_path(path).map_err(|e| csv_error(path, e))?;
    let headers = reader.headers().map_err(|e| csv_error(path, e))?.clone();
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        let line = record.position().map(|p| p.line() as usize).unwrap_or(0);
        let fields = headers
            .iter()
            .zip(record.iter())
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        rows.push(SourceRow { line, fields });
    }
    Ok(rows)
}

fn csv_error(path: &Path, e: csv::Error) -> NovaError {
    let line = e.position().map(|p| p.line() as usize);
    let issue = Issue {
        file: path.display().to_string(),
        line,
        field: "record".into(),
        message: format!("unreadable CSV: {e}"),
        severity: Severity::Error,
    };
    match e.into_kind() {
        csv::ErrorKind::Io(io) => NovaError::io(path, io),
        _ => NovaError::data(issue),
    }
}

/// Convert rows to records, collecting every problem (missing or empty fields, reserved strings).
pub fn convert_rows(rows: &[SourceRow], source: &str, spec: &RowSpec) -> Result<Converted> {
    let mut issues = IssueList::named(source);
    if rows.is_empty() {
        issues.push_file("no rows to convert");
        issues.check()?;
    }
    match spec {
        RowSpec::Intent {
            text_field,
            label_field,
            instruction,
            labels,
        } => {
            let mut pairs = Vec::with_capacity(rows.len());
            for row in rows {
                let text = issues.field(row, text_field, true);
                let label = issues.field(row, label_field, false);
                if let (Some(text), Some(label)) = (text, label) {
                    pairs.push((row.line, text, label.trim().to_string()));
                }
            }
            let label_list = match labels {
                Some(given) => {
                    let known: BTreeSet<&str> = given.iter().map(String::as_str).collect();
                    for (line, _, label) in &pairs {
                        if !known.contains(label.as_str()) {
                            issues.push(*line, label_field, format!("label {label:?} is not in the given label list: add it to the list or fix the row"));
                        }
                    }
                    given.clone()
                }
                None => pairs
                    .iter()
                    .map(|(_, _, l)| l.clone())
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect(),
            };
            issues.check()?;
            let system = intent_system_prompt(instruction, &label_list);
            let records = pairs
                .into_iter()
                .map(|(_, text, label)| Conversation::single_turn(&system, text, Some(label)))
                .collect();
            Ok(Converted {
                records,
                labels: Some(label_list),
            })
        }
        RowSpec::Sql {
            question_field,
            context_field,
            sql_field,
        } => {
            let mut records = Vec::with_capacity(rows.len());
            for row in rows {
                let question = issues.field(row, question_field, true);
                let context = issues.field(row, context_field, true);
                let sql = issues.field(row, sql_field, false);
                if let (Some(q), Some(c), Some(s)) = (question, context, sql) {
                    records.push(Conversation::single_turn(
                        SQL_SYSTEM_PROMPT,
                        sql_user_prompt(&q, &c),
                        Some(s.trim().to_string()),
                    ));
                }
            }
            issues.check()?;
            Ok(Converted {
                records,
                labels: None,
            })
        }
    }
}

/// Problems found while converting, capped like validation issues.
struct IssueList {
    file: String,
    issues: Vec<Issue>,
    omitted: usize,
}

impl IssueList {
    fn new(path: &Path) -> Self {
        Self::named(&path.display().to_string())
    }

    fn named(file: &str) -> Self {
        IssueList {
            file: file.to_string(),
            issues: Vec::new(),
            omitted: 0,
        }
    }

    fn push_issue(&mut self, line: Option<usize>, field: &str, message: String) {
        if self.issues.len() >= DEFAULT_MAX_ISSUES {
            self.omitted += 1;
            return;
        }
        self.issues.push(Issue {
            file: self.file.clone(),
            line,
            field: field.to_string(),
            message,
            severity: Severity::Error,
        });
    }

    fn push(&mut self, line: usize, field: &str, message: impl Into<String>) {
        self.push_issue(Some(line), field, message.into());
    }

    fn push_file(&mut self, message: &str) {
        self.push_issue(None, "file", message.to_string());
    }

    /// A required text field of a row; prompt fields are also checked for reserved strings.
    fn field(&mut self, row: &SourceRow, name: &str, is_prompt: bool) -> Option<String> {
        let text = match row.fields.get(name) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            Some(Value::Null) | None => {
                let present: Vec<&str> = row.fields.keys().map(String::as_str).collect();
                self.push(row.line, name, format!("missing; this row has {present:?}: name the right column (for example --{}-field)", name_hint(name)));
                return None;
            }
            Some(other) => {
                self.push(row.line, name, format!("expected text, found {other}"));
                return None;
            }
        };
        if text.trim().is_empty() {
            self.push(
                row.line,
                name,
                "empty: every row needs this field; drop or fill the row",
            );
            return None;
        }
        // The reserved strings that fail a job stop the conversion; other spellings pass,
        // and validating the result warns about them (validate::Reserved).
        if let Some(refused @ Reserved::Refused(_)) = Reserved::find(&text, is_prompt) {
            self.push(row.line, name, refused.message());
            return None;
        }
        Some(text)
    }

    fn check(&mut self) -> Result<()> {
        if self.issues.is_empty() {
            return Ok(());
        }
        let total = self.issues.len() + self.omitted;
        let mut summary = format!(
            "{total} problem(s) converting {}; nothing was written:",
            self.file
        );
        for issue in self.issues.iter().take(10) {
            summary.push_str("\n  ");
            summary.push_str(&issue.to_string());
        }
        if total > 10 {
            summary.push_str(&format!("\n  ... and {} more", total - 10));
        }
        Err(NovaError::DatasetValidation {
            summary,
            issues: std::mem::take(&mut self.issues),
            omitted: self.omitted,
        })
    }
}

fn name_hint(field: &str) -> &str {
    match field {
        "label" | "intent" => "label",
        "text" => "text",
        "question" => "question",
        "context" => "context",
        "sql" | "answer" | "query" => "sql",
        _ => "FIELD",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dataset::synth::{SyntheticIntents, INTENTS, SYSTEM_PROMPT};
    use serde_json::json;

    fn rows(values: Vec<Value>) -> Vec<SourceRow> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| SourceRow {
                line: i + 1,
                fields: v.as_object().unwrap().clone(),
            })
            .collect()
    }

    #[test]
    fn intent_rows_reproduce_the_tutorial_prompt_with_its_label_order() {
        let synth = SyntheticIntents::new(7).take(20);
        let input = rows(
            synth
                .iter()
                .map(|r| json!({"text": r.input_text(), "label": r.target()}))
                .collect(),
        );
        let spec = RowSpec::Intent {
            text_field: "text".into(),
            label_field: "label".into(),
            instruction: "Classify the intent of airline queries.".into(),
            labels: Some(INTENTS.iter().map(|s| s.to_string()).collect()),
        };
        let converted = convert_rows(&input, "rows", &spec).unwrap();
        assert_eq!(converted.records, synth);
        assert_eq!(converted.records[0].system_text(), SYSTEM_PROMPT);
    }

    #[test]
    fn missing_fields_name_the_line_and_the_columns_present() {
        let input = rows(vec![
            json!({"text": "a", "label": "x"}),
            json!({"utterance": "b", "label": "y"}),
        ]);
        let err = convert_rows(&input, "rows.jsonl", &RowSpec::intent()).unwrap_err();
        let NovaError::DatasetValidation { issues, .. } = err else {
            panic!()
        };
        assert_eq!(issues.len(), 1);
        assert_eq!(
            (issues[0].line, issues[0].field.as_str()),
            (Some(2), "text")
        );
        assert!(issues[0].message.contains("utterance"));
    }

    #[test]
    fn sql_rows_follow_the_aws_sample_layout() {
        let input = rows(vec![
            json!({"question": "how many?", "context": "CREATE TABLE t (a INT)", "sql": "SELECT COUNT(*) FROM t"}),
        ]);
        let converted = convert_rows(&input, "rows", &RowSpec::sql()).unwrap();
        let record = &converted.records[0];
        assert_eq!(record.system_text(), SQL_SYSTEM_PROMPT);
        assert_eq!(
            record.input_text(),
            "### Input:\nhow many?\n\n### Context:\nCREATE TABLE t (a INT)\n\n### Response:\n"
        );
        assert_eq!(record.target().as_deref(), Some("SELECT COUNT(*) FROM t"));
    }

    #[test]
    fn csv_rows_keep_their_line_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rows.csv");
        std::fs::write(
            &path,
            "text,label\nhello,greet\n\"multi\nline\",greet\nbye,\n",
        )
        .unwrap();
        let read = read_rows(&path).unwrap();
        assert_eq!(
            read.iter().map(|r| r.line).collect::<Vec<_>>(),
            vec![2, 3, 5]
        );
        let err = convert_rows(&read, "rows.csv", &RowSpec::intent()).unwrap_err();
        let NovaError::DatasetValidation { issues, .. } = err else {
            panic!()
        };
        assert_eq!(
            (issues[0].line, issues[0].field.as_str()),
            (Some(5), "label")
        );
    }
}

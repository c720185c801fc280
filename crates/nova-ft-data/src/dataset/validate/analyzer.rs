//! The fast path: an `Analyzer` parses each line into borrowed structs and checks it on its
//! own (one per thread); a `Collector` merges the outcomes in line order, so reports are the
//! same whatever the number of threads.

use super::super::label_set::LABEL_CAP;
use super::super::record::Conversation;
use super::super::stats::RecordFacts;
use super::blocks::Line;
use super::record_view::{FastRecord, RecordView, SystemInfo, SystemSource};
use super::{Severity, ValidationOptions};
use rustc_hash::FxHashSet;
use serde_json::Value;

/// A problem found on a line, before the collector names its file.
pub(super) struct LineIssue {
    pub(super) line: usize,
    pub(super) field: String,
    pub(super) message: String,
    pub(super) severity: Severity,
}

/// What checking one line gives: its problems, and the record's facts when it is valid.
/// The facts may borrow from the line, so outcomes live as long as their block of lines.
#[derive(Default)]
pub(super) struct Outcome<'a> {
    pub(super) issues: Vec<LineIssue>,
    pub(super) facts: Option<RecordFacts<'a>>,
    pub(super) record: Option<Conversation>,
    /// The kind of media (`image` or `video`) the record holds, for the one-kind-per-dataset
    /// rule, which the collector checks across records.
    pub(super) media: Option<&'static str>,
}

impl Outcome<'_> {
    /// The same outcome, owning what it borrowed from its line.
    pub(super) fn into_owned(self) -> Outcome<'static> {
        Outcome {
            issues: self.issues,
            facts: self.facts.map(RecordFacts::into_owned),
            record: self.record,
            media: self.media,
        }
    }
}

/// Bytes per block of lines handed to the threads; big enough to amortise spawning them.
pub(super) const BLOCK_BYTES: usize = 4 << 20;
/// Below this many lines a block is checked on the calling thread.
pub(super) const PARALLEL_MIN_LINES: usize = 2_000;

/// Checks lines against the rules. Holds only caches, never results, so one per thread works.
pub(super) struct Analyzer<'o> {
    pub(super) options: &'o ValidationOptions,
    pub(super) issues: Vec<LineIssue>,
    pub(super) errors: usize,
    /// The last system prompt that passed: most records repeat it.
    pub(super) system: Option<SystemInfo>,
    pub(super) last_system_hash: Option<u64>,
    /// The media kind of the line being checked (set by the slow path, which reads media).
    pub(super) media: Option<&'static str>,
    /// Answers whose text this analyzer has passed on (at most `LABEL_CAP + 1`).
    answers_sent: FxHashSet<u64>,
}

impl<'o> Analyzer<'o> {
    pub(super) fn new(options: &'o ValidationOptions) -> Self {
        Analyzer {
            options,
            issues: Vec::new(),
            errors: 0,
            system: None,
            last_system_hash: None,
            media: None,
            answers_sent: FxHashSet::default(),
        }
    }

    /// The outcome, owning what it borrowed, without the answer's text when it is not needed:
    /// the statistics need each distinct answer's text once, with its first record (in line
    /// order; this analyzer sees its lines in line order), and none past `LABEL_CAP` distinct
    /// answers. That saves copying the answer of nearly every record of a labelled data set.
    pub(super) fn owned(&mut self, mut outcome: Outcome<'_>) -> Outcome<'static> {
        if let Some(facts) = &mut outcome.facts {
            if let Some(answer) = facts.answer {
                if self.answers_sent.len() > LABEL_CAP || !self.answers_sent.insert(answer.hash) {
                    facts.answer_text = None;
                }
            }
        }
        outcome.into_owned()
    }

    pub(super) fn push(
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

    pub(super) fn error(&mut self, line: usize, field: impl Into<String>, msg: impl Into<String>) {
        self.push(Severity::Error, line, field, msg);
    }

    pub(super) fn warn(&mut self, line: usize, field: impl Into<String>, msg: impl Into<String>) {
        self.push(Severity::Warning, line, field, msg);
    }

    /// The issues found so far, as the outcome of a line without a valid record.
    pub(super) fn take<'v>(&mut self) -> Outcome<'v> {
        Outcome {
            issues: std::mem::take(&mut self.issues),
            facts: None,
            record: None,
            media: self.media.take(),
        }
    }

    /// Check one line (without its newline).
    pub(super) fn check_line<'v>(
        &mut self,
        line_in: Line<'v>,
        line: usize,
        keep: bool,
    ) -> Outcome<'v> {
        // Fast path: parse straight from the line (from bytes, serde_json checks UTF-8 as it
        // goes; from text, that was done for the whole block).
        let (bytes, parsed) = match line_in {
            Line::Text(text) => (
                text.as_bytes(),
                serde_json::from_str::<FastRecord<'_>>(text),
            ),
            Line::Bytes(bytes) => (bytes, serde_json::from_slice::<FastRecord<'_>>(bytes)),
        };
        if let Ok(fast) = parsed {
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
            media: self.media.take().or(outcome.media),
            ..outcome
        }
    }
}

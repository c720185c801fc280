//! Merges the analyzers' outcomes in line order: names files, caps the issue lists, gathers
//! statistics.

use super::super::record::Conversation;
use super::super::stats::StatsBuilder;
use super::analyzer::{Analyzer, Outcome, BLOCK_BYTES};
use super::blocks::{check_block, read_blocks, split_lines, split_text_lines, Line};
use super::{FileSummary, Issue, Severity, ValidationOptions, ValidationReport};
use crate::workflow::error::{NovaError, Result};
use std::io::Read;
use std::path::Path;

/// Merges outcomes in line order: names files, caps the issue lists, gathers statistics.
pub(super) struct Collector {
    options: ValidationOptions,
    file: String,
    file_records: usize,
    files: Vec<FileSummary>,
    errors: Vec<Issue>,
    warnings: Vec<Issue>,
    omitted_errors: usize,
    omitted_warnings: usize,
    stats: StatsBuilder,
    /// The first media kind seen and where (`file:line`): Nova 2 takes one kind per dataset.
    media: Option<(&'static str, String)>,
}

impl Collector {
    pub(super) fn new(options: ValidationOptions) -> Self {
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
            media: None,
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

    pub(super) fn start_file(&mut self, file: &str) {
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

    pub(super) fn end_file(&mut self) {
        self.files.push(FileSummary {
            path: self.file.clone(),
            records: self.file_records,
        });
    }

    /// Take one line's outcome; returns the record it carried, if any.
    pub(super) fn absorb(&mut self, outcome: Outcome<'_>, line: usize) -> Option<Conversation> {
        for issue in outcome.issues {
            self.push(issue.severity, Some(issue.line), issue.field, issue.message);
        }
        if let Some(kind) = outcome.media {
            match &self.media {
                Some((first, at)) if *first != kind => {
                    let message = format!("{kind} blocks, but {at} holds {first}: Nova 2 takes one kind of media per dataset");
                    self.push(Severity::Error, Some(line), "messages".into(), message);
                }
                Some(_) => {}
                None => {
                    let at = format!("{}:{line}", self.file);
                    self.media = Some((kind, at));
                }
            }
        }
        let facts = outcome.facts?;
        self.file_records += 1;
        self.stats.add(facts, (self.files.len(), line));
        outcome.record
    }

    /// Stream a file in blocks of whole lines: a reader thread reads the next block while every
    /// core checks the current one, and outcomes are merged in line order.
    pub(super) fn read_file(&mut self, path: &Path, keep: bool) -> Result<Vec<Conversation>> {
        let file = std::fs::File::open(path).map_err(|e| NovaError::io(path, e))?;
        self.read_source(file, &path.display().to_string(), keep)
            .map_err(|e| NovaError::io(path, e))
    }

    /// Stream any reader as the data file `name` (a path, or an S3 URI in the emulator).
    ///
    /// Three stages overlap: a reader thread reads the next block, the analyzers check the
    /// current one on every core, and this thread merges the previous block's outcomes (the
    /// statistics are built in line order, so that stage is serial; overlapping it keeps the
    /// cores busy).
    pub(super) fn read_source(
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
            let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
            scope.spawn(move || read_blocks(source, BLOCK_BYTES, sender, recycled));
            // The previous block's outcomes (owned, so they outlive their block) and first line.
            let mut merging: Option<(Vec<Vec<Outcome<'static>>>, usize)> = None;
            for block in blocks {
                let block = block?;
                saw_bytes |= !block.is_empty();
                let first_line = next_line;
                let mut workers = std::mem::take(&mut analyzers);
                let checking = scope.spawn(move || {
                    let lines: Vec<Line<'_>> = match std::str::from_utf8(&block) {
                        Ok(text) => split_text_lines(text),
                        Err(_) => split_lines(&block).into_iter().map(Line::Bytes).collect(),
                    };
                    let outcomes = check_block(&mut workers, &lines, first_line, keep);
                    drop(lines);
                    (workers, outcomes, block)
                });
                if let Some((outcomes, first)) = merging.take() {
                    self.merge(outcomes, first, &mut records);
                }
                let (workers, outcomes, block) =
                    checking.join().expect("a validation thread panicked");
                analyzers = workers;
                // The reader may have finished (its last block): then the buffer just goes.
                let _ = recycle.send(block);
                next_line += outcomes.iter().map(Vec::len).sum::<usize>();
                merging = Some((outcomes, first_line));
            }
            if let Some((outcomes, first)) = merging.take() {
                self.merge(outcomes, first, &mut records);
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

    /// Take a block's outcomes (runs in line order), keeping the records they carry.
    fn merge(
        &mut self,
        runs: Vec<Vec<Outcome<'_>>>,
        first_line: usize,
        records: &mut Vec<Conversation>,
    ) {
        self.stats.reserve(runs.iter().map(Vec::len).sum());
        for (i, outcome) in runs.into_iter().flatten().enumerate() {
            if let Some(record) = self.absorb(outcome, first_line + i) {
                records.push(record);
            }
        }
    }

    pub(super) fn finish(mut self) -> ValidationReport {
        let records: usize = self.files.iter().map(|f| f.records).sum();
        self.file = self
            .files
            .iter()
            .map(|f| f.path.clone())
            .collect::<Vec<_>>()
            .join(" + ");
        if self.options.check_counts && self.error_count() == 0 {
            let (low, high) = self.options.record_bounds();
            if records < low || records > high {
                let task = self.options.task.label();
                let model = match self.options.model {
                    super::ModelRules::Nova1 => "micro",
                    super::ModelRules::Nova2 => "Nova 2 Lite",
                };
                self.push(Severity::Error, None, "dataset".into(), format!("Number of samples {records} out of bounds between {low} and {high} for {model} with task type {task} (train and validation together)"));
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

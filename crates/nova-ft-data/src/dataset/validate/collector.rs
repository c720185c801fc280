//! Merges the analyzers' outcomes in line order: names files, caps the issue lists, gathers
//! statistics.

use super::super::record::Conversation;
use super::super::stats::StatsBuilder;
use super::analyzer::{Analyzer, Outcome, BLOCK_BYTES};
use super::blocks::{check_block, read_blocks, return_buffer, ReadError};
use super::{FileSummary, Issue, Severity, ValidationOptions, ValidationReport};
use crate::error::{NovaError, Result};
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
    /// The first media kind seen and where (`file:line`): a dataset holds one kind of media.
    media: Option<(&'static str, String)>,
    /// Whether the file being merged has any bytes yet.
    saw_bytes: bool,
}

/// A checked block waiting to be merged.
struct Checked {
    outcomes: Vec<Vec<Outcome<'static>>>,
    first_line: usize,
    source: usize,
    /// The last block of its source.
    last: bool,
    /// Whether the block holds any bytes (a file with none is refused as empty).
    has_bytes: bool,
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
            saw_bytes: false,
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
        if !name.is_empty() && !name.ends_with(".jsonl") {
            // AWS's validator refuses such a name; Bedrock documents JSONL files, not the suffix.
            self.push(
                Severity::Warning,
                None,
                "file".into(),
                format!("file name {name:?} does not end in .jsonl: Bedrock reads JSON Lines files, and AWS's validator refuses other names; rename it"),
            );
        }
    }

    pub(super) fn end_file(&mut self) {
        self.files.push(FileSummary {
            path: self.file.clone(),
            records: self.file_records,
        });
    }

    /// Take one line's outcome; returns the record it carried, if any. The outcome is taken
    /// by reference (its parts moved out): outcomes are large, and moving each one into this
    /// serial stage measured a twentieth of a validation's time.
    pub(super) fn absorb(
        &mut self,
        outcome: &mut Outcome<'_>,
        line: usize,
    ) -> Option<Conversation> {
        for issue in outcome.issues.drain(..) {
            self.push(issue.severity, Some(issue.line), issue.field, issue.message);
        }
        if let Some(kind) = outcome.media {
            match &self.media {
                Some((first, at)) if *first != kind => {
                    let message = format!(
                        "{kind} blocks, but {at} holds {first}: {} takes one kind of media per dataset",
                        self.options.model.name()
                    );
                    self.push(Severity::Error, Some(line), "messages".into(), message);
                }
                Some(_) => {}
                None => {
                    let at = format!("{}:{line}", self.file);
                    self.media = Some((kind, at));
                }
            }
        }
        let facts = outcome.facts.as_ref()?;
        self.file_records += 1;
        self.stats.add(facts, (self.files.len(), line));
        outcome.record.take()
    }

    /// Stream files as one job's data (see [`Collector::read_sources`]); returns each file's
    /// records when `keep`.
    pub(super) fn read_files(
        &mut self,
        paths: &[&Path],
        keep: bool,
    ) -> Result<Vec<Vec<Conversation>>> {
        let mut sources = Vec::with_capacity(paths.len());
        for path in paths {
            let file = std::fs::File::open(path).map_err(|e| NovaError::io(*path, e))?;
            sources.push((path.display().to_string(), file));
        }
        self.read_sources(sources, keep)
            .map_err(|(i, e)| NovaError::io(paths[i], e))
    }

    /// Stream readers (files, or S3 objects in the emulator) as the named data files, in order.
    ///
    /// Three stages overlap: a reader thread reads the next block (running on from one source
    /// into the next), the analyzers check the current one on every core, and this thread
    /// merges the previous block's outcomes (the statistics are built in line order, so that
    /// stage is serial; overlapping it keeps the cores busy).
    pub(super) fn read_sources<R: Read + Send>(
        &mut self,
        sources: Vec<(String, R)>,
        keep: bool,
    ) -> std::result::Result<Vec<Vec<Conversation>>, ReadError> {
        let (names, readers): (Vec<String>, Vec<R>) = sources.into_iter().unzip();
        let threads = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, 8);
        let options = self.options.clone();
        let mut analyzers: Vec<Analyzer<'_>> =
            (0..threads).map(|_| Analyzer::new(&options)).collect();
        let mut records = Vec::with_capacity(names.len());
        std::thread::scope(|scope| -> std::result::Result<(), ReadError> {
            let (sender, blocks) = std::sync::mpsc::sync_channel(1);
            let (recycle, recycled) = std::sync::mpsc::channel::<Vec<u8>>();
            scope.spawn(move || read_blocks(readers, BLOCK_BYTES, sender, recycled));
            // The previous block's outcomes (owned, so they outlive their block).
            let mut merging: Option<Checked> = None;
            let (mut source, mut next_line) = (usize::MAX, 1usize);
            for block in blocks {
                let block = block?;
                if block.source != source {
                    (source, next_line) = (block.source, 1);
                }
                let (first_line, last, has_bytes) =
                    (next_line, block.last, !block.bytes.is_empty());
                let mut workers = std::mem::take(&mut analyzers);
                let checking = scope.spawn(move || {
                    let block = block.bytes;
                    let outcomes = check_block(&mut workers, &block, first_line, keep);
                    (workers, outcomes, block)
                });
                if let Some(checked) = merging.take() {
                    self.merge(checked, &names, &mut records);
                }
                let (workers, outcomes, block) =
                    checking.join().expect("a validation thread panicked");
                analyzers = workers;
                // The reader may have finished (its last block): then the pool takes the buffer.
                if let Err(returned) = recycle.send(block) {
                    return_buffer(returned.0, BLOCK_BYTES);
                }
                next_line += outcomes.iter().map(Vec::len).sum::<usize>();
                merging = Some(Checked {
                    outcomes,
                    first_line,
                    source,
                    last,
                    has_bytes,
                });
            }
            if let Some(checked) = merging.take() {
                self.merge(checked, &names, &mut records);
            }
            Ok(())
        })?;
        Ok(records)
    }

    /// Take a block's outcomes (runs in line order), keeping the records they carry; opens
    /// and closes files at their first and last blocks.
    fn merge(
        &mut self,
        mut checked: Checked,
        names: &[String],
        records: &mut Vec<Vec<Conversation>>,
    ) {
        if records.len() <= checked.source {
            self.start_file(&names[checked.source]);
            self.saw_bytes = false;
            records.push(Vec::new());
        }
        self.saw_bytes |= checked.has_bytes;
        let kept = records.last_mut().expect("a file was started");
        self.stats
            .reserve(checked.outcomes.iter().map(Vec::len).sum());
        for (i, outcome) in checked.outcomes.iter_mut().flatten().enumerate() {
            if let Some(record) = self.absorb(outcome, checked.first_line + i) {
                kept.push(record);
            }
        }
        if checked.last {
            if !self.saw_bytes {
                self.push(
                    Severity::Error,
                    None,
                    "file".into(),
                    "the file is empty: it needs one JSON record per line".into(),
                );
            }
            self.end_file();
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
                let model = self.options.model.validator_name();
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

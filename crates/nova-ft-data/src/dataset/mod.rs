//! Training data for Nova Micro in Bedrock's `bedrock-conversation-2024` JSONL format:
//! generate, convert, split, validate, count and write it.

pub mod convert;
pub mod label_set;
pub mod record;
pub mod rft;
pub mod split;
pub mod stats;
pub mod synth;
pub mod validate;

use crate::error::{NovaError, Result};
use crate::fsio::write_files_atomically;
use convert::{convert_rows, RowSpec, SourceRow};
use record::Conversation;
use split::{drop_overlaps, overlap_report, split_records, OverlapReport, SplitSpec};
use std::path::{Path, PathBuf};
use validate::{load_conversations, Task};

/// The usual split names, in the order they are written and compared.
pub const SPLIT_NAMES: [&str; 3] = ["train", "valid", "test"];

/// Named splits of conversation records (train, valid and optionally test).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dataset {
    pub splits: Vec<(String, Vec<Conversation>)>,
    /// The label set named in the system prompt, for intent data.
    pub labels: Option<Vec<String>>,
}

impl Dataset {
    /// The tutorial's synthetic data: `train` then `valid` rows from one seeded stream, and
    /// `test` rows either next in the same stream or from their own stream (`test_seed`).
    pub fn synthetic(
        seed: i64,
        train: usize,
        valid: usize,
        test: usize,
        test_seed: Option<i64>,
    ) -> Dataset {
        let mut stream = synth::SyntheticIntents::new(seed);
        let train_rows = stream.take(train);
        let valid_rows = stream.take(valid);
        let test_rows = match test_seed {
            Some(s) => synth::SyntheticIntents::new(s).take(test),
            None => stream.take(test),
        };
        let mut splits = vec![("train".to_string(), train_rows)];
        if valid > 0 {
            splits.push(("valid".to_string(), valid_rows));
        }
        if test > 0 {
            splits.push(("test".to_string(), test_rows));
        }
        Dataset {
            splits,
            labels: Some(synth::INTENTS.iter().map(|s| s.to_string()).collect()),
        }
    }

    /// Convert rows, then split them (seeded; stratified by label for intent data). With
    /// `drop_leaks`, valid/test records whose input also appears in an earlier split are dropped.
    pub fn from_rows(
        rows: &[SourceRow],
        source: &str,
        spec: &RowSpec,
        split: SplitSpec,
        drop_leaks: bool,
    ) -> Result<Dataset> {
        let converted = convert_rows(rows, source, spec)?;
        let mut parts = split_records(converted.records, split)?.to_vec();
        if drop_leaks {
            drop_overlaps(&mut parts);
        }
        let splits = SPLIT_NAMES
            .iter()
            .zip(parts)
            .enumerate()
            .filter(|(i, (_, records))| *i == 0 || !records.is_empty())
            .map(|(_, (name, records))| (name.to_string(), records))
            .collect();
        Ok(Dataset {
            splits,
            labels: converted.labels,
        })
    }

    /// Load existing conversation JSONL files as named splits, validating every line.
    pub fn from_jsonl_files(files: &[(String, PathBuf)], task: Task) -> Result<Dataset> {
        let mut splits = Vec::with_capacity(files.len());
        for (name, path) in files {
            splits.push((name.clone(), load_conversations(path, task)?));
        }
        Ok(Dataset {
            splits,
            labels: None,
        })
    }

    pub fn split(&self, name: &str) -> Option<&[Conversation]> {
        self.splits
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, r)| r.as_slice())
    }

    pub fn overlap_report(&self) -> OverlapReport {
        let splits: Vec<(&str, &[Conversation])> = self
            .splits
            .iter()
            .map(|(n, r)| (n.as_str(), r.as_slice()))
            .collect();
        overlap_report(&splits)
    }

    /// Write each split to `dir/<name>.jsonl`, all or nothing.
    pub fn write_jsonl(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        if self.splits.is_empty() {
            return Err(NovaError::invalid("the dataset has no splits to write"));
        }
        let files: Vec<(PathBuf, Vec<u8>)> = self
            .splits
            .iter()
            .map(|(name, records)| (dir.join(format!("{name}.jsonl")), to_jsonl(records)))
            .collect();
        write_files_atomically(&files)?;
        Ok(files.into_iter().map(|(p, _)| p).collect())
    }
}

/// Records as JSONL bytes, one `json.dumps`-identical line each.
pub fn to_jsonl(records: &[Conversation]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 256);
    for record in records {
        record.write_jsonl_line(&mut out);
    }
    out
}

//! Seeded train/valid/test splits (stratified by label for label sets), and the report of
//! duplicates and train/test leakage that tells whether a test score can be trusted.

use super::label_set::looks_like_label_set;
use super::record::Conversation;
use crate::cpython_random::CPythonRandom;
use crate::error::{NovaError, Result};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Fractions of the records that go to validation and test; the rest is training data.
#[derive(Debug, Clone, Copy)]
pub struct SplitSpec {
    pub valid: f64,
    pub test: f64,
    pub seed: i64,
    /// Split each label's records separately so every split keeps the label proportions.
    pub stratify: bool,
}

/// Split records into (train, valid, test). Stratifies only when the answers form a label set.
pub fn split_records(
    records: Vec<Conversation>,
    spec: SplitSpec,
) -> Result<[Vec<Conversation>; 3]> {
    let fractions_ok = (0.0..1.0).contains(&spec.valid)
        && (0.0..1.0).contains(&spec.test)
        && spec.valid + spec.test < 1.0;
    if !fractions_ok {
        return Err(NovaError::invalid(format!(
            "valid={} and test={} must each be in [0, 1) and leave some training data (sum < 1)",
            spec.valid, spec.test
        )));
    }
    if spec.valid == 0.0 && spec.test == 0.0 {
        // Nothing to split off: keep the rows in the order they came.
        return Ok([records, Vec::new(), Vec::new()]);
    }
    let mut rng = CPythonRandom::new(spec.seed);
    let groups = if spec.stratify && is_label_set(&records) {
        group_by_target(records)
    } else {
        vec![records]
    };
    let mut out: [Vec<Conversation>; 3] = Default::default();
    for mut group in groups {
        rng.shuffle(&mut group);
        let n = group.len() as f64;
        let n_test = (n * spec.test).round() as usize;
        let n_valid = ((n * spec.valid).round() as usize).min(group.len() - n_test);
        let rest = group.split_off(n_test);
        out[2].extend(group);
        let mut rest = rest;
        let train = rest.split_off(n_valid);
        out[1].extend(rest);
        out[0].extend(train);
    }
    for split in out.iter_mut() {
        rng.shuffle(split);
    }
    Ok(out)
}

fn is_label_set(records: &[Conversation]) -> bool {
    let targets: Vec<String> = records.iter().filter_map(Conversation::target).collect();
    let distinct: HashSet<&String> = targets.iter().collect();
    let longest = targets.iter().map(|t| t.chars().count()).max().unwrap_or(0);
    let multiline = targets.iter().any(|t| t.contains('\n'));
    targets.len() == records.len()
        && looks_like_label_set(distinct.len(), targets.len(), longest, multiline)
}

fn group_by_target(records: Vec<Conversation>) -> Vec<Vec<Conversation>> {
    // BTreeMap: groups in label order, so the split does not depend on hash order.
    let mut groups: BTreeMap<String, Vec<Conversation>> = BTreeMap::new();
    for record in records {
        groups
            .entry(record.target().unwrap_or_default())
            .or_default()
            .push(record);
    }
    groups.into_values().collect()
}

/// Inputs compared ignoring case and runs of whitespace.
pub fn normalized_input(record: &Conversation) -> String {
    record
        .input_text()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SplitOverlap {
    /// The later split (its records repeat inputs of `earlier`).
    pub split: String,
    pub earlier: String,
    /// Records of `split` whose input also appears in `earlier`.
    pub records: usize,
    pub examples: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SplitDuplicates {
    pub split: String,
    pub records: usize,
    /// Records whose input repeats an earlier record of the same split.
    pub duplicate_inputs: usize,
}

/// Duplicates inside each split and inputs shared between splits (leakage).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct OverlapReport {
    pub splits: Vec<SplitDuplicates>,
    pub overlaps: Vec<SplitOverlap>,
}

impl OverlapReport {
    pub fn leaked_records(&self) -> usize {
        self.overlaps.iter().map(|o| o.records).sum()
    }
}

/// Compare splits in order: each later split is checked against every earlier one.
pub fn overlap_report(splits: &[(&str, &[Conversation])]) -> OverlapReport {
    let mut seen: Vec<(String, HashSet<String>)> = Vec::new();
    let mut report = OverlapReport {
        splits: Vec::new(),
        overlaps: Vec::new(),
    };
    for (name, records) in splits {
        let inputs: Vec<String> = records.iter().map(normalized_input).collect();
        let mut unique: HashMap<&str, usize> = HashMap::new();
        for input in &inputs {
            *unique.entry(input).or_default() += 1;
        }
        report.splits.push(SplitDuplicates {
            split: name.to_string(),
            records: records.len(),
            duplicate_inputs: inputs.len() - unique.len(),
        });
        for (earlier, earlier_inputs) in &seen {
            let shared: Vec<&String> = inputs
                .iter()
                .filter(|i| earlier_inputs.contains(*i))
                .collect();
            if !shared.is_empty() {
                let mut examples: Vec<String> = shared.iter().map(|s| s.to_string()).collect();
                examples.dedup();
                examples.truncate(3);
                report.overlaps.push(SplitOverlap {
                    split: name.to_string(),
                    earlier: earlier.clone(),
                    records: shared.len(),
                    examples,
                });
            }
        }
        seen.push((name.to_string(), inputs.into_iter().collect()));
    }
    report
}

/// Drop from each later split the records whose input appears in an earlier split.
pub fn drop_overlaps(splits: &mut [Vec<Conversation>]) -> usize {
    let mut seen: HashSet<String> = HashSet::new();
    let mut dropped = 0;
    for split in splits.iter_mut() {
        let before = split.len();
        split.retain(|r| !seen.contains(&normalized_input(r)));
        dropped += before - split.len();
        seen.extend(split.iter().map(normalized_input));
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(n: usize, labels: &[&str]) -> Vec<Conversation> {
        (0..n)
            .map(|i| {
                Conversation::single_turn(
                    "s",
                    format!("q{i}"),
                    Some(labels[i % labels.len()].to_string()),
                )
            })
            .collect()
    }

    #[test]
    fn stratified_split_keeps_label_shares_and_loses_nothing() {
        let data = records(1000, &["a", "a", "a", "b"]);
        let spec = SplitSpec {
            valid: 0.1,
            test: 0.2,
            seed: 5,
            stratify: true,
        };
        let [train, valid, test] = split_records(data.clone(), spec).unwrap();
        assert_eq!((train.len(), valid.len(), test.len()), (700, 100, 200));
        let share_b = |s: &[Conversation]| {
            s.iter().filter(|r| r.target().unwrap() == "b").count() as f64 / s.len() as f64
        };
        assert!((share_b(&test) - 0.25).abs() < 1e-9);
        assert!((share_b(&valid) - 0.25).abs() < 1e-9);
        let mut all: Vec<_> = train
            .iter()
            .chain(&valid)
            .chain(&test)
            .map(|r| r.input_text())
            .collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 1000);
        assert_eq!(
            split_records(data, spec).unwrap()[2],
            test,
            "same seed, same split"
        );
    }

    #[test]
    fn bad_fractions_are_refused() {
        let spec = SplitSpec {
            valid: 0.5,
            test: 0.5,
            seed: 0,
            stratify: false,
        };
        assert!(split_records(records(10, &["a"]), spec).is_err());
    }

    #[test]
    fn overlap_report_finds_leaks_and_drop_removes_them() {
        let train = records(10, &["a"]);
        let mut test = records(3, &["a"]);
        test.push(Conversation::single_turn("s", "  Q1 ", Some("a".into())));
        test.push(Conversation::single_turn("s", "new", Some("a".into())));
        let report = overlap_report(&[("train", &train), ("test", &test)]);
        assert_eq!(report.leaked_records(), 4);
        assert_eq!(report.splits[1].duplicate_inputs, 1);
        let mut splits = vec![train, test];
        assert_eq!(drop_overlaps(&mut splits), 4);
        assert_eq!(splits[1].len(), 1);
    }
}

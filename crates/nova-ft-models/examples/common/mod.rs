//! What the sweep examples share: their command line, their JSONL rows, cross-validation
//! folds, and the system prompt that lists the labels.

// Each example compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use serde_json::Value;

/// The value after `--name` on the command line, or `default`.
pub fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

/// (text, label) of every line of a JSONL file, from the two named fields.
pub fn rows(path: &str, text: &str, label: &str) -> Vec<(String, String)> {
    fields(path, &[text, label])
        .into_iter()
        .map(|mut f| {
            let label = f.pop().unwrap_or_default();
            (f.pop().unwrap_or_default(), label)
        })
        .collect()
}

/// The named string fields of every line of a JSONL file (missing ones empty).
pub fn fields(path: &str, names: &[&str]) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            names
                .iter()
                .map(|n| v[*n].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .collect()
}

/// Rows `i` with `i % folds == fold` (held out) and the others (kept), in order.
pub fn fold<T: Clone>(items: &[T], folds: usize, fold: usize) -> (Vec<T>, Vec<T>) {
    let (held, kept): (Vec<_>, Vec<_>) = items
        .iter()
        .enumerate()
        .partition(|(i, _)| i % folds == fold);
    let strip = |v: Vec<(usize, &T)>| v.into_iter().map(|(_, t)| t.clone()).collect();
    (strip(held), strip(kept))
}

/// A system prompt listing every label of `rows` (sorted, once each), as a job's data would.
pub fn label_prompt(rows: &[(String, String)]) -> String {
    let mut labels: Vec<&str> = rows.iter().map(|(_, l)| l.as_str()).collect();
    labels.sort();
    labels.dedup();
    format!(
        "Classify the request. Answer with only one label from this list: {}",
        labels.join(", ")
    )
}

/// `geoquery/train.jsonl` from a longer path.
pub fn short(path: &str) -> String {
    let p = std::path::Path::new(path);
    let parent = p
        .parent()
        .and_then(|d| d.file_name())
        .map(|d| d.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!("{parent}/{name}")
}

/// Mean of the per-file scores (each file counts the same).
pub fn mean(scores: &[f64]) -> f64 {
    scores.iter().sum::<f64>() / scores.len() as f64
}

/// Best mean first (a stable sort: among equals, the order they were tried in).
pub fn best_first<T>(results: &mut [(T, Vec<f64>)]) {
    results.sort_by(|a, b| mean(&b.1).total_cmp(&mean(&a.1)));
}

/// The header cells of the per-file columns, one per file name.
pub fn header_cells(names: &[String]) -> String {
    names.iter().map(|n| format!(" {n:>10}")).collect()
}

/// A row's per-file percentages, each as wide as its column's header.
pub fn score_cells(scores: &[f64], names: &[String]) -> String {
    scores
        .iter()
        .zip(names)
        .map(|(s, n)| format!(" {:>w$.1}%", s * 100.0, w = n.len().max(10) - 1))
        .collect()
}

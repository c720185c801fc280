//! What the sweep examples share: their command line, their labelled JSONL rows, and the
//! system prompt that lists the labels.

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
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{path}: {e}"))
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            (
                v[text].as_str().unwrap_or_default().to_string(),
                v[label].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
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

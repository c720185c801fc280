//! What a benchmark run means: per model accuracy with a bootstrap interval, macro-F1,
//! per-class scores and a confusion matrix (classification), execution accuracy on SQLite
//! (text-to-SQL), latency percentiles, tokens and dollars; and a paired test (McNemar) of
//! each model against the first.

mod classification;
mod report;
mod results;
mod sql;
mod statistics;
#[cfg(test)]
mod tests;

pub use report::report;
pub use results::load_results;
pub use statistics::mcnemar_exact;

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Normalize {
    #[serde(default = "yes")]
    pub strip: bool,
    #[serde(default = "yes")]
    pub lower: bool,
    #[serde(default = "yes")]
    pub first_line: bool,
}

fn yes() -> bool {
    true
}

impl Default for Normalize {
    fn default() -> Self {
        Normalize {
            strip: true,
            lower: true,
            first_line: true,
        }
    }
}

impl Normalize {
    pub fn apply(&self, text: &str) -> String {
        let mut text = text;
        if self.first_line {
            text = text.trim_start().lines().next().unwrap_or("");
        }
        if self.strip {
            text = text.trim();
        }
        if self.lower {
            text.to_lowercase()
        } else {
            text.to_string()
        }
    }

    pub fn describe(&self) -> String {
        let mut steps = Vec::new();
        if self.first_line {
            steps.push("first line");
        }
        if self.strip {
            steps.push("strip whitespace");
        }
        if self.lower {
            steps.push("lower-case");
        }
        if steps.is_empty() {
            "exact text".into()
        } else {
            steps.join(", ")
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsOptions {
    /// `classification` or `sql`.
    #[serde(default = "classification")]
    pub kind: String,
    #[serde(default)]
    pub normalize: Normalize,
    /// SQLite database for execution accuracy (text-to-SQL); without it, predictions are run
    /// against an empty database built from the prompt's `CREATE TABLE` statements.
    #[serde(default)]
    pub db: Option<PathBuf>,
    #[serde(default = "default_bootstrap")]
    pub bootstrap: usize,
    #[serde(default)]
    pub seed: u64,
    #[serde(default = "default_monthly")]
    pub monthly_queries: f64,
    /// Wall time of the run, for requests per second.
    #[serde(default)]
    pub elapsed_seconds: Option<f64>,
    #[serde(default = "default_sql_ms")]
    pub sql_timeout_ms: u64,
    /// Report order (the first is the baseline); default: order of first appearance.
    #[serde(default)]
    pub models: Option<Vec<String>>,
    /// Models whose rows ran as batch inference jobs: priced at the batch rate.
    #[serde(default)]
    pub batch_models: Vec<String>,
}

fn classification() -> String {
    "classification".into()
}
fn default_bootstrap() -> usize {
    1000
}
fn default_monthly() -> f64 {
    22_000.0
}
fn default_sql_ms() -> u64 {
    2000
}

#[derive(Debug, Clone, Serialize)]
pub struct ClassScore {
    pub label: String,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub mean: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SqlScores {
    /// Same result set as the gold query (needs a database with data).
    pub execution_accuracy: Option<f64>,
    pub exact_match: f64,
    /// Share of predictions that parse and run.
    pub executes: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct ModelReport {
    pub model: String,
    pub requests: usize,
    pub answered: usize,
    pub failed: usize,
    pub retries: u64,
    /// Correct over rows with a gold answer; failed rows count as wrong.
    pub accuracy: f64,
    pub accuracy_ci: [f64; 2],
    pub macro_f1: Option<f64>,
    pub per_class: Vec<ClassScore>,
    pub confusion_labels: Vec<String>,
    /// Rows: gold label; columns: predicted label (`confusion_labels`, then `<other>`).
    pub confusion: Vec<Vec<usize>>,
    pub latency_ms: Option<Latency>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_usd: f64,
    pub cost_per_1000: f64,
    pub monthly_cost_usd: f64,
    pub requests_per_second: Option<f64>,
    pub sql: Option<SqlScores>,
    pub errors: BTreeMap<String, usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub baseline: String,
    pub candidate: String,
    pub rows: usize,
    pub both_right: usize,
    pub only_baseline: usize,
    pub only_candidate: usize,
    pub both_wrong: usize,
    /// Exact two-sided McNemar p-value on the discordant pairs.
    pub mcnemar_p: f64,
    pub accuracy_delta: f64,
    pub accuracy_delta_ci: [f64; 2],
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub kind: String,
    pub normalization: String,
    pub rows: usize,
    pub models: Vec<ModelReport>,
    pub comparisons: Vec<Comparison>,
    pub monthly_queries: f64,
    pub price_source: String,
    pub notes: Vec<String>,
}

/// What scoring needs of one result: small, so 100,000 rows cost a few megabytes.
#[derive(Debug, Clone)]
pub struct Scored {
    pub prediction: Option<Box<str>>,
    pub gold: Option<Box<str>>,
    pub latency_ms: Option<f64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub attempts: u32,
    pub error_code: Option<Box<str>>,
}

/// Results keyed by (row id, index of the model in the loaded order).
pub type LatestResults = HashMap<(Box<str>, usize), Scored>;

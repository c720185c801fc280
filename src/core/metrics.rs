//! What a benchmark run means: per model accuracy with a bootstrap interval, macro-F1,
//! per-class scores and a confusion matrix (classification), execution accuracy on SQLite
//! (text-to-SQL), latency percentiles, tokens and dollars; and a paired test (McNemar) of
//! each model against the first.

use crate::core::benchmark::{BenchResult, BenchRow};
use crate::core::cost::NOVA_MICRO;
use crate::core::error::{NovaError, Result};
use crate::core::sqleval;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::time::Duration;

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

/// The latest result per (row, model), and the models in order of first appearance.
pub fn load_results(path: &Path) -> Result<(Vec<String>, LatestResults)> {
    let file = std::fs::File::open(path).map_err(|e| NovaError::io(path, e))?;
    let mut models: Vec<String> = Vec::new();
    let mut latest = HashMap::new();
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| NovaError::io(path, e))?;
        let Ok(result) = serde_json::from_str::<BenchResult>(&line) else {
            continue;
        };
        let model = match models.iter().position(|m| *m == result.model) {
            Some(i) => i,
            None => {
                models.push(result.model.clone());
                models.len() - 1
            }
        };
        let scored = Scored {
            prediction: result.prediction.map(String::into_boxed_str),
            gold: result.gold.map(String::into_boxed_str),
            latency_ms: result.latency_ms,
            input_tokens: result.input_tokens,
            output_tokens: result.output_tokens,
            attempts: result.attempts,
            error_code: result.error_code.map(String::into_boxed_str),
        };
        latest.insert((result.row_id.into_boxed_str(), model), scored);
    }
    Ok((models, latest))
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Percentile bootstrap of the mean of `values` (0/1 or differences).
fn bootstrap_ci(values: &[f64], resamples: usize, seed: u64) -> [f64; 2] {
    let n = values.len();
    if n == 0 || resamples == 0 {
        return [f64::NAN, f64::NAN];
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut means: Vec<f64> = (0..resamples)
        .map(|_| (0..n).map(|_| values[rng.usize(..n)]).sum::<f64>() / n as f64)
        .collect();
    means.sort_by(f64::total_cmp);
    [percentile(&means, 0.025), percentile(&means, 0.975)]
}

/// Exact two-sided binomial test of b vs c discordant pairs (McNemar), in log space.
pub fn mcnemar_exact(b: usize, c: usize) -> f64 {
    let n = b + c;
    if n == 0 {
        return 1.0;
    }
    let k = b.min(c);
    let mut log_term = -(n as f64) * std::f64::consts::LN_2; // C(n,0) / 2^n
    let mut logs = vec![log_term];
    for i in 0..k {
        log_term += ((n - i) as f64).ln() - ((i + 1) as f64).ln();
        logs.push(log_term);
    }
    let top = logs.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let tail = top.exp() * logs.iter().map(|l| (l - top).exp()).sum::<f64>();
    (2.0 * tail).min(1.0)
}

struct SqlJudge {
    db: Option<rusqlite::Connection>,
    limit: Duration,
}

impl SqlJudge {
    /// (correct, exact, executes) for one prediction.
    fn judge(&mut self, row: Option<&BenchRow>, predicted: &str, gold: &str) -> (bool, bool, bool) {
        let exact = sqleval::normalize_sql(predicted) == sqleval::normalize_sql(gold);
        let has_data = self.db.is_some();
        let limit = self.limit;
        let mut schema_db;
        let conn = match &mut self.db {
            Some(conn) => conn,
            None => {
                let schema = row
                    .map(|r| sqleval::schema_from_prompt(&r.text))
                    .unwrap_or_default();
                match sqleval::schema_database(&schema) {
                    Ok(conn) => {
                        schema_db = conn;
                        &mut schema_db
                    }
                    Err(_) => return (exact, exact, false),
                }
            }
        };
        let got = sqleval::execute(conn, predicted, limit);
        let executes = got.is_ok();
        let correct = match (has_data, got) {
            (true, Ok(rows)) => sqleval::execute(conn, gold, limit)
                .map(|want| sqleval::same_result(gold, &want, &rows))
                .unwrap_or(false),
            (true, Err(_)) => false,
            (false, _) => exact,
        };
        (correct, exact, executes)
    }
}

/// Score a results file (see `benchmark::run`) against the rows it came from.
pub fn report(results: &Path, rows: &[BenchRow], options: &MetricsOptions) -> Result<Report> {
    let (loaded, latest) = load_results(results)?;
    let mut models = loaded.clone();
    if let Some(order) = &options.models {
        let extra: Vec<String> = models.into_iter().filter(|m| !order.contains(m)).collect();
        models = order.iter().cloned().chain(extra).collect();
    }
    let mut sql = match options.kind.as_str() {
        "classification" => None,
        "sql" => Some(SqlJudge {
            db: match &options.db {
                Some(path) => Some(sqleval::open_read_only(path).map_err(|e| {
                    NovaError::invalid(format!("{}: cannot open as SQLite: {e}", path.display()))
                })?),
                None => None,
            },
            limit: Duration::from_millis(options.sql_timeout_ms),
        }),
        other => {
            return Err(NovaError::invalid(format!(
                "kind must be classification or sql, got {other:?}"
            )))
        }
    };
    let by_id: HashMap<&str, &BenchRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    // Rows in input order when known, else in results order.
    let mut row_ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    if row_ids.is_empty() {
        let mut ids: Vec<&str> = latest.keys().map(|(id, _)| &**id).collect();
        ids.sort();
        ids.dedup();
        row_ids = ids.into_iter().map(str::to_string).collect();
    }
    let mut correctness: Vec<Vec<Option<bool>>> = Vec::new();
    let mut reports = Vec::new();
    for model in &models {
        let index = loaded.iter().position(|m| m == model);
        let mut correct_flags = Vec::new();
        let mut latencies = Vec::new();
        let (mut answered, mut failed, mut retries) = (0, 0, 0u64);
        let (mut input_tokens, mut output_tokens) = (0i64, 0i64);
        let mut errors = BTreeMap::new();
        let mut pairs: Vec<(String, Option<String>)> = Vec::new();
        let (mut exact_n, mut executes_n, mut sql_n) = (0usize, 0usize, 0usize);
        for id in &row_ids {
            let found = index.and_then(|m| latest.get(&(Box::from(id.as_str()), m)));
            let Some(result) = found else {
                correct_flags.push(None);
                continue;
            };
            retries += u64::from(result.attempts.saturating_sub(1));
            input_tokens += result.input_tokens;
            output_tokens += result.output_tokens;
            let gold = result
                .gold
                .as_deref()
                .map(str::to_string)
                .or_else(|| by_id.get(id.as_str()).and_then(|r| r.gold.clone()));
            match &result.prediction {
                Some(_) => {
                    answered += 1;
                    latencies.extend(result.latency_ms);
                }
                None => {
                    failed += 1;
                    *errors
                        .entry(
                            result
                                .error_code
                                .as_deref()
                                .unwrap_or("Unknown")
                                .to_string(),
                        )
                        .or_insert(0) += 1;
                }
            }
            let Some(gold) = gold else {
                correct_flags.push(None);
                continue;
            };
            let is_correct = match (&result.prediction, &mut sql) {
                (None, _) => false,
                (Some(p), None) => {
                    let p = options.normalize.apply(p);
                    let g = options.normalize.apply(&gold);
                    pairs.push((g.clone(), Some(p.clone())));
                    p == g
                }
                (Some(p), Some(judge)) => {
                    let (ok, exact, executes) =
                        judge.judge(by_id.get(id.as_str()).copied(), p.trim(), &gold);
                    sql_n += 1;
                    exact_n += usize::from(exact);
                    executes_n += usize::from(executes);
                    ok
                }
            };
            if result.prediction.is_none() && sql.is_none() {
                pairs.push((options.normalize.apply(&gold), None));
            }
            correct_flags.push(Some(is_correct));
        }
        let scored: Vec<f64> = correct_flags
            .iter()
            .flatten()
            .map(|&c| f64::from(u8::from(c)))
            .collect();
        let accuracy = if scored.is_empty() {
            f64::NAN
        } else {
            scored.iter().sum::<f64>() / scored.len() as f64
        };
        let accuracy_ci = bootstrap_ci(&scored, options.bootstrap, options.seed);
        let (per_class, labels, confusion, macro_f1) = if sql.is_none() && !pairs.is_empty() {
            classification_scores(&pairs)
        } else {
            (Vec::new(), Vec::new(), Vec::new(), None)
        };
        latencies.sort_by(f64::total_cmp);
        let latency_ms = (!latencies.is_empty()).then(|| Latency {
            p50: percentile(&latencies, 0.50),
            p95: percentile(&latencies, 0.95),
            p99: percentile(&latencies, 0.99),
            mean: latencies.iter().sum::<f64>() / latencies.len() as f64,
        });
        let requests = answered + failed;
        let cost = NOVA_MICRO.inference_cost(input_tokens as f64, output_tokens as f64);
        let per_request = if answered > 0 {
            cost / answered as f64
        } else {
            0.0
        };
        reports.push(ModelReport {
            model: model.clone(),
            requests,
            answered,
            failed,
            retries,
            accuracy,
            accuracy_ci,
            macro_f1,
            per_class,
            confusion_labels: labels,
            confusion,
            latency_ms,
            input_tokens,
            output_tokens,
            cost_usd: cost,
            cost_per_1000: per_request * 1000.0,
            monthly_cost_usd: per_request * options.monthly_queries,
            requests_per_second: options
                .elapsed_seconds
                .filter(|&s| s > 0.0)
                .map(|s| requests as f64 / s),
            sql: sql.as_ref().map(|judge| {
                let share = |k: usize| {
                    if sql_n == 0 {
                        f64::NAN
                    } else {
                        k as f64 / sql_n as f64
                    }
                };
                SqlScores {
                    execution_accuracy: judge.db.as_ref().map(|_| accuracy),
                    exact_match: share(exact_n),
                    executes: share(executes_n),
                }
            }),
            errors,
        });
        correctness.push(correct_flags);
    }
    let mut comparisons = Vec::new();
    for (m, model) in models.iter().enumerate().skip(1) {
        let (mut rr, mut rw, mut wr, mut ww) = (0, 0, 0, 0);
        let mut deltas = Vec::new();
        for (a, b) in correctness[0].iter().zip(&correctness[m]) {
            if let (Some(a), Some(b)) = (a, b) {
                match (a, b) {
                    (true, true) => rr += 1,
                    (true, false) => rw += 1,
                    (false, true) => wr += 1,
                    (false, false) => ww += 1,
                }
                deltas.push(f64::from(u8::from(*b)) - f64::from(u8::from(*a)));
            }
        }
        let n = deltas.len();
        comparisons.push(Comparison {
            baseline: models[0].clone(),
            candidate: model.clone(),
            rows: n,
            both_right: rr,
            only_baseline: rw,
            only_candidate: wr,
            both_wrong: ww,
            mcnemar_p: mcnemar_exact(rw, wr),
            accuracy_delta: if n == 0 {
                f64::NAN
            } else {
                deltas.iter().sum::<f64>() / n as f64
            },
            accuracy_delta_ci: bootstrap_ci(&deltas, options.bootstrap, options.seed + 1),
        });
    }
    let mut notes = vec![
        "failed requests count as wrong answers".to_string(),
        format!(
            "dollars from the {} on-demand price table ({}), per token",
            NOVA_MICRO.model, NOVA_MICRO.as_of
        ),
    ];
    if sql.as_ref().is_some_and(|j| j.db.is_none()) {
        notes.push("no database given: SQL accuracy is exact match; 'executes' runs each prediction on an empty database built from the prompt's CREATE TABLE statements".into());
    }
    Ok(Report {
        kind: options.kind.clone(),
        normalization: if sql.is_some() {
            "SQL: whitespace collapsed, lower-cased, trailing ';' dropped (exact match)".into()
        } else {
            options.normalize.describe()
        },
        rows: row_ids.len(),
        models: reports,
        comparisons,
        monthly_queries: options.monthly_queries,
        price_source: NOVA_MICRO.source.to_string(),
        notes,
    })
}

type ClassTables = (Vec<ClassScore>, Vec<String>, Vec<Vec<usize>>, Option<f64>);

/// Per-class precision/recall/F1 over the gold labels, the confusion matrix, macro-F1.
fn classification_scores(pairs: &[(String, Option<String>)]) -> ClassTables {
    let mut labels: Vec<String> = pairs.iter().map(|(g, _)| g.clone()).collect();
    labels.sort();
    labels.dedup();
    let index: HashMap<&str, usize> = labels
        .iter()
        .enumerate()
        .map(|(i, l)| (l.as_str(), i))
        .collect();
    let other = labels.len();
    let mut matrix = vec![vec![0usize; labels.len() + 1]; labels.len()];
    for (gold, predicted) in pairs {
        let g = index[gold.as_str()];
        let p = predicted
            .as_deref()
            .and_then(|p| index.get(p).copied())
            .unwrap_or(other);
        matrix[g][p] += 1;
    }
    let mut scores = Vec::new();
    for (i, label) in labels.iter().enumerate() {
        let tp = matrix[i][i] as f64;
        let support: usize = matrix[i].iter().sum();
        let predicted: usize = matrix.iter().map(|row| row[i]).sum();
        let precision = if predicted == 0 {
            0.0
        } else {
            tp / predicted as f64
        };
        let recall = if support == 0 {
            0.0
        } else {
            tp / support as f64
        };
        let f1 = if precision + recall == 0.0 {
            0.0
        } else {
            2.0 * precision * recall / (precision + recall)
        };
        scores.push(ClassScore {
            label: label.clone(),
            precision,
            recall,
            f1,
            support,
        });
    }
    let macro_f1 = (!scores.is_empty())
        .then(|| scores.iter().map(|s| s.f1).sum::<f64>() / scores.len() as f64);
    (scores, labels, matrix, macro_f1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcnemar_matches_the_binomial_test() {
        // b=1, c=9: 2 * P(X<=1), X ~ Bin(10, 1/2) = 2 * 11/1024.
        assert!((mcnemar_exact(1, 9) - 22.0 / 1024.0).abs() < 1e-12);
        assert_eq!(mcnemar_exact(0, 0), 1.0);
        assert_eq!(mcnemar_exact(5, 5), 1.0);
        // Large counts do not underflow.
        let p = mcnemar_exact(10_000, 11_000);
        assert!(p > 0.0 && p < 1e-5, "{p}");
    }

    #[test]
    fn classification_tables_count_other_predictions() {
        let pairs = vec![
            ("a".to_string(), Some("a".to_string())),
            ("a".to_string(), Some("zzz".to_string())),
            ("b".to_string(), Some("a".to_string())),
            ("b".to_string(), None),
        ];
        let (scores, labels, matrix, macro_f1) = classification_scores(&pairs);
        assert_eq!(labels, vec!["a", "b"]);
        assert_eq!(matrix, vec![vec![1, 0, 1], vec![1, 0, 1]]);
        assert!((scores[0].precision - 0.5).abs() < 1e-12);
        assert!((scores[0].recall - 0.5).abs() < 1e-12);
        assert_eq!(scores[1].f1, 0.0);
        assert!((macro_f1.unwrap() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn normalization_is_configurable() {
        let n = Normalize::default();
        assert_eq!(n.apply("  Flight\nbecause..."), "flight");
        let exact = Normalize {
            strip: false,
            lower: false,
            first_line: false,
        };
        assert_eq!(exact.apply(" Flight"), " Flight");
        assert_eq!(exact.describe(), "exact text");
    }

    #[test]
    fn bootstrap_interval_contains_the_mean() {
        let values: Vec<f64> = (0..200).map(|i| f64::from(u8::from(i % 4 != 0))).collect();
        let [low, high] = bootstrap_ci(&values, 500, 1);
        assert!(low < 0.75 && 0.75 < high, "{low} {high}");
    }
}

//! The report: every model's scores over the same rows, and each model against the first.

use super::classification::classification_scores;
use super::results::load_results;
use super::sql::{open_read_only, SqlJudge};
use super::statistics::{bootstrap_ci, mcnemar_exact, percentile};
use super::{
    Comparison, Latency, LatestResults, MetricsOptions, ModelReport, Report, Scored, SqlScores,
};
use crate::benchmark::BenchRow;
use nova_ft_data::cost::{NOVA_MICRO, NOVA_MICRO_BATCH};
use nova_ft_data::error::{NovaError, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

/// Score a results file (see `benchmark::run`) against the rows it came from.
pub fn report(results: &Path, rows: &[BenchRow], options: &MetricsOptions) -> Result<Report> {
    let (loaded, latest) = load_results(results)?;
    let models = in_requested_order(&loaded, options.models.as_deref());
    let mut judge = sql_judge(options)?;
    let by_id: HashMap<&str, &BenchRow> = rows.iter().map(|r| (r.id.as_str(), r)).collect();
    let row_ids = row_order(rows, &latest);

    let mut correctness: Vec<Vec<Option<bool>>> = Vec::new();
    let mut reports = Vec::new();
    for model in &models {
        let index = loaded.iter().position(|m| m == model);
        let mut tally = Tally::default();
        for id in &row_ids {
            let found = index.and_then(|m| latest.get(&(Box::from(id.as_str()), m)));
            let row = by_id.get(id.as_str()).copied();
            tally.add(found, row, judge.as_mut(), options);
        }
        let (report, correct) = tally.finish(model, judge.as_ref(), options);
        reports.push(report);
        correctness.push(correct);
    }
    let comparisons = models
        .iter()
        .zip(&correctness)
        .skip(1)
        .map(|(model, correct)| compare(&models[0], model, &correctness[0], correct, options))
        .collect();
    Ok(Report {
        kind: options.kind.clone(),
        normalization: if judge.is_some() {
            "SQL: whitespace collapsed, lower-cased, trailing ';' dropped (exact match)".into()
        } else {
            options.normalize.describe()
        },
        rows: row_ids.len(),
        models: reports,
        comparisons,
        monthly_queries: options.monthly_queries,
        price_source: NOVA_MICRO.source.to_string(),
        notes: notes(judge.as_ref(), &options.batch_models),
    })
}

/// The models in the order asked for, then any others in the order they were loaded.
fn in_requested_order(loaded: &[String], order: Option<&[String]>) -> Vec<String> {
    match order {
        Some(order) => {
            let extra = loaded.iter().filter(|m| !order.contains(m));
            order.iter().chain(extra).cloned().collect()
        }
        None => loaded.to_vec(),
    }
}

/// A SQL judge for `kind = "sql"`, none for classification.
fn sql_judge(options: &MetricsOptions) -> Result<Option<SqlJudge>> {
    match options.kind.as_str() {
        "classification" => Ok(None),
        "sql" => {
            let db = match &options.db {
                Some(path) => Some(open_read_only(path).map_err(|e| {
                    NovaError::data_file(path.display().to_string(), "cannot open as SQLite", e)
                })?),
                None => None,
            };
            Ok(Some(SqlJudge {
                db,
                limit: Duration::from_millis(options.sql_timeout_ms),
            }))
        }
        other => Err(NovaError::invalid(format!(
            "kind must be classification or sql, got {other:?}"
        ))),
    }
}

/// Rows in input order when known, else in results order.
fn row_order(rows: &[BenchRow], latest: &LatestResults) -> Vec<String> {
    if !rows.is_empty() {
        return rows.iter().map(|r| r.id.clone()).collect();
    }
    let mut ids: Vec<&str> = latest.keys().map(|(id, _)| &**id).collect();
    ids.sort();
    ids.dedup();
    ids.into_iter().map(str::to_string).collect()
}

/// One model's counts over the rows, in row order.
#[derive(Default)]
struct Tally {
    /// Per row: right, wrong, or `None` (no result or no gold answer).
    correct: Vec<Option<bool>>,
    latencies: Vec<f64>,
    answered: usize,
    failed: usize,
    retries: u64,
    input_tokens: i64,
    output_tokens: i64,
    errors: BTreeMap<String, usize>,
    /// (gold, prediction) after normalization, for the classification scores.
    pairs: Vec<(String, Option<String>)>,
    sql_judged: usize,
    sql_exact: usize,
    sql_executes: usize,
}

impl Tally {
    fn add(
        &mut self,
        result: Option<&Scored>,
        row: Option<&BenchRow>,
        judge: Option<&mut SqlJudge>,
        options: &MetricsOptions,
    ) {
        let Some(result) = result else {
            self.correct.push(None);
            return;
        };
        self.retries += u64::from(result.attempts.saturating_sub(1));
        self.input_tokens += result.input_tokens;
        self.output_tokens += result.output_tokens;
        match &result.prediction {
            Some(_) => {
                self.answered += 1;
                self.latencies.extend(result.latency_ms);
            }
            None => {
                self.failed += 1;
                let code = result.error_code.as_deref().unwrap_or("Unknown");
                *self.errors.entry(code.to_string()).or_insert(0) += 1;
            }
        }
        let gold = result
            .gold
            .as_deref()
            .map(str::to_string)
            .or_else(|| row.and_then(|r| r.gold.clone()));
        let Some(gold) = gold else {
            self.correct.push(None);
            return;
        };
        let is_correct = match (&result.prediction, judge) {
            (None, None) => {
                self.pairs.push((options.normalize.apply(&gold), None));
                false
            }
            (None, Some(_)) => false,
            (Some(p), None) => {
                let p = options.normalize.apply(p);
                let g = options.normalize.apply(&gold);
                let right = p == g;
                self.pairs.push((g, Some(p)));
                right
            }
            (Some(p), Some(judge)) => {
                let (ok, exact, executes) = judge.judge(row, p.trim(), &gold);
                self.sql_judged += 1;
                self.sql_exact += usize::from(exact);
                self.sql_executes += usize::from(executes);
                ok
            }
        };
        self.correct.push(Some(is_correct));
    }

    /// The model's report, and its per-row correctness for the comparisons.
    pub(super) fn finish(
        mut self,
        model: &str,
        judge: Option<&SqlJudge>,
        options: &MetricsOptions,
    ) -> (ModelReport, Vec<Option<bool>>) {
        let scored: Vec<f64> = self
            .correct
            .iter()
            .flatten()
            .map(|&c| f64::from(u8::from(c)))
            .collect();
        let accuracy = mean(&scored);
        let accuracy_ci = bootstrap_ci(&scored, options.bootstrap, options.seed);
        let (per_class, labels, confusion, macro_f1) = if judge.is_none() && !self.pairs.is_empty()
        {
            classification_scores(&self.pairs)
        } else {
            (Vec::new(), Vec::new(), Vec::new(), None)
        };
        self.latencies.sort_by(f64::total_cmp);
        let latency_ms = (!self.latencies.is_empty()).then(|| Latency {
            p50: percentile(&self.latencies, 0.50),
            p95: percentile(&self.latencies, 0.95),
            p99: percentile(&self.latencies, 0.99),
            mean: mean(&self.latencies),
        });
        let requests = self.answered + self.failed;
        let prices = if options.batch_models.iter().any(|m| m == model) {
            &NOVA_MICRO_BATCH
        } else {
            &NOVA_MICRO
        };
        let cost = prices.inference_cost(self.input_tokens as f64, self.output_tokens as f64);
        let per_request = if self.answered > 0 {
            cost / self.answered as f64
        } else {
            0.0
        };
        let sql = judge.map(|judge| {
            let share = |k: usize| ratio(k, self.sql_judged);
            SqlScores {
                execution_accuracy: judge.db.as_ref().map(|_| accuracy),
                exact_match: share(self.sql_exact),
                executes: share(self.sql_executes),
            }
        });
        let report = ModelReport {
            model: model.to_string(),
            requests,
            answered: self.answered,
            failed: self.failed,
            retries: self.retries,
            accuracy,
            accuracy_ci,
            macro_f1,
            per_class,
            confusion_labels: labels,
            confusion,
            latency_ms,
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            cost_usd: cost,
            cost_per_1000: per_request * 1000.0,
            monthly_cost_usd: per_request * options.monthly_queries,
            requests_per_second: options
                .elapsed_seconds
                .filter(|&s| s > 0.0)
                .map(|s| requests as f64 / s),
            sql,
            errors: self.errors,
        };
        (report, self.correct)
    }
}

/// A candidate against the baseline on the rows both have a verdict for.
fn compare(
    baseline: &str,
    candidate: &str,
    base: &[Option<bool>],
    cand: &[Option<bool>],
    options: &MetricsOptions,
) -> Comparison {
    let (mut rr, mut rw, mut wr, mut ww) = (0, 0, 0, 0);
    let mut deltas = Vec::new();
    for (a, b) in base.iter().zip(cand) {
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
    Comparison {
        baseline: baseline.to_string(),
        candidate: candidate.to_string(),
        rows: deltas.len(),
        both_right: rr,
        only_baseline: rw,
        only_candidate: wr,
        both_wrong: ww,
        mcnemar_p: mcnemar_exact(rw, wr),
        accuracy_delta: mean(&deltas),
        accuracy_delta_ci: bootstrap_ci(&deltas, options.bootstrap, options.seed + 1),
    }
}

fn notes(judge: Option<&SqlJudge>, batch_models: &[String]) -> Vec<String> {
    let mut notes = vec![
        "failed requests count as wrong answers".to_string(),
        format!(
            "dollars from the {} on-demand price table ({}), per token",
            NOVA_MICRO.model, NOVA_MICRO.as_of
        ),
    ];
    if !batch_models.is_empty() {
        notes.push(format!(
            "ran as batch inference jobs, priced at the batch rate (half of on-demand; latency is the model's own per record, no network): {}",
            batch_models.join(", ")
        ));
    }
    if judge.is_some_and(|j| j.db.is_none()) {
        notes.push("no database given: SQL accuracy is exact match; 'executes' runs each prediction on an empty database built from the prompt's CREATE TABLE statements".into());
    }
    notes
}

/// The mean, NaN for no values.
fn mean(values: &[f64]) -> f64 {
    if values.is_empty() {
        f64::NAN
    } else {
        values.iter().sum::<f64>() / values.len() as f64
    }
}

/// `k / n`, NaN for `n = 0`.
fn ratio(k: usize, n: usize) -> f64 {
    if n == 0 {
        f64::NAN
    } else {
        k as f64 / n as f64
    }
}

//! The benchmark loop: every (row, model) pair through Converse with bounded, adaptive
//! concurrency and throttling-aware retries, each result appended to a JSONL file as it
//! arrives, so a rerun resumes where the last one stopped and nothing is ever lost.
//!
//! A fixed pool of workers pulls the next pair from a shared counter, so memory stays flat
//! however many rows there are. Concurrency adapts AIMD-style: a throttled call halves the
//! number of workers allowed to call, and a run of successes adds one back.

use crate::adaptive_limit::AdaptiveLimit;
use crate::aws::AwsSession;
use crate::aws_codes::{is_retryable, kind_of, AwsErrorKind};
use crate::converse::{converse_with, ConverseSpec};
use nova_ft_data::dataset::validate::{load_conversations, Task};
use nova_ft_data::error::{NovaError, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct BenchRow {
    pub id: String,
    /// One user turn; with `messages`, the last user turn's text (shown in the results).
    #[serde(default)]
    pub text: String,
    /// A conversation in Converse's order, as (role, text blocks), sent instead of `text`.
    #[serde(default)]
    pub messages: Vec<(String, Vec<String>)>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub gold: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchOptions {
    pub model_ids: Vec<String>,
    pub output: PathBuf,
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: i32,
    #[serde(default)]
    pub temperature: f32,
    /// Converse's `topP` and `stopSequences`, when given.
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// Per attempt.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: f64,
    /// Attempts a row gets against errors worth retrying (server errors, time-outs).
    #[serde(default = "default_attempts")]
    pub max_attempts: u32,
    /// Throttling means "later", not "failed": a throttled row is retried (with backoff, and
    /// the loop's concurrency lowered) until this many seconds after its first attempt.
    #[serde(default = "default_throttle_deadline")]
    pub throttle_deadline_seconds: f64,
    /// Call again the pairs a previous run recorded as failed (otherwise they are kept).
    #[serde(default)]
    pub retry_failed: bool,
}

fn default_concurrency() -> usize {
    16
}
fn default_max_tokens() -> i32 {
    64
}
fn default_timeout() -> f64 {
    60.0
}
fn default_attempts() -> u32 {
    8
}
fn default_throttle_deadline() -> f64 {
    600.0
}

/// One line of the results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResult {
    pub row_id: String,
    pub model: String,
    pub prediction: Option<String>,
    pub gold: Option<String>,
    pub latency_ms: Option<f64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub attempts: u32,
    pub stop_reason: Option<String>,
    pub error: Option<String>,
    pub error_code: Option<String>,
}

/// Live counters, read by the progress bar while the run goes on.
#[derive(Debug, Default)]
pub struct Progress {
    pub total: AtomicU64,
    pub skipped: AtomicU64,
    pub done: AtomicU64,
    pub failed: AtomicU64,
    pub retries: AtomicU64,
    pub throttled: AtomicU64,
    /// Workers currently allowed to call (adapts to throttling).
    pub limit: AtomicUsize,
    pub cancelled: AtomicBool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub output: PathBuf,
    pub pairs: u64,
    /// Pairs found in the results file from an earlier run and not called again.
    pub resumed: u64,
    pub called: u64,
    pub failed: u64,
    pub retries: u64,
    pub throttled: u64,
    pub elapsed_seconds: f64,
    pub requests_per_second: f64,
    pub cancelled: bool,
}

impl RunSummary {
    /// The summary of a run that started at `started`: (pairs, resumed, called, failed), and
    /// the retries, throttling and cancellation its progress counted.
    pub fn new(
        output: PathBuf,
        (pairs, resumed, called, failed): (u64, u64, u64, u64),
        progress: &Progress,
        started: Instant,
    ) -> RunSummary {
        let elapsed = started.elapsed().as_secs_f64();
        RunSummary {
            output,
            pairs,
            resumed,
            called,
            failed,
            retries: progress.retries.load(Ordering::Relaxed),
            throttled: progress.throttled.load(Ordering::Relaxed),
            elapsed_seconds: elapsed,
            requests_per_second: if elapsed > 0.0 {
                called as f64 / elapsed
            } else {
                0.0
            },
            cancelled: progress.cancelled.load(Ordering::Relaxed),
        }
    }
}

/// Benchmark rows from a `bedrock-conversation-2024` file: the system prompt and the turns
/// before the answer in (a multi-turn record as its conversation), the final assistant turn
/// (if any) as the gold answer, ids `1`, `2`, ... by record.
pub fn rows_from_jsonl(path: &Path) -> Result<Vec<BenchRow>> {
    let records = load_conversations(path, Task::Distillation)?;
    Ok(records
        .iter()
        .enumerate()
        .map(|(i, record)| {
            let prompt = record.prompt_messages();
            let messages = if prompt.len() > 1 {
                prompt
                    .iter()
                    .map(|m| (m.role.as_str().to_string(), m.texts.clone()))
                    .collect()
            } else {
                Vec::new()
            };
            BenchRow {
                id: (i + 1).to_string(),
                text: record.input_text(),
                messages,
                system: Some(record.system_text()).filter(|s| !s.is_empty()),
                gold: record.target(),
            }
        })
        .collect())
}

/// Full-jitter exponential backoff (AWS architecture blog): uniform in [0, min(cap, base*2^n)].
fn backoff(attempt: u32) -> Duration {
    let ceiling = (0.05 * 2f64.powi(attempt.min(16) as i32)).min(10.0);
    Duration::from_secs_f64(fastrand::f64() * ceiling)
}

/// The (row id, model) pairs already in `path`; with `retry_failed`, failed lines are
/// dropped from the file (rewritten atomically) so they are called again.
pub(crate) fn previous_results(
    path: &Path,
    retry_failed: bool,
) -> Result<HashSet<(String, String)>> {
    let mut done = HashSet::new();
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(done),
        Err(e) => return Err(NovaError::io(path, e)),
    };
    let mut kept = Vec::new();
    let mut dropped = false;
    for line in std::io::BufReader::new(file).lines() {
        let line = line.map_err(|e| NovaError::io(path, e))?;
        if line.trim().is_empty() {
            continue;
        }
        let result: BenchResult = match serde_json::from_str(&line) {
            Ok(r) => r,
            // A line cut short by a crash or Ctrl-C mid-write: that pair is simply redone.
            Err(_) => {
                dropped = true;
                continue;
            }
        };
        if retry_failed && result.error.is_some() {
            dropped = true;
            continue;
        }
        done.insert((result.row_id.clone(), result.model.clone()));
        kept.push(line);
    }
    if dropped {
        let mut body = kept.join("\n");
        if !body.is_empty() {
            body.push('\n');
        }
        nova_ft_data::fsio::write_atomically(path, body.as_bytes())?;
    }
    Ok(done)
}

struct Shared {
    rows: Arc<Vec<BenchRow>>,
    options: BenchOptions,
    todo: Vec<(usize, usize)>,
    next: AtomicUsize,
    progress: Arc<Progress>,
    limit: AdaptiveLimit,
}

impl Shared {
    fn on_throttle(&self) {
        self.progress.throttled.fetch_add(1, Ordering::Relaxed);
        if let Some(limit) = self.limit.on_throttle() {
            log::debug!(target: "nova_ft.benchmark", "throttled: concurrency down to {limit}");
            self.progress.limit.store(limit, Ordering::Relaxed);
        }
    }

    fn on_success(&self) {
        if let Some(limit) = self.limit.on_success() {
            self.progress.limit.store(limit, Ordering::Relaxed);
        }
    }
}

async fn call_pair(
    client: &aws_sdk_bedrockruntime::Client,
    shared: &Shared,
    row: &BenchRow,
    model: &str,
) -> BenchResult {
    let spec = ConverseSpec {
        messages: row.messages.clone(),
        system: row.system.clone(),
        max_tokens: Some(shared.options.max_tokens),
        temperature: Some(shared.options.temperature),
        top_p: shared.options.top_p,
        stop_sequences: shared.options.stop_sequences.clone(),
        ..ConverseSpec::single(model.to_string(), row.text.clone())
    };
    let timeout = Duration::from_secs_f64(shared.options.timeout_seconds);
    let deadline = Duration::from_secs_f64(shared.options.throttle_deadline_seconds);
    let started = std::time::Instant::now();
    // Attempts in all, and those that failed other than by throttling.
    let (mut attempts, mut failed_attempts) = (0, 0);
    loop {
        // At most `limit` calls in flight: the others wait their turn.
        let slot = shared.limit.acquire().await;
        attempts += 1;
        let outcome = tokio::time::timeout(timeout, converse_with(client, &spec)).await;
        drop(slot);
        let outcome = match outcome {
            Ok(outcome) => outcome,
            Err(_) => Err(NovaError::Aws {
                operation: "Converse".into(),
                code: "Timeout".into(),
                message: format!("no answer within {:.1} s", timeout.as_secs_f64()),
                request_id: None,
                status: None,
            }),
        };
        let error = match outcome {
            Ok(reply) => {
                shared.on_success();
                return BenchResult {
                    row_id: row.id.clone(),
                    model: model.to_string(),
                    prediction: Some(reply.text),
                    gold: row.gold.clone(),
                    latency_ms: Some(reply.latency_ms),
                    input_tokens: reply.input_tokens,
                    output_tokens: reply.output_tokens,
                    attempts,
                    stop_reason: Some(reply.stop_reason),
                    error: None,
                    error_code: None,
                };
            }
            Err(error) => error,
        };
        let (code, retryable) = match &error {
            NovaError::Aws { code, status, .. } => (code.clone(), is_retryable(code, *status)),
            other => (other.kind_name().to_string(), false),
        };
        let throttled = kind_of(&code) == AwsErrorKind::Throttling;
        if throttled {
            shared.on_throttle();
        } else {
            failed_attempts += 1;
        }
        let given_up = if throttled {
            started.elapsed() >= deadline
        } else {
            failed_attempts >= shared.options.max_attempts
        };
        if !retryable || given_up {
            return BenchResult {
                row_id: row.id.clone(),
                model: model.to_string(),
                prediction: None,
                gold: row.gold.clone(),
                latency_ms: None,
                input_tokens: 0,
                output_tokens: 0,
                attempts,
                stop_reason: None,
                error: Some(error.to_string()),
                error_code: Some(code),
            };
        }
        shared.progress.retries.fetch_add(1, Ordering::Relaxed);
        tokio::time::sleep(backoff(attempts)).await;
    }
}

/// Run every missing (row, model) pair; results go to `options.output` as they arrive.
pub async fn run(
    session: Arc<AwsSession>,
    rows: Arc<Vec<BenchRow>>,
    options: BenchOptions,
    progress: Arc<Progress>,
) -> Result<RunSummary> {
    if options.model_ids.is_empty() {
        return Err(NovaError::invalid(
            "the benchmark needs at least one model id",
        ));
    }
    if options.concurrency == 0 || options.concurrency > 1024 {
        return Err(NovaError::invalid("concurrency must be between 1 and 1024"));
    }
    let mut seen = HashSet::new();
    for row in rows.iter() {
        if !seen.insert(row.id.as_str()) {
            return Err(NovaError::invalid(format!(
                "row id {:?} appears twice: every row needs its own id so results can be resumed",
                row.id
            )));
        }
    }
    if let Some(parent) = options.output.parent() {
        std::fs::create_dir_all(parent).map_err(|e| NovaError::io(parent, e))?;
    }
    let previous = previous_results(&options.output, options.retry_failed)?;
    let mut todo = Vec::new();
    for (r, row) in rows.iter().enumerate() {
        for (m, model) in options.model_ids.iter().enumerate() {
            if !previous.contains(&(row.id.clone(), model.clone())) {
                todo.push((r, m));
            }
        }
    }
    let pairs = (rows.len() * options.model_ids.len()) as u64;
    let resumed = pairs - todo.len() as u64;
    progress.total.store(pairs, Ordering::Relaxed);
    progress.skipped.store(resumed, Ordering::Relaxed);
    progress.limit.store(options.concurrency, Ordering::Relaxed);
    let output = options.output.clone();
    let mut file = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&output)
            .map_err(|e| NovaError::io(&output, e))?,
    );
    let workers = options.concurrency.min(todo.len().max(1));
    let options_concurrency = options.concurrency;
    let shared = Arc::new(Shared {
        rows,
        options,
        todo,
        next: AtomicUsize::new(0),
        progress: Arc::clone(&progress),
        limit: AdaptiveLimit::new(options_concurrency),
    });
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<BenchResult>(1024);
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let shared = Arc::clone(&shared);
        let sender = sender.clone();
        let client = session.runtime_no_retry.clone();
        tasks.spawn(async move {
            loop {
                if shared.progress.cancelled.load(Ordering::Relaxed) {
                    return;
                }
                let i = shared.next.fetch_add(1, Ordering::Relaxed);
                let Some(&(r, m)) = shared.todo.get(i) else {
                    return;
                };
                let row = &shared.rows[r];
                let model = &shared.options.model_ids[m];
                let result = call_pair(&client, &shared, row, model).await;
                if sender.send(result).await.is_err() {
                    return;
                }
            }
        });
    }
    drop(sender);
    let mut called = 0u64;
    let mut failed = 0u64;
    while let Some(result) = receiver.recv().await {
        let mut line = serde_json::to_string(&result)
            .map_err(|e| NovaError::internal("could not serialize a result", e))?;
        line.push('\n');
        // One flush per line: a Ctrl-C or crash keeps every answer received so far.
        file.write_all(line.as_bytes())
            .and_then(|()| file.flush())
            .map_err(|e| NovaError::io(&output, e))?;
        called += 1;
        progress.done.fetch_add(1, Ordering::Relaxed);
        if result.error.is_some() {
            failed += 1;
            progress.failed.fetch_add(1, Ordering::Relaxed);
        }
    }
    while tasks.join_next().await.is_some() {}
    Ok(RunSummary::new(
        output,
        (pairs, resumed, called, failed),
        &progress,
        started,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 0..40 {
            let ceiling = (0.05 * 2f64.powi(attempt.min(16) as i32)).min(10.0);
            assert!(backoff(attempt).as_secs_f64() <= ceiling);
        }
    }

    #[test]
    fn resume_keeps_answers_and_optionally_drops_failures() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("results.jsonl");
        let ok = r#"{"row_id":"1","model":"m","prediction":"a","gold":"a","latency_ms":1.0,"input_tokens":1,"output_tokens":1,"attempts":1,"stop_reason":"end_turn","error":null,"error_code":null}"#;
        let bad = r#"{"row_id":"2","model":"m","prediction":null,"gold":"b","latency_ms":null,"input_tokens":0,"output_tokens":0,"attempts":8,"stop_reason":null,"error":"x","error_code":"ThrottlingException"}"#;
        std::fs::write(&path, format!("{ok}\n{bad}\n{{\"row_id\":\"3\"")).unwrap();
        let kept = previous_results(&path, false).unwrap();
        assert_eq!(kept.len(), 2);
        let kept = previous_results(&path, true).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), format!("{ok}\n"));
    }
}

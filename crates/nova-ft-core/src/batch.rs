//! The benchmark through Bedrock batch inference: per model, the rows written as one batch
//! input file of Converse requests, uploaded, run by a `CreateModelInvocationJob` (at about
//! half the on-demand price, with no client-side concurrency to manage), polled for its record
//! counts, and its output read back line by line into the same results file the online loop
//! writes, so scoring, reports and resuming are the same.
//!
//! Input and output stream through files and S3 bodies line by line: memory does not grow
//! with the number of rows.

use crate::aws::{aws_error, AwsSession};
use crate::benchmark::{previous_results, BenchResult, BenchRow, Progress, RunSummary};
use crate::storage::read_error;
use aws_sdk_bedrock::types::{
    ModelInvocationJobInputDataConfig, ModelInvocationJobOutputDataConfig,
    ModelInvocationJobS3InputDataConfig, ModelInvocationJobS3OutputDataConfig,
    ModelInvocationJobStatus, ModelInvocationType, S3InputFormat,
};
use nova_ft_data::error::{NovaError, Result};
use serde::Deserialize;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fewest records Bedrock runs in one job by default (a per-model quota).
pub const MIN_RECORDS: usize = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchOptions {
    /// Models to run in batch (foundation models and inference profiles).
    pub model_ids: Vec<String>,
    /// The results file (shared with the online loop).
    pub output: PathBuf,
    pub bucket: String,
    /// Where this run's inputs and outputs go in the bucket (`<prefix>/input/`, `/output/`).
    pub prefix: String,
    /// The service role the jobs run as: it reads `<prefix>/input/` and writes
    /// `<prefix>/output/`.
    pub role_arn: String,
    #[serde(default = "default_max_tokens")]
    pub max_tokens: i32,
    #[serde(default)]
    pub temperature: f32,
    #[serde(default)]
    pub top_p: Option<f32>,
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    /// Seconds between GetModelInvocationJob calls.
    #[serde(default = "default_poll")]
    pub poll_seconds: f64,
    /// A job's name is `<job_prefix>-<model>`; the same run resumes its jobs by name.
    pub job_prefix: String,
    /// Records per input file: a job's input is split into files of at most this many (the
    /// default is Bedrock's default quota "Records per input file per batch inference job").
    #[serde(default = "default_records_per_file")]
    pub records_per_file: usize,
}

fn default_records_per_file() -> usize {
    50_000
}

fn default_max_tokens() -> i32 {
    64
}
fn default_poll() -> f64 {
    10.0
}

/// A name part from a model id: `amazon.nova-micro-v1:0` -> `amazon-nova-micro-v1-0`.
fn slug(model_id: &str) -> String {
    let tail = model_id.rsplit('/').next().unwrap_or(model_id);
    let mut out: String = tail
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(40);
    out.trim_matches('-').to_string()
}

/// One row as a batch record: its id, and the Converse request the online loop would send.
fn record(row: &BenchRow, options: &BatchOptions) -> Value {
    let messages: Vec<Value> = if row.messages.is_empty() {
        vec![json!({"role": "user", "content": [{"text": row.text}]})]
    } else {
        row.messages
            .iter()
            .map(|(role, blocks)| {
                let content: Vec<Value> = blocks.iter().map(|t| json!({"text": t})).collect();
                json!({"role": role, "content": content})
            })
            .collect()
    };
    let mut config = json!({"maxTokens": options.max_tokens, "temperature": options.temperature});
    if let Some(top_p) = options.top_p {
        config["topP"] = json!(top_p);
    }
    if !options.stop_sequences.is_empty() {
        config["stopSequences"] = json!(options.stop_sequences);
    }
    let mut input = json!({"messages": messages, "inferenceConfig": config});
    if let Some(system) = row.system.as_deref().filter(|s| !s.is_empty()) {
        input["system"] = json!([{"text": system}]);
    }
    json!({"recordId": row.id, "modelInput": input})
}

/// A line of a job's output as a benchmark result.
fn result_of(line: &Value, model: &str, gold: Option<&String>) -> BenchResult {
    let row_id = match line.get("recordId") {
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut result = BenchResult {
        row_id,
        model: model.to_string(),
        prediction: None,
        gold: gold.cloned(),
        latency_ms: None,
        input_tokens: 0,
        output_tokens: 0,
        attempts: 1,
        stop_reason: None,
        error: None,
        error_code: None,
    };
    if let Some(error) = line.get("error") {
        result.error = Some(
            error
                .get("errorMessage")
                .and_then(Value::as_str)
                .unwrap_or("the record failed")
                .to_string(),
        );
        result.error_code = error.get("errorCode").map(|c| match c {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        return result;
    }
    let output = line.get("modelOutput").unwrap_or(&Value::Null);
    let text: String = output
        .pointer("/output/message/content")
        .and_then(Value::as_array)
        .map(|blocks| {
            blocks
                .iter()
                .filter_map(|b| b.get("text").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    result.prediction = Some(text);
    result.stop_reason = output
        .get("stopReason")
        .and_then(Value::as_str)
        .map(str::to_string);
    let usage = |name: &str| {
        output
            .pointer(&format!("/usage/{name}"))
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    result.input_tokens = usage("inputTokens");
    result.output_tokens = usage("outputTokens");
    result.latency_ms = output.pointer("/metrics/latencyMs").and_then(Value::as_f64);
    result
}

impl AwsSession {
    /// Start a batch job on `input_uri` (Converse records), or find the one this run started
    /// before (by name); returns its ARN.
    async fn start_batch_job(
        &self,
        name: &str,
        model: &str,
        options: &BatchOptions,
        input_uri: &str,
        output_uri: &str,
    ) -> Result<String> {
        let existing = self
            .bedrock
            .list_model_invocation_jobs()
            .name_contains(name)
            .send()
            .await
            .map_err(|e| aws_error("ListModelInvocationJobs", e))?;
        let reusable = existing.invocation_job_summaries().iter().find(|j| {
            j.job_name() == name
                && !matches!(
                    j.status(),
                    Some(
                        ModelInvocationJobStatus::Failed
                            | ModelInvocationJobStatus::Stopped
                            | ModelInvocationJobStatus::Stopping
                            | ModelInvocationJobStatus::Expired
                    )
                )
        });
        if let Some(job) = reusable {
            return Ok(job.job_arn().to_string());
        }
        let build = |e: aws_sdk_bedrock::error::BuildError| {
            NovaError::invalid(format!("a batch job request is incomplete: {e}"))
        };
        let input = ModelInvocationJobS3InputDataConfig::builder()
            .s3_uri(input_uri)
            .s3_input_format(S3InputFormat::Jsonl)
            .build()
            .map_err(build)?;
        let output = ModelInvocationJobS3OutputDataConfig::builder()
            .s3_uri(output_uri)
            .build()
            .map_err(build)?;
        // A fresh name per attempt: a failed or stopped job keeps its name.
        let unique = if existing.invocation_job_summaries().is_empty() {
            name.to_string()
        } else {
            format!("{name}-{}", fastrand::u32(..))
        };
        let out = self
            .bedrock
            .create_model_invocation_job()
            .job_name(unique)
            .role_arn(&options.role_arn)
            .model_id(model)
            .model_invocation_type(ModelInvocationType::Converse)
            .input_data_config(ModelInvocationJobInputDataConfig::S3InputDataConfig(input))
            .output_data_config(ModelInvocationJobOutputDataConfig::S3OutputDataConfig(
                output,
            ))
            .send()
            .await
            .map_err(|e| aws_error("CreateModelInvocationJob", e))?;
        Ok(out.job_arn().to_string())
    }
}

/// How a job ended: its status and message.
async fn wait_for_job(
    session: &AwsSession,
    arn: &str,
    options: &BatchOptions,
    progress: &Progress,
    done_before: u64,
) -> Result<(ModelInvocationJobStatus, Option<String>)> {
    let poll = Duration::from_secs_f64(options.poll_seconds.max(0.01));
    loop {
        if progress.cancelled.load(Ordering::Relaxed) {
            // Ctrl-C: the job is stopped, not left running (and billing) unseen.
            let _ = session
                .bedrock
                .stop_model_invocation_job()
                .job_identifier(arn)
                .send()
                .await;
            return Ok((ModelInvocationJobStatus::Stopped, None));
        }
        let job = session
            .bedrock
            .get_model_invocation_job()
            .job_identifier(arn)
            .send()
            .await
            .map_err(|e| aws_error("GetModelInvocationJob", e))?;
        let processed = job.processed_record_count().unwrap_or(0).max(0) as u64;
        progress
            .done
            .store(done_before + processed, Ordering::Relaxed);
        let status = job
            .status()
            .cloned()
            .unwrap_or(ModelInvocationJobStatus::Submitted);
        if matches!(
            status,
            ModelInvocationJobStatus::Completed
                | ModelInvocationJobStatus::PartiallyCompleted
                | ModelInvocationJobStatus::Failed
                | ModelInvocationJobStatus::Stopped
                | ModelInvocationJobStatus::Expired
        ) {
            return Ok((status, job.message().map(str::to_string)));
        }
        // In slices, so that a cancel is seen (and the job stopped) within a tenth of a second.
        let deadline = Instant::now() + poll;
        while Instant::now() < deadline && !progress.cancelled.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100).min(poll)).await;
        }
    }
}

/// Append a job's output lines to the results file as results of `model`; returns (answered,
/// failed).
async fn read_output(
    session: &AwsSession,
    bucket: &str,
    key: &str,
    model: &str,
    gold: &std::collections::HashMap<&str, Option<&String>>,
    results: &mut impl Write,
    output_path: &std::path::Path,
) -> Result<(u64, u64)> {
    let mut body = session.get_body(bucket, key).await?;
    let mut pending: Vec<u8> = Vec::new();
    let (mut answered, mut failed) = (0u64, 0u64);
    let mut handle = |line: &[u8], results: &mut dyn Write| -> Result<()> {
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| {
            NovaError::data_file(format!("s3://{bucket}/{key}"), "a line is not JSON", e)
        })?;
        let id = value.get("recordId").and_then(Value::as_str).unwrap_or("");
        let Some(gold) = gold.get(id) else {
            return Ok(()); // not one of ours (an id Bedrock made up for a record without one)
        };
        let result = result_of(&value, model, *gold);
        if result.error.is_some() {
            failed += 1;
        } else {
            answered += 1;
        }
        let mut line = serde_json::to_string(&result)
            .map_err(|e| NovaError::internal("could not serialize a result", e))?;
        line.push('\n');
        results
            .write_all(line.as_bytes())
            .map_err(|e| NovaError::io(output_path, e))
    };
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| read_error(bucket, key, e))?;
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            handle(&line, results)?;
        }
    }
    handle(&pending, results)?;
    results.flush().map_err(|e| NovaError::io(output_path, e))?;
    Ok((answered, failed))
}

/// Run the rows of every batch model that the results file does not hold yet.
pub async fn run(
    session: Arc<AwsSession>,
    rows: Arc<Vec<BenchRow>>,
    options: BatchOptions,
    progress: Arc<Progress>,
) -> Result<RunSummary> {
    let started = Instant::now();
    if let Some(parent) = options.output.parent() {
        std::fs::create_dir_all(parent).map_err(|e| NovaError::io(parent, e))?;
    }
    let previous = previous_results(&options.output, false)?;
    let pairs = (rows.len() * options.model_ids.len()) as u64;
    let todo: Vec<(&String, Vec<&BenchRow>)> = options
        .model_ids
        .iter()
        .map(|m| {
            let missing = rows
                .iter()
                .filter(|r| !previous.contains(&(r.id.clone(), m.clone())))
                .collect();
            (m, missing)
        })
        .collect();
    let resumed = pairs - todo.iter().map(|(_, r)| r.len() as u64).sum::<u64>();
    progress.total.store(pairs, Ordering::Relaxed);
    progress.skipped.store(resumed, Ordering::Relaxed);
    for (model, missing) in &todo {
        if !missing.is_empty() && missing.len() < MIN_RECORDS {
            return Err(NovaError::invalid(format!(
                "batch inference needs at least {MIN_RECORDS} records per job and {model} has {} rows to run: run them online (mode='online'), or add rows",
                missing.len()
            )));
        }
    }
    let mut results = std::io::BufWriter::new(
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&options.output)
            .map_err(|e| NovaError::io(&options.output, e))?,
    );
    let prefix = options.prefix.trim_matches('/');
    let (mut called, mut failed) = (0u64, 0u64);
    for (model, missing) in &todo {
        if missing.is_empty() || progress.cancelled.load(Ordering::Relaxed) {
            continue;
        }
        let name = slug(model);
        // The input files, written row by row beside the results (kept: they are what was
        // sent), each at most `records_per_file` records, uploaded into one folder.
        let input_dir = format!("{prefix}/input/{name}/");
        for (part, chunk) in missing.chunks(options.records_per_file.max(1)).enumerate() {
            let input = options
                .output
                .with_file_name(format!("batch-input-{name}-{part:04}.jsonl"));
            let file = std::fs::File::create(&input).map_err(|e| NovaError::io(&input, e))?;
            let mut writer = std::io::BufWriter::new(file);
            for row in chunk {
                serde_json::to_writer(&mut writer, &record(row, &options))
                    .map_err(|e| NovaError::internal("could not write a batch record", e))?;
                writer
                    .write_all(b"\n")
                    .map_err(|e| NovaError::io(&input, e))?;
            }
            writer.flush().map_err(|e| NovaError::io(&input, e))?;
            drop(writer);
            let key = format!("{input_dir}part-{part:04}.jsonl");
            session.upload_file(&input, &options.bucket, &key).await?;
        }
        let job_name = format!("{}-{name}", options.job_prefix)
            .chars()
            .take(63)
            .collect::<String>();
        let arn = session
            .start_batch_job(
                &job_name,
                model,
                &options,
                &format!("s3://{}/{input_dir}", options.bucket),
                &format!("s3://{}/{prefix}/output/", options.bucket),
            )
            .await?;
        log::info!(target: "nova_ft", "batch job {arn} runs {} rows on {model}", missing.len());
        let before = progress.skipped.load(Ordering::Relaxed) + called;
        let (status, message) = wait_for_job(&session, &arn, &options, &progress, before).await?;
        match status {
            ModelInvocationJobStatus::Completed | ModelInvocationJobStatus::PartiallyCompleted => {}
            ModelInvocationJobStatus::Stopped if progress.cancelled.load(Ordering::Relaxed) => {
                break
            }
            other => {
                return Err(NovaError::Aws {
                    operation: "CreateModelInvocationJob".into(),
                    code: other.as_str().to_string(),
                    message: format!(
                        "the batch job {arn} for {model} ended {}: {}",
                        other.as_str(),
                        message.unwrap_or_default()
                    ),
                    request_id: None,
                    status: None,
                })
            }
        }
        let job_id = arn.rsplit('/').next().unwrap_or_default();
        let gold: std::collections::HashMap<&str, Option<&String>> = missing
            .iter()
            .map(|r| (r.id.as_str(), r.gold.as_ref()))
            .collect();
        let out_dir = format!("{prefix}/output/{job_id}/");
        let (mut ok, mut bad) = (0, 0);
        for key in session.list_keys(&options.bucket, &out_dir).await? {
            if !key.ends_with(".jsonl.out") {
                continue; // the manifest
            }
            let (answered, errors) = read_output(
                &session,
                &options.bucket,
                &key,
                model,
                &gold,
                &mut results,
                &options.output,
            )
            .await?;
            ok += answered;
            bad += errors;
        }
        called += ok + bad;
        failed += bad;
        progress.done.store(
            progress.skipped.load(Ordering::Relaxed) + called,
            Ordering::Relaxed,
        );
        progress.failed.fetch_add(bad, Ordering::Relaxed);
    }
    Ok(RunSummary::new(
        options.output.clone(),
        (pairs, resumed, called, failed),
        &progress,
        started,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str) -> BenchRow {
        BenchRow {
            id: id.into(),
            text: "flights to boston".into(),
            messages: Vec::new(),
            system: Some("Classify.".into()),
            gold: Some("flight".into()),
        }
    }

    fn options() -> BatchOptions {
        serde_json::from_value(json!({
            "model_ids": ["amazon.nova-micro-v1:0"], "output": "/tmp/r.jsonl", "bucket": "b",
            "prefix": "p", "role_arn": "arn:aws:iam::123456789012:role/r", "job_prefix": "j",
            "max_tokens": 20, "stop_sequences": ["\n"],
        }))
        .unwrap()
    }

    #[test]
    fn a_row_becomes_the_converse_request_the_online_loop_sends() {
        let rec = record(&row("7"), &options());
        assert_eq!(rec["recordId"], "7");
        let input = &rec["modelInput"];
        assert_eq!(input["system"][0]["text"], "Classify.");
        assert_eq!(
            input["messages"][0]["content"][0]["text"],
            "flights to boston"
        );
        assert_eq!(input["inferenceConfig"]["maxTokens"], 20);
        assert_eq!(input["inferenceConfig"]["stopSequences"][0], "\n");
        assert!(input["inferenceConfig"].get("topP").is_none());
    }

    #[test]
    fn output_lines_become_results() {
        let gold = "flight".to_string();
        let ok = json!({"recordId": "1", "modelOutput": {
            "output": {"message": {"content": [{"text": "fli"}, {"text": "ght"}]}},
            "stopReason": "end_turn", "usage": {"inputTokens": 9, "outputTokens": 2}}});
        let r = result_of(&ok, "m", Some(&gold));
        assert_eq!(r.prediction.as_deref(), Some("flight"));
        assert_eq!((r.input_tokens, r.output_tokens), (9, 2));
        assert_eq!(r.gold.as_deref(), Some("flight"));
        let bad = json!({"recordId": "2", "error": {"errorCode": 400, "errorMessage": "no"}});
        let r = result_of(&bad, "m", None);
        assert_eq!(
            (r.error.as_deref(), r.error_code.as_deref()),
            (Some("no"), Some("400"))
        );
        assert!(r.prediction.is_none());
    }

    #[test]
    fn job_names_are_made_of_what_bedrock_accepts() {
        assert_eq!(slug("amazon.nova-micro-v1:0"), "amazon-nova-micro-v1-0");
        assert_eq!(
            slug("arn:aws:bedrock:us-east-1:1:inference-profile/us.amazon.nova-lite-v1:0"),
            "us-amazon-nova-lite-v1-0"
        );
    }
}

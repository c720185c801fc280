//! Running a batch inference job, as its IAM role.
//!
//! Bedrock assumes the job's role to list and read the input (one `.jsonl` object, or every
//! `.jsonl` object under a prefix) and to write the output; so does the emulator, evaluating
//! the role's policies for each object. The job moves through Submitted, Validating (every
//! line must be a JSON object; at least [`MIN_RECORDS`] records), Scheduled and InProgress,
//! answers each record with the local models, and ends Completed, PartiallyCompleted (some
//! records failed: each failure is an `error` line, not the job's), Failed or Stopped.
//!
//! Input and output are streamed line by line, never held whole: a job of any size runs in
//! bounded memory. Output goes to `<output prefix>/<job id>/<input path>.out`, one line per
//! record in input order, and `manifest.json.out` beside it with the counts.

use crate::bedrock_runtime::BatchModel;
use crate::service_role::{job_context, role_allows, role_permits, split_uri};
use crate::state::{BatchJob, BatchStatus, RecordCounts};
use crate::store::Touched;
use crate::wire::random_id;
use crate::{s3, Ctx};
use chrono::Utc;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The fewest records a job may have: Bedrock's default quota ("Minimum number of records per
/// batch inference job"), which AWS can raise per account but not lower.
pub const MIN_RECORDS: u64 = 100;

/// How often progress counts are saved while records are answered.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

enum Ending {
    /// Every record was answered (some with an error line).
    Finished,
    Stopped,
    Failed(String),
}

/// Change a job under the lock and save. Nothing changes once the emulator is stopping (the
/// next emulator on this data directory runs the job again).
fn update(ctx: &Ctx, arn: &str, change: impl FnOnce(&mut BatchJob)) -> Result<(), String> {
    let mut state = ctx.store.lock();
    if ctx.is_shutting_down() {
        return Ok(());
    }
    let Some(job) = state.batch_jobs.get_mut(arn) else {
        return Ok(());
    };
    change(job);
    job.last_modified = Utc::now();
    ctx.store
        .commit(state, &[Touched::BatchJob(arn)])
        .map_err(|e| format!("Internal error: the emulator could not save the job's state ({e})."))
}

fn status(ctx: &Ctx, arn: &str) -> Option<BatchStatus> {
    ctx.store.lock().batch_jobs.get(arn).map(|j| j.status)
}

fn stop_requested(ctx: &Ctx, arn: &str) -> bool {
    status(ctx, arn) == Some(BatchStatus::Stopping)
}

/// Wait the configured step delay, in slices, so that a stop or a shutdown is noticed.
fn pause(ctx: &Ctx, arn: &str) {
    let deadline = Instant::now() + ctx.config.job_step_delay;
    while !ctx.is_shutting_down() && !stop_requested(ctx, arn) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(Duration::from_millis(20)));
    }
}

/// Move to `next` unless a stop was asked for; `false` when the job should stop.
fn advance(ctx: &Ctx, arn: &str, next: BatchStatus) -> Result<bool, String> {
    pause(ctx, arn);
    if stop_requested(ctx, arn) || ctx.is_shutting_down() {
        return Ok(false);
    }
    update(ctx, arn, |j| j.status = next)?;
    Ok(true)
}

/// Start running a job on the emulator's runtime.
pub fn spawn(ctx: Arc<Ctx>, arn: String) {
    log::info!(target: "nova_ft.emulator", "batch job {arn} submitted");
    tokio::task::spawn_blocking(move || {
        // A bug fails the job, as Bedrock fails a job on an internal error, instead of leaving
        // it InProgress forever.
        let ending = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&ctx, &arn)))
            .unwrap_or_else(|_| {
                Ending::Failed("Internal error: the emulator failed on this job. Start it again; if it fails again, report it with the input.".into())
            });
        finish(&ctx, &arn, ending);
    });
}

/// After a restart: jobs that had not ended run again from the start (their output is
/// rewritten whole); jobs being stopped are Stopped.
pub fn resume_all(ctx: &Arc<Ctx>) {
    let jobs: Vec<(String, BatchStatus)> = ctx
        .store
        .lock()
        .batch_jobs
        .values()
        .filter(|j| !j.status.is_final())
        .map(|j| (j.arn.clone(), j.status))
        .collect();
    for (arn, status) in jobs {
        if status == BatchStatus::Stopping {
            finish(ctx, &arn, Ending::Stopped);
        } else {
            spawn(Arc::clone(ctx), arn);
        }
    }
}

fn finish(ctx: &Ctx, arn: &str, ending: Ending) {
    let saved = update(ctx, arn, |job| {
        job.ended = Some(Utc::now());
        let counts = job.counts.unwrap_or_default();
        match ending {
            Ending::Finished if counts.error == 0 => job.status = BatchStatus::Completed,
            Ending::Finished if counts.success > 0 => {
                job.status = BatchStatus::PartiallyCompleted;
                job.message = Some(format!(
                    "{} of {} records failed; each failed record has an error line in the output.",
                    counts.error, counts.total
                ));
            }
            Ending::Finished => {
                job.status = BatchStatus::Failed;
                job.message = Some(format!(
                    "All {} records failed; the output holds an error line for each.",
                    counts.total
                ));
            }
            Ending::Stopped => job.status = BatchStatus::Stopped,
            Ending::Failed(message) => {
                job.status = BatchStatus::Failed;
                job.message = Some(message);
            }
        }
        log::info!(target: "nova_ft.emulator", "batch job {arn} {}", job.status.as_str());
    });
    if let Err(why) = saved {
        log::error!(target: "nova_ft.emulator", "batch job {arn}: {why}");
    }
}

/// One input object: its bucket and key, and its path relative to the input URI (what the
/// output file is named after).
struct Input {
    bucket: String,
    key: String,
    relative: String,
}

/// The input objects: the URI's object when it names a `.jsonl` object, else every `.jsonl`
/// object under it (nested folders too), in key order.
fn inputs(ctx: &Ctx, job: &BatchJob) -> Result<Vec<Input>, String> {
    let (bucket, key) = split_uri(&job.input_uri);
    let one = |key: String| {
        let relative = key.rsplit('/').next().unwrap_or(&key).to_string();
        Input {
            bucket: bucket.clone(),
            key,
            relative,
        }
    };
    let exists = s3::internal_keys(ctx, &bucket, &key).is_ok_and(|keys| keys.contains(&key));
    if key.ends_with(".jsonl") && exists {
        return Ok(vec![one(key)]);
    }
    let context = job_context(ctx, &job.arn, &job.role_arn);
    let listable = role_permits(
        &ctx.store.lock(),
        &job.role_arn,
        "s3:ListBucket",
        &format!("arn:aws:s3:::{bucket}"),
        &context,
    )?;
    if !listable {
        return Err(format!(
            "AccessDenied: the role {} is not authorized to perform s3:ListBucket on arn:aws:s3:::{bucket}, needed to find the input files under {}. Add s3:ListBucket on the bucket to the role's policy.",
            job.role_arn, job.input_uri
        ));
    }
    let prefix = if key.is_empty() || key.ends_with('/') {
        key.clone()
    } else {
        format!("{key}/")
    };
    let found: Vec<Input> = s3::internal_keys(ctx, &bucket, &prefix)
        .map_err(|e| format!("{}: {}: {}", e.code, job.input_uri, e.message))?
        .into_iter()
        .filter(|k| k.ends_with(".jsonl"))
        .map(|k| Input {
            bucket: bucket.clone(),
            relative: k[prefix.len()..].to_string(),
            key: k,
        })
        .collect();
    if found.is_empty() {
        return Err(format!(
            "No input: {} names no .jsonl object, and none is under it. Upload the records as a .jsonl file there.",
            job.input_uri
        ));
    }
    Ok(found)
}

fn open(ctx: &Ctx, job: &BatchJob, input: &Input) -> Result<BufReader<std::fs::File>, String> {
    role_allows(
        ctx,
        &job.role_arn,
        &job.arn,
        "s3:GetObject",
        &input.bucket,
        &input.key,
    )?;
    s3::internal_open(ctx, &input.bucket, &input.key)
        .map(BufReader::new)
        .map_err(|e| {
            format!(
                "{}: s3://{}/{}: {}",
                e.code, input.bucket, input.key, e.message
            )
        })
}

/// Each non-blank line of an input, with its line number, read one at a time.
fn lines(
    reader: BufReader<std::fs::File>,
    input: &Input,
) -> impl Iterator<Item = Result<(usize, String), String>> + '_ {
    reader
        .lines()
        .enumerate()
        .map(move |(i, line)| {
            line.map(|l| (i + 1, l)).map_err(|e| {
                format!(
                    "s3://{}/{} line {}: not UTF-8 text ({e}). Write the input as UTF-8 JSONL.",
                    input.bucket,
                    input.key,
                    i + 1
                )
            })
        })
        .filter(|r| !matches!(r, Ok((_, l)) if l.trim().is_empty()))
}

/// A line as a record object, or why the job cannot run.
fn record(line: &str, input: &Input, number: usize) -> Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line.trim_start_matches('\u{feff}')) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(format!(
            "s3://{}/{} line {number}: not a JSON object. Each line must be {{\"recordId\": \"...\", \"modelInput\": {{...}}}}.",
            input.bucket, input.key
        )),
    }
}

/// Validating: every line of every input is a JSON object; returns the record count.
fn count_records(ctx: &Ctx, job: &BatchJob, inputs: &[Input]) -> Result<u64, String> {
    let mut total = 0;
    for input in inputs {
        for line in lines(open(ctx, job, input)?, input) {
            let (number, line) = line?;
            record(&line, input, number)?;
            total += 1;
        }
    }
    if total < MIN_RECORDS {
        return Err(format!(
            "The input has {total} records; a batch inference job needs at least {MIN_RECORDS} (the quota 'Minimum number of records per batch inference job'). Add records, or run them on demand (Converse)."
        ));
    }
    Ok(total)
}

/// Counts bytes and their MD5 as they are written (the output object's size and ETag).
struct Hashing<W: Write> {
    inner: W,
    md5: Md5,
    size: u64,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.md5.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Where outputs go: the output URI's bucket, and `<prefix>/<job id>/`.
fn output_prefix(job: &BatchJob) -> (String, String) {
    let (bucket, key) = split_uri(&job.output_uri);
    let id = job.arn.rsplit('/').next().unwrap_or_default();
    let key = key.trim_end_matches('/');
    let prefix = if key.is_empty() {
        format!("{id}/")
    } else {
        format!("{key}/{id}/")
    };
    (bucket, prefix)
}

/// Write an output object streamed from `fill`, as the job's role.
fn write_output(
    ctx: &Ctx,
    job: &BatchJob,
    bucket: &str,
    key: &str,
    fill: impl FnOnce(&mut dyn Write) -> Result<(), String>,
) -> Result<(), String> {
    role_allows(ctx, &job.role_arn, &job.arn, "s3:PutObject", bucket, key)?;
    let file = ctx.store.new_blob_file().map_err(|e| e.to_string())?;
    let handle = file.reopen().map_err(|e| e.to_string())?;
    let mut out = Hashing {
        inner: BufWriter::new(handle),
        md5: Md5::new(),
        size: 0,
    };
    fill(&mut out)?;
    out.flush().map_err(|e| e.to_string())?;
    let (size, md5) = (out.size, out.md5.finalize().into());
    s3::internal_put_file(
        ctx,
        bucket,
        key,
        file,
        (size, md5),
        "application/octet-stream",
    )
    .map_err(|e| format!("{}: s3://{bucket}/{key}: {}", e.code, e.message))
}

/// One record's output line: its id (one is made when the input has none), its input, and
/// the model's output or the error the model's API would have sent.
fn answer(
    ctx: &Ctx,
    model: &BatchModel,
    converse: bool,
    mut map: Map<String, Value>,
    counts: &mut RecordCounts,
) -> Value {
    let id = match map.remove("recordId") {
        Some(Value::String(id)) => id,
        Some(other @ Value::Number(_)) => other.to_string(),
        _ => random_id(11).to_uppercase(),
    };
    let input = map.remove("modelInput");
    counts.processed += 1;
    let result = match &input {
        Some(body @ Value::Object(_)) => model.answer(ctx, body, converse),
        _ => Err(crate::wire::AwsError::validation(
            "The record has no modelInput object: each line needs \"modelInput\", the request body.",
        )),
    };
    match result {
        Ok((output, input_tokens, output_tokens)) => {
            counts.success += 1;
            counts.input_tokens += input_tokens as u64;
            counts.output_tokens += output_tokens as u64;
            json!({"recordId": id, "modelInput": input, "modelOutput": output})
        }
        Err(e) => {
            counts.error += 1;
            json!({"recordId": id, "modelInput": input,
                   "error": {"errorCode": e.status.as_u16(), "errorMessage": e.message}})
        }
    }
}

fn run(ctx: &Ctx, arn: &str) -> Ending {
    match run_steps(ctx, arn) {
        Ok(ending) => ending,
        Err(message) => Ending::Failed(message),
    }
}

fn run_steps(ctx: &Ctx, arn: &str) -> Result<Ending, String> {
    let Some(job) = ctx.store.lock().batch_jobs.get(arn).cloned() else {
        return Ok(Ending::Stopped);
    };
    if !advance(ctx, arn, BatchStatus::Validating)? {
        return Ok(Ending::Stopped);
    }
    let inputs = inputs(ctx, &job)?;
    let total = count_records(ctx, &job, &inputs)?;
    update(ctx, arn, |j| {
        j.counts = Some(RecordCounts {
            total,
            ..RecordCounts::default()
        })
    })?;
    for next in [BatchStatus::Scheduled, BatchStatus::InProgress] {
        if !advance(ctx, arn, next)? {
            return Ok(Ending::Stopped);
        }
    }
    let model = BatchModel::resolve(ctx, &job.model_id).map_err(|e| e.message)?;
    let converse = job.invocation_type.as_deref() == Some("Converse");
    let (bucket, prefix) = output_prefix(&job);
    let mut counts = RecordCounts {
        total,
        ..RecordCounts::default()
    };
    let mut saved_at = Instant::now();
    let mut stopped = false;
    for input in &inputs {
        if stopped {
            break;
        }
        let reader = open(ctx, &job, input)?;
        let key = format!("{prefix}{}.out", input.relative);
        write_output(ctx, &job, &bucket, &key, |out| {
            for line in lines(reader, input) {
                let (number, line) = line?;
                let map = record(&line, input, number)?;
                let row = answer(ctx, &model, converse, map, &mut counts);
                serde_json::to_writer(&mut *out, &row).map_err(|e| e.to_string())?;
                out.write_all(b"\n").map_err(|e| e.to_string())?;
                if saved_at.elapsed() >= PROGRESS_EVERY {
                    saved_at = Instant::now();
                    let now = counts;
                    update(ctx, arn, |j| j.counts = Some(now))?;
                    if stop_requested(ctx, arn) || ctx.is_shutting_down() {
                        stopped = true;
                        break;
                    }
                }
            }
            Ok(())
        })?;
    }
    let manifest = json!({
        "totalRecordCount": counts.total,
        "processedRecordCount": counts.processed,
        "successRecordCount": counts.success,
        "errorRecordCount": counts.error,
        "inputTokenCount": counts.input_tokens,
        "outputTokenCount": counts.output_tokens,
    });
    write_output(
        ctx,
        &job,
        &bucket,
        &format!("{prefix}manifest.json.out"),
        |out| serde_json::to_writer(&mut *out, &manifest).map_err(|e| e.to_string()),
    )?;
    update(ctx, arn, |j| j.counts = Some(counts))?;
    Ok(if stopped || stop_requested(ctx, arn) {
        Ending::Stopped
    } else {
        Ending::Finished
    })
}

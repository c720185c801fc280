//! Running a model customization job, as its IAM role.
//!
//! Bedrock assumes the job's role to read the training and validation data and to write the
//! metrics under the output prefix; so does the emulator, evaluating the role's policies for
//! each object. The job then moves through Bedrock's sub-steps (validation, data processing,
//! training) and ends Completed with a custom model, Failed with a message that says what to
//! fix, or Stopped.

use super::service_role::{read_as_role, split_uri, write_as_role};
use super::state::{CustomModel, Job, JobStatus};
use super::store::Touched;
use super::wire::random_id;
use super::Ctx;
use chrono::Utc;
use nova_ft_data::dataset::record::{Conversation, Message, Role};
use nova_ft_data::dataset::validate::{load_sources_for, ModelRules, Task};
use nova_ft_data::error::NovaError;
use nova_ft_data::tokens::estimate_tokens;
use nova_ft_models::{FineTuning, Prompt, TrainingConfig, TunedModel};
use serde_json::Value;
use std::collections::HashSet;
use std::sync::Arc;

/// Change a job under the lock and save. Nothing changes if the job has gone or the emulator
/// is stopping (the next emulator on this data directory resumes the job instead). A state
/// that cannot be saved is the job's failure, with the reason.
fn update(ctx: &Ctx, arn: &str, change: impl FnOnce(&mut Job)) -> Result<(), Ending> {
    let mut state = ctx.store.lock();
    if ctx.is_shutting_down() {
        return Ok(());
    }
    let Some(job) = state.jobs.get_mut(arn) else {
        return Ok(());
    };
    change(job);
    job.last_modified = Utc::now();
    ctx.store
        .commit(state, &[Touched::Job(arn)])
        .map_err(|e| not_saved(&e))
}

fn not_saved(error: &impl std::fmt::Display) -> Ending {
    Ending::Failed(format!(
        "Internal error: the emulator could not save the job's state ({error})."
    ))
}

pub(super) fn stop_requested(ctx: &Ctx, arn: &str) -> bool {
    ctx.store
        .lock()
        .jobs
        .get(arn)
        .is_some_and(|j| j.status == JobStatus::Stopping)
}

#[derive(Debug)]
pub(super) enum Ending {
    Completed,
    Stopped,
    Failed(String),
}

/// The job's failure when its data cannot be loaded: the first problems found, and how many
/// more (SFT and RFT data alike).
pub(super) fn data_failure(error: NovaError) -> Ending {
    match error {
        NovaError::DatasetValidation {
            issues, omitted, ..
        } => {
            let shown: Vec<String> = issues.iter().take(5).map(ToString::to_string).collect();
            let more = issues.len().saturating_sub(5) + omitted;
            let tail = if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            };
            Ending::Failed(format!(
                "Training data validation failed: {}{tail}. Fix the data and start a new job.",
                shown.join("; ")
            ))
        }
        other => Ending::Failed(format!("Could not read the training data: {other}")),
    }
}

/// Start running a job on the emulator's runtime.
pub fn spawn(ctx: Arc<Ctx>, arn: String) {
    log::info!(target: "nova_ft.emulator", "job {arn} started (local trainer)");
    tokio::task::spawn_blocking(move || {
        // A bug in a local model fails the job, as Bedrock fails a job on an internal error,
        // instead of leaving it InProgress forever.
        let ending = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&ctx, &arn)))
            .unwrap_or_else(|_| {
                Ending::Failed(
                    "Internal error: the local trainer failed on this job. Start it again; if it fails again, report it with the data.".into(),
                )
            });
        finish(&ctx, &arn, ending);
    });
}

/// After a restart: jobs that were running start again; jobs being stopped are Stopped.
pub fn resume_all(ctx: &Arc<Ctx>) {
    let arns: Vec<(String, JobStatus)> = ctx
        .store
        .lock()
        .jobs
        .values()
        .filter(|j| !j.status.is_final())
        .map(|j| (j.arn.clone(), j.status))
        .collect();
    for (arn, status) in arns {
        if status == JobStatus::Stopping {
            finish(ctx, &arn, Ending::Stopped);
        } else {
            if let Err(failed) = update(ctx, &arn, |j| {
                j.steps = [
                    "InProgress".into(),
                    "NotStarted".into(),
                    "NotStarted".into(),
                ]
            }) {
                finish(ctx, &arn, failed);
                continue;
            }
            spawn(Arc::clone(ctx), arn);
        }
    }
}

fn finish(ctx: &Ctx, arn: &str, ending: Ending) {
    match &ending {
        Ending::Failed(message) => {
            log::info!(target: "nova_ft.emulator", "job {arn} failed: {message}")
        }
        other => log::info!(target: "nova_ft.emulator", "job {arn} {other:?}"),
    }
    let saved = update(ctx, arn, |job| {
        let now = Utc::now();
        job.ended = Some(now);
        match ending {
            Ending::Completed => {
                job.status = JobStatus::Completed;
                job.steps = ["Completed".into(), "Completed".into(), "Completed".into()];
            }
            Ending::Stopped => {
                job.status = JobStatus::Stopped;
                for step in job.steps.iter_mut().filter(|s| *s != "Completed") {
                    *step = "Stopped".into();
                }
            }
            Ending::Failed(message) => {
                job.status = JobStatus::Failed;
                job.failure_message = Some(message);
                for step in job.steps.iter_mut().filter(|s| *s == "InProgress") {
                    *step = "Failed".into();
                }
            }
        }
    });
    if let Err(Ending::Failed(why)) = saved {
        // The last state is not on disk: a restart on this data directory runs the job again.
        log::error!(target: "nova_ft.emulator", "job {arn}: {why}");
    }
}

/// Wait the configured step delay, in slices, so a shutdown or a stop is noticed quickly.
pub(super) fn pause(ctx: &Ctx, arn: &str) {
    let deadline = std::time::Instant::now() + ctx.config.job_step_delay;
    while !ctx.is_shutting_down() && !stop_requested(ctx, arn) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            break;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(20)));
    }
}

/// The seed of a job's training randomness: FNV-1a of its name, so every job is one draw (as
/// every run of a real training job is) and the same job name reproduces its model.
pub(super) fn job_seed(job: &Job) -> i64 {
    let hash = job.name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (hash >> 1) as i64
}

/// Hyperparameters with Nova's defaults (epochs 2, learning rate 1e-5, warmup 10).
fn training_config(job: &Job) -> TrainingConfig {
    let get = |name: &str, default: f64| {
        job.hyperparameters
            .get(name)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(default)
    };
    TrainingConfig {
        epochs: get("epochCount", 2.0) as u32,
        learning_rate: get("learningRate", 1e-5),
        warmup_steps: get("learningRateWarmupSteps", 10.0) as u32,
        seed: job_seed(job),
    }
}

/// Record the sub-steps' statuses and wait the step delay; an `Ending` when the job must not
/// go on (stopped, or its state could not be saved).
pub(super) fn next_step(ctx: &Ctx, arn: &str, steps: [&str; 3]) -> Result<(), Ending> {
    update(ctx, arn, |j| j.steps = steps.map(String::from))?;
    pause(ctx, arn);
    if stop_requested(ctx, arn) {
        return Err(Ending::Stopped);
    }
    Ok(())
}

fn run(ctx: &Ctx, arn: &str) -> Ending {
    let Some(job) = ctx.store.lock().jobs.get(arn).cloned() else {
        return Ending::Stopped;
    };
    if job.customization_type == "REINFORCEMENT_FINE_TUNING" {
        return super::reinforcement::run(ctx, arn, &job);
    }
    let task = if job.customization_type == "DISTILLATION" {
        Task::Distillation
    } else {
        Task::FineTuning
    };

    // 1. Validation: read the data as the role and check it against Bedrock's rules.
    pause(ctx, arn);
    if stop_requested(ctx, arn) {
        return Ending::Stopped;
    }
    let mut uris = vec![job.training_uri.clone()];
    uris.extend(job.validation_uris.iter().cloned());
    let mut blobs = Vec::with_capacity(uris.len());
    for uri in &uris {
        match read_as_role(ctx, &job, uri) {
            Ok(bytes) => blobs.push(bytes),
            Err(message) => return Ending::Failed(message),
        }
    }
    let sources: Vec<(&str, &[u8])> = uris
        .iter()
        .map(String::as_str)
        .zip(blobs.iter().map(Vec::as_slice))
        .collect();
    let rules = ModelRules::for_model(&job.base_model_id);
    let mut splits = match load_sources_for(&sources, task, rules) {
        Ok((splits, _)) => splits,
        Err(error) => return data_failure(error),
    };
    // 2. Data processing: for distillation, the teacher answers the prompts.
    if let Err(ending) = next_step(ctx, arn, ["Completed", "InProgress", "NotStarted"]) {
        return ending;
    }
    let validation: Vec<Conversation> = splits.drain(1..).flatten().collect();
    let mut training = splits.pop().unwrap_or_default();
    // Distillation only: the prompts the teacher answered (ascending), each with the reason
    // the prompt-insight rule rejected its answer, if it did.
    let mut synthetic: Vec<(usize, Option<&'static str>)> = Vec::new();
    if task == Task::Distillation {
        // The student learns from the teacher's answers and the labelled pairs given, never
        // from anything else.
        let labelled: Vec<Conversation> = training
            .iter()
            .filter(|r| r.target().is_some())
            .cloned()
            .collect();
        let user_text = |r: &Conversation| {
            r.prompt_messages()
                .iter()
                .map(|m| m.text())
                .collect::<Vec<_>>()
                .join("\n")
        };
        let prompts: Vec<(String, String)> = training
            .iter()
            .map(|r| (r.system_text(), user_text(r)))
            .collect();
        let teacher = ctx.config.models.teacher(&labelled, &prompts);
        let max_tokens = job
            .customization_config
            .as_ref()
            .and_then(|c| {
                c.pointer("/distillationConfig/teacherModelConfig/maxResponseLengthForInference")
            })
            .and_then(Value::as_u64)
            .map_or(usize::MAX, |n| n as usize);
        let mut seen: HashSet<(String, String)> = HashSet::new();
        for (i, record) in training.iter_mut().enumerate() {
            if record.target().is_some() {
                continue;
            }
            let turns = [("user".to_string(), user_text(record))];
            let system = record.system_text();
            let answer = teacher.answer(&Prompt {
                system: &system,
                turns: &turns,
            });
            let fresh = seen.insert((system, turns[0].1.clone()));
            let rejection = insight_rule(&answer, max_tokens, fresh);
            record.messages.push(Message {
                role: Role::Assistant,
                texts: vec![answer],
            });
            synthetic.push((i, rejection));
        }
    }
    // Rejected answers are not trained on (the artifacts still list them, with the reason).
    let rejected: HashSet<usize> = synthetic
        .iter()
        .filter(|(_, why)| why.is_some())
        .map(|(i, _)| *i)
        .collect();
    let student_data: Vec<Conversation> = training
        .iter()
        .enumerate()
        .filter(|(i, _)| !rejected.contains(i))
        .map(|(_, r)| r.clone())
        .collect();
    // 3. Training, then the artifacts.
    if let Err(ending) = next_step(ctx, arn, ["Completed", "Completed", "InProgress"]) {
        return ending;
    }
    // Iterative fine-tuning continues from the parent model's weights.
    let parent = match &job.parent_model_arn {
        Some(arn) => match super::bedrock_runtime::trained(ctx, arn) {
            Ok(model) => Some(model),
            Err(e) => return Ending::Failed(format!("The base custom model {arn}: {}", e.message)),
        },
        None => None,
    };
    let run = match ctx.config.models.fine_tune(FineTuning {
        records: &student_data,
        validation: &validation,
        config: training_config(&job),
        parent: parent.as_deref(),
    }) {
        Ok(run) => run,
        Err(e) => return Ending::Failed(format!("Training failed: {e}")),
    };
    let (out_bucket, base) = output_location(&job);
    let training_csv = metrics_csv("training_loss", &run.training_loss, run.cross_entropy);
    if let Err(message) = write_as_role(
        ctx,
        &job,
        &out_bucket,
        &format!("{base}/training_artifacts/step_wise_training_metrics.csv"),
        training_csv,
    ) {
        return Ending::Failed(message);
    }
    if !run.validation_loss.is_empty() {
        let csv = metrics_csv("validation_loss", &run.validation_loss, run.cross_entropy);
        if let Err(message) = write_as_role(
            ctx,
            &job,
            &out_bucket,
            // Where AWS writes it (AWS's own sample reads it there from a job run on AWS);
            // the user guide omits the `validation/` folder.
            &format!(
                "{base}/validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"
            ),
            csv,
        ) {
            return Ending::Failed(message);
        }
    }
    if task == Task::Distillation {
        for (key, bytes) in distillation_artifacts(&training, &synthetic) {
            if let Err(message) =
                write_as_role(ctx, &job, &out_bucket, &format!("{base}/{key}"), bytes)
            {
                return Ending::Failed(message);
            }
        }
    }
    if stop_requested(ctx, arn) {
        return Ending::Stopped;
    }
    let final_train = run.training_loss.last().map(|(_, _, l)| *l);
    let final_valid: Vec<f64> = run
        .validation_loss
        .last()
        .map(|(_, _, l)| vec![*l])
        .unwrap_or_default();
    let description = format!("{} (trained in {:.2} s)", run.model.describe(), run.seconds);
    register_model(
        ctx,
        &job,
        run.model.as_ref(),
        description,
        final_train,
        final_valid,
    )
}

/// The job's output bucket and the prefix its artifacts go under
/// (`<output prefix>/model-customization-job-<id>`).
pub(super) fn output_location(job: &Job) -> (String, String) {
    let (out_bucket, out_prefix) = split_uri(&job.output_uri);
    let out_prefix = if out_prefix.is_empty() || out_prefix.ends_with('/') {
        out_prefix
    } else {
        format!("{out_prefix}/")
    };
    let job_id = job.arn.rsplit('/').next().unwrap_or(&job.arn);
    (
        out_bucket,
        format!("{out_prefix}model-customization-job-{job_id}"),
    )
}

/// Save a trained model and record it as the job's custom model, with the job's final
/// metrics; the job's ending.
pub(super) fn register_model(
    ctx: &Ctx,
    job: &Job,
    model: &dyn TunedModel,
    description: String,
    final_train: Option<f64>,
    final_valid: Vec<f64>,
) -> Ending {
    let arn = job.arn.as_str();
    let model_id = random_id(12);
    let artifact = match super::bedrock_runtime::save_tuned(ctx, &model_id, model) {
        Ok(artifact) => artifact,
        Err(e) => return Ending::Failed(format!("Could not save the model: {e}")),
    };
    let model_arn = format!(
        "arn:aws:bedrock:{}:{}:custom-model/{}/{model_id}",
        ctx.config.region, ctx.config.account_id, job.base_model_id
    );
    let mut state = ctx.store.lock();
    if ctx.is_shutting_down() {
        return Ending::Stopped;
    }
    state.custom_models.insert(
        model_arn.clone(),
        CustomModel {
            arn: model_arn.clone(),
            name: job.custom_model_name.clone(),
            job_arn: arn.to_string(),
            created: Utc::now(),
            artifact: Some(artifact),
            description,
            base_model_arn: Some(job.base_model_arn.clone()),
            client_request_token: None,
        },
    );
    if let Some(j) = state.jobs.get_mut(arn) {
        j.custom_model_arn = Some(model_arn.clone());
        j.training_loss = final_train;
        j.validation_losses = final_valid;
    }
    let touched = [Touched::CustomModel(&model_arn), Touched::Job(arn)];
    match ctx.store.commit(state, &touched) {
        Ok(()) => Ending::Completed,
        Err(e) => {
            // The model is not recorded: take it back out, so the state on disk and in
            // memory agree, and the job fails saying why.
            let mut state = ctx.store.lock();
            if let Some(j) = state.jobs.get_mut(arn) {
                j.custom_model_arn = None;
            }
            state.custom_models.remove(&model_arn);
            not_saved(&e)
        }
    }
}

/// The prompt-insight rule applied to each teacher answer: why it is rejected, if it is.
/// An empty answer teaches nothing; an answer over `maxResponseLengthForInference` (in
/// estimated tokens) would have been cut off; a prompt already answered would weigh twice.
fn insight_rule(answer: &str, max_tokens: usize, fresh_prompt: bool) -> Option<&'static str> {
    if answer.trim().is_empty() {
        Some("EMPTY_RESPONSE")
    } else if estimate_tokens(answer) > max_tokens {
        Some("RESPONSE_EXCEEDS_MAX_LENGTH")
    } else if !fresh_prompt {
        Some("DUPLICATE_PROMPT")
    } else {
        None
    }
}

/// The two artifacts the user guide lists for distillation ("Analyze the results of a model
/// customization job"): a sample of the synthetic data (prompts with the teacher's accepted
/// answers, as `bedrock-conversation-2024` records) and the prompt insights (each prompt
/// accepted or rejected by [`insight_rule`], with the reason). The guide names them but not
/// their keys, so the keys under `distillation_artifacts/` are the emulator's.
fn distillation_artifacts(
    training: &[Conversation],
    synthetic: &[(usize, Option<&'static str>)],
) -> Vec<(String, Vec<u8>)> {
    const SAMPLE: usize = 100;
    let mut data = Vec::new();
    for (i, _) in synthetic
        .iter()
        .filter(|(_, why)| why.is_none())
        .take(SAMPLE)
    {
        training[*i].write_jsonl_line(&mut data);
    }
    let mut insights = Vec::new();
    for i in 0..training.len() {
        // `synthetic` is in ascending order of record index.
        let found = synthetic
            .binary_search_by_key(&i, |(j, _)| *j)
            .ok()
            .map(|k| synthetic[k].1);
        let mut line = serde_json::json!({
            "recordIndex": i,
            "status": if matches!(found, Some(Some(_))) { "REJECTED" } else { "ACCEPTED" },
            "responseSource": if found.is_some() { "teacher" } else { "provided" },
        });
        if let Some(Some(reason)) = found {
            line["reason"] = reason.into();
        }
        insights.extend(line.to_string().as_bytes());
        insights.push(b'\n');
    }
    vec![
        (
            "distillation_artifacts/synthetic_data/synthetic_data_sample.jsonl".into(),
            data,
        ),
        (
            "distillation_artifacts/prompt_insights/prompt_insights.jsonl".into(),
            insights,
        ),
    ]
}

/// `step_number,epoch_number,<loss>,perplexity` rows, as Bedrock writes them; without the
/// perplexity column when the loss is not a cross-entropy (a stand-in without probabilities).
pub(super) fn metrics_csv(
    loss_column: &str,
    rows: &[(usize, u32, f64)],
    cross_entropy: bool,
) -> Vec<u8> {
    let mut out = format!("step_number,epoch_number,{loss_column}");
    out.push_str(if cross_entropy { ",perplexity\n" } else { "\n" });
    for (step, epoch, loss) in rows {
        out.push_str(&format!("{step},{epoch},{loss}"));
        if cross_entropy {
            out.push_str(&format!(",{}", loss.exp()));
        }
        out.push('\n');
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::EmulatorConfig;

    fn job(arn: &str) -> Job {
        serde_json::from_value(serde_json::json!({
            "arn": arn, "name": "j", "custom_model_name": "m", "custom_model_arn": null,
            "role_arn": "arn:aws:iam::123456789012:role/r", "client_request_token": null,
            "base_model_id": "amazon.nova-micro-v1:0:128k", "base_model_arn": "b",
            "customization_type": "FINE_TUNING", "training_uri": "s3://b/t.jsonl",
            "validation_uris": [], "output_uri": "s3://b/out/", "hyperparameters": {},
            "customization_config": null, "status": "InProgress",
            "steps": ["InProgress", "NotStarted", "NotStarted"], "failure_message": null,
            "created": "2026-01-01T00:00:00Z", "last_modified": "2026-01-01T00:00:00Z",
            "ended": null, "training_loss": null, "validation_losses": [], "job_tags": []
        }))
        .unwrap()
    }

    #[test]
    fn a_state_that_cannot_be_saved_fails_the_job_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let ctx = Ctx::new(EmulatorConfig {
            data_dir: Some(dir.path().to_path_buf()),
            ..EmulatorConfig::default()
        })
        .unwrap();
        let arn = "arn:aws:bedrock:us-east-1:123456789012:model-customization-job/j/abc";
        ctx.store.lock().jobs.insert(arn.into(), job(arn));
        assert!(update(&ctx, arn, |j| j.steps[0] = "Completed".into()).is_ok());
        // Another program holds the database's write lock: the commit cannot happen.
        let other = rusqlite::Connection::open(dir.path().join("emulator.db")).unwrap();
        other.execute_batch("BEGIN EXCLUSIVE").unwrap();
        match update(&ctx, arn, |j| j.steps[1] = "InProgress".into()) {
            Err(Ending::Failed(message)) => {
                assert!(
                    message.contains("could not save the job's state"),
                    "{message}"
                )
            }
            other => panic!("expected a failed job, got {other:?}"),
        }
    }
}

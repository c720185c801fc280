//! Running a model evaluation job, as its IAM role.
//!
//! For each dataset of the job, Bedrock reads the prompt dataset (JSONL lines of `prompt`,
//! optional `referenceResponse` and `category`, and for your own responses `modelResponses`)
//! as the job's role, gets each model's response (from the model, or from the record for a
//! `precomputedInferenceSource`), scores every metric (`evaluation_metrics`) and writes one
//! line per record under the output prefix:
//! `<output>/<job name>/<job id>/models/<model>/taskTypes/<task>/datasets/<dataset>/<uuid>_output.jsonl`,
//! each `{"automatedEvaluationResult": {"scores": [{"metricName", "result",
//! "evaluatorDetails": [{"modelIdentifier", "explanation"}]}]}, "inputRecord": {...}}`.
//! A dataset Bedrock would refuse (not JSON lines, no `prompt`, over 1,000 prompts, a record
//! without the response of a precomputed source) fails the job with the line that did.

use crate::bedrock_runtime::answer_text;
use crate::evaluation_metrics::{builtin, custom, Case};
use crate::service_role::{role_allows, split_uri};
use crate::state::{EvaluationJob, EvaluationStatus};
use crate::store::Touched;
use crate::wire::random_id;
use crate::{s3, Ctx};
use chrono::Utc;
use serde_json::{json, Value};
use std::sync::Arc;

/// The most prompts a dataset may hold (the Bedrock user guide's limit for judge jobs).
pub const MAX_PROMPTS: usize = 1000;

enum Ending {
    Completed,
    Stopped,
    Failed(String),
}

fn update(ctx: &Ctx, arn: &str, change: impl FnOnce(&mut EvaluationJob)) {
    let mut state = ctx.store.lock();
    if ctx.is_shutting_down() {
        return;
    }
    let Some(job) = state.evaluation_jobs.get_mut(arn) else {
        return;
    };
    change(job);
    job.last_modified = Utc::now();
    if let Err(e) = ctx.store.commit(state, &[Touched::EvaluationJob(arn)]) {
        log::error!(target: "nova_ft.emulator", "evaluation job {arn}: the state could not be saved ({e})");
    }
}

fn stop_requested(ctx: &Ctx, arn: &str) -> bool {
    ctx.store
        .lock()
        .evaluation_jobs
        .get(arn)
        .is_some_and(|j| j.status == EvaluationStatus::Stopping)
}

/// Start running a job on the emulator's runtime.
pub fn spawn(ctx: Arc<Ctx>, arn: String) {
    tokio::task::spawn_blocking(move || {
        let ending = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&ctx, &arn)))
            .unwrap_or_else(|_| {
                Ending::Failed("Internal error: the emulator failed on this job. Start it again; if it fails again, report it with the dataset.".into())
            });
        update(&ctx, &arn, |job| match ending {
            Ending::Completed => job.status = EvaluationStatus::Completed,
            Ending::Stopped => job.status = EvaluationStatus::Stopped,
            Ending::Failed(message) => {
                job.status = EvaluationStatus::Failed;
                job.failure_messages = vec![message];
            }
        });
    });
}

/// After a restart: jobs that had not ended run again; jobs being stopped are Stopped.
pub fn resume_all(ctx: &Arc<Ctx>) {
    let jobs: Vec<(String, EvaluationStatus)> = ctx
        .store
        .lock()
        .evaluation_jobs
        .values()
        .filter(|j| !j.status.is_final())
        .map(|j| (j.arn.clone(), j.status))
        .collect();
    for (arn, status) in jobs {
        if status == EvaluationStatus::Stopping {
            update(ctx, &arn, |j| j.status = EvaluationStatus::Stopped);
        } else {
            spawn(Arc::clone(ctx), arn);
        }
    }
}

/// A dataset's records, read as the job's role and checked.
fn read_dataset(ctx: &Ctx, job: &EvaluationJob, uri: &str) -> Result<Vec<Value>, String> {
    let (bucket, key) = split_uri(uri);
    role_allows(ctx, &job.role_arn, &job.arn, "s3:GetObject", &bucket, &key)?;
    let bytes = s3::internal_get(ctx, &bucket, &key)
        .map_err(|e| format!("{}: {uri}: {}", e.code, e.message))?;
    let text = String::from_utf8(bytes).map_err(|_| format!("{uri}: not UTF-8 text."))?;
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Value = serde_json::from_str(line.trim_start_matches('\u{feff}'))
            .ok()
            .filter(Value::is_object)
            .ok_or_else(|| format!("{uri} line {}: not a JSON object.", i + 1))?;
        if !record.get("prompt").is_some_and(Value::is_string) {
            return Err(format!(
                "{uri} line {}: no \"prompt\" string. Each line needs {{\"prompt\": ..., \"referenceResponse\": ...}}.",
                i + 1
            ));
        }
        records.push(record);
    }
    if records.is_empty() || records.len() > MAX_PROMPTS {
        return Err(format!(
            "{uri} holds {} prompts; an evaluation dataset holds 1 to {MAX_PROMPTS}.",
            records.len()
        ));
    }
    Ok(records)
}

/// A model of `inferenceConfig.models`: its identifier (what the output path names) and how
/// its responses are found.
enum Generator {
    Bedrock {
        id: String,
        max_tokens: Option<usize>,
    },
    Precomputed {
        id: String,
    },
}

fn generators(job: &EvaluationJob) -> Vec<Generator> {
    let models = job.inference_config.get("models").and_then(Value::as_array);
    models
        .into_iter()
        .flatten()
        .filter_map(|m| {
            if let Some(id) = m
                .pointer("/bedrockModel/modelIdentifier")
                .and_then(Value::as_str)
            {
                let params: Value = m
                    .pointer("/bedrockModel/inferenceParams")
                    .and_then(Value::as_str)
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or(Value::Null);
                let max_tokens = [
                    "/inferenceConfig/maxTokens",
                    "/inferenceConfig/max_new_tokens",
                    "/max_tokens",
                ]
                .iter()
                .find_map(|p| params.pointer(p).and_then(Value::as_u64))
                .map(|n| n as usize);
                return Some(Generator::Bedrock {
                    id: id.to_string(),
                    max_tokens,
                });
            }
            m.pointer("/precomputedInferenceSource/inferenceSourceIdentifier")
                .and_then(Value::as_str)
                .map(|id| Generator::Precomputed { id: id.to_string() })
        })
        .collect()
}

fn response_of(
    ctx: &Ctx,
    generator: &Generator,
    record: &Value,
    line: usize,
) -> Result<(String, Value), String> {
    let prompt = record["prompt"].as_str().unwrap_or_default();
    match generator {
        Generator::Bedrock { id, max_tokens } => {
            let text = answer_text(ctx, id, prompt, *max_tokens).map_err(|e| e.message)?;
            Ok((
                text.clone(),
                json!([{"response": text, "modelIdentifier": id}]),
            ))
        }
        Generator::Precomputed { id } => {
            let responses = record.get("modelResponses").and_then(Value::as_array);
            let found = responses
                .into_iter()
                .flatten()
                .find(|r| r.get("modelIdentifier").and_then(Value::as_str) == Some(id))
                .and_then(|r| r.get("response").and_then(Value::as_str))
                .ok_or_else(|| format!("line {line}: no modelResponses entry with modelIdentifier {id:?}, the precomputedInferenceSource's inferenceSourceIdentifier."))?;
            Ok((
                found.to_string(),
                Value::Array(responses.cloned().unwrap_or_default()),
            ))
        }
    }
}

fn run(ctx: &Ctx, arn: &str) -> Ending {
    let Some(job) = ctx.store.lock().evaluation_jobs.get(arn).cloned() else {
        return Ending::Stopped;
    };
    match run_job(ctx, &job) {
        Ok(true) => Ending::Completed,
        Ok(false) => Ending::Stopped,
        Err(message) => Ending::Failed(message),
    }
}

/// Every dataset, model and record; `false` when a stop was asked for.
fn run_job(ctx: &Ctx, job: &EvaluationJob) -> Result<bool, String> {
    let automated = job
        .evaluation_config
        .get("automated")
        .cloned()
        .unwrap_or(Value::Null);
    let judge_id = automated
        .pointer("/evaluatorModelConfig/bedrockEvaluatorModels/0/modelIdentifier")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let custom_judge = automated
        .pointer(
            "/customMetricConfig/evaluatorModelConfig/bedrockEvaluatorModels/0/modelIdentifier",
        )
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    let custom_metrics: Vec<Value> = automated
        .pointer("/customMetricConfig/customMetrics")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| m.get("customMetricDefinition").cloned())
        .collect();
    let (bucket, prefix) = split_uri(&job.output_uri);
    let prefix = prefix.trim_end_matches('/');
    let id = job.arn.rsplit('/').next().unwrap_or_default();
    let root = [prefix, &job.name, id]
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join("/");
    // Bedrock first checks that it may write the output, with an empty object.
    let check = format!("{root}/amazon-bedrock-evaluations-permission-check");
    role_allows(
        ctx,
        &job.role_arn,
        &job.arn,
        "s3:PutObject",
        &bucket,
        &check,
    )?;
    s3::internal_put(ctx, &bucket, &check, Vec::new(), "application/octet-stream")
        .map_err(|e| format!("{}: s3://{bucket}/{check}: {}", e.code, e.message))?;
    let models = ctx.config.models.as_ref();
    let configs = automated
        .get("datasetMetricConfigs")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for config in &configs {
        let task = config["taskType"].as_str().unwrap_or("General");
        let dataset = config
            .pointer("/dataset/name")
            .and_then(Value::as_str)
            .unwrap_or("dataset");
        let uri = config
            .pointer("/dataset/datasetLocation/s3Uri")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let metrics: Vec<&str> = config["metricNames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let records = read_dataset(ctx, job, uri)?;
        for generator in generators(job) {
            let model_id = match &generator {
                Generator::Bedrock { id, .. } | Generator::Precomputed { id } => id.clone(),
            };
            let mut lines = String::new();
            for (i, record) in records.iter().enumerate() {
                if stop_requested(ctx, &job.arn) || ctx.is_shutting_down() {
                    return Ok(false);
                }
                let (response, responses) = response_of(ctx, &generator, record, i + 1)
                    .map_err(|e| format!("{uri} {e}"))?;
                let case = Case {
                    prompt: record["prompt"].as_str().unwrap_or_default(),
                    reference: record.get("referenceResponse").and_then(Value::as_str),
                    response: &response,
                    task,
                };
                let scores: Vec<Value> = metrics
                    .iter()
                    .map(|metric| {
                        let (scored, evaluator) = match custom_metrics
                            .iter()
                            .find(|d| d.get("name").and_then(Value::as_str) == Some(metric))
                        {
                            Some(definition) => (custom(models, definition, &case), &custom_judge),
                            None => (builtin(models, metric, &case), &judge_id),
                        };
                        let mut score = json!({"metricName": metric, "result": scored.result});
                        if !evaluator.is_empty() {
                            score["evaluatorDetails"] = json!([{"modelIdentifier": evaluator, "explanation": scored.explanation}]);
                        }
                        score
                    })
                    .collect();
                let mut input = record.clone();
                input["modelResponses"] = responses;
                let line =
                    json!({"automatedEvaluationResult": {"scores": scores}, "inputRecord": input});
                lines.push_str(&line.to_string());
                lines.push('\n');
            }
            let key = format!(
                "{root}/models/{model_id}/taskTypes/{task}/datasets/{dataset}/{}_output.jsonl",
                random_id(8)
            );
            role_allows(ctx, &job.role_arn, &job.arn, "s3:PutObject", &bucket, &key)?;
            s3::internal_put(ctx, &bucket, &key, lines.into_bytes(), "application/jsonl")
                .map_err(|e| format!("{}: s3://{bucket}/{key}: {}", e.code, e.message))?;
        }
    }
    Ok(true)
}

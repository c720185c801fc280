//! Model evaluation jobs (CreateEvaluationJob): automated jobs with judge, programmatic and
//! custom metrics, on a Bedrock model or your own responses (`precomputedInferenceSource`);
//! validated as Bedrock validates them, then run by [`crate::evaluation_runner`]. Get, list,
//! stop and batch delete.

use super::checks::{check_role_arn, check_s3_uri, check_token, pattern_error};
use super::customization_jobs::fingerprint;
use super::paging::{find_by_arn_or_id, page, with_next};
use super::{body, required, tags};
use crate::catalog;
use crate::evaluation_metrics::{is_judge_metric, PROGRAMMATIC_METRICS, UNSERVED_METRICS};
use crate::evaluation_runner;
use crate::request::AwsRequest;
use crate::state::{EvaluationJob, EvaluationStatus, State};
use crate::store::Touched;
use crate::wire::{iso_millis, json, random_id, AwsError, Outcome};
use crate::Ctx;
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Task types botocore lists, and `General`, which AWS's judge jobs use.
const TASK_TYPES: [&str; 6] = [
    "Summarization",
    "Classification",
    "QuestionAndAnswer",
    "Generation",
    "Custom",
    "General",
];

pub(super) fn find_evaluation_job<'s>(
    state: &'s State,
    id: &str,
) -> Result<&'s EvaluationJob, AwsError> {
    find_by_arn_or_id(&state.evaluation_jobs, id, "an evaluation job")
}

fn check_name(name: &str) -> Result<(), AwsError> {
    let mut chars = name.chars();
    let ok = (1..=63).contains(&name.len())
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(pattern_error("jobName", name, "[a-z0-9](-*[a-z0-9]){0,62}"))
    }
}

fn invalid(message: impl Into<String>) -> AwsError {
    AwsError::validation(message)
}

/// The evaluator model of a config (`bedrockEvaluatorModels[0].modelIdentifier`), checked.
fn evaluator(config: Option<&Value>, field: &str) -> Result<Option<String>, AwsError> {
    let Some(config) = config else {
        return Ok(None);
    };
    let models = config
        .get("bedrockEvaluatorModels")
        .and_then(Value::as_array)
        .filter(|m| m.len() == 1)
        .ok_or_else(|| {
            invalid(format!(
                "{field}.bedrockEvaluatorModels must hold exactly one model."
            ))
        })?;
    let id = models[0]
        .get("modelIdentifier")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            invalid(format!(
                "{field}.bedrockEvaluatorModels[0].modelIdentifier is required."
            ))
        })?;
    let (_, bare) = catalog::split_identifier(id);
    if catalog::find(bare).is_none() {
        return Err(invalid(format!(
            "The evaluator model {id} is not a model Bedrock offers as an evaluator. Use a foundation model id such as amazon.nova-pro-v1:0 or anthropic.claude-3-5-sonnet-20240620-v1:0."
        )));
    }
    Ok(Some(id.to_string()))
}

/// The checks of `evaluationConfig.automated`: datasets, metrics, evaluators, custom metrics.
fn check_automated(automated: &Value) -> Result<(), AwsError> {
    let configs = automated
        .get("datasetMetricConfigs")
        .and_then(Value::as_array)
        .filter(|c| (1..=5).contains(&c.len()))
        .ok_or_else(|| {
            invalid("evaluationConfig.automated.datasetMetricConfigs must hold 1 to 5 entries.")
        })?;
    let judge = evaluator(
        automated.get("evaluatorModelConfig"),
        "evaluatorModelConfig",
    )?;
    let custom = automated.get("customMetricConfig");
    let custom_names: Vec<String> = match custom {
        None => Vec::new(),
        Some(c) => {
            evaluator(
                c.get("evaluatorModelConfig"),
                "customMetricConfig.evaluatorModelConfig",
            )?
            .ok_or_else(|| invalid("customMetricConfig needs its own evaluatorModelConfig."))?;
            let metrics = c
                .get("customMetrics")
                .and_then(Value::as_array)
                .filter(|m| (1..=10).contains(&m.len()))
                .ok_or_else(|| {
                    invalid("customMetricConfig.customMetrics must hold 1 to 10 metrics.")
                })?;
            metrics
                .iter()
                .map(|m| {
                    let definition = m.get("customMetricDefinition");
                    let name = definition.and_then(|d| d.get("name")).and_then(Value::as_str);
                    let instructions = definition
                        .and_then(|d| d.get("instructions"))
                        .and_then(Value::as_str);
                    match (name, instructions) {
                        (Some(n), Some(i)) if !n.is_empty() && !i.is_empty() => Ok(n.to_string()),
                        _ => Err(invalid("Each custom metric needs customMetricDefinition.name and .instructions.")),
                    }
                })
                .collect::<Result<_, _>>()?
        }
    };
    for config in configs {
        let task = config.get("taskType").and_then(Value::as_str).unwrap_or("");
        if !TASK_TYPES.contains(&task) {
            return Err(invalid(format!(
                "taskType {task:?} is not one of {}.",
                TASK_TYPES.join(", ")
            )));
        }
        let dataset = config.get("dataset");
        let name = dataset
            .and_then(|d| d.get("name"))
            .and_then(Value::as_str)
            .unwrap_or("");
        if !(1..=63).contains(&name.len()) {
            return Err(invalid("dataset.name must be 1 to 63 characters."));
        }
        let Some(uri) = dataset
            .and_then(|d| d.pointer("/datasetLocation/s3Uri"))
            .and_then(Value::as_str)
        else {
            return Err(invalid(format!(
                "The dataset {name} has no datasetLocation.s3Uri. Built-in datasets (Builtin.*) are not available on the local emulator: upload a JSONL of {{\"prompt\", \"referenceResponse\"}} lines and name it."
            )));
        };
        check_s3_uri("dataset.datasetLocation.s3Uri", uri)?;
        let metrics = config
            .get("metricNames")
            .and_then(Value::as_array)
            .filter(|m| (1..=25).contains(&m.len()))
            .ok_or_else(|| invalid("metricNames must hold 1 to 25 names."))?;
        for metric in metrics {
            let metric = metric.as_str().unwrap_or("");
            if UNSERVED_METRICS.contains(&metric) {
                return Err(invalid(format!(
                    "{metric} is not computed by the nova_ft emulator (it needs AWS's own classifiers); run it on Bedrock, or choose judge metrics."
                )));
            }
            if is_judge_metric(metric) && judge.is_none() {
                return Err(invalid(format!(
                    "{metric} is a judge metric: add evaluationConfig.automated.evaluatorModelConfig with the evaluator model."
                )));
            }
            let known = PROGRAMMATIC_METRICS.contains(&metric)
                || is_judge_metric(metric)
                || custom_names.iter().any(|c| c == metric);
            if !known {
                return Err(invalid(format!(
                    "The metric {metric} is neither a built-in metric nor one of customMetricConfig's metrics ({}).",
                    custom_names.join(", ")
                )));
            }
        }
    }
    Ok(())
}

/// The checks of `inferenceConfig.models`.
fn check_models(ctx: &Ctx, inference: &Value) -> Result<(), AwsError> {
    let models = inference
        .get("models")
        .and_then(Value::as_array)
        .filter(|m| (1..=2).contains(&m.len()))
        .ok_or_else(|| invalid("inferenceConfig.models must hold 1 or 2 models (RAG evaluations are not served by the emulator)."))?;
    for model in models {
        match (model.get("bedrockModel"), model.get("precomputedInferenceSource")) {
            (Some(bedrock), None) => {
                let id = bedrock
                    .get("modelIdentifier")
                    .and_then(Value::as_str)
                    .ok_or_else(|| invalid("bedrockModel.modelIdentifier is required."))?;
                if id.contains(":custom-model-deployment/") || id.contains(":custom-model/") {
                    return Err(invalid(format!(
                        "Evaluation jobs cannot invoke {id}: a custom model is evaluated through provisioned throughput, or from your own responses (precomputedInferenceSource)."
                    )));
                }
                if !id.contains(":provisioned-model/") {
                    let (_, bare) = catalog::split_identifier(id);
                    if catalog::find(bare).is_none() {
                        return Err(invalid(format!("The model identifier {id} is invalid.")));
                    }
                } else if !ctx.store.lock().provisioned.contains_key(id) {
                    return Err(AwsError::not_found(format!(
                        "Could not find the provisioned model {id}."
                    )));
                }
                if let Some(params) = bedrock.get("inferenceParams") {
                    let parsed = params
                        .as_str()
                        .and_then(|p| serde_json::from_str::<Value>(p).ok());
                    if !parsed.is_some_and(|p| p.is_object()) {
                        return Err(invalid("bedrockModel.inferenceParams must be a JSON object, as a string (for example \"{\\\"inferenceConfig\\\": {\\\"maxTokens\\\": 512}}\")."));
                    }
                }
            }
            (None, Some(source)) => {
                let id = source
                    .get("inferenceSourceIdentifier")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                if !(1..=256).contains(&id.len()) {
                    return Err(invalid(
                        "precomputedInferenceSource.inferenceSourceIdentifier must be 1 to 256 characters.",
                    ));
                }
            }
            _ => {
                return Err(invalid(
                    "Each inferenceConfig.models entry is exactly one of bedrockModel and precomputedInferenceSource.",
                ))
            }
        }
    }
    Ok(())
}

pub(super) fn create_evaluation_job(ctx: &Arc<Ctx>, req: &AwsRequest) -> Outcome {
    let map = body(req)?;
    let name = required(&map, "jobName")?;
    check_name(name)?;
    let role_arn = required(&map, "roleArn")?;
    check_role_arn(role_arn)?;
    let token = map.get("clientRequestToken").and_then(Value::as_str);
    if let Some(token) = token {
        check_token(token)?;
    }
    let application = map.get("applicationType").and_then(Value::as_str);
    if application.is_some_and(|a| a != "ModelEvaluation") {
        return Err(invalid(
            "The nova_ft emulator serves ModelEvaluation jobs only (RAG evaluations need Knowledge Bases, which it does not serve).",
        ));
    }
    let evaluation = map
        .get("evaluationConfig")
        .filter(|v| v.is_object())
        .ok_or_else(|| invalid("1 validation error detected: Value null at 'evaluationConfig' failed to satisfy constraint: Member must not be null"))?;
    if evaluation.get("human").is_some() {
        return Err(invalid(
            "Human evaluation jobs need a SageMaker human review workflow, which the nova_ft emulator does not serve; use an automated job with an evaluator model.",
        ));
    }
    let automated = evaluation
        .get("automated")
        .ok_or_else(|| invalid("evaluationConfig needs automated (or human) settings."))?;
    check_automated(automated)?;
    let inference = map
        .get("inferenceConfig")
        .filter(|v| v.is_object())
        .ok_or_else(|| invalid("1 validation error detected: Value null at 'inferenceConfig' failed to satisfy constraint: Member must not be null"))?;
    check_models(ctx, inference)?;
    let output_uri = map
        .get("outputDataConfig")
        .and_then(|c| c.get("s3Uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("1 validation error detected: Value null at 'outputDataConfig' failed to satisfy constraint: Member must not be null"))?;
    check_s3_uri("outputDataConfig.s3Uri", output_uri)?;
    let description = map.get("jobDescription").and_then(Value::as_str);

    let fingerprint = fingerprint(&map);
    let mut state = ctx.store.lock();
    if let Some(token) = token {
        if let Some(existing) = state
            .evaluation_jobs
            .values()
            .find(|j| j.client_request_token.as_deref() == Some(token))
        {
            if existing.request_fingerprint == fingerprint {
                return Ok(json(202, &json!({ "jobArn": existing.arn })));
            }
            return Err(AwsError::conflict(format!(
                "The client request token {token} was already used for a different request (job {}).",
                existing.name
            )));
        }
    }
    if state.evaluation_jobs.values().any(|j| j.name == name) {
        return Err(AwsError::conflict(format!(
            "An evaluation job with the name {name} already exists. Job names must be unique."
        )));
    }
    let arn = format!(
        "arn:aws:bedrock:{}:{}:evaluation-job/{}",
        ctx.config.region,
        ctx.config.account_id,
        random_id(12)
    );
    crate::service_role::check_role_trust(ctx, &state, role_arn, &arn)?;
    let now = Utc::now();
    let job = EvaluationJob {
        arn: arn.clone(),
        name: name.to_string(),
        description: description.map(str::to_string),
        role_arn: role_arn.to_string(),
        client_request_token: token.map(str::to_string),
        request_fingerprint: fingerprint,
        application_type: application.map(str::to_string),
        evaluation_config: evaluation.clone(),
        inference_config: inference.clone(),
        output_uri: output_uri.to_string(),
        status: EvaluationStatus::InProgress,
        failure_messages: Vec::new(),
        created: now,
        last_modified: now,
        tags: tags(&map, "jobTags"),
    };
    state.evaluation_jobs.insert(arn.clone(), job);
    ctx.commit(state, &[Touched::EvaluationJob(&arn)])?;
    evaluation_runner::spawn(Arc::clone(ctx), arn.clone());
    Ok(json(202, &json!({ "jobArn": arn })))
}

fn job_json(job: &EvaluationJob) -> Value {
    let mut out = json!({
        "jobName": job.name,
        "status": job.status.as_str(),
        "jobArn": job.arn,
        "roleArn": job.role_arn,
        "jobType": "Automated",
        "applicationType": job.application_type.as_deref().unwrap_or("ModelEvaluation"),
        "evaluationConfig": job.evaluation_config,
        "inferenceConfig": job.inference_config,
        "outputDataConfig": {"s3Uri": job.output_uri},
        "creationTime": iso_millis(job.created),
        "lastModifiedTime": iso_millis(job.last_modified),
    });
    let obj = out.as_object_mut().expect("object");
    if let Some(description) = &job.description {
        obj.insert("jobDescription".into(), json!(description));
    }
    if !job.failure_messages.is_empty() {
        obj.insert("failureMessages".into(), json!(job.failure_messages));
    }
    out
}

/// The identifiers a listing's summary names: (generator models, precomputed sources).
fn model_identifiers(job: &EvaluationJob) -> (Vec<String>, Vec<String>) {
    let mut bedrock = Vec::new();
    let mut precomputed = Vec::new();
    for model in job
        .inference_config
        .get("models")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(id) = model
            .pointer("/bedrockModel/modelIdentifier")
            .and_then(Value::as_str)
        {
            bedrock.push(id.to_string());
        }
        if let Some(id) = model
            .pointer("/precomputedInferenceSource/inferenceSourceIdentifier")
            .and_then(Value::as_str)
        {
            precomputed.push(id.to_string());
        }
    }
    (bedrock, precomputed)
}

fn summary_json(job: &EvaluationJob) -> Value {
    let automated = job.evaluation_config.get("automated");
    let tasks: Vec<Value> = automated
        .and_then(|a| a.get("datasetMetricConfigs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|c| c.get("taskType").cloned())
        .collect();
    let evaluator = |pointer: &str| -> Vec<Value> {
        automated
            .and_then(|a| a.pointer(pointer))
            .into_iter()
            .cloned()
            .collect()
    };
    let (bedrock, precomputed) = model_identifiers(job);
    let mut out = json!({
        "jobArn": job.arn,
        "jobName": job.name,
        "status": job.status.as_str(),
        "creationTime": iso_millis(job.created),
        "jobType": "Automated",
        "evaluationTaskTypes": tasks,
        "modelIdentifiers": bedrock,
        "evaluatorModelIdentifiers": evaluator("/evaluatorModelConfig/bedrockEvaluatorModels/0/modelIdentifier"),
        "inferenceConfigSummary": {"modelConfigSummary": {
            "bedrockModelIdentifiers": bedrock,
            "precomputedInferenceSourceIdentifiers": precomputed,
        }},
        "applicationType": job.application_type.as_deref().unwrap_or("ModelEvaluation"),
    });
    let custom = evaluator(
        "/customMetricConfig/evaluatorModelConfig/bedrockEvaluatorModels/0/modelIdentifier",
    );
    if !custom.is_empty() {
        out["customMetricsEvaluatorModelIdentifiers"] = json!(custom);
    }
    out
}

pub(super) fn get_evaluation_job(ctx: &Ctx, id: &str) -> Outcome {
    let state = ctx.store.lock();
    Ok(json(200, &job_json(find_evaluation_job(&state, id)?)))
}

pub(super) fn list_evaluation_jobs(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let name = req.query_value("nameContains");
    let status = req.query_value("statusEquals");
    let application = req.query_value("applicationTypeEquals");
    let jobs: Vec<&EvaluationJob> = state
        .evaluation_jobs
        .values()
        .filter(|j| name.is_none_or(|n| j.name.contains(n)))
        .filter(|j| status.is_none_or(|s| j.status.as_str() == s))
        .filter(|j| {
            application
                .is_none_or(|a| j.application_type.as_deref().unwrap_or("ModelEvaluation") == a)
        })
        .collect();
    let (jobs, next) = page(req, jobs, |j| j.created)?;
    let summaries: Vec<Value> = jobs.iter().map(|j| summary_json(j)).collect();
    Ok(json(
        200,
        &with_next(json!({ "jobSummaries": summaries }), next),
    ))
}

pub(super) fn stop_evaluation_job(ctx: &Ctx, id: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let arn = find_evaluation_job(&state, id)?.arn.clone();
    let job = state.evaluation_jobs.get_mut(&arn).expect("found above");
    if job.status != EvaluationStatus::InProgress {
        return Err(AwsError::conflict(format!(
            "The evaluation job {} is {}; only an InProgress job can be stopped.",
            job.name,
            job.status.as_str()
        )));
    }
    job.status = EvaluationStatus::Stopping;
    job.last_modified = Utc::now();
    ctx.commit(state, &[Touched::EvaluationJob(&arn)])?;
    Ok(json(200, &json!({})))
}

pub(super) fn batch_delete_evaluation_jobs(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let map: Map<String, Value> = body(req)?;
    let ids: Vec<String> = map
        .get("jobIdentifiers")
        .and_then(Value::as_array)
        .filter(|ids| (1..=25).contains(&ids.len()))
        .ok_or_else(|| invalid("jobIdentifiers must hold 1 to 25 job identifiers."))?
        .iter()
        .map(|v| v.as_str().unwrap_or_default().to_string())
        .collect();
    let mut state = ctx.store.lock();
    let mut deleted = Vec::new();
    let mut errors = Vec::new();
    let mut touched = Vec::new();
    for id in &ids {
        match find_evaluation_job(&state, id).map(|j| (j.arn.clone(), j.status)) {
            Err(e) => {
                errors.push(json!({"jobIdentifier": id, "code": e.code, "message": e.message}))
            }
            Ok((_, status)) if !status.is_final() => errors.push(json!({
                "jobIdentifier": id, "code": "ConflictException",
                "message": format!("The job is {}: stop it before deleting it.", status.as_str()),
            })),
            Ok((arn, _)) => {
                state.evaluation_jobs.remove(&arn);
                deleted.push(json!({"jobIdentifier": id, "jobStatus": "Deleting"}));
                touched.push(arn);
            }
        }
    }
    let touched: Vec<Touched<'_>> = touched.iter().map(|a| Touched::EvaluationJob(a)).collect();
    ctx.commit(state, &touched)?;
    Ok(json(
        202,
        &json!({"errors": errors, "evaluationJobs": deleted}),
    ))
}

//! Bedrock's control plane (restJson1): foundation models, model customization jobs, custom
//! models and on-demand custom model deployments, validated the way Bedrock validates them.

use super::catalog::{self, foundation_arn};
use super::jobs;
use super::request::AwsRequest;
use super::state::{Deployment, Job, JobStatus, State};
use super::wire::{iso_millis, json, random_id, AwsError, Outcome};
use super::Ctx;
use axum::http::Method;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Nova's fine-tuning hyperparameters: name, (min, max), integer?
pub const NOVA_HYPERPARAMETERS: [(&str, f64, f64, bool); 3] = [
    ("epochCount", 1.0, 5.0, true),
    ("learningRate", 1e-6, 1e-4, false),
    ("learningRateWarmupSteps", 0.0, 100.0, true),
];

fn pattern_error(field: &str, value: &str, pattern: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

fn check_job_name(field: &str, name: &str) -> Result<(), AwsError> {
    let mut chars = name.chars();
    let ok = (1..=63).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            field,
            name,
            r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*",
        ))
    }
}

/// `([0-9a-zA-Z][_-]?){1,63}`: model and deployment names (no dots, no doubled separators).
fn check_model_name(field: &str, name: &str) -> Result<(), AwsError> {
    let mut previous_separator = true;
    let ok = (1..=63).contains(&name.len())
        && name.chars().all(|c| {
            let separator = c == '_' || c == '-';
            let fine = c.is_ascii_alphanumeric() || (separator && !previous_separator);
            previous_separator = separator;
            fine
        });
    if ok {
        Ok(())
    } else {
        Err(pattern_error(field, name, "([0-9a-zA-Z][_-]?){1,63}"))
    }
}

/// Bedrock's S3Uri pattern: bucket rules, and keys of `A-Za-z0-9 - ! _ * ' ( ) .` only.
pub fn check_s3_uri(field: &str, uri: &str) -> Result<(String, String), AwsError> {
    let bad = || {
        pattern_error(
            field,
            uri,
            r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?",
        )
    };
    let rest = uri.strip_prefix("s3://").ok_or_else(bad)?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    let key_ok = key.trim_end_matches('/').split('/').all(|segment| {
        key.is_empty()
            || (!segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-!_*'().".contains(c)))
    });
    if bucket_ok && key_ok && uri.len() <= 1024 {
        Ok((bucket.to_string(), key.to_string()))
    } else {
        Err(bad())
    }
}

fn check_role_arn(arn: &str) -> Result<(), AwsError> {
    let ok = arn.split_once(":role/").is_some_and(|(head, name)| {
        !name.is_empty()
            && head.starts_with("arn:aws")
            && head.ends_with(|c: char| c.is_ascii_digit() || c == ':')
            && head.contains(":iam::")
    });
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            "roleArn",
            arn,
            r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+",
        ))
    }
}

fn check_token(token: &str) -> Result<(), AwsError> {
    let ok = (1..=256).contains(&token.len())
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && token.starts_with(|c: char| c.is_ascii_alphanumeric())
        && token.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            "clientRequestToken",
            token,
            "[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?",
        ))
    }
}

/// Check Nova hyperparameters by name and range (values arrive as strings).
pub fn check_hyperparameters(params: &BTreeMap<String, String>) -> Result<(), AwsError> {
    let accepted: Vec<&str> = NOVA_HYPERPARAMETERS.iter().map(|(n, ..)| *n).collect();
    for (name, value) in params {
        // AWS's own Nova text-to-SQL notebook sends batchSize "1"; it is accepted and ignored.
        if name == "batchSize" {
            continue;
        }
        let Some((_, min, max, integer)) = NOVA_HYPERPARAMETERS.iter().find(|(n, ..)| n == name)
        else {
            return Err(AwsError::validation(format!(
                "The hyperparameter {name} is not supported for this model. Supported hyperparameters: {}.",
                accepted.join(", ")
            )));
        };
        let parsed = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (!integer || v.fract() == 0.0));
        match parsed {
            Some(v) if v >= *min && v <= *max => {}
            _ => {
                let kind = if *integer { "an integer" } else { "a number" };
                return Err(AwsError::validation(format!(
                    "The value {value:?} of hyperparameter {name} is invalid: it must be {kind} between {min} and {max}."
                )));
            }
        }
    }
    Ok(())
}

fn body(req: &AwsRequest) -> Result<Map<String, Value>, AwsError> {
    if req.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(&req.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AwsError::new(
            400,
            "SerializationException",
            "The request body could not be read as a JSON object.",
        )),
    }
}

fn required<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, AwsError> {
    map.get(field).and_then(Value::as_str).ok_or_else(|| {
        AwsError::validation(format!("1 validation error detected: Value null at '{field}' failed to satisfy constraint: Member must not be null"))
    })
}

fn tags(map: &Map<String, Value>, field: &str) -> Vec<(String, String)> {
    map.get(field)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|t| {
                    Some((
                        t.get("key")?.as_str()?.to_string(),
                        t.get("value")?.as_str()?.to_string(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

fn parse_time(value: Option<&str>) -> Option<DateTime<Utc>> {
    value
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|t| t.with_timezone(&Utc))
}

pub fn handle(ctx: &Arc<Ctx>, req: &AwsRequest) -> Outcome {
    let segments = req.segments();
    let parts: Vec<&str> = segments.iter().map(String::as_str).collect();
    match (&req.method, parts.as_slice()) {
        (&Method::GET, ["foundation-models"]) => list_foundation_models(ctx, req),
        (&Method::GET, ["foundation-models", id]) => {
            let model = catalog::find(id)
                .ok_or_else(|| AwsError::not_found(format!("The model {id} was not found.")))?;
            Ok(json(
                200,
                &json!({ "modelDetails": catalog::summary(model, &ctx.config.region) }),
            ))
        }
        (&Method::POST, ["model-customization-jobs"]) => create_job(ctx, req),
        (&Method::GET, ["model-customization-jobs"]) => list_jobs(ctx, req),
        (&Method::GET, ["model-customization-jobs", id]) => {
            let state = ctx.store.lock();
            Ok(json(200, &job_json(find_job(&state, id)?)))
        }
        (&Method::POST, ["model-customization-jobs", id, "stop"]) => stop_job(ctx, id),
        (&Method::GET, ["custom-models"]) => list_custom_models(ctx, req),
        (&Method::GET, ["custom-models", id]) => {
            let state = ctx.store.lock();
            let model = find_model(&state, id)?;
            Ok(json(200, &model_json(&state, model)))
        }
        (&Method::DELETE, ["custom-models", id]) => delete_custom_model(ctx, id),
        (&Method::POST, ["model-customization", "custom-model-deployments"]) => {
            create_deployment(ctx, req)
        }
        (&Method::GET, ["model-customization", "custom-model-deployments"]) => {
            list_deployments(ctx, req)
        }
        (&Method::GET, ["model-customization", "custom-model-deployments", id]) => {
            let state = ctx.store.lock();
            Ok(json(
                200,
                &deployment_json(find_deployment(&state, id)?, Utc::now()),
            ))
        }
        (&Method::DELETE, ["model-customization", "custom-model-deployments", id]) => {
            let mut state = ctx.store.lock();
            let arn = find_deployment(&state, id)?.arn.clone();
            state.deployments.remove(&arn);
            ctx.save(&state)?;
            Ok(json(200, &json!({})))
        }
        _ => Err(AwsError::new(
            404,
            "UnknownOperationException",
            format!(
                "{} {} is not an operation the nova_ft emulator serves",
                req.method, req.raw_path
            ),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Foundation models

fn list_foundation_models(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let provider = req.query_value("byProvider").map(str::to_ascii_lowercase);
    let customization = req.query_value("byCustomizationType");
    let modality = req.query_value("byOutputModality");
    let inference = req.query_value("byInferenceType");
    let summaries: Vec<Value> = catalog::MODELS
        .iter()
        .filter(|_| provider.as_deref().is_none_or(|p| p == "amazon"))
        .filter(|m| customization.is_none_or(|c| m.customizations.contains(&c)))
        .filter(|_| modality.is_none_or(|m| m == "TEXT"))
        .filter(|m| {
            inference.is_none_or(|i| {
                if m.on_demand {
                    i == "ON_DEMAND"
                } else {
                    i == "PROVISIONED"
                }
            })
        })
        .map(|m| catalog::summary(m, &ctx.config.region))
        .collect();
    Ok(json(200, &json!({ "modelSummaries": summaries })))
}

// ---------------------------------------------------------------------------------------------
// Customization jobs

fn find_job<'s>(state: &'s State, id: &str) -> Result<&'s Job, AwsError> {
    state
        .jobs
        .get(id)
        .or_else(|| state.jobs.values().find(|j| j.name == id))
        .ok_or_else(|| {
            AwsError::not_found(format!(
                "Could not find a model customization job with identifier {id}."
            ))
        })
}

/// The request without its token, to tell a retry from a different request with the same token.
fn fingerprint(map: &Map<String, Value>) -> String {
    let mut copy = map.clone();
    copy.remove("clientRequestToken");
    serde_json::to_string(&copy).unwrap_or_default()
}

fn create_job(ctx: &Arc<Ctx>, req: &AwsRequest) -> Outcome {
    let map = body(req)?;
    let name = required(&map, "jobName")?;
    check_job_name("jobName", name)?;
    let model_name = required(&map, "customModelName")?;
    check_model_name("customModelName", model_name)?;
    let role_arn = required(&map, "roleArn")?;
    check_role_arn(role_arn)?;
    let token = map.get("clientRequestToken").and_then(Value::as_str);
    if let Some(token) = token {
        check_token(token)?;
    }
    let customization = map
        .get("customizationType")
        .and_then(Value::as_str)
        .unwrap_or("FINE_TUNING");
    if !matches!(customization, "FINE_TUNING" | "DISTILLATION") {
        return Err(AwsError::validation(format!(
            "The customization type {customization} is not supported for this model. The local emulator serves FINE_TUNING and DISTILLATION for Amazon Nova."
        )));
    }
    let base_id = required(&map, "baseModelIdentifier")?;
    let base = catalog::find(base_id)
        .ok_or_else(|| AwsError::validation("The provided model identifier is invalid."))?;
    if !base.customizations.contains(&customization) {
        let bases: Vec<&str> = catalog::MODELS
            .iter()
            .filter(|m| m.customizations.contains(&customization))
            .map(|m| m.id)
            .collect();
        return Err(AwsError::validation(format!(
            "The provided model identifier is invalid. {} does not support {customization}; customizable bases are {} (see ListFoundationModels with byCustomizationType={customization}).",
            base.id,
            bases.join(", ")
        )));
    }
    let training_uri = map
        .get("trainingDataConfig")
        .and_then(|c| c.get("s3Uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| {
            AwsError::validation(
                "trainingDataConfig.s3Uri is required: the emulator reads training data from S3",
            )
        })?;
    check_s3_uri("trainingDataConfig.s3Uri", training_uri)?;
    let validation_uris: Vec<String> = map
        .get("validationDataConfig")
        .and_then(|c| c.get("validators"))
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter_map(|x| x.get("s3Uri").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if validation_uris.len() > 10 {
        return Err(AwsError::validation(
            "validationDataConfig.validators may hold at most 10 entries.",
        ));
    }
    for uri in &validation_uris {
        check_s3_uri("validationDataConfig.validators.s3Uri", uri)?;
    }
    let output_uri = map
        .get("outputDataConfig")
        .and_then(|c| c.get("s3Uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| AwsError::validation("1 validation error detected: Value null at 'outputDataConfig' failed to satisfy constraint: Member must not be null"))?;
    check_s3_uri("outputDataConfig.s3Uri", output_uri)?;
    let hyperparameters: BTreeMap<String, String> = match map.get("hyperParameters") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(h)) => h
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(AwsError::new(
                    400,
                    "SerializationException",
                    format!("hyperParameters.{k} must be a string"),
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(AwsError::new(
                400,
                "SerializationException",
                "hyperParameters must be a map of strings",
            ))
        }
    };
    check_hyperparameters(&hyperparameters)?;
    let config = map.get("customizationConfig").cloned();
    if customization == "DISTILLATION" {
        let teacher = config
            .as_ref()
            .and_then(|c| c.pointer("/distillationConfig/teacherModelConfig/teacherModelIdentifier"))
            .and_then(Value::as_str)
            .ok_or_else(|| AwsError::validation("DISTILLATION needs customizationConfig.distillationConfig.teacherModelConfig.teacherModelIdentifier (Amazon Nova Pro or Nova Premier)."))?;
        let known = catalog::find(teacher)
            .map(|m| m.id.split(':').next().unwrap_or(m.id).to_string() + ":0");
        if !known.is_some_and(|id| catalog::TEACHERS.contains(&id.as_str())) {
            return Err(AwsError::validation(format!(
                "The teacher model {teacher} is not supported for distilling {}. Use one of: {}.",
                base.id,
                catalog::TEACHERS.join(", ")
            )));
        }
    }

    let fingerprint = fingerprint(&map);
    let mut state = ctx.store.lock();
    if let Some(token) = token {
        if let Some(existing) = state
            .jobs
            .values()
            .find(|j| j.client_request_token.as_deref() == Some(token))
        {
            if existing.request_fingerprint == fingerprint {
                return Ok(json(201, &json!({ "jobArn": existing.arn })));
            }
            return Err(AwsError::conflict(format!("The client request token {token} was already used for a different request (job {}).", existing.name)));
        }
    }
    if state.jobs.values().any(|j| j.name == name) {
        return Err(AwsError::conflict(format!("A model customization job with the name {name} already exists. Job names must be unique.")));
    }
    if state.custom_models.values().any(|m| m.name == model_name)
        || state
            .jobs
            .values()
            .any(|j| j.custom_model_name == model_name && !j.status.is_final())
    {
        return Err(AwsError::conflict(format!("A custom model with the name {model_name} already exists. Choose another customModelName.")));
    }
    let region = &ctx.config.region;
    let arn = format!(
        "arn:aws:bedrock:{region}:{}:model-customization-job/{}/{}",
        ctx.config.account_id,
        base.id,
        random_id(12)
    );
    jobs::check_role_trust(ctx, &state, role_arn, &arn)?;
    let now = Utc::now();
    let job = Job {
        arn: arn.clone(),
        name: name.to_string(),
        custom_model_name: model_name.to_string(),
        custom_model_arn: None,
        role_arn: role_arn.to_string(),
        client_request_token: token.map(str::to_string),
        base_model_id: base.id.to_string(),
        base_model_arn: foundation_arn(region, base.id),
        customization_type: customization.to_string(),
        training_uri: training_uri.to_string(),
        validation_uris,
        output_uri: output_uri.to_string(),
        hyperparameters,
        customization_config: config,
        status: JobStatus::InProgress,
        steps: [
            "InProgress".into(),
            "NotStarted".into(),
            "NotStarted".into(),
        ],
        failure_message: None,
        created: now,
        last_modified: now,
        ended: None,
        training_loss: None,
        validation_losses: Vec::new(),
        job_tags: tags(&map, "jobTags"),
        request_fingerprint: fingerprint,
    };
    state.jobs.insert(arn.clone(), job);
    ctx.save(&state)?;
    drop(state);
    jobs::spawn(Arc::clone(ctx), arn.clone());
    Ok(json(201, &json!({ "jobArn": arn })))
}

fn stop_job(ctx: &Ctx, id: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let arn = find_job(&state, id)?.arn.clone();
    let job = state.jobs.get_mut(&arn).expect("found above");
    if job.status != JobStatus::InProgress {
        return Err(AwsError::conflict(format!(
            "The job {} is {}; only an InProgress job can be stopped.",
            job.name,
            job.status.as_str()
        )));
    }
    job.status = JobStatus::Stopping;
    job.last_modified = Utc::now();
    ctx.save(&state)?;
    Ok(json(200, &json!({})))
}

const STEP_NAMES: [&str; 3] = [
    "validationDetails",
    "dataProcessingDetails",
    "trainingDetails",
];

pub fn job_json(job: &Job) -> Value {
    let mut details = Map::new();
    for (name, status) in STEP_NAMES.iter().zip(&job.steps) {
        details.insert(
            name.to_string(),
            json!({"status": status, "creationTime": iso_millis(job.created), "lastModifiedTime": iso_millis(job.last_modified)}),
        );
    }
    let mut out = json!({
        "jobArn": job.arn,
        "jobName": job.name,
        "outputModelName": job.custom_model_name,
        "roleArn": job.role_arn,
        "status": job.status.as_str(),
        "statusDetails": details,
        "creationTime": iso_millis(job.created),
        "lastModifiedTime": iso_millis(job.last_modified),
        "baseModelArn": job.base_model_arn,
        "hyperParameters": job.hyperparameters,
        "trainingDataConfig": {"s3Uri": job.training_uri},
        "validationDataConfig": {"validators": job.validation_uris.iter().map(|u| json!({"s3Uri": u})).collect::<Vec<_>>()},
        "outputDataConfig": {"s3Uri": job.output_uri},
        "customizationType": job.customization_type,
    });
    let obj = out.as_object_mut().expect("object");
    if let Some(arn) = &job.custom_model_arn {
        obj.insert("outputModelArn".into(), json!(arn));
    }
    if let Some(token) = &job.client_request_token {
        obj.insert("clientRequestToken".into(), json!(token));
    }
    if let Some(message) = &job.failure_message {
        obj.insert("failureMessage".into(), json!(message));
    }
    if let Some(ended) = job.ended {
        obj.insert("endTime".into(), json!(iso_millis(ended)));
    }
    if let Some(loss) = job.training_loss {
        obj.insert("trainingMetrics".into(), json!({"trainingLoss": loss}));
    }
    if !job.validation_losses.is_empty() {
        obj.insert(
            "validationMetrics".into(),
            json!(job
                .validation_losses
                .iter()
                .map(|l| json!({"validationLoss": l}))
                .collect::<Vec<_>>()),
        );
    }
    if let Some(config) = &job.customization_config {
        obj.insert("customizationConfig".into(), config.clone());
    }
    out
}

/// Sort, filter and page a listing the way Bedrock's List* calls do.
fn page<T>(
    req: &AwsRequest,
    mut items: Vec<T>,
    created: impl Fn(&T) -> DateTime<Utc>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let after = parse_time(
        req.query_value("creationTimeAfter")
            .or(req.query_value("createdAfter")),
    );
    let before = parse_time(
        req.query_value("creationTimeBefore")
            .or(req.query_value("createdBefore")),
    );
    items.retain(|i| after.is_none_or(|a| created(i) > a) && before.is_none_or(|b| created(i) < b));
    items.sort_by_key(|i| created(i));
    if req.query_value("sortOrder") != Some("Ascending") {
        items.reverse();
    }
    let max = req
        .query_value("maxResults")
        .and_then(|m| m.parse::<usize>().ok())
        .unwrap_or(1000);
    if !(1..=1000).contains(&max) {
        return Err(AwsError::validation(
            "maxResults must be between 1 and 1000.",
        ));
    }
    let start = match req.query_value("nextToken") {
        Some(token) => BASE64
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| AwsError::validation("The nextToken is invalid."))?,
        None => 0,
    };
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| BASE64.encode((start + max).to_string()));
    Ok((page, next))
}

fn with_next(mut value: Value, next: Option<String>) -> Value {
    if let Some(token) = next {
        value
            .as_object_mut()
            .expect("object")
            .insert("nextToken".into(), json!(token));
    }
    value
}

fn list_jobs(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let name = req.query_value("nameContains");
    let status = req.query_value("statusEquals");
    let jobs: Vec<&Job> = state
        .jobs
        .values()
        .filter(|j| name.is_none_or(|n| j.name.contains(n)))
        .filter(|j| status.is_none_or(|s| j.status.as_str() == s))
        .collect();
    let (jobs, next) = page(req, jobs, |j| j.created)?;
    let summaries: Vec<Value> = jobs
        .iter()
        .map(|j| {
            let mut s = json!({
                "jobArn": j.arn, "baseModelArn": j.base_model_arn, "jobName": j.name, "status": j.status.as_str(),
                "lastModifiedTime": iso_millis(j.last_modified), "creationTime": iso_millis(j.created),
                "customModelName": j.custom_model_name, "customizationType": j.customization_type,
            });
            let obj = s.as_object_mut().expect("object");
            if let Some(arn) = &j.custom_model_arn {
                obj.insert("customModelArn".into(), json!(arn));
            }
            if let Some(ended) = j.ended {
                obj.insert("endTime".into(), json!(iso_millis(ended)));
            }
            s
        })
        .collect();
    Ok(json(
        200,
        &with_next(json!({ "modelCustomizationJobSummaries": summaries }), next),
    ))
}

// ---------------------------------------------------------------------------------------------
// Custom models

fn find_model<'s>(state: &'s State, id: &str) -> Result<&'s super::state::CustomModel, AwsError> {
    state
        .custom_models
        .get(id)
        .or_else(|| state.custom_models.values().find(|m| m.name == id))
        .ok_or_else(|| {
            AwsError::not_found(format!(
                "Could not find a custom model with identifier {id}."
            ))
        })
}

fn model_json(state: &State, model: &super::state::CustomModel) -> Value {
    let job = state.jobs.get(&model.job_arn);
    let mut out = json!({
        "modelArn": model.arn,
        "modelName": model.name,
        "jobArn": model.job_arn,
        "creationTime": iso_millis(model.created),
        "modelStatus": "Active",
        "description": model.description,
    });
    if let (Some(job), Some(obj)) = (job, out.as_object_mut()) {
        obj.insert("jobName".into(), json!(job.name));
        obj.insert("baseModelArn".into(), json!(job.base_model_arn));
        obj.insert("customizationType".into(), json!(job.customization_type));
        obj.insert("hyperParameters".into(), json!(job.hyperparameters));
        obj.insert(
            "trainingDataConfig".into(),
            json!({"s3Uri": job.training_uri}),
        );
        obj.insert("validationDataConfig".into(), json!({"validators": job.validation_uris.iter().map(|u| json!({"s3Uri": u})).collect::<Vec<_>>()}));
        obj.insert("outputDataConfig".into(), json!({"s3Uri": job.output_uri}));
        if let Some(loss) = job.training_loss {
            obj.insert("trainingMetrics".into(), json!({"trainingLoss": loss}));
        }
        if let Some(config) = &job.customization_config {
            obj.insert("customizationConfig".into(), config.clone());
        }
    }
    out
}

fn list_custom_models(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let name = req.query_value("nameContains");
    let models: Vec<_> = state
        .custom_models
        .values()
        .filter(|m| name.is_none_or(|n| m.name.contains(n)))
        .collect();
    let (models, next) = page(req, models, |m| m.created)?;
    let summaries: Vec<Value> = models
        .iter()
        .map(|m| {
            let job = state.jobs.get(&m.job_arn);
            let base = job.map(|j| j.base_model_arn.clone()).unwrap_or_default();
            let base_name = job
                .map(|j| {
                    j.base_model_id
                        .split(':')
                        .next()
                        .unwrap_or_default()
                        .to_string()
                })
                .unwrap_or_default();
            json!({
                "modelArn": m.arn, "modelName": m.name, "creationTime": iso_millis(m.created),
                "baseModelArn": base, "baseModelName": base_name,
                "customizationType": job.map(|j| j.customization_type.clone()).unwrap_or_default(),
                "ownerAccountId": ctx.config.account_id, "modelStatus": "Active",
            })
        })
        .collect();
    Ok(json(
        200,
        &with_next(json!({ "modelSummaries": summaries }), next),
    ))
}

fn delete_custom_model(ctx: &Ctx, id: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let model = find_model(&state, id)?.clone();
    if let Some(d) = state
        .deployments
        .values()
        .find(|d| d.model_arn == model.arn)
    {
        return Err(AwsError::conflict(format!(
            "The custom model {} is used by deployment {}; delete the deployment first.",
            model.name, d.name
        )));
    }
    state.custom_models.remove(&model.arn);
    ctx.save(&state)?;
    drop(state);
    if let Some(artifact) = &model.artifact {
        let _ = std::fs::remove_file(ctx.store.dir().join(artifact));
    }
    Ok(json(200, &json!({})))
}

// ---------------------------------------------------------------------------------------------
// Deployments

fn find_deployment<'s>(state: &'s State, id: &str) -> Result<&'s Deployment, AwsError> {
    state
        .deployments
        .get(id)
        .or_else(|| state.deployments.values().find(|d| d.name == id))
        .ok_or_else(|| {
            AwsError::not_found(format!(
                "Could not find a custom model deployment with identifier {id}."
            ))
        })
}

pub fn deployment_status(deployment: &Deployment, now: DateTime<Utc>) -> &'static str {
    if now >= deployment.active_at {
        "Active"
    } else {
        "Creating"
    }
}

fn deployment_json(d: &Deployment, now: DateTime<Utc>) -> Value {
    let mut out = json!({
        "customModelDeploymentArn": d.arn,
        "modelDeploymentName": d.name,
        "modelArn": d.model_arn,
        "createdAt": iso_millis(d.created),
        "status": deployment_status(d, now),
        "lastUpdatedAt": iso_millis(if now >= d.active_at { d.active_at } else { d.created }),
    });
    if let Some(description) = &d.description {
        out.as_object_mut()
            .expect("object")
            .insert("description".into(), json!(description));
    }
    out
}

fn create_deployment(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let map = body(req)?;
    let name = required(&map, "modelDeploymentName")?;
    check_model_name("modelDeploymentName", name)?;
    let model_arn = required(&map, "modelArn")?;
    let token = map.get("clientRequestToken").and_then(Value::as_str);
    if let Some(token) = token {
        check_token(token)?;
    }
    let description = map.get("description").and_then(Value::as_str);
    let mut state = ctx.store.lock();
    if let Some(token) = token {
        if let Some(existing) = state
            .deployments
            .values()
            .find(|d| d.client_request_token.as_deref() == Some(token))
        {
            if existing.name == name && existing.model_arn == model_arn {
                return Ok(json(
                    202,
                    &json!({ "customModelDeploymentArn": existing.arn }),
                ));
            }
            return Err(AwsError::validation(format!("The client request token {token} was already used for a different deployment ({}).", existing.name)));
        }
    }
    let model = state
        .custom_models
        .get(model_arn)
        .ok_or_else(|| AwsError::not_found(format!("Could not find a custom model with ARN {model_arn}. Pass the outputModelArn of a completed customization job.")))?;
    let model_arn = model.arn.clone();
    if state.deployments.values().any(|d| d.name == name) {
        return Err(AwsError::validation(format!(
            "A custom model deployment with the name {name} already exists."
        )));
    }
    let now = Utc::now();
    let delay = chrono::Duration::from_std(ctx.config.deployment_delay).unwrap_or_default();
    let arn = format!(
        "arn:aws:bedrock:{}:{}:custom-model-deployment/{}",
        ctx.config.region,
        ctx.config.account_id,
        random_id(12)
    );
    state.deployments.insert(
        arn.clone(),
        Deployment {
            arn: arn.clone(),
            name: name.to_string(),
            model_arn,
            description: description.map(str::to_string),
            client_request_token: token.map(str::to_string),
            created: now,
            active_at: now + delay,
            tags: tags(&map, "tags"),
        },
    );
    ctx.save(&state)?;
    Ok(json(202, &json!({ "customModelDeploymentArn": arn })))
}

fn list_deployments(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let now = Utc::now();
    let name = req.query_value("nameContains");
    let status = req.query_value("statusEquals");
    let model = req.query_value("modelArnEquals");
    let items: Vec<&Deployment> = state
        .deployments
        .values()
        .filter(|d| name.is_none_or(|n| d.name.contains(n)))
        .filter(|d| status.is_none_or(|s| deployment_status(d, now) == s))
        .filter(|d| model.is_none_or(|m| d.model_arn == m))
        .collect();
    let (items, next) = page(req, items, |d| d.created)?;
    let summaries: Vec<Value> = items
        .iter()
        .map(|d| {
            json!({
                "customModelDeploymentArn": d.arn, "customModelDeploymentName": d.name, "modelArn": d.model_arn,
                "createdAt": iso_millis(d.created), "status": deployment_status(d, now),
                "lastUpdatedAt": iso_millis(if now >= d.active_at { d.active_at } else { d.created }),
            })
        })
        .collect();
    Ok(json(
        200,
        &with_next(json!({ "modelDeploymentSummaries": summaries }), next),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_uris_and_arns_follow_bedrock_patterns() {
        assert!(check_job_name("jobName", "nova-micro-intent-sft").is_ok());
        assert!(check_job_name("jobName", "-bad").is_err());
        assert!(check_model_name("customModelName", "nova-micro-intent").is_ok());
        assert!(check_model_name("customModelName", "has.dot").is_err());
        assert!(check_model_name("customModelName", "double--dash").is_err());
        assert_eq!(
            check_s3_uri("f", "s3://bucket-1/training-data/train.jsonl").unwrap(),
            ("bucket-1".into(), "training-data/train.jsonl".into())
        );
        assert!(
            check_s3_uri("f", "s3://bucket-1/out/2025-07-20T12:00:00/").is_err(),
            "colons are not allowed in keys"
        );
        assert!(check_s3_uri("f", "s3://Bucket/x").is_err());
        assert!(check_role_arn("arn:aws:iam::123456789012:role/BedrockNovaFineTune").is_ok());
        assert!(check_role_arn("arn:aws:s3:::bucket").is_err());
    }

    #[test]
    fn nova_hyperparameters_are_checked_by_name_and_range() {
        let ok: BTreeMap<String, String> = [
            ("epochCount", "3"),
            ("learningRate", "0.00001"),
            ("learningRateWarmupSteps", "10"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert!(check_hyperparameters(&ok).is_ok());
        let wrong_key: BTreeMap<String, String> =
            [("learningRateMultiplier".to_string(), "1.0".to_string())].into();
        let err = check_hyperparameters(&wrong_key).unwrap_err();
        assert!(err.message.contains("learningRate") && err.message.contains("epochCount"));
        for (k, v) in [
            ("epochCount", "6"),
            ("epochCount", "2.5"),
            ("learningRate", "0.01"),
            ("learningRateWarmupSteps", "-1"),
        ] {
            let bad: BTreeMap<String, String> = [(k.to_string(), v.to_string())].into();
            assert!(check_hyperparameters(&bad).is_err(), "{k}={v}");
        }
    }
}

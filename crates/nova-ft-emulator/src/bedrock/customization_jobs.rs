//! Model customization jobs: create (validated as Bedrock does, then run by the local
//! trainer), stop, get, list.

use super::checks::{
    check_hyperparameters, check_job_name, check_model_name, check_rft_config, check_role_arn,
    check_s3_uri, check_token,
};
use super::paging::find_by_id;
use super::paging::{page, with_next};
use super::{body, required, tags};
use crate::catalog::{self, foundation_arn};
use crate::request::AwsRequest;
use crate::state::{Job, JobStatus, State};
use crate::store::Touched;
use crate::trainer;
use crate::wire::{iso_millis, json, random_id, AwsError, Outcome};
use crate::Ctx;
use chrono::Utc;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

pub(super) fn find_job<'s>(state: &'s State, id: &str) -> Result<&'s Job, AwsError> {
    find_by_id(&state.jobs, id, |j| &j.name, "model customization job")
}

/// A digest of the request without its token, to tell a retry from a different request with
/// the same token (a digest: the request itself may be large, and is not stored).
pub(super) fn fingerprint(map: &Map<String, Value>) -> String {
    use sha2::{Digest, Sha256};
    let mut copy = map.clone();
    copy.remove("clientRequestToken");
    hex::encode(Sha256::digest(
        serde_json::to_vec(&copy).unwrap_or_default(),
    ))
}

/// The members of `customizationConfig` Bedrock models, and only those: what a job keeps and
/// reports back. Anything else a client sent is dropped, however large.
fn modelled_customization_config(config: Option<&Value>) -> Option<Value> {
    let teacher = config?.pointer("/distillationConfig/teacherModelConfig")?;
    let mut kept = Map::new();
    for (name, wanted) in [
        (
            "teacherModelIdentifier",
            Value::is_string as fn(&Value) -> bool,
        ),
        ("maxResponseLengthForInference", Value::is_i64),
    ] {
        if let Some(value) = teacher.get(name).filter(|v| wanted(v)) {
            kept.insert(name.into(), value.clone());
        }
    }
    Some(json!({ "distillationConfig": { "teacherModelConfig": kept } }))
}

/// Iterative fine-tuning: a custom model of this account as the base of a new FINE_TUNING
/// job. Returns (its ARN, the foundation model it was tuned from); `None` for a foundation id.
/// Only models Bedrock fine-tuned can continue (not distilled, RFT-tuned or imported ones).
fn iterative_parent(
    ctx: &Ctx,
    base_id: &str,
    customization: &str,
) -> Result<Option<(String, String)>, AwsError> {
    if !base_id.contains(":custom-model/") {
        return Ok(None);
    }
    let state = ctx.store.lock();
    let model = state.custom_models.get(base_id).ok_or_else(|| {
        AwsError::validation(format!("The provided model identifier is invalid: no custom model {base_id} in this account and region."))
    })?;
    let job = state.jobs.get(&model.job_arn);
    let tuned = job.is_some_and(|j| j.customization_type == "FINE_TUNING");
    if customization != "FINE_TUNING" || !tuned {
        return Err(AwsError::validation(format!(
            "Iterative customization continues a model Bedrock fine-tuned with a new FINE_TUNING job; {base_id} is {} and this job is {customization}.",
            job.map_or("an imported model", |j| j.customization_type.as_str())
        )));
    }
    let foundation = job.map(|j| j.base_model_arn.clone()).unwrap_or_default();
    Ok(Some((base_id.to_string(), foundation)))
}

pub(super) fn create_job(ctx: &Arc<Ctx>, req: &AwsRequest) -> Outcome {
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
    if !matches!(
        customization,
        "FINE_TUNING" | "DISTILLATION" | "REINFORCEMENT_FINE_TUNING"
    ) {
        return Err(AwsError::validation(format!(
            "The customization type {customization} is not supported for this model. The local emulator serves FINE_TUNING, DISTILLATION and REINFORCEMENT_FINE_TUNING for Amazon Nova."
        )));
    }
    let base_id = required(&map, "baseModelIdentifier")?;
    let (parent_model_arn, foundation) = match iterative_parent(ctx, base_id, customization)? {
        Some((parent, foundation)) => (Some(parent), Some(foundation)),
        None => (None, None),
    };
    let base_id = foundation.as_deref().unwrap_or(base_id);
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
    // Nova 2 takes no validation set for supervised fine-tuning (Nova user guide); its RFT
    // jobs do, as AWS's own RFT samples send one (nova_gsm8k_rft, nova_finqa_rft).
    if base.id.starts_with("amazon.nova-2")
        && customization != "REINFORCEMENT_FINE_TUNING"
        && !validation_uris.is_empty()
    {
        return Err(AwsError::validation(format!(
            "{} does not support validation data: remove validationDataConfig.",
            base.id
        )));
    }
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
    let config = if customization == "REINFORCEMENT_FINE_TUNING" {
        if !hyperparameters.is_empty() {
            return Err(AwsError::validation("REINFORCEMENT_FINE_TUNING takes its hyperparameters, typed, in customizationConfig.rftConfig.hyperParameters; remove hyperParameters."));
        }
        Some(check_rft_config(map.get("customizationConfig"))?)
    } else {
        check_hyperparameters(&hyperparameters)?;
        modelled_customization_config(map.get("customizationConfig"))
    };
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
    crate::service_role::check_role_trust(ctx, &state, role_arn, &arn)?;
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
        parent_model_arn,
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
    ctx.commit(state, &[Touched::Job(&arn)])?;
    trainer::spawn(Arc::clone(ctx), arn.clone());
    Ok(json(201, &json!({ "jobArn": arn })))
}

pub(super) fn stop_job(ctx: &Ctx, id: &str) -> Outcome {
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
    ctx.commit(state, &[Touched::Job(&arn)])?;
    Ok(json(200, &json!({})))
}

pub(super) const STEP_NAMES: [&str; 3] = [
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
    });
    let obj = out.as_object_mut().expect("object");
    insert_training_setup(obj, job);
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
    out
}

/// What a job was set up with, as GetModelCustomizationJob and GetCustomModel both report it:
/// base model, type, hyperparameters, data and output locations, training metrics, config.
pub(super) fn insert_training_setup(obj: &mut Map<String, Value>, job: &Job) {
    let validators: Vec<Value> = job
        .validation_uris
        .iter()
        .map(|u| json!({"s3Uri": u}))
        .collect();
    obj.insert(
        "baseModelArn".into(),
        json!(job.parent_model_arn.as_ref().unwrap_or(&job.base_model_arn)),
    );
    obj.insert("customizationType".into(), json!(job.customization_type));
    obj.insert("hyperParameters".into(), json!(job.hyperparameters));
    obj.insert(
        "trainingDataConfig".into(),
        json!({"s3Uri": job.training_uri}),
    );
    obj.insert(
        "validationDataConfig".into(),
        json!({ "validators": validators }),
    );
    obj.insert("outputDataConfig".into(), json!({"s3Uri": job.output_uri}));
    if let Some(loss) = job.training_loss {
        obj.insert("trainingMetrics".into(), json!({"trainingLoss": loss}));
    }
    if let Some(config) = &job.customization_config {
        obj.insert("customizationConfig".into(), config.clone());
    }
}

pub(super) fn list_jobs(ctx: &Ctx, req: &AwsRequest) -> Outcome {
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
                "jobArn": j.arn, "baseModelArn": j.parent_model_arn.as_ref().unwrap_or(&j.base_model_arn), "jobName": j.name, "status": j.status.as_str(),
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

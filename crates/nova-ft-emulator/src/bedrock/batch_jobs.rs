//! Batch inference jobs (CreateModelInvocationJob): create (validated as Bedrock does, then run
//! by [`crate::batch_runner`]), stop, get, list.

use super::checks::{check_job_name, check_role_arn, check_s3_uri, check_token};
use super::customization_jobs::fingerprint;
use super::paging::{find_by_arn_or_id, page, with_next};
use super::{body, required, tags};
use crate::batch_runner;
use crate::bedrock_runtime::BatchModel;
use crate::catalog::foundation_arn;
use crate::request::AwsRequest;
use crate::state::{BatchJob, BatchStatus, State};
use crate::store::Touched;
use crate::wire::{iso_millis, json, random_id, AwsError, Outcome};
use crate::Ctx;
use chrono::{Duration, Utc};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// `timeoutDurationInHours`: 24 to 168, 24 when not given (the Bedrock user guide's default).
const TIMEOUT_HOURS: (i64, i64, i64) = (24, 168, 24);

/// A job by ARN or by its id (the ARN's last 12 characters), as `jobIdentifier` names it.
pub(super) fn find_batch_job<'s>(state: &'s State, id: &str) -> Result<&'s BatchJob, AwsError> {
    find_by_arn_or_id(&state.batch_jobs, id, "a model invocation job")
}

/// The modelled members of `inputDataConfig.s3InputDataConfig` (or the output's), as sent,
/// with `s3BucketOwner` filled in as Bedrock reports it, and its `s3Uri`.
fn s3_config(
    map: &Map<String, Value>,
    outer: &str,
    inner: &str,
    members: &[&str],
    account: &str,
) -> Result<(Value, String), AwsError> {
    let config = map
        .get(outer)
        .and_then(|c| c.get(inner))
        .ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value null at '{outer}.{inner}' failed to satisfy constraint: Member must not be null"
            ))
        })?;
    let uri = config
        .get("s3Uri")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value null at '{outer}.{inner}.s3Uri' failed to satisfy constraint: Member must not be null"
            ))
        })?;
    check_s3_uri(&format!("{outer}.{inner}.s3Uri"), uri)?;
    let mut kept = Map::new();
    for member in members {
        if let Some(value) = config.get(*member).filter(|v| v.is_string()) {
            kept.insert((*member).to_string(), value.clone());
        }
    }
    kept.entry("s3BucketOwner")
        .or_insert_with(|| json!(account));
    Ok((json!({ inner: kept }), uri.to_string()))
}

pub(super) fn create_batch_job(ctx: &Arc<Ctx>, req: &AwsRequest) -> Outcome {
    let map = body(req)?;
    let name = required(&map, "jobName")?;
    check_job_name("jobName", name)?;
    let role_arn = required(&map, "roleArn")?;
    check_role_arn(role_arn)?;
    let model_id = required(&map, "modelId")?;
    let token = map.get("clientRequestToken").and_then(Value::as_str);
    if let Some(token) = token {
        check_token(token)?;
    }
    let (input_config, input_uri) = s3_config(
        &map,
        "inputDataConfig",
        "s3InputDataConfig",
        &["s3Uri", "s3InputFormat", "s3BucketOwner"],
        &ctx.config.account_id,
    )?;
    if let Some(format) = input_config.pointer("/s3InputDataConfig/s3InputFormat") {
        if format != "JSONL" {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value {format} at 'inputDataConfig.s3InputDataConfig.s3InputFormat' failed to satisfy constraint: Member must satisfy enum value set: [JSONL]"
            )));
        }
    }
    let (output_config, output_uri) = s3_config(
        &map,
        "outputDataConfig",
        "s3OutputDataConfig",
        &["s3Uri", "s3EncryptionKeyId", "s3BucketOwner"],
        &ctx.config.account_id,
    )?;
    let invocation_type = match map.get("modelInvocationType") {
        None | Some(Value::Null) => None,
        Some(Value::String(t)) if t == "InvokeModel" || t == "Converse" => Some(t.clone()),
        Some(other) => {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value {other} at 'modelInvocationType' failed to satisfy constraint: Member must satisfy enum value set: [InvokeModel, Converse]"
            )))
        }
    };
    let (low, high, default) = TIMEOUT_HOURS;
    let timeout = match map.get("timeoutDurationInHours") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_i64().filter(|h| (low..=high).contains(h)).ok_or_else(|| {
            AwsError::validation(format!(
                "1 validation error detected: Value {v} at 'timeoutDurationInHours' failed to satisfy constraint: Member must have value between {low} and {high}"
            ))
        })?),
    };
    BatchModel::resolve(ctx, model_id)?;
    // Bedrock reports a foundation model by its ARN, however it was named.
    let model_id = match crate::catalog::split_identifier(model_id) {
        (None, id) if !model_id.starts_with("arn:") && crate::catalog::find(id).is_some() => {
            foundation_arn(&ctx.config.region, id)
        }
        _ => model_id.to_string(),
    };

    let fingerprint = fingerprint(&map);
    let mut state = ctx.store.lock();
    if let Some(token) = token {
        if let Some(existing) = state
            .batch_jobs
            .values()
            .find(|j| j.client_request_token.as_deref() == Some(token))
        {
            if existing.request_fingerprint == fingerprint {
                return Ok(json(200, &json!({ "jobArn": existing.arn })));
            }
            return Err(AwsError::conflict(format!(
                "The client request token {token} was already used for a different request (job {}).",
                existing.name
            )));
        }
    }
    if state.batch_jobs.values().any(|j| j.name == name) {
        return Err(AwsError::conflict(format!(
            "A model invocation job with the name {name} already exists. Job names must be unique."
        )));
    }
    let arn = format!(
        "arn:aws:bedrock:{}:{}:model-invocation-job/{}",
        ctx.config.region,
        ctx.config.account_id,
        random_id(12)
    );
    crate::service_role::check_role_trust(ctx, &state, role_arn, &arn)?;
    let now = Utc::now();
    let job = BatchJob {
        arn: arn.clone(),
        name: name.to_string(),
        model_id,
        role_arn: role_arn.to_string(),
        client_request_token: token.map(str::to_string),
        request_fingerprint: fingerprint,
        input_config,
        output_config,
        input_uri,
        output_uri,
        invocation_type,
        timeout_hours: timeout.map(|h| h as u32),
        vpc_config: map.get("vpcConfig").filter(|v| v.is_object()).cloned(),
        status: BatchStatus::Submitted,
        message: None,
        submitted: now,
        last_modified: now,
        ended: None,
        expires: now + Duration::hours(timeout.unwrap_or(default)),
        counts: None,
        tags: tags(&map, "tags"),
    };
    state.batch_jobs.insert(arn.clone(), job);
    ctx.commit(state, &[Touched::BatchJob(&arn)])?;
    batch_runner::spawn(Arc::clone(ctx), arn.clone());
    Ok(json(200, &json!({ "jobArn": arn })))
}

pub(super) fn stop_batch_job(ctx: &Ctx, id: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let arn = find_batch_job(&state, id)?.arn.clone();
    let job = state.batch_jobs.get_mut(&arn).expect("found above");
    if job.status.is_final() || job.status == BatchStatus::Stopping {
        return Err(AwsError::conflict(format!(
            "The job {} is {}; only a job that has not ended can be stopped.",
            job.name,
            job.status.as_str()
        )));
    }
    job.status = BatchStatus::Stopping;
    job.last_modified = Utc::now();
    ctx.commit(state, &[Touched::BatchJob(&arn)])?;
    Ok(json(200, &json!({})))
}

/// GetModelInvocationJob's answer; the listing's summaries have the same members.
pub fn batch_job_json(job: &BatchJob) -> Value {
    let mut out = json!({
        "jobArn": job.arn,
        "jobName": job.name,
        "modelId": job.model_id,
        "roleArn": job.role_arn,
        "status": job.status.as_str(),
        "submitTime": iso_millis(job.submitted),
        "lastModifiedTime": iso_millis(job.last_modified),
        "inputDataConfig": job.input_config,
        "outputDataConfig": job.output_config,
        "timeoutDurationInHours": job.timeout_hours.unwrap_or(TIMEOUT_HOURS.2 as u32),
        "jobExpirationTime": iso_millis(job.expires),
    });
    let obj = out.as_object_mut().expect("object");
    if let Some(token) = &job.client_request_token {
        obj.insert("clientRequestToken".into(), json!(token));
    }
    if let Some(message) = &job.message {
        obj.insert("message".into(), json!(message));
    }
    if let Some(ended) = job.ended {
        obj.insert("endTime".into(), json!(iso_millis(ended)));
    }
    if let Some(kind) = &job.invocation_type {
        obj.insert("modelInvocationType".into(), json!(kind));
    }
    if let Some(vpc) = &job.vpc_config {
        obj.insert("vpcConfig".into(), vpc.clone());
    }
    if let Some(c) = job.counts {
        obj.insert("totalRecordCount".into(), json!(c.total));
        obj.insert("processedRecordCount".into(), json!(c.processed));
        obj.insert("successRecordCount".into(), json!(c.success));
        obj.insert("errorRecordCount".into(), json!(c.error));
    }
    out
}

pub(super) fn get_batch_job(ctx: &Ctx, id: &str) -> Outcome {
    let state = ctx.store.lock();
    Ok(json(200, &batch_job_json(find_batch_job(&state, id)?)))
}

pub(super) fn list_batch_jobs(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let name = req.query_value("nameContains");
    let status = req.query_value("statusEquals");
    let jobs: Vec<&BatchJob> = state
        .batch_jobs
        .values()
        .filter(|j| name.is_none_or(|n| j.name.contains(n)))
        .filter(|j| status.is_none_or(|s| j.status.as_str() == s))
        .collect();
    let (jobs, next) = page(req, jobs, |j| j.submitted)?;
    let summaries: Vec<Value> = jobs.iter().map(|j| batch_job_json(j)).collect();
    Ok(json(
        200,
        &with_next(json!({ "invocationJobSummaries": summaries }), next),
    ))
}

//! Bedrock's control plane (restJson1): foundation models, model customization jobs, custom
//! models and on-demand custom model deployments, validated the way Bedrock validates them.

mod batch_jobs;
mod checks;
mod custom_models;
mod customization_jobs;
mod deployments;
mod evaluation_jobs;
mod foundation_models;
mod imported_models;
mod inference_profiles;
mod paging;
mod provisioned;
#[cfg(test)]
mod tests;

pub use batch_jobs::batch_job_json;
pub use checks::{check_hyperparameters, check_s3_uri};
pub use customization_jobs::job_json;
pub use deployments::deployment_status;
pub use imported_models::export_model;
pub use provisioned::{provisioned_status, serving_model};

use super::operations;
use super::request::AwsRequest;
use super::store::Touched;
use super::wire::{json, AwsError, Outcome};
use super::{catalog, Ctx};
use axum::http::Method;
use batch_jobs::{create_batch_job, get_batch_job, list_batch_jobs, stop_batch_job};
use chrono::{DateTime, Utc};
use custom_models::{delete_custom_model, find_model, list_custom_models, model_json};
use customization_jobs::{create_job, find_job, list_jobs, stop_job};
use deployments::{
    create_deployment, deployment_json, find_deployment, list_deployments, update_deployment,
};
use evaluation_jobs::{
    batch_delete_evaluation_jobs, create_evaluation_job, get_evaluation_job, list_evaluation_jobs,
    stop_evaluation_job,
};
use foundation_models::list_foundation_models;
use inference_profiles::{get_inference_profile, list_inference_profiles};
use provisioned::{
    create_provisioned, delete_provisioned, get_provisioned, list_provisioned, update_provisioned,
};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Nova's fine-tuning hyperparameters: name, (min, max), integer?
pub const NOVA_HYPERPARAMETERS: [(&str, f64, f64, bool); 3] = [
    ("epochCount", 1.0, 5.0, true),
    ("learningRate", 1e-6, 1e-4, false),
    ("learningRateWarmupSteps", 0.0, 100.0, true),
];

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
            let stand_in = ctx.config.models.stand_in_name();
            let details = catalog::summary(model, &ctx.config.region, stand_in);
            Ok(json(200, &json!({ "modelDetails": details })))
        }
        (&Method::GET, ["inference-profiles"]) => list_inference_profiles(ctx, req),
        (&Method::GET, ["inference-profiles", id]) => get_inference_profile(ctx, id),
        (&Method::POST, ["provisioned-model-throughput"]) => create_provisioned(ctx, req),
        (&Method::GET, ["provisioned-model-throughputs"]) => list_provisioned(ctx, req),
        (&Method::GET, ["provisioned-model-throughput", id]) => get_provisioned(ctx, id),
        (&Method::PATCH, ["provisioned-model-throughput", id]) => update_provisioned(ctx, req, id),
        (&Method::DELETE, ["provisioned-model-throughput", id]) => delete_provisioned(ctx, id),
        (&Method::POST, ["evaluation-jobs"]) => create_evaluation_job(ctx, req),
        (&Method::GET, ["evaluation-jobs"]) => list_evaluation_jobs(ctx, req),
        (&Method::POST, ["evaluation-jobs", "batch-delete"]) => {
            batch_delete_evaluation_jobs(ctx, req)
        }
        (&Method::GET, ["evaluation-jobs", id]) => get_evaluation_job(ctx, id),
        (&Method::POST, ["evaluation-job", id, "stop"]) => stop_evaluation_job(ctx, id),
        (&Method::POST, ["model-invocation-job"]) => create_batch_job(ctx, req),
        (&Method::GET, ["model-invocation-jobs"]) => list_batch_jobs(ctx, req),
        (&Method::GET, ["model-invocation-job", id]) => get_batch_job(ctx, id),
        (&Method::POST, ["model-invocation-job", id, "stop"]) => stop_batch_job(ctx, id),
        (&Method::POST, ["model-customization-jobs"]) => create_job(ctx, req),
        (&Method::GET, ["model-customization-jobs"]) => list_jobs(ctx, req),
        (&Method::GET, ["model-customization-jobs", id]) => {
            let state = ctx.store.lock();
            Ok(json(200, &job_json(find_job(&state, id)?)))
        }
        (&Method::POST, ["model-customization-jobs", id, "stop"]) => stop_job(ctx, id),
        (&Method::POST, ["custom-models", "create-custom-model"]) => {
            imported_models::create_custom_model(ctx, req)
        }
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
        (&Method::PATCH, ["model-customization", "custom-model-deployments", id]) => {
            update_deployment(ctx, req, id)
        }
        (&Method::DELETE, ["model-customization", "custom-model-deployments", id]) => {
            let mut state = ctx.store.lock();
            let arn = find_deployment(&state, id)?.arn.clone();
            state.deployments.remove(&arn);
            ctx.commit(state, &[Touched::Deployment(&arn)])?;
            Ok(json(200, &json!({})))
        }
        _ => Err(operations::unsupported(
            req.service,
            &operations::rest_operation(req, None),
            req,
        )),
    }
}

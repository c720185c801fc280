//! On-demand custom model deployments: create, get, list, delete; Creating -> Active after
//! the configured delay.

use super::checks::{check_model_name, check_token};
use super::paging::{find_by_id, page, with_next};
use super::{body, required, tags};
use crate::request::AwsRequest;
use crate::state::{Deployment, DeploymentUpdate, State};
use crate::store::Touched;
use crate::wire::{iso_millis, json, random_id, AwsError, Outcome};
use crate::Ctx;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub(super) fn find_deployment<'s>(state: &'s State, id: &str) -> Result<&'s Deployment, AwsError> {
    find_by_id(
        &state.deployments,
        id,
        |d| &d.name,
        "custom model deployment",
    )
}

pub fn deployment_status(deployment: &Deployment, now: DateTime<Utc>) -> &'static str {
    if now >= deployment.active_at {
        "Active"
    } else {
        "Creating"
    }
}

/// When the deployment last changed: its creation, its activation, or its last update.
fn last_updated(d: &Deployment, now: DateTime<Utc>) -> DateTime<Utc> {
    match &d.update {
        Some(u) if now >= u.done_at => u.done_at,
        Some(u) => u.requested,
        None if now >= d.active_at => d.active_at,
        None => d.created,
    }
}

pub(super) fn deployment_json(d: &Deployment, now: DateTime<Utc>) -> Value {
    let mut out = json!({
        "customModelDeploymentArn": d.arn,
        "modelDeploymentName": d.name,
        "modelArn": d.serving_model(now),
        "createdAt": iso_millis(d.created),
        "status": deployment_status(d, now),
        "lastUpdatedAt": iso_millis(last_updated(d, now)),
    });
    let map = out.as_object_mut().expect("object");
    if let Some(description) = &d.description {
        map.insert("description".into(), json!(description));
    }
    if let Some(update) = &d.update {
        let status = if now >= update.done_at {
            "UpdateCompleted"
        } else {
            "Updating"
        };
        map.insert(
            "updateDetails".into(),
            json!({"modelArn": update.model_arn, "updateStatus": status}),
        );
    }
    out
}

/// UpdateCustomModelDeployment: swap the model behind an Active deployment. The old model
/// answers until the swap completes (after the deployment delay).
pub(super) fn update_deployment(ctx: &Ctx, req: &AwsRequest, id: &str) -> Outcome {
    let map = body(req)?;
    let new_model = required(&map, "modelArn")?;
    let mut state = ctx.store.lock();
    let arn = find_deployment(&state, id)?.arn.clone();
    let model = state.custom_models.get(new_model).ok_or_else(|| {
        AwsError::not_found(format!(
            "Could not find a custom model with ARN {new_model}."
        ))
    })?;
    let base_of = |model_arn: &str| {
        let model = state.custom_models.get(model_arn)?;
        state
            .jobs
            .get(&model.job_arn)
            .map(|j| j.base_model_arn.clone())
            .or_else(|| model.base_model_arn.clone())
    };
    let new_base = base_of(&model.arn);
    let now = Utc::now();
    let d = &state.deployments[&arn];
    if deployment_status(d, now) != "Active" {
        return Err(AwsError::conflict(format!(
            "The deployment {} is {}; it can be updated once it is Active.",
            d.name,
            deployment_status(d, now)
        )));
    }
    if d.update.as_ref().is_some_and(|u| now < u.done_at) {
        return Err(AwsError::conflict(format!(
            "The deployment {} is already being updated; wait for UpdateCompleted.",
            d.name
        )));
    }
    let serving = d.serving_model(now).to_string();
    if base_of(&serving) != new_base {
        return Err(AwsError::validation(format!(
            "The model {new_model} was customized from another base model than the one this deployment serves ({serving}); deploy it separately."
        )));
    }
    let delay = chrono::Duration::from_std(ctx.config.deployment_delay).unwrap_or_default();
    let new_model = model.arn.clone();
    let d = state.deployments.get_mut(&arn).expect("found above");
    d.model_arn = serving;
    d.update = Some(DeploymentUpdate {
        model_arn: new_model,
        requested: now,
        done_at: now + delay,
    });
    ctx.commit(state, &[Touched::Deployment(&arn)])?;
    Ok(json(202, &json!({ "customModelDeploymentArn": arn })))
}

pub(super) fn create_deployment(ctx: &Ctx, req: &AwsRequest) -> Outcome {
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
            update: None,
        },
    );
    ctx.commit(state, &[Touched::Deployment(&arn)])?;
    Ok(json(202, &json!({ "customModelDeploymentArn": arn })))
}

pub(super) fn list_deployments(ctx: &Ctx, req: &AwsRequest) -> Outcome {
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
        .filter(|d| model.is_none_or(|m| d.serving_model(now) == m))
        .collect();
    let (items, next) = page(req, items, |d| d.created)?;
    let summaries: Vec<Value> = items
        .iter()
        .map(|d| {
            json!({
                "customModelDeploymentArn": d.arn, "customModelDeploymentName": d.name, "modelArn": d.serving_model(now),
                "createdAt": iso_millis(d.created), "status": deployment_status(d, now),
                "lastUpdatedAt": iso_millis(last_updated(d, now)),
            })
        })
        .collect();
    Ok(json(
        200,
        &with_next(json!({ "modelDeploymentSummaries": summaries }), next),
    ))
}

//! Provisioned Throughput: create, get, list, update, delete. `Creating` (or `Updating`) ->
//! `InService` after the configured deployment delay; the runtime answers on the provisioned
//! model ARN as the model behind it.

use super::checks::{check_model_name, check_token};
use super::custom_models::find_model;
use super::paging::{find_by_id, page, with_next};
use super::{body, required, tags};
use crate::catalog;
use crate::request::AwsRequest;
use crate::state::{Provisioned, State};
use crate::store::Touched;
use crate::wire::{iso_millis, json, random_id, AwsError, Outcome};
use crate::Ctx;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub(super) fn find_provisioned<'s>(
    state: &'s State,
    id: &str,
) -> Result<&'s Provisioned, AwsError> {
    find_by_id(&state.provisioned, id, |p| &p.name, "provisioned model")
}

/// `Creating` until the first delay passes, `Updating` during a later change, then `InService`.
pub fn provisioned_status(p: &Provisioned, now: DateTime<Utc>) -> &'static str {
    if now >= p.ready_at {
        "InService"
    } else if p.created == p.last_modified {
        "Creating"
    } else {
        "Updating"
    }
}

/// The model ARN a provisioned model serves now (the old one until an update completes).
pub fn serving_model(p: &Provisioned, now: DateTime<Utc>) -> &str {
    if now >= p.ready_at {
        &p.desired_model_arn
    } else {
        &p.model_arn
    }
}

fn summary(p: &Provisioned, now: DateTime<Utc>) -> Value {
    let ready = now >= p.ready_at;
    let mut out = json!({
        "provisionedModelName": p.name,
        "provisionedModelArn": p.arn,
        "modelArn": serving_model(p, now),
        "desiredModelArn": p.desired_model_arn,
        "foundationModelArn": p.foundation_model_arn,
        "modelUnits": p.model_units,
        "desiredModelUnits": p.model_units,
        "status": provisioned_status(p, now),
        "creationTime": iso_millis(p.created),
        "lastModifiedTime": iso_millis(if ready { p.ready_at } else { p.last_modified }),
    });
    if let Some(commitment) = &p.commitment {
        let months = if commitment == "SixMonths" { 6 } else { 1 };
        let expires = p.created + chrono::Months::new(months);
        let map = out.as_object_mut().expect("object");
        map.insert("commitmentDuration".into(), json!(commitment));
        map.insert(
            "commitmentExpirationTime".into(),
            json!(iso_millis(expires)),
        );
    }
    out
}

/// The model a provisioned throughput may serve: a custom model (ARN or name), or a
/// foundation model that Bedrock provisions. Returns (model ARN, foundation model ARN).
fn resolve_model(ctx: &Ctx, state: &State, id: &str) -> Result<(String, String), AwsError> {
    if let Ok(model) = find_model(state, id) {
        let base = state
            .jobs
            .get(&model.job_arn)
            .map(|j| j.base_model_arn.clone())
            .or_else(|| model.base_model_arn.clone())
            .unwrap_or_default();
        return Ok((model.arn.clone(), base));
    }
    match catalog::find(id) {
        Some(model) if !model.customizations.is_empty() => {
            let arn = catalog::foundation_arn(&ctx.config.region, model.id);
            Ok((arn.clone(), arn))
        }
        Some(model) => Err(AwsError::validation(format!(
            "Provisioned throughput is not offered for {}; provision a customizable base such as amazon.nova-micro-v1:0:128k, or a custom model.",
            model.id
        ))),
        None => Err(AwsError::not_found(format!(
            "Could not find a custom model or foundation model with identifier {id}."
        ))),
    }
}

pub(super) fn create_provisioned(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let map = body(req)?;
    let name = required(&map, "provisionedModelName")?;
    check_model_name("provisionedModelName", name)?;
    let model_id = required(&map, "modelId")?;
    let units = map
        .get("modelUnits")
        .and_then(Value::as_u64)
        .filter(|u| *u >= 1)
        .ok_or_else(|| AwsError::validation("1 validation error detected: Value at 'modelUnits' failed to satisfy constraint: Member must have value greater than or equal to 1"))?;
    let commitment = match map.get("commitmentDuration").and_then(Value::as_str) {
        None => None,
        Some(c @ ("OneMonth" | "SixMonths")) => Some(c.to_string()),
        Some(other) => return Err(AwsError::validation(format!("1 validation error detected: Value '{other}' at 'commitmentDuration' failed to satisfy constraint: Member must satisfy enum value set: [SixMonths, OneMonth]"))),
    };
    let token = map.get("clientRequestToken").and_then(Value::as_str);
    if let Some(token) = token {
        check_token(token)?;
    }
    let mut state = ctx.store.lock();
    if let Some(token) = token {
        if let Some(existing) = state
            .provisioned
            .values()
            .find(|p| p.client_request_token.as_deref() == Some(token))
        {
            return Ok(json(201, &json!({ "provisionedModelArn": existing.arn })));
        }
    }
    let (model_arn, foundation_arn) = resolve_model(ctx, &state, model_id)?;
    if commitment.is_none() && model_arn == foundation_arn {
        return Err(AwsError::validation(
            "Provisioned throughput for a base model needs a commitmentDuration (OneMonth or SixMonths); custom models can be provisioned without commitment.",
        ));
    }
    if state.provisioned.values().any(|p| p.name == name) {
        return Err(AwsError::new(
            409,
            "ResourceInUseException",
            format!("A provisioned model with the name {name} already exists."),
        ));
    }
    let now = Utc::now();
    let delay = chrono::Duration::from_std(ctx.config.deployment_delay).unwrap_or_default();
    let arn = format!(
        "arn:aws:bedrock:{}:{}:provisioned-model/{}",
        ctx.config.region,
        ctx.config.account_id,
        random_id(12)
    );
    state.provisioned.insert(
        arn.clone(),
        Provisioned {
            arn: arn.clone(),
            name: name.to_string(),
            model_arn: model_arn.clone(),
            desired_model_arn: model_arn,
            foundation_model_arn: foundation_arn,
            model_units: units as u32,
            commitment,
            client_request_token: token.map(str::to_string),
            created: now,
            last_modified: now,
            ready_at: now + delay,
            tags: tags(&map, "tags"),
        },
    );
    ctx.commit(state, &[Touched::Provisioned(&arn)])?;
    Ok(json(201, &json!({ "provisionedModelArn": arn })))
}

pub(super) fn get_provisioned(ctx: &Ctx, id: &str) -> Outcome {
    let state = ctx.store.lock();
    Ok(json(
        200,
        &summary(find_provisioned(&state, id)?, Utc::now()),
    ))
}

pub(super) fn list_provisioned(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let state = ctx.store.lock();
    let now = Utc::now();
    let name = req.query_value("nameContains");
    let status = req.query_value("statusEquals");
    let model = req.query_value("modelArnEquals");
    let items: Vec<&Provisioned> = state
        .provisioned
        .values()
        .filter(|p| name.is_none_or(|n| p.name.contains(n)))
        .filter(|p| status.is_none_or(|s| provisioned_status(p, now) == s))
        .filter(|p| model.is_none_or(|m| serving_model(p, now) == m))
        .collect();
    let (items, next) = page(req, items, |p| p.created)?;
    let summaries: Vec<Value> = items.iter().map(|p| summary(p, now)).collect();
    Ok(json(
        200,
        &with_next(json!({ "provisionedModelSummaries": summaries }), next),
    ))
}

/// A new name and/or a new model (of the same base); the model swaps when the update completes.
pub(super) fn update_provisioned(ctx: &Ctx, req: &AwsRequest, id: &str) -> Outcome {
    let map = body(req)?;
    let new_name = map
        .get("desiredProvisionedModelName")
        .and_then(Value::as_str);
    if let Some(name) = new_name {
        check_model_name("desiredProvisionedModelName", name)?;
    }
    let new_model = map.get("desiredModelId").and_then(Value::as_str);
    let mut state = ctx.store.lock();
    let arn = find_provisioned(&state, id)?.arn.clone();
    let now = Utc::now();
    let resolved = match new_model {
        Some(model) => Some(resolve_model(ctx, &state, model)?),
        None => None,
    };
    let p = state.provisioned.get_mut(&arn).expect("found above");
    if now < p.ready_at {
        return Err(AwsError::conflict(format!(
            "The provisioned model {} is {}; update it once it is InService.",
            p.name,
            provisioned_status(p, now)
        )));
    }
    if let Some((model_arn, foundation)) = resolved {
        if foundation != p.foundation_model_arn {
            return Err(AwsError::validation(format!(
                "The new model must be customized from the same base model ({}).",
                p.foundation_model_arn
            )));
        }
        p.model_arn = p.desired_model_arn.clone();
        p.desired_model_arn = model_arn;
        let delay = chrono::Duration::from_std(ctx.config.deployment_delay).unwrap_or_default();
        p.ready_at = now + delay;
    }
    if let Some(name) = new_name {
        p.name = name.to_string();
    }
    p.last_modified = now;
    ctx.commit(state, &[Touched::Provisioned(&arn)])?;
    Ok(json(200, &json!({})))
}

pub(super) fn delete_provisioned(ctx: &Ctx, id: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let arn = find_provisioned(&state, id)?.arn.clone();
    state.provisioned.remove(&arn);
    ctx.commit(state, &[Touched::Provisioned(&arn)])?;
    Ok(json(200, &json!({})))
}

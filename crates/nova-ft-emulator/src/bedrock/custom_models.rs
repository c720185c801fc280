//! Custom models: get, list, delete.

use super::customization_jobs::insert_training_setup;
use super::paging::{find_by_id, page, with_next};
use crate::request::AwsRequest;
use crate::state::State;
use crate::store::Touched;
use crate::wire::{iso_millis, json, AwsError, Outcome};
use crate::Ctx;
use serde_json::{json, Value};

pub(super) fn find_model<'s>(
    state: &'s State,
    id: &str,
) -> Result<&'s crate::state::CustomModel, AwsError> {
    find_by_id(&state.custom_models, id, |m| &m.name, "custom model")
}

pub(super) fn model_json(state: &State, model: &crate::state::CustomModel) -> Value {
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
        insert_training_setup(obj, job);
    } else if let Some(obj) = out.as_object_mut() {
        // Imported (CreateCustomModel): no job behind it.
        obj.remove("jobArn");
        if let Some(base) = &model.base_model_arn {
            obj.insert("baseModelArn".into(), json!(base));
        }
    }
    out
}

pub(super) fn list_custom_models(ctx: &Ctx, req: &AwsRequest) -> Outcome {
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
            let base = job
                .map(|j| j.base_model_arn.clone())
                .or_else(|| m.base_model_arn.clone())
                .unwrap_or_default();
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

pub(super) fn delete_custom_model(ctx: &Ctx, id: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let model = find_model(&state, id)?.clone();
    if let Some(d) = state.deployments.values().find(|d| {
        d.model_arn == model.arn || d.update.as_ref().is_some_and(|u| u.model_arn == model.arn)
    }) {
        return Err(AwsError::conflict(format!(
            "The custom model {} is used by deployment {}; delete the deployment first.",
            model.name, d.name
        )));
    }
    if let Some(p) = state
        .provisioned
        .values()
        .find(|p| p.model_arn == model.arn || p.desired_model_arn == model.arn)
    {
        return Err(AwsError::conflict(format!(
            "The custom model {} is used by provisioned model {}; delete the provisioned throughput first.",
            model.name, p.name
        )));
    }
    state.custom_models.remove(&model.arn);
    ctx.commit(state, &[Touched::CustomModel(&model.arn)])?;
    if let Some(artifact) = &model.artifact {
        let _ = std::fs::remove_file(ctx.store.dir().join(artifact));
    }
    Ok(json(200, &json!({})))
}

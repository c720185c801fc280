//! CreateCustomModel: bring a model trained elsewhere to Bedrock from S3 (AWS's path for a
//! Nova adapter trained on SageMaker), then deploy it like any custom model.
//!
//! The local stand-ins cannot run Nova weights, so the emulator imports what its own jobs
//! trained: `export_model` writes `<prefix>/manifest.json` and `<prefix>/nova_ft_model.bin`,
//! and CreateCustomModel reads them back as the given role (evaluated like a job's, with the
//! new model's ARN as `aws:SourceArn`: the user guide does not say which ARN the import
//! presents). Any other artifact is refused, saying so.

use super::checks::{check_model_name, check_token};
use super::{body, required};
use crate::s3;
use crate::service_role::{check_role_trust, role_allows, split_uri};
use crate::state::CustomModel;
use crate::store::Touched;
use crate::wire::{json, random_id, AwsError, Outcome};
use crate::Ctx;
use chrono::Utc;
use serde_json::{json, Value};

/// The files of an exported model under its S3 prefix.
pub const MANIFEST: &str = "manifest.json";
pub const ARTIFACT: &str = "nova_ft_model.bin";
const FORMAT: &str = "nova_ft-local-model/1";

/// Write a custom model's artifact and manifest under `s3://bucket/prefix/`; returns the URI.
pub fn export_model(
    ctx: &Ctx,
    model_arn: &str,
    bucket: &str,
    prefix: &str,
) -> Result<String, AwsError> {
    let (model, artifact) = {
        let state = ctx.store.lock();
        let model = state
            .custom_models
            .get(model_arn)
            .ok_or_else(|| {
                AwsError::not_found(format!(
                    "Could not find a custom model with ARN {model_arn}."
                ))
            })?
            .clone();
        let artifact = model.artifact.clone().ok_or_else(|| {
            AwsError::validation(format!(
                "The custom model {model_arn} has no artifact to export."
            ))
        })?;
        (model, artifact)
    };
    let bytes = std::fs::read(ctx.store.dir().join(&artifact)).map_err(|e| {
        AwsError::new(
            500,
            "InternalServerException",
            format!("the model artifact could not be read: {e}"),
        )
    })?;
    let prefix = prefix.trim_matches('/');
    let manifest = json!({
        "format": FORMAT,
        "modelName": model.name,
        "baseModelArn": model.base_model_arn,
        "description": model.description,
    });
    s3::internal_put(
        ctx,
        bucket,
        &format!("{prefix}/{ARTIFACT}"),
        bytes,
        "application/octet-stream",
    )?;
    s3::internal_put(
        ctx,
        bucket,
        &format!("{prefix}/{MANIFEST}"),
        manifest.to_string().into_bytes(),
        "application/json",
    )?;
    Ok(format!("s3://{bucket}/{prefix}/"))
}

/// Read an object as the role, or the validation error Bedrock would report.
fn read_as(
    ctx: &Ctx,
    role: &str,
    source: &str,
    uri: &str,
    name: &str,
) -> Result<Vec<u8>, AwsError> {
    let (bucket, prefix) = split_uri(uri);
    let key = format!("{}/{name}", prefix.trim_end_matches('/'));
    role_allows(ctx, role, source, "s3:GetObject", &bucket, &key)
        .map_err(AwsError::access_denied)?;
    s3::internal_get(ctx, &bucket, &key).map_err(|_| {
        AwsError::validation(format!(
            "s3://{bucket}/{key} was not found. The nova_ft emulator imports models its own jobs trained: export one with CustomModel.export() (LocalEmulator.export_model) and pass that prefix; it cannot run Nova adapters trained on SageMaker."
        ))
    })
}

pub(super) fn create_custom_model(ctx: &Ctx, req: &crate::request::AwsRequest) -> Outcome {
    let map = body(req)?;
    let name = required(&map, "modelName")?;
    check_model_name("modelName", name)?;
    if map.get("customModelDataSource").is_some() {
        return Err(AwsError::validation(
            "The nova_ft emulator imports from modelSourceConfig.s3DataSource only (a SageMaker model package cannot be served by its local stand-ins).",
        ));
    }
    let uri = map
        .get("modelSourceConfig")
        .and_then(|c| c.pointer("/s3DataSource/s3Uri"))
        .and_then(Value::as_str)
        .ok_or_else(|| AwsError::validation("modelSourceConfig.s3DataSource.s3Uri is required."))?;
    super::checks::check_s3_uri("modelSourceConfig.s3DataSource.s3Uri", uri)?;
    let role = required(&map, "roleArn")?;
    let token = map.get("clientRequestToken").and_then(Value::as_str);
    if let Some(token) = token {
        check_token(token)?;
    }
    let id = random_id(12);
    let arn = format!(
        "arn:aws:bedrock:{}:{}:custom-model/imported/{id}",
        ctx.config.region, ctx.config.account_id
    );
    {
        let state = ctx.store.lock();
        // A retry with the same token gets the model the first request made.
        if let Some(existing) = state.custom_models.values().find(|m| {
            token.is_some() && m.client_request_token.as_deref() == token && m.name == name
        }) {
            return Ok(json(202, &json!({ "modelArn": existing.arn })));
        }
        if state.custom_models.values().any(|m| m.name == name) {
            return Err(AwsError::conflict(format!(
                "A custom model with the name {name} already exists."
            )));
        }
        check_role_trust(ctx, &state, role, &arn)?;
    }
    let manifest: Value = serde_json::from_slice(&read_as(ctx, role, &arn, uri, MANIFEST)?)
        .ok()
        .filter(|m: &Value| m["format"] == FORMAT)
        .ok_or_else(|| {
            AwsError::validation(format!(
                "{uri}{MANIFEST} is not a nova_ft model manifest ({FORMAT})."
            ))
        })?;
    let bytes = read_as(ctx, role, &arn, uri, ARTIFACT)?;
    let model = ctx
        .config
        .models
        .load(&bytes, &format!("{uri}{ARTIFACT}"))
        .map_err(|e| AwsError::validation(e.to_string()))?;
    let artifact = crate::bedrock_runtime::save_tuned(ctx, &id, model.as_ref())
        .map_err(|e| AwsError::new(500, "InternalServerException", e.to_string()))?;
    let mut state = ctx.store.lock();
    state.custom_models.insert(
        arn.clone(),
        CustomModel {
            arn: arn.clone(),
            name: name.to_string(),
            job_arn: String::new(),
            created: Utc::now(),
            artifact: Some(artifact),
            description: format!("imported from {uri}: {}", model.describe()),
            base_model_arn: manifest["baseModelArn"].as_str().map(str::to_string),
            client_request_token: token.map(str::to_string),
        },
    );
    ctx.commit(state, &[Touched::CustomModel(&arn)])?;
    Ok(json(202, &json!({ "modelArn": arn })))
}

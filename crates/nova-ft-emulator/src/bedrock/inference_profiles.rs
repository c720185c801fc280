//! ListInferenceProfiles and GetInferenceProfile: the system-defined cross-region profiles
//! of the emulator's region (see `catalog::inference_profiles`).

use super::paging::{slice_page, with_next};
use crate::request::AwsRequest;
use crate::wire::{json, AwsError, Outcome};
use crate::{catalog, Ctx};
use serde_json::{json, Value};

fn profiles(ctx: &Ctx) -> Vec<Value> {
    catalog::inference_profiles(&ctx.config.region, &ctx.config.account_id)
}

pub(super) fn list_inference_profiles(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let kind = req.query_value("type").unwrap_or("SYSTEM_DEFINED");
    if !matches!(kind, "SYSTEM_DEFINED" | "APPLICATION") {
        return Err(AwsError::validation(format!("1 validation error detected: Value '{kind}' at 'typeEquals' failed to satisfy constraint: Member must satisfy enum value set: [SYSTEM_DEFINED, APPLICATION]")));
    }
    // The emulator has no application inference profiles.
    let all: Vec<Value> = profiles(ctx)
        .into_iter()
        .filter(|p| p["type"] == kind)
        .collect();
    let (page, next) = slice_page(req, all)?;
    let out = with_next(json!({ "inferenceProfileSummaries": page }), next);
    Ok(json(200, &out))
}

pub(super) fn get_inference_profile(ctx: &Ctx, id: &str) -> Outcome {
    profiles(ctx)
        .into_iter()
        .find(|p| p["inferenceProfileId"] == id || p["inferenceProfileArn"] == id)
        .map(|p| json(200, &p))
        .ok_or_else(|| AwsError::not_found(format!("Inference profile {id} does not exist.")))
}

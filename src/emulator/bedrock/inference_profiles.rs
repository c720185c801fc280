//! ListInferenceProfiles and GetInferenceProfile: the system-defined cross-region profiles
//! of the emulator's region (see `catalog::inference_profiles`).

use crate::emulator::request::AwsRequest;
use crate::emulator::wire::{json, AwsError, Outcome};
use crate::emulator::{catalog, Ctx};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
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
    let max = match req.query_value("maxResults") {
        None => 1000,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|m| (1..=1000).contains(m))
            .ok_or_else(|| AwsError::validation("maxResults must be between 1 and 1000."))?,
    };
    let start = match req.query_value("nextToken") {
        None => 0,
        Some(token) => BASE64
            .decode(token)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .and_then(|s| s.parse::<usize>().ok())
            .ok_or_else(|| AwsError::validation("The nextToken is invalid."))?,
    };
    let page: Vec<&Value> = all.iter().skip(start).take(max).collect();
    let mut out = json!({ "inferenceProfileSummaries": page });
    if start + max < all.len() {
        out["nextToken"] = json!(BASE64.encode((start + max).to_string()));
    }
    Ok(json(200, &out))
}

pub(super) fn get_inference_profile(ctx: &Ctx, id: &str) -> Outcome {
    profiles(ctx)
        .into_iter()
        .find(|p| p["inferenceProfileId"] == id || p["inferenceProfileArn"] == id)
        .map(|p| json(200, &p))
        .ok_or_else(|| AwsError::not_found(format!("Inference profile {id} does not exist.")))
}

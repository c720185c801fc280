//! ListFoundationModels and GetFoundationModel over the catalog.

use crate::emulator::request::AwsRequest;
use crate::emulator::wire::{json, Outcome};
use crate::emulator::{catalog, Ctx};
use serde_json::{json, Value};

pub(super) fn list_foundation_models(ctx: &Ctx, req: &AwsRequest) -> Outcome {
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

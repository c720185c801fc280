//! ListFoundationModels and GetFoundationModel over the catalog.

use crate::request::AwsRequest;
use crate::wire::{json, Outcome};
use crate::{catalog, Ctx};
use serde_json::{json, Value};

pub(super) fn list_foundation_models(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let provider = req.query_value("byProvider").map(str::to_ascii_lowercase);
    let customization = req.query_value("byCustomizationType");
    let modality = req.query_value("byOutputModality");
    let inference = req.query_value("byInferenceType");
    let summaries: Vec<Value> = catalog::MODELS
        .iter()
        .filter(|m| {
            provider
                .as_deref()
                .is_none_or(|p| p == m.provider.to_ascii_lowercase())
        })
        .filter(|m| customization.is_none_or(|c| catalog::listed_customizations(m).contains(&c)))
        .filter(|_| modality.is_none_or(|m| m == "TEXT"))
        .map(|m| catalog::summary(m, &ctx.config.region, ctx.config.models.stand_in_name()))
        .filter(|summary| {
            inference.is_none_or(|i| {
                summary["inferenceTypesSupported"]
                    .as_array()
                    .is_some_and(|types| types.iter().any(|t| t == i))
            })
        })
        .collect();
    Ok(json(200, &json!({ "modelSummaries": summaries })))
}

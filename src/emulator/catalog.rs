//! The foundation models the emulator lists, with the ids and capabilities Bedrock reports.
//! `amazon.nova-micro-v1:0:128k` is the fine-tuning base (provisioned only); on-demand
//! inference uses `amazon.nova-micro-v1:0` or the `us.` inference profile.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub struct FoundationModel {
    pub id: &'static str,
    pub name: &'static str,
    pub on_demand: bool,
    pub customizations: &'static [&'static str],
}

pub const MODELS: &[FoundationModel] = &[
    FoundationModel {
        id: "amazon.nova-micro-v1:0",
        name: "Nova Micro",
        on_demand: true,
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-micro-v1:0:128k",
        name: "Nova Micro",
        on_demand: false,
        customizations: &["FINE_TUNING", "DISTILLATION"],
    },
    FoundationModel {
        id: "amazon.nova-micro-v1:0:24k",
        name: "Nova Micro",
        on_demand: false,
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-lite-v1:0",
        name: "Nova Lite",
        on_demand: true,
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-lite-v1:0:300k",
        name: "Nova Lite",
        on_demand: false,
        customizations: &["FINE_TUNING", "DISTILLATION"],
    },
    FoundationModel {
        id: "amazon.nova-pro-v1:0",
        name: "Nova Pro",
        on_demand: true,
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-pro-v1:0:300k",
        name: "Nova Pro",
        on_demand: false,
        customizations: &["FINE_TUNING", "DISTILLATION"],
    },
    FoundationModel {
        id: "amazon.nova-premier-v1:0",
        name: "Nova Premier",
        on_demand: true,
        customizations: &[],
    },
];

/// Models that may teach in distillation (by their on-demand ids).
pub const TEACHERS: &[&str] = &["amazon.nova-pro-v1:0", "amazon.nova-premier-v1:0"];

pub fn foundation_arn(region: &str, id: &str) -> String {
    format!("arn:aws:bedrock:{region}::foundation-model/{id}")
}

/// Find a foundation model by id, foundation-model ARN or (for on-demand use) a cross-region
/// inference profile id such as `us.amazon.nova-micro-v1:0`.
pub fn find(identifier: &str) -> Option<&'static FoundationModel> {
    let id = identifier
        .rsplit_once("foundation-model/")
        .map_or(identifier, |(_, id)| id);
    let id = id
        .rsplit_once("inference-profile/")
        .map_or(id, |(_, id)| id);
    let id = ["us.", "eu.", "apac.", "global."]
        .iter()
        .find_map(|p| id.strip_prefix(p))
        .unwrap_or(id);
    MODELS.iter().find(|m| m.id == id)
}

pub fn summary(model: &FoundationModel, region: &str) -> Value {
    let inference: Vec<&str> = if model.on_demand {
        vec!["ON_DEMAND", "INFERENCE_PROFILE"]
    } else {
        vec!["PROVISIONED"]
    };
    json!({
        "modelArn": foundation_arn(region, model.id),
        "modelId": model.id,
        "modelName": model.name,
        "providerName": "Amazon",
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": true,
        "customizationsSupported": model.customizations,
        "inferenceTypesSupported": inference,
        "modelLifecycle": {"status": "ACTIVE"},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_models_by_id_arn_and_profile() {
        assert_eq!(
            find("amazon.nova-micro-v1:0:128k").unwrap().customizations,
            &["FINE_TUNING", "DISTILLATION"]
        );
        assert!(
            find("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0")
                .unwrap()
                .on_demand
        );
        assert_eq!(
            find("us.amazon.nova-micro-v1:0").unwrap().id,
            "amazon.nova-micro-v1:0"
        );
        assert!(find("amazon.nova-micro-v9").is_none());
    }
}

//! The foundation models the emulator lists, with the ids and capabilities Bedrock reports.
//! `amazon.nova-micro-v1:0:128k` is the fine-tuning base (provisioned only); on-demand
//! inference uses `amazon.nova-micro-v1:0` or the `us.` inference profile.

use serde_json::{json, Value};

#[derive(Debug, Clone, Copy)]
pub struct FoundationModel {
    pub id: &'static str,
    pub name: &'static str,
    pub provider: &'static str,
    /// Invocable by its own id on demand (otherwise through an inference profile, or only
    /// provisioned when it has no profile either).
    pub on_demand: bool,
    /// The geographies with a system-defined cross-region inference profile (`us`, `eu`,
    /// `apac`, `global`): `us.amazon.nova-micro-v1:0` and the like.
    pub profiles: &'static [&'static str],
    pub customizations: &'static [&'static str],
}

/// The models listed, Amazon's Nova family and the Anthropic Claude models AWS's samples call
/// (answered by local stand-ins: see `models::judge`). Inference profiles as Bedrock lists them
/// in 2025 (docs: inference-profiles-support).
pub const MODELS: &[FoundationModel] = &[
    FoundationModel {
        id: "amazon.nova-micro-v1:0",
        name: "Nova Micro",
        provider: "Amazon",
        on_demand: true,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-micro-v1:0:128k",
        name: "Nova Micro",
        provider: "Amazon",
        on_demand: false,
        profiles: &[],
        customizations: &["FINE_TUNING", "DISTILLATION"],
    },
    FoundationModel {
        id: "amazon.nova-micro-v1:0:24k",
        name: "Nova Micro",
        provider: "Amazon",
        on_demand: false,
        profiles: &[],
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-lite-v1:0",
        name: "Nova Lite",
        provider: "Amazon",
        on_demand: true,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-lite-v1:0:300k",
        name: "Nova Lite",
        provider: "Amazon",
        on_demand: false,
        profiles: &[],
        customizations: &["FINE_TUNING", "DISTILLATION"],
    },
    // Nova 2 Lite is invoked through its inference profiles only (`us.`, `global.`), and
    // customized from its 256k variant: fine-tuning and reinforcement fine-tuning (Nova
    // user guide, 2025-12).
    FoundationModel {
        id: "amazon.nova-2-lite-v1:0",
        name: "Nova 2 Lite",
        provider: "Amazon",
        on_demand: false,
        profiles: &["us", "global"],
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-2-lite-v1:0:256k",
        name: "Nova 2 Lite",
        provider: "Amazon",
        on_demand: false,
        profiles: &[],
        customizations: &["FINE_TUNING", "REINFORCEMENT_FINE_TUNING"],
    },
    FoundationModel {
        id: "amazon.nova-pro-v1:0",
        name: "Nova Pro",
        provider: "Amazon",
        on_demand: true,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "amazon.nova-pro-v1:0:300k",
        name: "Nova Pro",
        provider: "Amazon",
        on_demand: false,
        profiles: &[],
        customizations: &["FINE_TUNING", "DISTILLATION"],
    },
    FoundationModel {
        id: "amazon.nova-premier-v1:0",
        name: "Nova Premier",
        provider: "Amazon",
        on_demand: true,
        profiles: &["us"],
        customizations: &[],
    },
    FoundationModel {
        id: "anthropic.claude-3-haiku-20240307-v1:0",
        name: "Claude 3 Haiku",
        provider: "Anthropic",
        on_demand: true,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "anthropic.claude-3-sonnet-20240229-v1:0",
        name: "Claude 3 Sonnet",
        provider: "Anthropic",
        on_demand: true,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "anthropic.claude-3-5-sonnet-20240620-v1:0",
        name: "Claude 3.5 Sonnet",
        provider: "Anthropic",
        on_demand: true,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "anthropic.claude-3-5-haiku-20241022-v1:0",
        name: "Claude 3.5 Haiku",
        provider: "Anthropic",
        on_demand: false,
        profiles: &["us"],
        customizations: &[],
    },
    FoundationModel {
        id: "anthropic.claude-3-7-sonnet-20250219-v1:0",
        name: "Claude 3.7 Sonnet",
        provider: "Anthropic",
        on_demand: false,
        profiles: &["us", "eu", "apac"],
        customizations: &[],
    },
    FoundationModel {
        id: "anthropic.claude-sonnet-4-20250514-v1:0",
        name: "Claude Sonnet 4",
        provider: "Anthropic",
        on_demand: false,
        profiles: &["us", "eu", "apac", "global"],
        customizations: &[],
    },
];

/// Models that may teach in distillation (by their on-demand ids).
pub const TEACHERS: &[&str] = &["amazon.nova-pro-v1:0", "amazon.nova-premier-v1:0"];

/// The customizations ListFoundationModels reports: its `ModelCustomization` enum still holds
/// only these (botocore 1.43), so reinforcement fine-tuning is accepted by
/// CreateModelCustomizationJob but never listed.
pub const LISTED_CUSTOMIZATIONS: [&str; 3] =
    ["FINE_TUNING", "CONTINUED_PRE_TRAINING", "DISTILLATION"];

/// A model's customizations as ListFoundationModels reports them.
pub fn listed_customizations(model: &FoundationModel) -> Vec<&'static str> {
    model
        .customizations
        .iter()
        .copied()
        .filter(|c| LISTED_CUSTOMIZATIONS.contains(c))
        .collect()
}

pub fn foundation_arn(region: &str, id: &str) -> String {
    format!("arn:aws:bedrock:{region}::foundation-model/{id}")
}

/// The geography whose inference profiles a region uses (`us.`, `eu.`, `apac.`).
pub fn geography(region: &str) -> &'static str {
    match region.split('-').next().unwrap_or("") {
        "eu" => "eu",
        "ap" => "apac",
        _ => "us",
    }
}

/// The source regions of a geography's profiles, for the profile's `models` list.
fn geography_regions(geography: &str) -> &'static [&'static str] {
    match geography {
        "eu" => &["eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1"],
        "apac" => &[
            "ap-northeast-1",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-south-1",
        ],
        "global" => &["us-east-1", "us-west-2", "eu-west-1", "ap-northeast-1"],
        _ => &["us-east-1", "us-east-2", "us-west-2"],
    }
}

/// An id's parts: an inference profile's geography (from `us.amazon...` or an
/// `inference-profile/` ARN), and the model id.
pub fn split_identifier(identifier: &str) -> (Option<&str>, &str) {
    let id = identifier
        .rsplit_once("foundation-model/")
        .map_or(identifier, |(_, id)| id);
    let id = id
        .rsplit_once("inference-profile/")
        .map_or(id, |(_, id)| id);
    for geography in ["us", "eu", "apac", "global"] {
        if let Some(model) = id.strip_prefix(geography).and_then(|r| r.strip_prefix('.')) {
            return (Some(geography), model);
        }
    }
    (None, id)
}

/// Find a foundation model by id, foundation-model ARN or cross-region inference profile id
/// (`us.amazon.nova-micro-v1:0`) or ARN.
pub fn find(identifier: &str) -> Option<&'static FoundationModel> {
    let (_, id) = split_identifier(identifier);
    MODELS.iter().find(|m| m.id == id)
}

/// How a model id given to the runtime can be invoked from `region`.
pub enum Invocable {
    Yes(&'static FoundationModel),
    /// The model needs an inference profile (or provisioned throughput).
    NeedsProfile(&'static FoundationModel),
    Unknown,
}

/// Whether `identifier` can be invoked on demand from `region`: a model id must be on
/// demand; a profile must exist for the model and be of the region's geography (or global).
pub fn invocable(identifier: &str, region: &str) -> Invocable {
    let (profile, id) = split_identifier(identifier);
    let Some(model) = MODELS.iter().find(|m| m.id == id) else {
        return Invocable::Unknown;
    };
    match profile {
        None if model.on_demand => Invocable::Yes(model),
        None => Invocable::NeedsProfile(model),
        Some(geo)
            if model.profiles.contains(&geo) && (geo == "global" || geo == geography(region)) =>
        {
            Invocable::Yes(model)
        }
        Some(_) => Invocable::Unknown,
    }
}

/// The system-defined inference profiles a region lists, as GetInferenceProfile describes them.
pub fn inference_profiles(region: &str, account: &str) -> Vec<Value> {
    let local = geography(region);
    let mut profiles = Vec::new();
    for model in MODELS {
        for geo in model
            .profiles
            .iter()
            .filter(|g| **g == local || **g == "global")
        {
            let id = format!("{geo}.{}", model.id);
            let label = if *geo == "global" {
                "Global".to_string()
            } else {
                geo.to_uppercase()
            };
            let models: Vec<Value> = geography_regions(geo)
                .iter()
                .map(|r| json!({"modelArn": foundation_arn(r, model.id)}))
                .collect();
            profiles.push(json!({
                "inferenceProfileName": format!("{label} {}", model.name),
                "description": format!("Routes requests to {} in {}.", model.name, geography_regions(geo).join(", ")),
                "createdAt": "2024-11-01T00:00:00Z",
                "updatedAt": "2024-11-01T00:00:00Z",
                "inferenceProfileArn": format!("arn:aws:bedrock:{region}:{account}:inference-profile/{id}"),
                "models": models,
                "inferenceProfileId": id,
                "status": "ACTIVE",
                "type": "SYSTEM_DEFINED",
            }));
        }
    }
    profiles
}

/// A foundation model's summary; its name says what answers for it here (`stand_in`: the
/// local model family's name; the Claude ids are always the judge stand-in).
pub fn summary(model: &FoundationModel, region: &str, stand_in: &str) -> Value {
    let mut inference: Vec<&str> = Vec::new();
    if model.on_demand {
        inference.push("ON_DEMAND");
    }
    if !model.profiles.is_empty() {
        inference.push("INFERENCE_PROFILE");
    }
    if inference.is_empty() || !model.customizations.is_empty() {
        inference.push("PROVISIONED");
    }
    json!({
        "modelArn": foundation_arn(region, model.id),
        "modelId": model.id,
        "modelName": local_name(model, stand_in),
        "providerName": model.provider,
        "inputModalities": ["TEXT"],
        "outputModalities": ["TEXT"],
        "responseStreamingSupported": true,
        "customizationsSupported": listed_customizations(model),
        "inferenceTypesSupported": inference,
        "modelLifecycle": {"status": "ACTIVE"},
    })
}

/// `Nova Micro (local: SmolLM2-135M-Instruct)`: the model's name and what answers for it.
fn local_name(model: &FoundationModel, stand_in: &str) -> String {
    let local = if model.provider == "Anthropic" {
        "nova_ft judge stand-in"
    } else {
        stand_in
    };
    format!("{} (local: {local})", model.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_are_invocable_in_their_geography_only() {
        let yes = |id: &str, region: &str| matches!(invocable(id, region), Invocable::Yes(_));
        assert!(yes("us.amazon.nova-micro-v1:0", "us-east-1"));
        assert!(yes("amazon.nova-micro-v1:0", "us-east-1"));
        assert!(yes("eu.amazon.nova-micro-v1:0", "eu-west-1"));
        assert!(!yes("eu.amazon.nova-micro-v1:0", "us-east-1"));
        assert!(yes(
            "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0",
            "us-east-1"
        ));
        assert!(matches!(
            invocable("anthropic.claude-3-7-sonnet-20250219-v1:0", "us-east-1"),
            Invocable::NeedsProfile(_)
        ));
        assert!(yes(
            "global.anthropic.claude-sonnet-4-20250514-v1:0",
            "ap-northeast-1"
        ));
        assert!(matches!(
            invocable("us.amazon.nova-micro-v1:0:128k", "us-east-1"),
            Invocable::Unknown
        ));
        let listed = inference_profiles("us-east-1", "123456789012");
        let ids: Vec<&str> = listed
            .iter()
            .filter_map(|p| p["inferenceProfileId"].as_str())
            .collect();
        assert!(ids.contains(&"us.amazon.nova-micro-v1:0"));
        assert!(!ids.iter().any(|id| id.starts_with("eu.")));
    }

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

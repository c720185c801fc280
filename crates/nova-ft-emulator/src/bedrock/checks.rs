//! Request checks: names, S3 URIs, role ARNs, tokens and hyperparameters, refused with the
//! patterns and messages Bedrock uses.

use super::NOVA_HYPERPARAMETERS;
use crate::wire::AwsError;
use serde_json::Value;
use std::collections::BTreeMap;

pub(super) fn pattern_error(field: &str, value: &str, pattern: &str) -> AwsError {
    AwsError::validation(format!(
        "1 validation error detected: Value '{value}' at '{field}' failed to satisfy constraint: Member must satisfy regular expression pattern: {pattern}"
    ))
}

pub(super) fn check_job_name(field: &str, name: &str) -> Result<(), AwsError> {
    let mut chars = name.chars();
    let ok = (1..=63).contains(&name.len())
        && chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            field,
            name,
            r"[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*",
        ))
    }
}

/// `([0-9a-zA-Z][_-]?){1,63}`: model and deployment names (no dots, no doubled separators).
pub(super) fn check_model_name(field: &str, name: &str) -> Result<(), AwsError> {
    let mut previous_separator = true;
    let ok = (1..=63).contains(&name.len())
        && name.chars().all(|c| {
            let separator = c == '_' || c == '-';
            let fine = c.is_ascii_alphanumeric() || (separator && !previous_separator);
            previous_separator = separator;
            fine
        });
    if ok {
        Ok(())
    } else {
        Err(pattern_error(field, name, "([0-9a-zA-Z][_-]?){1,63}"))
    }
}

/// Bedrock's S3Uri pattern: bucket rules, and keys of `A-Za-z0-9 - ! _ * ' ( ) .` only.
pub fn check_s3_uri(field: &str, uri: &str) -> Result<(String, String), AwsError> {
    let bad = || {
        pattern_error(
            field,
            uri,
            r"s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?",
        )
    };
    let rest = uri.strip_prefix("s3://").ok_or_else(bad)?;
    let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
    let bucket_ok = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric());
    let key_ok = key.trim_end_matches('/').split('/').all(|segment| {
        key.is_empty()
            || (!segment.is_empty()
                && segment
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-!_*'().".contains(c)))
    });
    if bucket_ok && key_ok && uri.len() <= 1024 {
        Ok((bucket.to_string(), key.to_string()))
    } else {
        Err(bad())
    }
}

pub(super) fn check_role_arn(arn: &str) -> Result<(), AwsError> {
    let ok = arn.split_once(":role/").is_some_and(|(head, name)| {
        !name.is_empty()
            && head.starts_with("arn:aws")
            && head.ends_with(|c: char| c.is_ascii_digit() || c == ':')
            && head.contains(":iam::")
    });
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            "roleArn",
            arn,
            r"arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+",
        ))
    }
}

pub(super) fn check_token(token: &str) -> Result<(), AwsError> {
    let ok = (1..=256).contains(&token.len())
        && token.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && token.starts_with(|c: char| c.is_ascii_alphanumeric())
        && token.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(pattern_error(
            "clientRequestToken",
            token,
            "[a-zA-Z0-9]([-a-zA-Z0-9]{0,254}[a-zA-Z0-9])?",
        ))
    }
}

/// Check Nova hyperparameters by name and range (values arrive as strings).
pub fn check_hyperparameters(params: &BTreeMap<String, String>) -> Result<(), AwsError> {
    let accepted: Vec<&str> = NOVA_HYPERPARAMETERS.iter().map(|(n, ..)| *n).collect();
    for (name, value) in params {
        // AWS's own Nova text-to-SQL notebook sends batchSize "1"; it is accepted and ignored.
        if name == "batchSize" {
            continue;
        }
        let Some((_, min, max, integer)) = NOVA_HYPERPARAMETERS.iter().find(|(n, ..)| n == name)
        else {
            return Err(AwsError::validation(format!(
                "The hyperparameter {name} is not supported for this model. Supported hyperparameters: {}.",
                accepted.join(", ")
            )));
        };
        let parsed = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && (!integer || v.fract() == 0.0));
        match parsed {
            Some(v) if v >= *min && v <= *max => {}
            _ => {
                let kind = if *integer { "an integer" } else { "a number" };
                return Err(AwsError::validation(format!(
                    "The value {value:?} of hyperparameter {name} is invalid: it must be {kind} between {min} and {max}."
                )));
            }
        }
    }
    Ok(())
}

/// Reinforcement fine-tuning's typed hyperparameters: name, minimum, maximum, integer?
/// (Bedrock API reference, `RFTHyperParameters`; `maxPromptLength` and `inferenceMaxTokens`
/// have no published bounds beyond being positive.)
pub const RFT_HYPERPARAMETERS: [(&str, f64, f64, bool); 7] = [
    ("epochCount", 1.0, 50.0, true),
    ("batchSize", 16.0, 512.0, true),
    ("learningRate", 1e-7, 1e-3, false),
    ("trainingSamplePerPrompt", 2.0, 16.0, true),
    ("evalInterval", 1.0, 100.0, true),
    ("maxPromptLength", 1.0, f64::MAX, true),
    ("inferenceMaxTokens", 1.0, f64::MAX, true),
];

/// `customizationConfig.rftConfig` as Bedrock models it (grader ARN and typed
/// hyperparameters), checked; anything else in it is dropped.
pub(super) fn check_rft_config(config: Option<&Value>) -> Result<Value, AwsError> {
    let rft = config
        .and_then(|c| c.get("rftConfig"))
        .ok_or_else(|| AwsError::validation("REINFORCEMENT_FINE_TUNING needs customizationConfig.rftConfig with graderConfig.lambdaGrader.lambdaArn (the reward function)."))?;
    let arn = rft
        .pointer("/graderConfig/lambdaGrader/lambdaArn")
        .and_then(Value::as_str)
        .ok_or_else(|| AwsError::validation("1 validation error detected: Value null at 'customizationConfig.rftConfig.graderConfig.lambdaGrader.lambdaArn' failed to satisfy constraint: Member must not be null"))?;
    let parts: Vec<&str> = arn.split(':').collect();
    let arn_ok = parts.len() == 7
        && parts[..3] == ["arn", "aws", "lambda"]
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5] == "function"
        && !parts[6].is_empty();
    if !arn_ok {
        return Err(pattern_error(
            "customizationConfig.rftConfig.graderConfig.lambdaGrader.lambdaArn",
            arn,
            "arn:aws(-[^:]+)?:lambda:[a-z0-9-]+:[0-9]{12}:function:[a-zA-Z0-9-_]+",
        ));
    }
    let mut kept = serde_json::Map::new();
    let given = rft.get("hyperParameters").and_then(Value::as_object);
    for (name, min, max, integer) in RFT_HYPERPARAMETERS {
        let Some(value) = given.and_then(|h| h.get(name)) else {
            continue;
        };
        let field = format!("customizationConfig.rftConfig.hyperParameters.{name}");
        let number = value
            .as_f64()
            .filter(|v| !integer || value.is_i64() || v.fract() == 0.0);
        let Some(number) = number else {
            return Err(AwsError::new(
                400,
                "SerializationException",
                format!(
                    "{field} must be {}",
                    if integer { "an integer" } else { "a number" }
                ),
            ));
        };
        if number < min || number > max {
            let bound = if number < min {
                format!("greater than or equal to {min}")
            } else {
                format!("less than or equal to {max}")
            };
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{number}' at '{field}' failed to satisfy constraint: Member must have value {bound}"
            )));
        }
        kept.insert(name.into(), value.clone());
    }
    if let Some(effort) = given.and_then(|h| h.get("reasoningEffort")) {
        if !matches!(effort.as_str(), Some("low" | "medium" | "high")) {
            return Err(AwsError::validation(format!(
                "1 validation error detected: Value '{effort}' at 'customizationConfig.rftConfig.hyperParameters.reasoningEffort' failed to satisfy constraint: Member must satisfy enum value set: [low, medium, high]"
            )));
        }
        kept.insert("reasoningEffort".into(), effort.clone());
    }
    Ok(serde_json::json!({
        "rftConfig": {
            "graderConfig": {"lambdaGrader": {"lambdaArn": arn}},
            "hyperParameters": kept,
        }
    }))
}

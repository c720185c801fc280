//! Request checks: names, S3 URIs, role ARNs, tokens and hyperparameters, refused with the
//! patterns and messages Bedrock uses.

use super::NOVA_HYPERPARAMETERS;
use crate::emulator::wire::AwsError;
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

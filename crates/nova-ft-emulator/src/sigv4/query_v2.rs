//! S3's legacy presigned URLs (`?AWSAccessKeyId=&Expires=&Signature=`, SigV2): boto3 still
//! makes them by default for `generate_presigned_url("get_object", ...)`, and S3 accepts them.
//! The signature is base64(HMAC-SHA1(secret, method, Content-MD5, Content-Type, Expires,
//! x-amz-* headers, resource)).

use super::refusals::Failure;
use super::{constant_time_eq, decoded, query_param, raw_pairs, Credentials};
use axum::http::{HeaderMap, Method};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::{DateTime, TimeZone, Utc};
use hmac::{Hmac, KeyInit, Mac};

/// The query parameters that are part of the signed resource.
const SUB_RESOURCES: [&str; 20] = [
    "acl",
    "cors",
    "delete",
    "lifecycle",
    "location",
    "logging",
    "partNumber",
    "policy",
    "response-cache-control",
    "response-content-disposition",
    "response-content-encoding",
    "response-content-language",
    "response-content-type",
    "response-expires",
    "tagging",
    "uploadId",
    "uploads",
    "versionId",
    "versioning",
    "versions",
];

/// Whether the query is a SigV2 presigned URL.
pub(super) fn is_presigned_v2(raw_query: &str) -> bool {
    let pairs = raw_pairs(raw_query);
    ["AWSAccessKeyId", "Signature", "Expires"]
        .iter()
        .all(|name| pairs.iter().any(|(k, _)| decoded(k) == *name))
}

fn string_to_sign(
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    expires: &str,
) -> String {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let mut amz: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| name.as_str().starts_with("x-amz-"))
        .map(|(name, value)| {
            let value = String::from_utf8_lossy(value.as_bytes()).trim().to_string();
            (name.as_str().to_string(), value)
        })
        .collect();
    amz.sort();
    let mut resource = raw_path.to_string();
    let mut subs: Vec<(String, String)> = raw_pairs(raw_query)
        .into_iter()
        .map(|(k, v)| (decoded(k), decoded(v)))
        .filter(|(k, _)| SUB_RESOURCES.contains(&k.as_str()))
        .collect();
    subs.sort();
    for (i, (k, v)) in subs.iter().enumerate() {
        resource.push(if i == 0 { '?' } else { '&' });
        resource.push_str(k);
        if !v.is_empty() {
            resource.push('=');
            resource.push_str(v);
        }
    }
    let amz: String = amz.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    format!(
        "{}\n{}\n{}\n{expires}\n{amz}{resource}",
        method.as_str(),
        header("content-md5"),
        header("content-type"),
    )
}

/// Verify a SigV2 presigned URL: the key, the expiry, the signature.
pub(super) fn check_v2(
    credentials: &Credentials,
    strict: bool,
    method: &Method,
    raw_path: &str,
    raw_query: &str,
    headers: &HeaderMap,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let get = |name: &str| query_param(raw_query, name).unwrap_or_default();
    let key = get("AWSAccessKeyId");
    let known = constant_time_eq(&key, &credentials.access_key_id);
    if !known && strict {
        return Err(Failure::UnknownKey(key));
    }
    let expires_text = get("Expires");
    let expires = expires_text
        .parse::<i64>()
        .ok()
        .and_then(|s| Utc.timestamp_opt(s, 0).single())
        .ok_or_else(|| Failure::Malformed("Expires must be a Unix time in seconds.".into()))?;
    if now > expires {
        return Err(Failure::Expired {
            expires,
            seconds: None,
        });
    }
    if !known {
        // Another key's URL: its form only (a key, an expiry, a base64 signature).
        let signature = get("Signature");
        if key.is_empty() || signature.is_empty() || BASE64.decode(&signature).is_err() {
            return Err(Failure::Malformed(
                "a presigned URL needs AWSAccessKeyId, Expires and a base64 Signature.".into(),
            ));
        }
        super::note_unverified(&key);
        return Ok(());
    }
    let string_to_sign = string_to_sign(method, raw_path, raw_query, headers, &expires_text);
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(credentials.secret_access_key.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(string_to_sign.as_bytes());
    let expected = BASE64.encode(mac.finalize().into_bytes());
    let provided = get("Signature");
    if !constant_time_eq(&expected, &provided) {
        return Err(Failure::Mismatch {
            key,
            string_to_sign,
            canonical_request: String::new(),
            provided,
        });
    }
    Ok(())
}

//! ListObjectsV2: prefix, delimiter, pagination and URL encoding of keys.

use super::{bucket_ref, xml_ok, MAX_KEYS, URL_SAFE};
use crate::emulator::request::AwsRequest;
use crate::emulator::wire::{iso_millis, AwsError, Outcome};
use crate::emulator::Ctx;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use percent_encoding::utf8_percent_encode;

pub(super) fn url_encode(value: &str, encode: bool) -> String {
    if encode {
        utf8_percent_encode(value, URL_SAFE).to_string()
    } else {
        value.to_string()
    }
}

pub(super) fn list_objects_v2(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let prefix = req.query_value("prefix").unwrap_or("");
    let delimiter = req.query_value("delimiter").filter(|d| !d.is_empty());
    let max_keys = req
        .query_value("max-keys")
        .and_then(|v| v.parse::<usize>().ok())
        .unwrap_or(MAX_KEYS)
        .min(MAX_KEYS);
    let start_after = req.query_value("start-after").unwrap_or("");
    let token = req.query_value("continuation-token");
    let encode = req.query_value("encoding-type") == Some("url");
    let after = match token {
        Some(t) => {
            let decoded = BASE64
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            decoded.ok_or_else(|| {
                AwsError::new(
                    400,
                    "InvalidArgument",
                    "The continuation token provided is incorrect",
                )
            })?
        }
        None => start_after.to_string(),
    };

    let state = ctx.store.lock();
    let b = bucket_ref(&state, bucket)?;
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut last_seen = None;
    let mut truncated = false;
    use std::ops::Bound::{Excluded, Unbounded};
    let lower: std::ops::Bound<&String> = if after.is_empty() {
        Unbounded
    } else {
        Excluded(&after)
    };
    for (key, object) in b.objects.range::<String, _>((lower, Unbounded)) {
        if !key.starts_with(prefix) {
            if key.as_str() > prefix {
                break;
            }
            continue;
        }
        if contents.len() + prefixes.len() >= max_keys {
            truncated = true;
            break;
        }
        if let Some(delimiter) = delimiter {
            if let Some(at) = key[prefix.len()..].find(delimiter) {
                let common = &key[..prefix.len() + at + delimiter.len()];
                if prefixes.last().map(String::as_str) != Some(common) {
                    prefixes.push(common.to_string());
                }
                last_seen = Some(key.clone());
                continue;
            }
        }
        contents.push((key, object));
        last_seen = Some(key.clone());
    }
    // Skip the rest of a common prefix already reported, so the next page does not repeat it.
    if truncated {
        if let (Some(last), Some(common)) = (&last_seen, prefixes.last()) {
            if last.starts_with(common.as_str()) {
                last_seen = b
                    .objects
                    .range::<String, _>((Excluded(last), Unbounded::<&String>))
                    .take_while(|(k, _)| k.starts_with(common.as_str()))
                    .last()
                    .map(|(k, _)| k.clone())
                    .or(last_seen);
            }
        }
    }
    let shown = |text: &str| url_encode(text, encode);
    Ok(xml_ok("ListBucketResult", |xml| {
        xml.leaf("Name", bucket)
            .leaf("Prefix", shown(prefix))
            .leaf_opt("Delimiter", delimiter.map(shown))
            .leaf("MaxKeys", max_keys)
            .leaf("KeyCount", contents.len() + prefixes.len())
            .leaf("IsTruncated", truncated);
        if encode {
            xml.leaf("EncodingType", "url");
        }
        xml.leaf_opt("ContinuationToken", token);
        if !start_after.is_empty() {
            xml.leaf("StartAfter", shown(start_after));
        }
        if truncated {
            xml.leaf_opt(
                "NextContinuationToken",
                last_seen.as_ref().map(|last| BASE64.encode(last)),
            );
        }
        for (key, o) in &contents {
            xml.element("Contents", |c| {
                c.leaf("Key", shown(key))
                    .leaf("LastModified", iso_millis(o.last_modified))
                    .leaf("ETag", &o.etag)
                    .leaf("Size", o.size)
                    .leaf("StorageClass", "STANDARD");
            });
        }
        for p in &prefixes {
            xml.element("CommonPrefixes", |c| {
                c.leaf("Prefix", shown(p));
            });
        }
    }))
}

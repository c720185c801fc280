//! ListObjectsV2: prefix, delimiter, pagination and URL encoding of keys.

use super::{no_such_bucket, xml_ok, MAX_KEYS, NAMESPACE, URL_SAFE};
use crate::emulator::request::AwsRequest;
use crate::emulator::wire::{iso_millis, xml_escape, AwsError, Outcome};
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
    let b = state
        .buckets
        .get(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
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
    let mut xml = format!(
        "<ListBucketResult xmlns=\"{NAMESPACE}\"><Name>{}</Name><Prefix>{}</Prefix>",
        xml_escape(bucket),
        xml_escape(&url_encode(prefix, encode))
    );
    if let Some(d) = delimiter {
        xml.push_str(&format!(
            "<Delimiter>{}</Delimiter>",
            xml_escape(&url_encode(d, encode))
        ));
    }
    xml.push_str(&format!("<MaxKeys>{max_keys}</MaxKeys><KeyCount>{}</KeyCount><IsTruncated>{truncated}</IsTruncated>", contents.len() + prefixes.len()));
    if encode {
        xml.push_str("<EncodingType>url</EncodingType>");
    }
    if let Some(t) = token {
        xml.push_str(&format!(
            "<ContinuationToken>{}</ContinuationToken>",
            xml_escape(t)
        ));
    }
    if !start_after.is_empty() {
        xml.push_str(&format!(
            "<StartAfter>{}</StartAfter>",
            xml_escape(&url_encode(start_after, encode))
        ));
    }
    if truncated {
        if let Some(last) = &last_seen {
            xml.push_str(&format!(
                "<NextContinuationToken>{}</NextContinuationToken>",
                BASE64.encode(last)
            ));
        }
    }
    for (key, o) in contents {
        xml.push_str(&format!(
            "<Contents><Key>{}</Key><LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size><StorageClass>STANDARD</StorageClass></Contents>",
            xml_escape(&url_encode(key, encode)),
            iso_millis(o.last_modified),
            xml_escape(&o.etag),
            o.size
        ));
    }
    for p in prefixes {
        xml.push_str(&format!(
            "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
            xml_escape(&url_encode(&p, encode))
        ));
    }
    xml.push_str("</ListBucketResult>");
    Ok(xml_ok(xml))
}

//! Listing keys: ListObjectsV2, ListObjects (v1) and ListObjectVersions share one pager
//! (prefix, delimiter, pagination, URL encoding of keys).

use super::{bucket_ref, xml_ok, MAX_KEYS, URL_SAFE};
use crate::request::AwsRequest;
use crate::state::{Bucket, Object};
use crate::wire::{iso_millis, AwsError, HttpResponse, Outcome};
use crate::xml_writer::Xml;
use crate::Ctx;
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

/// One page of a bucket's keys after `after`: objects and common prefixes, as every listing
/// call (v2, v1, versions) pages them.
struct Page<'b> {
    contents: Vec<(&'b String, &'b Object)>,
    prefixes: Vec<String>,
    truncated: bool,
    /// The last key this page covers (a common prefix covers all its keys).
    last_seen: Option<String>,
}

fn page<'b>(
    b: &'b Bucket,
    prefix: &str,
    delimiter: Option<&str>,
    after: &str,
    max_keys: usize,
) -> Page<'b> {
    let mut contents = Vec::new();
    let mut prefixes: Vec<String> = Vec::new();
    let mut last_seen = None;
    let mut truncated = false;
    use std::ops::Bound::{Excluded, Unbounded};
    let after = after.to_string();
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
    Page {
        contents,
        prefixes,
        truncated,
        last_seen,
    }
}

/// The query parameters every listing shares: prefix, delimiter, max-keys, encoding-type.
struct Listing<'r> {
    prefix: &'r str,
    delimiter: Option<&'r str>,
    max_keys: usize,
    encode: bool,
}

fn listing(req: &AwsRequest) -> Listing<'_> {
    Listing {
        prefix: req.query_value("prefix").unwrap_or(""),
        delimiter: req.query_value("delimiter").filter(|d| !d.is_empty()),
        max_keys: req
            .query_value("max-keys")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(MAX_KEYS)
            .min(MAX_KEYS),
        encode: req.query_value("encoding-type") == Some("url"),
    }
}

/// The elements a listing's head shares, and its common prefixes.
fn write_prefixes(xml: &mut Xml, prefixes: &[String], shown: &dyn Fn(&str) -> String) {
    for p in prefixes {
        xml.element("CommonPrefixes", |c| {
            c.leaf("Prefix", shown(p));
        });
    }
}

pub(super) fn list_objects_v2(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let Listing {
        prefix,
        delimiter,
        max_keys,
        encode,
    } = listing(req);
    let start_after = req.query_value("start-after").unwrap_or("");
    let token = req.query_value("continuation-token");
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
    let Page {
        contents,
        prefixes,
        truncated,
        last_seen,
    } = page(b, prefix, delimiter, &after, max_keys);
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
                c.leaf("Key", shown(key));
                object_fields(c, o);
            });
        }
        write_prefixes(xml, &prefixes, &shown);
    }))
}

/// A page of `bucket` after the key named by the `marker` query parameter, handed to `answer`
/// with the listing's parameters and the marker (ListObjects v1 and ListObjectVersions).
fn marked_page(
    ctx: &Ctx,
    req: &AwsRequest,
    bucket: &str,
    marker: &str,
    answer: impl FnOnce(&Listing<'_>, &str, &Page<'_>) -> HttpResponse,
) -> Outcome {
    let listed = listing(req);
    let marker = req.query_value(marker).unwrap_or("");
    let state = ctx.store.lock();
    let b = bucket_ref(&state, bucket)?;
    let page = page(b, listed.prefix, listed.delimiter, marker, listed.max_keys);
    Ok(answer(&listed, marker, &page))
}

/// ListObjects (v1): `marker` instead of a continuation token; `NextMarker` when a delimiter
/// is given, as S3 answers.
pub(super) fn list_objects_v1(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    marked_page(ctx, req, bucket, "marker", |listed, marker, page| {
        let &Listing {
            prefix,
            delimiter,
            max_keys,
            encode,
        } = listed;
        let shown = |text: &str| url_encode(text, encode);
        xml_ok("ListBucketResult", |xml| {
            xml.leaf("Name", bucket)
                .leaf("Prefix", shown(prefix))
                .leaf("Marker", shown(marker))
                .leaf_opt("Delimiter", delimiter.map(shown))
                .leaf("MaxKeys", max_keys)
                .leaf("IsTruncated", page.truncated);
            if encode {
                xml.leaf("EncodingType", "url");
            }
            if page.truncated && delimiter.is_some() {
                xml.leaf_opt("NextMarker", page.last_seen.as_deref().map(shown));
            }
            for (key, o) in &page.contents {
                xml.element("Contents", |c| {
                    c.leaf("Key", shown(key));
                    object_fields(c, o);
                    owner(c, ctx);
                });
            }
            write_prefixes(xml, &page.prefixes, &shown);
        })
    })
}

/// ListObjectVersions on a bucket that keeps one version per key: each object is its own
/// latest version, with version id `null`, as S3 lists an unversioned bucket.
pub(super) fn list_object_versions(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    marked_page(
        ctx,
        req,
        bucket,
        "key-marker",
        |listed, key_marker, page| {
            let &Listing {
                prefix,
                delimiter,
                max_keys,
                encode,
            } = listed;
            let shown = |text: &str| url_encode(text, encode);
            xml_ok("ListVersionsResult", |xml| {
                xml.leaf("Name", bucket)
                    .leaf("Prefix", shown(prefix))
                    .leaf("KeyMarker", shown(key_marker))
                    .leaf("VersionIdMarker", "")
                    .leaf_opt("Delimiter", delimiter.map(shown))
                    .leaf("MaxKeys", max_keys)
                    .leaf("IsTruncated", page.truncated);
                if encode {
                    xml.leaf("EncodingType", "url");
                }
                if page.truncated {
                    xml.leaf_opt("NextKeyMarker", page.last_seen.as_deref().map(shown))
                        .leaf("NextVersionIdMarker", "null");
                }
                for (key, o) in &page.contents {
                    xml.element("Version", |v| {
                        v.leaf("Key", shown(key))
                            .leaf("VersionId", "null")
                            .leaf("IsLatest", true);
                        object_fields(v, o);
                        owner(v, ctx);
                    });
                }
                write_prefixes(xml, &page.prefixes, &shown);
            })
        },
    )
}

/// The elements every listing gives an object after its key (and version).
fn object_fields(xml: &mut Xml, o: &Object) {
    xml.leaf("LastModified", iso_millis(o.last_modified))
        .leaf("ETag", &o.etag)
        .leaf("Size", o.size)
        .leaf("StorageClass", "STANDARD");
}

fn owner(xml: &mut Xml, ctx: &Ctx) {
    xml.element("Owner", |o| {
        o.leaf("ID", &ctx.config.account_id)
            .leaf("DisplayName", "nova-ft-local");
    });
}

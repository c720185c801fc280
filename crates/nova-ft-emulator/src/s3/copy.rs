//! CopyObject: `PUT` with `x-amz-copy-source: /bucket/key[?versionId=null]`; the metadata is
//! copied (the default) or replaced (`x-amz-metadata-directive: REPLACE`).

use super::objects::{store_object, user_metadata};
use super::{internal, no_such_bucket, object_ref, xml_ok};
use crate::request::{decode, AwsRequest};
use crate::state::Object;
use crate::wire::{iso_millis, AwsError, Outcome};
use crate::Ctx;
use chrono::Utc;

fn bad_source() -> AwsError {
    AwsError::new(
        400,
        "InvalidArgument",
        "Copy Source must mention the source bucket and key: sourcebucket/sourcekey",
    )
}

pub(super) fn copy_object(
    ctx: &Ctx,
    req: &AwsRequest,
    bucket: &str,
    key: &str,
    source: &str,
) -> Outcome {
    let source = source.trim_start_matches('/');
    let (path, version) = match source.split_once("?versionId=") {
        Some((path, version)) => (path, Some(version)),
        None => (source, None),
    };
    let path = decode(path).ok_or_else(bad_source)?;
    let (from_bucket, from_key) = path
        .split_once('/')
        .filter(|(b, k)| !b.is_empty() && !k.is_empty())
        .ok_or_else(bad_source)?;
    // Every object here is the `null` version of its key.
    if version.is_some_and(|v| v != "null") {
        return Err(AwsError::new(
            404,
            "NoSuchVersion",
            "The specified version does not exist.",
        ));
    }
    let replace = req
        .header("x-amz-metadata-directive")
        .is_some_and(|d| d.eq_ignore_ascii_case("REPLACE"));
    if !replace && (from_bucket, from_key) == (bucket, key) {
        return Err(AwsError::new(400, "InvalidRequest", "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes."));
    }
    let original = {
        let state = ctx.store.lock();
        if !state.buckets.contains_key(bucket) {
            return Err(no_such_bucket(bucket));
        }
        object_ref(&state, from_bucket, from_key)?.clone()
    };
    // The bytes are copied file to file, with no lock held.
    let (blob, size) = ctx
        .store
        .join_blobs(&[original.blob.as_str()])
        .map_err(internal)?;
    let now = Utc::now();
    let (content_type, metadata) = if replace {
        (
            req.header("content-type").map(str::to_string),
            user_metadata(req),
        )
    } else {
        (original.content_type.clone(), original.metadata.clone())
    };
    let etag = original.etag.clone();
    let object = Object {
        blob,
        size,
        etag: etag.clone(),
        last_modified: now,
        content_type,
        checksum_crc32: original.checksum_crc32,
        metadata,
    };
    store_object(ctx, bucket, key, object)?;
    Ok(xml_ok("CopyObjectResult", |xml| {
        xml.leaf("LastModified", iso_millis(now))
            .leaf("ETag", &etag);
    }))
}

//! S3 (restXml), path-style (`/bucket/key`) or virtual-host (`bucket.localhost`) addressing.
//!
//! Buckets, public access blocks, default encryption, objects (plain or `aws-chunked` bodies,
//! CRC32 and MD5 checks, ranges, CopyObject), ListObjectsV2, ListObjects v1 and
//! ListObjectVersions (prefix, delimiter, pagination, URL encoding), bucket versioning,
//! batch delete and multipart upload. Object bodies live in files named by random ids.

mod buckets;
mod chunked;
mod copy;
mod listing;
mod multipart;
mod objects;
#[cfg(test)]
mod tests;
mod xml;

use super::operations;
use super::request::{decode, AwsRequest};
use super::state::{Bucket, Object, State};
use super::wire::{response, AwsError, HttpResponse, Outcome};
use super::xml_writer::Xml;
use super::Ctx;
use axum::body::Body;
use axum::http::Method;
use buckets::{bucket_call, list_buckets};
use chrono::Utc;
use md5::{Digest, Md5};
use objects::{object_call, store_object};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

pub const NAMESPACE: &str = "http://s3.amazonaws.com/doc/2006-03-01/";
const MAX_KEYS: usize = 1000;
const MIN_PART_SIZE: u64 = 5 * 1024 * 1024;

/// What S3's `encoding-type=url` leaves alone besides letters and digits.
const URL_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn method_not_allowed() -> AwsError {
    AwsError::new(
        405,
        "MethodNotAllowed",
        "The specified method is not allowed against this resource.",
    )
}

fn malformed_xml() -> AwsError {
    AwsError::new(
        400,
        "MalformedXML",
        "The XML you provided was not well-formed or did not validate against our published schema",
    )
}

fn no_such_bucket(bucket: &str) -> AwsError {
    AwsError::new(404, "NoSuchBucket", "The specified bucket does not exist")
        .with("BucketName", bucket)
}

fn no_such_key(key: &str) -> AwsError {
    AwsError::new(404, "NoSuchKey", "The specified key does not exist.").with("Key", key)
}

fn internal(e: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        500,
        "InternalError",
        format!("the emulator could not store or read the object: {e}"),
    )
}

/// A bucket, or `NoSuchBucket`.
fn bucket_ref<'s>(state: &'s State, bucket: &str) -> Result<&'s Bucket, AwsError> {
    state
        .buckets
        .get(bucket)
        .ok_or_else(|| no_such_bucket(bucket))
}

/// A bucket to change, or `NoSuchBucket`.
fn bucket_mut<'s>(state: &'s mut State, bucket: &str) -> Result<&'s mut Bucket, AwsError> {
    state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| no_such_bucket(bucket))
}

/// An object, or `NoSuchBucket` / `NoSuchKey`.
fn object_ref<'s>(state: &'s State, bucket: &str, key: &str) -> Result<&'s Object, AwsError> {
    bucket_ref(state, bucket)?
        .objects
        .get(key)
        .ok_or_else(|| no_such_key(key))
}

/// A 200 with an XML document whose root element, in S3's namespace, holds what `inner`
/// writes.
fn xml_ok(root: &str, inner: impl FnOnce(&mut Xml)) -> HttpResponse {
    let mut xml = Xml::document();
    xml.start_ns(root, NAMESPACE);
    inner(&mut xml);
    xml.end(root);
    response(200, "application/xml", xml.into_string())
}

fn status(code: u16) -> HttpResponse {
    response(code, "", Body::empty())
}

/// (bucket, key) of a request: from the Host for virtual-host style, else the path.
type Address = (Option<String>, Option<String>);

/// The bucket named by a virtual-host style request's `Host` (`bucket.localhost`).
fn virtual_host_bucket(req: &AwsRequest) -> Option<&str> {
    let host = req.header("host").unwrap_or_default();
    let host_name = host.split(':').next().unwrap_or_default();
    host_name
        .strip_suffix(".localhost")
        .filter(|b| !b.is_empty())
}

fn address(req: &AwsRequest) -> Result<Address, AwsError> {
    let path = req.raw_path.trim_start_matches('/');
    let decoded = |segment: &str| {
        decode(segment).ok_or_else(|| {
            AwsError::new(400, "InvalidURI", "Couldn't parse the specified URI.")
                .with("URI", req.raw_path.clone())
        })
    };
    if let Some(bucket) = virtual_host_bucket(req) {
        let key = (!path.is_empty()).then(|| decoded(path)).transpose()?;
        return Ok((Some(bucket.to_string()), key));
    }
    Ok(match path.split_once('/') {
        None if path.is_empty() => (None, None),
        None => (Some(decoded(path)?), None),
        Some((bucket, "")) => (Some(decoded(bucket)?), None),
        Some((bucket, key)) => (Some(decoded(bucket)?), Some(decoded(key)?)),
    })
}

/// Whether a request's body is an object's or a part's (streamed to disk, not read whole):
/// a PUT to a key that is not a copy.
pub fn streams_body(method: &Method, raw_path: &str, headers: &axum::http::HeaderMap) -> bool {
    if *method != Method::PUT || headers.contains_key("x-amz-copy-source") {
        return false;
    }
    let host = headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let virtual_host = host
        .split(':')
        .next()
        .and_then(|name| name.strip_suffix(".localhost"))
        .is_some_and(|bucket| !bucket.is_empty());
    let path = raw_path.trim_start_matches('/');
    if virtual_host {
        !path.is_empty()
    } else {
        path.split_once('/').is_some_and(|(_, key)| !key.is_empty())
    }
}

pub fn handle(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let (bucket, key) = address(req)?;
    let shape = match (&bucket, &key) {
        (None, _) => "/",
        (Some(_), None) => "/{Bucket}",
        (Some(_), Some(_)) => "/{Bucket}/{Key+}",
    };
    let address = operations::S3Address {
        shape,
        path_style: virtual_host_bucket(req).is_none(),
    };
    let found = operations::rest_operation(req, Some(address));
    if !found.is_empty() && !operations::served(req.service, &found) {
        return Err(operations::unsupported(req.service, &found, req));
    }
    let method = &req.method;
    match (bucket, key) {
        (None, _) if *method == Method::GET => list_buckets(ctx),
        (None, _) => Err(method_not_allowed()),
        (Some(bucket), None) => bucket_call(ctx, req, &bucket),
        (Some(bucket), Some(key)) => object_call(ctx, req, &bucket, &key),
    }
}

// ---------------------------------------------------------------------------------------------
// For the emulator's own services (a job reading its data and writing its metrics). Access
// checks against the job's role happen before these are called.

/// Read an object's bytes.
pub fn internal_get(ctx: &Ctx, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let blob = {
        let state = ctx.store.lock();
        object_ref(&state, bucket, key)?.blob.clone()
    };
    ctx.store.read_blob(&blob).map_err(internal)
}

/// Open an object's body for streaming (it stays readable if the object is replaced).
pub fn internal_open(ctx: &Ctx, bucket: &str, key: &str) -> Result<std::fs::File, AwsError> {
    let blob = {
        let state = ctx.store.lock();
        object_ref(&state, bucket, key)?.blob.clone()
    };
    ctx.store.open_blob(&blob).map_err(internal)
}

/// The keys of a bucket under a prefix, in order.
pub fn internal_keys(ctx: &Ctx, bucket: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
    let state = ctx.store.lock();
    Ok(bucket_ref(&state, bucket)?
        .objects
        .range(prefix.to_string()..)
        .take_while(|(k, _)| k.starts_with(prefix))
        .map(|(k, _)| k.clone())
        .collect())
}

/// Make a written temporary file (from [`crate::store::Store::new_blob_file`]) an object,
/// with its size and MD5 as the writer counted them.
pub fn internal_put_file(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    file: tempfile::NamedTempFile,
    (size, md5): (u64, [u8; 16]),
    content_type: &str,
) -> Result<(), AwsError> {
    if !ctx.store.lock().buckets.contains_key(bucket) {
        return Err(no_such_bucket(bucket));
    }
    file.as_file().sync_data().map_err(internal)?;
    let blob = ctx.store.keep_blob(file).map_err(internal)?;
    let object = Object {
        blob,
        size,
        etag: format!("\"{}\"", hex::encode(md5)),
        last_modified: Utc::now(),
        content_type: Some(content_type.to_string()),
        checksum_crc32: None,
        metadata: Default::default(),
    };
    store_object(ctx, bucket, key, object)
}

/// Write an object.
pub fn internal_put(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<(), AwsError> {
    if !ctx.store.lock().buckets.contains_key(bucket) {
        return Err(no_such_bucket(bucket));
    }
    let blob = ctx.store.put_blob(&bytes).map_err(internal)?;
    let object = Object {
        blob,
        size: bytes.len() as u64,
        etag: format!("\"{}\"", hex::encode(Md5::digest(&bytes))),
        last_modified: Utc::now(),
        content_type: Some(content_type.to_string()),
        checksum_crc32: None,
        metadata: Default::default(),
    };
    store_object(ctx, bucket, key, object)
}

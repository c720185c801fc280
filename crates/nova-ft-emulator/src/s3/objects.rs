//! Object calls: put, get (with ranges), head, delete, and the batch DeleteObjects.

use super::chunked::spool;
use super::copy::copy_object;
use super::multipart::{create_upload, upload_call, UploadRef};
use super::xml::{field, values, xml_fields};
use super::{bucket_mut, internal, method_not_allowed, no_such_bucket, object_ref, status, xml_ok};
use crate::request::AwsRequest;
use crate::state::Object;
use crate::store::Touched;
use crate::wire::{http_date, response, AwsError, Outcome};
use crate::Ctx;
use axum::body::Body;
use axum::http::{HeaderValue, Method};
use chrono::Utc;

pub(super) fn object_call(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    if key.len() > 1024 {
        return Err(AwsError::new(
            400,
            "KeyTooLongError",
            "Your key is too long",
        ));
    }
    if let Some(id) = req.query_value("uploadId") {
        return upload_call(ctx, req, &UploadRef { bucket, key, id });
    }
    match req.method {
        Method::PUT => put_object(ctx, req, bucket, key),
        Method::GET | Method::HEAD => get_object(ctx, req, bucket, key),
        Method::DELETE => {
            let mut state = ctx.store.lock();
            let b = bucket_mut(&mut state, bucket)?;
            let removed = b.objects.remove(key);
            ctx.commit(state, &[Touched::Object(bucket, key)])?;
            if let Some(object) = removed {
                ctx.store.delete_blob(&object.blob);
            }
            Ok(status(204))
        }
        Method::POST if req.has_query("uploads") => create_upload(ctx, req, bucket, key),
        _ => Err(method_not_allowed()),
    }
}

pub(super) fn put_object(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    if let Some(source) = req.header("x-amz-copy-source") {
        return copy_object(ctx, req, bucket, key, source);
    }
    if !ctx.store.lock().buckets.contains_key(bucket) {
        return Err(no_such_bucket(bucket));
    }
    let spooled = spool(ctx, req)?;
    let etag = spooled.etag.clone();
    let crc = spooled.crc32.clone();
    let blob = ctx.store.keep_blob(spooled.file).map_err(internal)?;
    let object = Object {
        blob,
        size: spooled.size,
        etag: etag.clone(),
        last_modified: Utc::now(),
        content_type: req.header("content-type").map(str::to_string),
        checksum_crc32: crc.clone(),
        metadata: user_metadata(req),
    };
    store_object(ctx, bucket, key, object)?;
    let mut resp = status(200);
    resp.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).map_err(internal)?);
    if let Some(crc) = crc {
        resp.headers_mut().insert(
            "x-amz-checksum-crc32",
            HeaderValue::from_str(&crc).map_err(internal)?,
        );
    }
    Ok(resp)
}

/// The `x-amz-meta-*` headers of a request, as S3 stores them.
pub(super) fn user_metadata(req: &AwsRequest) -> std::collections::BTreeMap<String, String> {
    req.headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("x-amz-meta-")?;
            Some((key.to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// Put an object into a bucket, replacing (and deleting the body of) any previous version.
pub(super) fn store_object(
    ctx: &Ctx,
    bucket: &str,
    key: &str,
    object: Object,
) -> Result<(), AwsError> {
    let mut state = ctx.store.lock();
    let Some(b) = state.buckets.get_mut(bucket) else {
        // The bucket went away while the body was written.
        ctx.store.delete_blob(&object.blob);
        return Err(no_such_bucket(bucket));
    };
    let previous = b.objects.insert(key.to_string(), object);
    ctx.commit(state, &[Touched::Object(bucket, key)])?;
    if let Some(previous) = previous {
        ctx.store.delete_blob(&previous.blob);
    }
    Ok(())
}

/// Parse `Range: bytes=a-b | a- | -n` against `size`; `Err` = unsatisfiable.
pub(super) fn byte_range(header: &str, size: u64) -> Result<(u64, u64), ()> {
    let spec = header.strip_prefix("bytes=").ok_or(())?;
    let (start, end) = spec.split_once('-').ok_or(())?;
    let (start, end) = match (start.trim(), end.trim()) {
        ("", n) => {
            let n: u64 = n.parse().map_err(|_| ())?;
            (size.saturating_sub(n), size.checked_sub(1).ok_or(())?)
        }
        (a, "") => (a.parse().map_err(|_| ())?, size.checked_sub(1).ok_or(())?),
        (a, b) => (
            a.parse().map_err(|_| ())?,
            b.parse::<u64>()
                .map_err(|_| ())?
                .min(size.saturating_sub(1)),
        ),
    };
    if start > end || start >= size {
        return Err(());
    }
    Ok((start, end))
}

/// `length` bytes of a blob from `start`, streamed from the file as the client reads them.
fn stream_blob(ctx: &Ctx, blob: &str, start: u64, length: u64) -> Result<Body, AwsError> {
    use std::io::Seek;
    use tokio::io::AsyncReadExt;
    let mut file = ctx.store.open_blob(blob).map_err(internal)?;
    file.seek(std::io::SeekFrom::Start(start))
        .map_err(internal)?;
    let file = tokio::fs::File::from_std(file).take(length);
    Ok(Body::from_stream(tokio_util::io::ReaderStream::new(file)))
}

pub(super) fn get_object(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    let object = {
        let state = ctx.store.lock();
        object_ref(&state, bucket, key)?.clone()
    };
    let head = req.method == Method::HEAD;
    let range = match req.header("range") {
        Some(h) => Some(byte_range(h, object.size).map_err(|_| {
            AwsError::new(
                416,
                "InvalidRange",
                "The requested range is not satisfiable",
            )
            .with("RangeRequested", h)
        })?),
        None => None,
    };
    let (start, length) = match range {
        Some((start, end)) => (start, end - start + 1),
        None => (0, object.size),
    };
    let status_code = if range.is_some() { 206 } else { 200 };
    let body = if head {
        Body::empty()
    } else {
        stream_blob(ctx, &object.blob, start, length)?
    };
    let content_type = object
        .content_type
        .as_deref()
        .unwrap_or("binary/octet-stream");
    let mut resp = response(status_code, content_type, body);
    let headers = resp.headers_mut();
    headers.insert("content-length", HeaderValue::from(length));
    headers.insert(
        "etag",
        HeaderValue::from_str(&object.etag).map_err(internal)?,
    );
    headers.insert(
        "last-modified",
        HeaderValue::from_str(&http_date(object.last_modified)).map_err(internal)?,
    );
    headers.insert("accept-ranges", HeaderValue::from_static("bytes"));
    for (key, value) in &object.metadata {
        if let (Ok(name), Ok(value)) = (
            axum::http::HeaderName::from_bytes(format!("x-amz-meta-{key}").as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.insert(name, value);
        }
    }
    if let Some((start, end)) = range {
        headers.insert(
            "content-range",
            HeaderValue::from_str(&format!("bytes {start}-{end}/{}", object.size))
                .map_err(internal)?,
        );
    } else if req
        .header("x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
    {
        if let Some(crc) = &object.checksum_crc32 {
            headers.insert(
                "x-amz-checksum-crc32",
                HeaderValue::from_str(crc).map_err(internal)?,
            );
        }
    }
    Ok(resp)
}

pub(super) fn delete_objects(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let fields = xml_fields(&req.body, "Delete")?;
    let keys = values(&fields, "Delete/Object/Key");
    if keys.len() > 1000 {
        return Err(AwsError::new(
            400,
            "MalformedXML",
            "A delete request may name at most 1000 keys.",
        ));
    }
    let quiet = field(&fields, "Delete/Quiet") == Some("true");
    let mut state = ctx.store.lock();
    let b = bucket_mut(&mut state, bucket)?;
    let mut removed = Vec::new();
    for key in &keys {
        if let Some(object) = b.objects.remove(*key) {
            removed.push(object.blob);
        }
    }
    let touched: Vec<_> = keys.iter().map(|k| Touched::Object(bucket, k)).collect();
    ctx.commit(state, &touched)?;
    for blob in removed {
        ctx.store.delete_blob(&blob);
    }
    Ok(xml_ok("DeleteResult", |xml| {
        if !quiet {
            for key in &keys {
                xml.element("Deleted", |d| {
                    d.leaf("Key", key);
                });
            }
        }
    }))
}

//! Multipart upload: create, upload part, complete, abort.

use super::chunked::spool;
use super::xml::{values, xml_fields};
use super::{
    bucket_mut, internal, malformed_xml, method_not_allowed, no_such_bucket, status, xml_ok,
    MIN_PART_SIZE,
};
use crate::request::AwsRequest;
use crate::state::{Object, State, Upload};
use crate::store::Touched;
use crate::wire::{random_id, AwsError, Outcome};
use crate::Ctx;
use axum::http::{HeaderValue, Method};
use chrono::Utc;
use md5::{Digest, Md5};
use std::collections::BTreeMap;

pub(super) fn create_upload(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    let mut state = ctx.store.lock();
    if !state.buckets.contains_key(bucket) {
        return Err(no_such_bucket(bucket));
    }
    let upload_id = random_id(32);
    state.uploads.insert(
        upload_id.clone(),
        Upload {
            bucket: bucket.to_string(),
            key: key.to_string(),
            created: Utc::now(),
            content_type: req.header("content-type").map(str::to_string),
            parts: BTreeMap::new(),
        },
    );
    ctx.commit(state, &[Touched::Upload(&upload_id)])?;
    Ok(xml_ok("InitiateMultipartUploadResult", |xml| {
        xml.leaf("Bucket", bucket)
            .leaf("Key", key)
            .leaf("UploadId", &upload_id);
    }))
}

pub(super) fn no_such_upload(upload: &str) -> AwsError {
    AwsError::new(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").with("UploadId", upload)
}

/// An open multipart upload, as a request names it: `/bucket/key?uploadId=id`.
pub(super) struct UploadRef<'a> {
    pub(super) bucket: &'a str,
    pub(super) key: &'a str,
    pub(super) id: &'a str,
}

/// A call on an open upload: upload a part (PUT), complete (POST) or abort (DELETE).
pub(super) fn upload_call(ctx: &Ctx, req: &AwsRequest, upload: &UploadRef<'_>) -> Outcome {
    match req.method {
        Method::PUT => upload_part(ctx, req, upload),
        Method::POST => complete_upload(ctx, req, upload),
        Method::DELETE => {
            let mut state = ctx.store.lock();
            let removed = take_upload(&mut state, upload)?;
            ctx.commit(state, &[Touched::Upload(upload.id)])?;
            for (blob, _, _) in removed.parts.into_values() {
                ctx.store.delete_blob(&blob);
            }
            Ok(status(204))
        }
        _ => Err(method_not_allowed()),
    }
}

/// Remove an open upload from the state, or `NoSuchUpload`.
fn take_upload(state: &mut State, upload: &UploadRef<'_>) -> Result<Upload, AwsError> {
    match state.uploads.get(upload.id) {
        Some(u) if u.bucket == upload.bucket && u.key == upload.key => {
            Ok(state.uploads.remove(upload.id).expect("present"))
        }
        _ => Err(no_such_upload(upload.id)),
    }
}

fn upload_part(ctx: &Ctx, req: &AwsRequest, upload_ref: &UploadRef<'_>) -> Outcome {
    let (bucket, key, upload) = (upload_ref.bucket, upload_ref.key, upload_ref.id);
    let number: u32 = req
        .query_value("partNumber")
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            AwsError::new(
                400,
                "InvalidArgument",
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    {
        let state = ctx.store.lock();
        match state.uploads.get(upload) {
            Some(u) if u.bucket == bucket && u.key == key => {}
            _ => return Err(no_such_upload(upload)),
        }
    }
    let spooled = spool(ctx, req)?;
    let (etag, size) = (spooled.etag.clone(), spooled.size);
    let blob = ctx.store.keep_blob(spooled.file).map_err(internal)?;
    let mut state = ctx.store.lock();
    let Some(u) = state.uploads.get_mut(upload) else {
        ctx.store.delete_blob(&blob);
        return Err(no_such_upload(upload));
    };
    let previous = u.parts.insert(number, (blob, etag.clone(), size));
    ctx.commit(state, &[Touched::Upload(upload)])?;
    if let Some((old, _, _)) = previous {
        ctx.store.delete_blob(&old);
    }
    let mut resp = status(200);
    resp.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).map_err(internal)?);
    Ok(resp)
}

fn complete_upload(ctx: &Ctx, req: &AwsRequest, upload_ref: &UploadRef<'_>) -> Outcome {
    let (bucket, key, upload) = (upload_ref.bucket, upload_ref.key, upload_ref.id);
    let fields = xml_fields(&req.body, "CompleteMultipartUpload")?;
    let numbers = values(&fields, "CompleteMultipartUpload/Part/PartNumber");
    let etags = values(&fields, "CompleteMultipartUpload/Part/ETag");
    if numbers.is_empty() || numbers.len() != etags.len() {
        return Err(malformed_xml());
    }
    let u = {
        let state = ctx.store.lock();
        match state.uploads.get(upload) {
            Some(u) if u.bucket == bucket && u.key == key => u.clone(),
            _ => return Err(no_such_upload(upload)),
        }
    };
    let mut previous = 0u32;
    let mut chosen = Vec::with_capacity(numbers.len());
    for (i, (number, etag)) in numbers.iter().zip(&etags).enumerate() {
        let number: u32 = number.parse().map_err(|_| {
            AwsError::new(
                400,
                "InvalidPart",
                "One or more of the specified parts could not be found.",
            )
        })?;
        if number <= previous {
            return Err(AwsError::new(400, "InvalidPartOrder", "The list of parts was not in ascending order. Parts must be ordered by part number."));
        }
        previous = number;
        let part = u
            .parts
            .get(&number)
            .filter(|(_, e, _)| e.trim_matches('"') == etag.trim_matches('"'));
        let (blob, part_etag, size) = part.ok_or_else(|| AwsError::new(400, "InvalidPart", "One or more of the specified parts could not be found.  The part may not have been uploaded, or the specified entity tag may not match the part's entity tag."))?;
        if i + 1 < numbers.len() && *size < MIN_PART_SIZE {
            return Err(AwsError::new(
                400,
                "EntityTooSmall",
                "Your proposed upload is smaller than the minimum allowed object size.",
            ));
        }
        chosen.push((blob.clone(), part_etag.clone()));
    }
    // The parts are joined into a new blob with no lock held: other calls go on meanwhile.
    let mut md5s = Vec::new();
    for (_, etag) in &chosen {
        // Our own part ETags: the hex MD5 of the part, quoted.
        md5s.extend(hex::decode(etag.trim_matches('"')).map_err(internal)?);
    }
    let etag = format!("\"{}-{}\"", hex::encode(Md5::digest(&md5s)), chosen.len());
    let blobs: Vec<&str> = chosen.iter().map(|(blob, _)| blob.as_str()).collect();
    let (blob, size) = ctx.store.join_blobs(&blobs).map_err(internal)?;
    let mut state = ctx.store.lock();
    // Completed, aborted or changed meanwhile: this request's view of it is stale.
    if state.uploads.get(upload).map(|now| &now.parts) != Some(&u.parts) {
        drop(state);
        ctx.store.delete_blob(&blob);
        return Err(no_such_upload(upload));
    }
    if !state.buckets.contains_key(bucket) {
        drop(state);
        ctx.store.delete_blob(&blob);
        return Err(no_such_bucket(bucket));
    }
    state.uploads.remove(upload);
    let replaced = bucket_mut(&mut state, bucket)?.objects.insert(
        key.to_string(),
        Object {
            blob,
            size,
            etag: etag.clone(),
            last_modified: Utc::now(),
            content_type: u.content_type.clone(),
            checksum_crc32: None,
            metadata: Default::default(),
        },
    );
    ctx.commit(
        state,
        &[Touched::Upload(upload), Touched::Object(bucket, key)],
    )?;
    let all_parts = u.parts.values().map(|(blob, _, _)| blob);
    for blob in all_parts.chain(replaced.as_ref().map(|o| &o.blob)) {
        ctx.store.delete_blob(blob);
    }
    Ok(xml_ok("CompleteMultipartUploadResult", |xml| {
        xml.leaf("Location", format!("/{bucket}/{key}"))
            .leaf("Bucket", bucket)
            .leaf("Key", key)
            .leaf("ETag", &etag);
    }))
}

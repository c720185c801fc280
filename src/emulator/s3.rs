//! S3 (restXml), path-style (`/bucket/key`) or virtual-host (`bucket.localhost`) addressing.
//!
//! Buckets, public access blocks, default encryption, objects (plain or `aws-chunked` bodies,
//! CRC32 and MD5 checks, ranges), ListObjectsV2 (prefix, delimiter, pagination, URL encoding),
//! batch delete and multipart upload. Object bodies live in files named by random ids.

use super::request::{decode, AwsRequest};
use super::state::{Bucket, Object, PublicAccessBlock, State, Upload};
use super::wire::{
    http_date, iso_millis, random_id, response, xml_escape, AwsError, HttpResponse, Outcome,
};
use super::Ctx;
use axum::body::Body;
use axum::http::{HeaderValue, Method};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use chrono::Utc;
use md5::{Digest, Md5};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::collections::BTreeMap;

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

fn xml_ok(body: String) -> HttpResponse {
    response(
        200,
        "application/xml",
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{body}"),
    )
}

fn status(code: u16) -> HttpResponse {
    response(code, "", Body::empty())
}

/// (bucket, key) of a request: from the Host for virtual-host style, else the path.
fn address(req: &AwsRequest) -> (Option<String>, Option<String>) {
    let host = req.header("host").unwrap_or_default();
    let host_name = host.split(':').next().unwrap_or_default();
    let path = req.raw_path.trim_start_matches('/');
    if let Some(bucket) = host_name
        .strip_suffix(".localhost")
        .filter(|b| !b.is_empty())
    {
        let key = (!path.is_empty()).then(|| decode(path));
        return (Some(bucket.to_string()), key);
    }
    match path.split_once('/') {
        None if path.is_empty() => (None, None),
        None => (Some(decode(path)), None),
        Some((bucket, "")) => (Some(decode(bucket)), None),
        Some((bucket, key)) => (Some(decode(bucket)), Some(decode(key))),
    }
}

pub fn handle(ctx: &Ctx, req: &AwsRequest) -> Outcome {
    let (bucket, key) = address(req);
    let method = &req.method;
    match (bucket, key) {
        (None, _) if *method == Method::GET => list_buckets(ctx),
        (None, _) => Err(method_not_allowed()),
        (Some(bucket), None) => bucket_call(ctx, req, &bucket),
        (Some(bucket), Some(key)) => object_call(ctx, req, &bucket, &key),
    }
}

// ---------------------------------------------------------------------------------------------
// Buckets

fn check_bucket_name(name: &str) -> Result<(), AwsError> {
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if (3..=63).contains(&name.len()) && chars_ok && ends_ok && !name.contains("..") {
        Ok(())
    } else {
        Err(AwsError::new(
            400,
            "InvalidBucketName",
            "The specified bucket is not valid.",
        )
        .with("BucketName", name))
    }
}

fn list_buckets(ctx: &Ctx) -> Outcome {
    let state = ctx.store.lock();
    let buckets: String = state
        .buckets
        .iter()
        .map(|(name, b)| format!("<Bucket><Name>{}</Name><CreationDate>{}</CreationDate><BucketRegion>{}</BucketRegion></Bucket>", xml_escape(name), iso_millis(b.created), b.region))
        .collect();
    Ok(xml_ok(format!(
        "<ListAllMyBucketsResult xmlns=\"{NAMESPACE}\"><Owner><ID>{id}</ID><DisplayName>nova-ft-local</DisplayName></Owner><Buckets>{buckets}</Buckets></ListAllMyBucketsResult>",
        id = ctx.config.account_id
    )))
}

fn bucket_call(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let method = &req.method;
    if req.has_query("publicAccessBlock") {
        return public_access_block(ctx, req, bucket);
    }
    if req.has_query("encryption") {
        return encryption(ctx, req, bucket);
    }
    if req.has_query("location") && *method == Method::GET {
        let state = ctx.store.lock();
        let b = state
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket(bucket))?;
        let region = if b.region == "us-east-1" {
            String::new()
        } else {
            b.region.clone()
        };
        return Ok(xml_ok(format!(
            "<LocationConstraint xmlns=\"{NAMESPACE}\">{region}</LocationConstraint>"
        )));
    }
    if req.has_query("delete") && *method == Method::POST {
        return delete_objects(ctx, req, bucket);
    }
    match *method {
        Method::PUT => create_bucket(ctx, req, bucket),
        Method::HEAD => {
            let state = ctx.store.lock();
            let b = state
                .buckets
                .get(bucket)
                .ok_or_else(|| no_such_bucket(bucket))?;
            let mut resp = status(200);
            resp.headers_mut().insert(
                "x-amz-bucket-region",
                HeaderValue::from_str(&b.region).expect("ascii"),
            );
            Ok(resp)
        }
        Method::DELETE => {
            let mut state = ctx.store.lock();
            let b = state
                .buckets
                .get(bucket)
                .ok_or_else(|| no_such_bucket(bucket))?;
            if !b.objects.is_empty() {
                return Err(AwsError::new(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                )
                .with("BucketName", bucket));
            }
            state.buckets.remove(bucket);
            ctx.save(&state)?;
            Ok(status(204))
        }
        Method::GET if req.query_value("list-type") == Some("2") => {
            list_objects_v2(ctx, req, bucket)
        }
        Method::GET => Err(AwsError::new(
            501,
            "NotImplemented",
            "the nova_ft emulator serves ListObjectsV2 (list-type=2), not ListObjects v1",
        )),
        _ => Err(method_not_allowed()),
    }
}

fn create_bucket(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    check_bucket_name(bucket)?;
    let fields = xml_fields(&req.body)?;
    let constraint = field(&fields, "CreateBucketConfiguration/LocationConstraint");
    let region = match constraint {
        Some("us-east-1") => {
            return Err(AwsError::new(
                400,
                "InvalidLocationConstraint",
                "The specified location-constraint is not valid (omit it for us-east-1).",
            ));
        }
        Some(region) if !region.is_empty() => region.to_string(),
        _ => req.region.clone(),
    };
    let mut state = ctx.store.lock();
    if state.buckets.contains_key(bucket) {
        // S3 answers 200 in us-east-1 for a bucket you already own, 409 elsewhere.
        if region != "us-east-1" {
            return Err(AwsError::new(409, "BucketAlreadyOwnedByYou", "Your previous request to create the named bucket succeeded and you already own it.").with("BucketName", bucket));
        }
    } else {
        state.buckets.insert(
            bucket.to_string(),
            Bucket {
                created: Utc::now(),
                region,
                public_access_block: None,
                encryption: None,
                objects: BTreeMap::new(),
            },
        );
        ctx.save(&state)?;
    }
    let mut resp = status(200);
    resp.headers_mut().insert(
        "location",
        HeaderValue::from_str(&format!("/{bucket}")).map_err(internal)?,
    );
    Ok(resp)
}

fn public_access_block(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let b = state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    match req.method {
        Method::PUT => {
            let fields = xml_fields(&req.body)?;
            let flag = |name: &str| {
                field(&fields, &format!("PublicAccessBlockConfiguration/{name}")) == Some("true")
            };
            b.public_access_block = Some(PublicAccessBlock {
                block_public_acls: flag("BlockPublicAcls"),
                ignore_public_acls: flag("IgnorePublicAcls"),
                block_public_policy: flag("BlockPublicPolicy"),
                restrict_public_buckets: flag("RestrictPublicBuckets"),
            });
            ctx.save(&state)?;
            Ok(status(200))
        }
        Method::GET => {
            let p = b.public_access_block.ok_or_else(|| {
                AwsError::new(
                    404,
                    "NoSuchPublicAccessBlockConfiguration",
                    "The public access block configuration was not found",
                )
                .with("BucketName", bucket)
            })?;
            Ok(xml_ok(format!(
                "<PublicAccessBlockConfiguration xmlns=\"{NAMESPACE}\"><BlockPublicAcls>{}</BlockPublicAcls><IgnorePublicAcls>{}</IgnorePublicAcls><BlockPublicPolicy>{}</BlockPublicPolicy><RestrictPublicBuckets>{}</RestrictPublicBuckets></PublicAccessBlockConfiguration>",
                p.block_public_acls, p.ignore_public_acls, p.block_public_policy, p.restrict_public_buckets
            )))
        }
        Method::DELETE => {
            b.public_access_block = None;
            ctx.save(&state)?;
            Ok(status(204))
        }
        _ => Err(method_not_allowed()),
    }
}

/// Every new S3 bucket is encrypted with SSE-S3 (AES256) unless configured otherwise.
const DEFAULT_ENCRYPTION: &str = "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";

fn encryption(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let mut state = ctx.store.lock();
    let b = state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    match req.method {
        Method::PUT => {
            let fields = xml_fields(&req.body)?;
            if field(&fields, "ServerSideEncryptionConfiguration/Rule/ApplyServerSideEncryptionByDefault/SSEAlgorithm").is_none() {
                return Err(malformed_xml());
            }
            let body = String::from_utf8_lossy(&req.body);
            let body = body.trim_start();
            let body = if body.starts_with("<?xml") {
                body.split_once("?>")
                    .map_or(body, |(_, rest)| rest.trim_start())
            } else {
                body
            };
            b.encryption = Some(body.to_string());
            ctx.save(&state)?;
            Ok(status(200))
        }
        Method::GET => Ok(xml_ok(
            b.encryption
                .clone()
                .unwrap_or_else(|| DEFAULT_ENCRYPTION.to_string()),
        )),
        Method::DELETE => {
            b.encryption = None;
            ctx.save(&state)?;
            Ok(status(204))
        }
        _ => Err(method_not_allowed()),
    }
}

fn url_encode(value: &str, encode: bool) -> String {
    if encode {
        utf8_percent_encode(value, URL_SAFE).to_string()
    } else {
        value.to_string()
    }
}

fn list_objects_v2(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
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

fn delete_objects(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    let fields = xml_fields(&req.body)?;
    let keys: Vec<&str> = fields
        .iter()
        .filter(|(p, _)| p == "Delete/Object/Key")
        .map(|(_, v)| v.as_str())
        .collect();
    if keys.len() > 1000 {
        return Err(AwsError::new(
            400,
            "MalformedXML",
            "A delete request may name at most 1000 keys.",
        ));
    }
    let quiet = field(&fields, "Delete/Quiet") == Some("true");
    let mut state = ctx.store.lock();
    let b = state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    let mut removed = Vec::new();
    let mut xml = format!("<DeleteResult xmlns=\"{NAMESPACE}\">");
    for key in keys {
        if let Some(object) = b.objects.remove(key) {
            removed.push(object.blob);
        }
        if !quiet {
            xml.push_str(&format!(
                "<Deleted><Key>{}</Key></Deleted>",
                xml_escape(key)
            ));
        }
    }
    xml.push_str("</DeleteResult>");
    ctx.save(&state)?;
    drop(state);
    for blob in removed {
        ctx.store.delete_blob(&blob);
    }
    Ok(xml_ok(xml))
}

// ---------------------------------------------------------------------------------------------
// Objects

fn object_call(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    if key.len() > 1024 {
        return Err(AwsError::new(
            400,
            "KeyTooLongError",
            "Your key is too long",
        ));
    }
    let upload_id = req.query_value("uploadId");
    match (&req.method, upload_id) {
        (&Method::PUT, Some(upload)) => upload_part(ctx, req, bucket, key, upload),
        (&Method::PUT, None) => put_object(ctx, req, bucket, key),
        (&Method::GET, _) | (&Method::HEAD, _) => get_object(ctx, req, bucket, key),
        (&Method::DELETE, Some(upload)) => {
            let mut state = ctx.store.lock();
            let removed = take_upload(&mut state, bucket, key, upload)?;
            ctx.save(&state)?;
            drop(state);
            for (blob, _, _) in removed.parts.into_values() {
                ctx.store.delete_blob(&blob);
            }
            Ok(status(204))
        }
        (&Method::DELETE, None) => {
            let mut state = ctx.store.lock();
            let b = state
                .buckets
                .get_mut(bucket)
                .ok_or_else(|| no_such_bucket(bucket))?;
            let removed = b.objects.remove(key);
            ctx.save(&state)?;
            drop(state);
            if let Some(object) = removed {
                ctx.store.delete_blob(&object.blob);
            }
            Ok(status(204))
        }
        (&Method::POST, _) if req.has_query("uploads") => create_upload(ctx, req, bucket, key),
        (&Method::POST, Some(upload)) => complete_upload(ctx, req, bucket, key, upload),
        _ => Err(method_not_allowed()),
    }
}

/// The payload of a PUT: decoded from `aws-chunked` framing when used, with any trailing
/// checksum, and checked against `Content-MD5` and `x-amz-checksum-crc32` when given.
fn payload(req: &AwsRequest) -> Result<(Vec<u8>, Option<String>), AwsError> {
    let chunked = req
        .header("content-encoding")
        .is_some_and(|e| e.contains("aws-chunked"))
        || req
            .header("x-amz-content-sha256")
            .is_some_and(|s| s.starts_with("STREAMING-"));
    let (body, trailers) = if chunked {
        decode_aws_chunked(&req.body)?
    } else {
        (req.body.to_vec(), Vec::new())
    };
    if let Some(md5) = req.header("content-md5") {
        if BASE64.encode(Md5::digest(&body)) != md5 {
            return Err(AwsError::new(
                400,
                "BadDigest",
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    let crc = req
        .header("x-amz-checksum-crc32")
        .map(str::to_string)
        .or_else(|| {
            trailers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("x-amz-checksum-crc32"))
                .map(|(_, v)| v.clone())
        });
    if let Some(expected) = &crc {
        let actual = BASE64.encode(crc32fast::hash(&body).to_be_bytes());
        if &actual != expected {
            return Err(AwsError::new(
                400,
                "BadDigest",
                "The CRC32 you specified did not match the calculated checksum.",
            ));
        }
    }
    Ok((body, crc))
}

/// `<hex size>[;chunk-signature=...]\r\n<data>\r\n ... 0\r\n<trailers>\r\n\r\n`
/// Header name and value pairs (`aws-chunked` trailers).
type Trailers = Vec<(String, String)>;

fn decode_aws_chunked(body: &[u8]) -> Result<(Vec<u8>, Trailers), AwsError> {
    let bad = || {
        AwsError::new(
            400,
            "IncompleteBody",
            "The aws-chunked request body is malformed.",
        )
    };
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    loop {
        let line_end = memchr::memmem::find(&body[at..], b"\r\n").ok_or_else(bad)? + at;
        let header = std::str::from_utf8(&body[at..line_end]).map_err(|_| bad())?;
        let size = usize::from_str_radix(header.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| bad())?;
        at = line_end + 2;
        if size == 0 {
            break;
        }
        let data = body.get(at..at + size).ok_or_else(bad)?;
        out.extend_from_slice(data);
        at += size;
        if body.get(at..at + 2) != Some(b"\r\n") {
            return Err(bad());
        }
        at += 2;
    }
    let trailers = String::from_utf8_lossy(&body[at..])
        .lines()
        .filter_map(|line| {
            line.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    Ok((out, trailers))
}

fn put_object(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    if req.header("x-amz-copy-source").is_some() {
        return Err(AwsError::new(
            501,
            "NotImplemented",
            "the nova_ft emulator does not serve CopyObject",
        ));
    }
    if !ctx.store.lock().buckets.contains_key(bucket) {
        return Err(no_such_bucket(bucket));
    }
    let (body, crc) = payload(req)?;
    let etag = format!("\"{}\"", hex(&Md5::digest(&body)));
    let blob = ctx.store.put_blob(&body).map_err(internal)?;
    let object = Object {
        blob,
        size: body.len() as u64,
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
fn user_metadata(req: &AwsRequest) -> std::collections::BTreeMap<String, String> {
    req.headers
        .iter()
        .filter_map(|(name, value)| {
            let key = name.as_str().strip_prefix("x-amz-meta-")?;
            Some((key.to_string(), value.to_str().ok()?.to_string()))
        })
        .collect()
}

/// Put an object into a bucket, replacing (and deleting the body of) any previous version.
fn store_object(ctx: &Ctx, bucket: &str, key: &str, object: Object) -> Result<(), AwsError> {
    let mut state = ctx.store.lock();
    let Some(b) = state.buckets.get_mut(bucket) else {
        // The bucket went away while the body was written.
        ctx.store.delete_blob(&object.blob);
        return Err(no_such_bucket(bucket));
    };
    let previous = b.objects.insert(key.to_string(), object);
    ctx.save(&state)?;
    drop(state);
    if let Some(previous) = previous {
        ctx.store.delete_blob(&previous.blob);
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parse `Range: bytes=a-b | a- | -n` against `size`; `Err` = unsatisfiable.
fn byte_range(header: &str, size: u64) -> Result<(u64, u64), ()> {
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

fn get_object(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
    let object = {
        let state = ctx.store.lock();
        let b = state
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket(bucket))?;
        b.objects
            .get(key)
            .cloned()
            .ok_or_else(|| no_such_key(key))?
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
    let (status_code, body) = if head {
        (200, Vec::new())
    } else {
        let bytes = ctx.store.read_blob(&object.blob).map_err(internal)?;
        match range {
            Some((start, end)) => (206, bytes[start as usize..=end as usize].to_vec()),
            None => (200, bytes),
        }
    };
    let length = match range {
        Some((start, end)) => end - start + 1,
        None => object.size,
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

// ---------------------------------------------------------------------------------------------
// Multipart upload

fn create_upload(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str) -> Outcome {
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
    ctx.save(&state)?;
    Ok(xml_ok(format!(
        "<InitiateMultipartUploadResult xmlns=\"{NAMESPACE}\"><Bucket>{}</Bucket><Key>{}</Key><UploadId>{upload_id}</UploadId></InitiateMultipartUploadResult>",
        xml_escape(bucket),
        xml_escape(key)
    )))
}

fn no_such_upload(upload: &str) -> AwsError {
    AwsError::new(404, "NoSuchUpload", "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.").with("UploadId", upload)
}

fn take_upload(
    state: &mut State,
    bucket: &str,
    key: &str,
    upload: &str,
) -> Result<Upload, AwsError> {
    match state.uploads.get(upload) {
        Some(u) if u.bucket == bucket && u.key == key => {
            Ok(state.uploads.remove(upload).expect("present"))
        }
        _ => Err(no_such_upload(upload)),
    }
}

fn upload_part(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str, upload: &str) -> Outcome {
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
    let (body, _) = payload(req)?;
    let etag = format!("\"{}\"", hex(&Md5::digest(&body)));
    let blob = ctx.store.put_blob(&body).map_err(internal)?;
    let mut state = ctx.store.lock();
    let Some(u) = state.uploads.get_mut(upload) else {
        ctx.store.delete_blob(&blob);
        return Err(no_such_upload(upload));
    };
    let previous = u
        .parts
        .insert(number, (blob, etag.clone(), body.len() as u64));
    ctx.save(&state)?;
    drop(state);
    if let Some((old, _, _)) = previous {
        ctx.store.delete_blob(&old);
    }
    let mut resp = status(200);
    resp.headers_mut()
        .insert("etag", HeaderValue::from_str(&etag).map_err(internal)?);
    Ok(resp)
}

fn complete_upload(ctx: &Ctx, req: &AwsRequest, bucket: &str, key: &str, upload: &str) -> Outcome {
    let fields = xml_fields(&req.body)?;
    let numbers: Vec<&str> = fields
        .iter()
        .filter(|(p, _)| p == "CompleteMultipartUpload/Part/PartNumber")
        .map(|(_, v)| v.as_str())
        .collect();
    let etags: Vec<&str> = fields
        .iter()
        .filter(|(p, _)| p == "CompleteMultipartUpload/Part/ETag")
        .map(|(_, v)| v.as_str())
        .collect();
    if numbers.is_empty() || numbers.len() != etags.len() {
        return Err(malformed_xml());
    }
    let mut state = ctx.store.lock();
    let u = match state.uploads.get(upload) {
        Some(u) if u.bucket == bucket && u.key == key => u.clone(),
        _ => return Err(no_such_upload(upload)),
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
    let mut body = Vec::new();
    let mut md5s = Vec::new();
    for (blob, etag) in &chosen {
        body.extend(ctx.store.read_blob(blob).map_err(internal)?);
        md5s.extend(decode_hex(etag.trim_matches('"')));
    }
    let etag = format!("\"{}-{}\"", hex(&Md5::digest(&md5s)), chosen.len());
    let blob = ctx.store.put_blob(&body).map_err(internal)?;
    let all_parts: Vec<String> = u.parts.values().map(|(b, _, _)| b.clone()).collect();
    state.uploads.remove(upload);
    let b = state
        .buckets
        .get_mut(bucket)
        .ok_or_else(|| no_such_bucket(bucket))?;
    let replaced = b.objects.insert(
        key.to_string(),
        Object {
            blob,
            size: body.len() as u64,
            etag: etag.clone(),
            last_modified: Utc::now(),
            content_type: u.content_type.clone(),
            checksum_crc32: None,
            metadata: Default::default(),
        },
    );
    ctx.save(&state)?;
    drop(state);
    for blob in all_parts.iter().chain(replaced.as_ref().map(|o| &o.blob)) {
        ctx.store.delete_blob(blob);
    }
    Ok(xml_ok(format!(
        "<CompleteMultipartUploadResult xmlns=\"{NAMESPACE}\"><Location>/{b}/{k}</Location><Bucket>{b}</Bucket><Key>{k}</Key><ETag>{}</ETag></CompleteMultipartUploadResult>",
        xml_escape(&etag),
        b = xml_escape(bucket),
        k = xml_escape(key)
    )))
}

fn decode_hex(text: &str) -> Vec<u8> {
    (0..text.len() / 2)
        .filter_map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Request XML: flattened to (element path, text) pairs, which is all these bodies need.

fn xml_fields(body: &[u8]) -> Result<Vec<(String, String)>, AwsError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    loop {
        match reader
            .read_event_into(&mut buf)
            .map_err(|_| malformed_xml())?
        {
            Event::Start(e) => {
                path.push(String::from_utf8_lossy(e.local_name().as_ref()).into_owned())
            }
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|_| malformed_xml())?.into_owned();
                if !text.trim().is_empty() {
                    out.push((path.join("/"), text));
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(out)
}

fn field<'a>(fields: &'a [(String, String)], path: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(p, _)| p == path)
        .map(|(_, v)| v.as_str())
}

// ---------------------------------------------------------------------------------------------
// For the emulator's own services (a job reading its data and writing its metrics). Access
// checks against the job's role happen before these are called.

/// Read an object's bytes.
pub fn internal_get(ctx: &Ctx, bucket: &str, key: &str) -> Result<Vec<u8>, AwsError> {
    let blob = {
        let state = ctx.store.lock();
        let b = state
            .buckets
            .get(bucket)
            .ok_or_else(|| no_such_bucket(bucket))?;
        b.objects
            .get(key)
            .ok_or_else(|| no_such_key(key))?
            .blob
            .clone()
    };
    ctx.store.read_blob(&blob).map_err(internal)
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
        etag: format!("\"{}\"", hex(&Md5::digest(&bytes))),
        last_modified: Utc::now(),
        content_type: Some(content_type.to_string()),
        checksum_crc32: None,
        metadata: Default::default(),
    };
    store_object(ctx, bucket, key, object)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_chunked_bodies_decode_with_trailers() {
        let body = b"5;chunk-signature=abc\r\nhello\r\n6\r\n world\r\n0\r\nx-amz-checksum-crc32:DUoRhQ==\r\n\r\n";
        let (data, trailers) = decode_aws_chunked(body).unwrap();
        assert_eq!(data, b"hello world");
        assert_eq!(
            trailers,
            vec![("x-amz-checksum-crc32".to_string(), "DUoRhQ==".to_string())]
        );
        assert!(decode_aws_chunked(b"zz\r\n").is_err());
    }

    #[test]
    fn ranges_follow_http() {
        assert_eq!(byte_range("bytes=0-4", 10), Ok((0, 4)));
        assert_eq!(byte_range("bytes=5-", 10), Ok((5, 9)));
        assert_eq!(byte_range("bytes=-3", 10), Ok((7, 9)));
        assert_eq!(byte_range("bytes=8-100", 10), Ok((8, 9)));
        assert!(byte_range("bytes=10-", 10).is_err());
    }

    #[test]
    fn bucket_names_follow_s3_rules() {
        assert!(check_bucket_name("sl-nova-ft-123456789012").is_ok());
        for bad in ["ab", "Upper", "-start", "a..b", "under_score"] {
            assert!(check_bucket_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_xml_flattens_to_paths() {
        let body = br#"<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a&amp;b</Key></Object><Quiet>true</Quiet></Delete>"#;
        let fields = xml_fields(body).unwrap();
        assert_eq!(field(&fields, "Delete/Object/Key"), Some("a&b"));
        assert_eq!(field(&fields, "Delete/Quiet"), Some("true"));
    }
}

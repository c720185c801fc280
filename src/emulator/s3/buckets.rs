//! Bucket calls: create, head, delete, location, public access block, default encryption.

use super::listing::list_objects_v2;
use super::objects::delete_objects;
use super::xml::{field, xml_fields};
use super::{
    internal, malformed_xml, method_not_allowed, no_such_bucket, status, xml_ok, NAMESPACE,
};
use crate::emulator::request::AwsRequest;
use crate::emulator::state::{Bucket, PublicAccessBlock};
use crate::emulator::wire::{iso_millis, xml_escape, AwsError, Outcome};
use crate::emulator::Ctx;
use axum::http::{HeaderValue, Method};
use chrono::Utc;
use std::collections::BTreeMap;

pub(super) fn check_bucket_name(name: &str) -> Result<(), AwsError> {
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

pub(super) fn list_buckets(ctx: &Ctx) -> Outcome {
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

pub(super) fn bucket_call(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
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

pub(super) fn create_bucket(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
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

pub(super) fn public_access_block(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
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
pub(super) const DEFAULT_ENCRYPTION: &str = "<ServerSideEncryptionConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Rule><ApplyServerSideEncryptionByDefault><SSEAlgorithm>AES256</SSEAlgorithm></ApplyServerSideEncryptionByDefault><BucketKeyEnabled>false</BucketKeyEnabled></Rule></ServerSideEncryptionConfiguration>";

pub(super) fn encryption(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
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

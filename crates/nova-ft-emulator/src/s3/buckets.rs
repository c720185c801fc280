//! Bucket calls: create, head, delete, location, public access block, default encryption.

use super::listing::{list_object_versions, list_objects_v1, list_objects_v2};
use super::objects::delete_objects;
use super::xml::optional_xml_fields;
use super::xml::{field, xml_fields};
use super::{
    bucket_mut, bucket_ref, internal, malformed_xml, method_not_allowed, status, xml_ok, NAMESPACE,
};
use crate::regions::is_region;
use crate::request::AwsRequest;
use crate::state::{Bucket, PublicAccessBlock};
use crate::store::Touched;
use crate::wire::{iso_millis, response, AwsError, HttpResponse, Outcome};
use crate::xml_writer::Xml;
use crate::Ctx;
use axum::http::{HeaderValue, Method};
use chrono::Utc;
use std::collections::BTreeMap;

/// S3's general purpose bucket naming rules: 3-63 lowercase letters, digits, dots and
/// hyphens, beginning and ending with a letter or digit, no two adjacent dots, not an IP
/// address, and none of the prefixes and suffixes S3 reserves.
pub(super) fn check_bucket_name(name: &str) -> Result<(), AwsError> {
    const RESERVED_PREFIXES: [&str; 3] = ["xn--", "sthree-", "amzn-s3-demo-"];
    const RESERVED_SUFFIXES: [&str; 4] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3"];
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let ends_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    let ip_address = name.parse::<std::net::Ipv4Addr>().is_ok();
    let reserved = RESERVED_PREFIXES.iter().any(|p| name.starts_with(p))
        || RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s));
    if (3..=63).contains(&name.len())
        && chars_ok
        && ends_ok
        && !name.contains("..")
        && !ip_address
        && !reserved
    {
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
    Ok(xml_ok("ListAllMyBucketsResult", |xml| {
        xml.element("Owner", |owner| {
            owner
                .leaf("ID", &ctx.config.account_id)
                .leaf("DisplayName", "nova-ft-local");
        })
        .element("Buckets", |buckets| {
            for (name, b) in &state.buckets {
                buckets.element("Bucket", |bucket| {
                    bucket
                        .leaf("Name", name)
                        .leaf("CreationDate", iso_millis(b.created))
                        .leaf("BucketRegion", &b.region);
                });
            }
        });
    }))
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
        let b = bucket_ref(&state, bucket)?;
        let region = if b.region == "us-east-1" {
            String::new()
        } else {
            b.region.clone()
        };
        let mut xml = Xml::document();
        xml.start_ns("LocationConstraint", NAMESPACE);
        if !region.is_empty() {
            xml.text(&region);
        }
        xml.end("LocationConstraint");
        return Ok(response(200, "application/xml", xml.into_string()));
    }
    if req.has_query("versioning") {
        return versioning(ctx, req, bucket);
    }
    if req.has_query("delete") && *method == Method::POST {
        return delete_objects(ctx, req, bucket);
    }
    match *method {
        Method::PUT => create_bucket(ctx, req, bucket),
        Method::HEAD => {
            let state = ctx.store.lock();
            let b = bucket_ref(&state, bucket)?;
            let mut resp = status(200);
            resp.headers_mut().insert(
                "x-amz-bucket-region",
                HeaderValue::from_str(&b.region).expect("ascii"),
            );
            Ok(resp)
        }
        Method::DELETE => {
            let mut state = ctx.store.lock();
            let b = bucket_ref(&state, bucket)?;
            if !b.objects.is_empty() {
                return Err(AwsError::new(
                    409,
                    "BucketNotEmpty",
                    "The bucket you tried to delete is not empty",
                )
                .with("BucketName", bucket));
            }
            state.buckets.remove(bucket);
            // Uploads still open in the bucket go with it, and so do their parts.
            let uploads: Vec<_> = state
                .uploads
                .extract_if(.., |_, u| u.bucket == bucket)
                .collect();
            let mut touched = vec![Touched::Bucket(bucket)];
            touched.extend(uploads.iter().map(|(id, _)| Touched::Upload(id)));
            ctx.commit(state, &touched)?;
            let parts = uploads
                .into_iter()
                .flat_map(|(_, u)| u.parts.into_values().map(|(blob, _, _)| blob));
            for blob in parts {
                ctx.store.delete_blob(&blob);
            }
            Ok(status(204))
        }
        Method::GET if req.query_value("list-type") == Some("2") => {
            list_objects_v2(ctx, req, bucket)
        }
        Method::GET if req.has_query("versions") => list_object_versions(ctx, req, bucket),
        Method::GET => list_objects_v1(ctx, req, bucket),
        _ => Err(method_not_allowed()),
    }
}

pub(super) fn create_bucket(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    check_bucket_name(bucket)?;
    let fields = optional_xml_fields(&req.body, "CreateBucketConfiguration")?;
    let constraint = field(&fields, "CreateBucketConfiguration/LocationConstraint");
    let invalid = |why: &str| {
        Err(AwsError::new(
            400,
            "InvalidLocationConstraint",
            format!("The specified location-constraint is not valid ({why})."),
        ))
    };
    let region = match constraint {
        Some("us-east-1") => return invalid("omit it for us-east-1"),
        Some(region) if !region.is_empty() => region.to_string(),
        _ => req.region.clone(),
    };
    if !is_region(&region) {
        return invalid("not an AWS region name");
    }
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
                versioning: None,
                objects: BTreeMap::new(),
            },
        );
        ctx.commit(state, &[Touched::Bucket(bucket)])?;
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
    let b = bucket_mut(&mut state, bucket)?;
    match req.method {
        Method::PUT => {
            let fields = xml_fields(&req.body, "PublicAccessBlockConfiguration")?;
            let flag = |name: &str| {
                field(&fields, &format!("PublicAccessBlockConfiguration/{name}")) == Some("true")
            };
            b.public_access_block = Some(PublicAccessBlock {
                block_public_acls: flag("BlockPublicAcls"),
                ignore_public_acls: flag("IgnorePublicAcls"),
                block_public_policy: flag("BlockPublicPolicy"),
                restrict_public_buckets: flag("RestrictPublicBuckets"),
            });
            ctx.commit(state, &[Touched::Bucket(bucket)])?;
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
            Ok(xml_ok("PublicAccessBlockConfiguration", |xml| {
                xml.leaf("BlockPublicAcls", p.block_public_acls)
                    .leaf("IgnorePublicAcls", p.ignore_public_acls)
                    .leaf("BlockPublicPolicy", p.block_public_policy)
                    .leaf("RestrictPublicBuckets", p.restrict_public_buckets);
            }))
        }
        Method::DELETE => {
            b.public_access_block = None;
            ctx.commit(state, &[Touched::Bucket(bucket)])?;
            Ok(status(204))
        }
        _ => Err(method_not_allowed()),
    }
}

/// A bucket's default encryption as S3 reports it. Every new S3 bucket is encrypted with
/// SSE-S3 (AES256) unless configured otherwise.
fn encryption_xml(algorithm: &str, kms_key: Option<&str>, bucket_key: bool) -> HttpResponse {
    xml_ok("ServerSideEncryptionConfiguration", |xml| {
        xml.element("Rule", |rule| {
            rule.element("ApplyServerSideEncryptionByDefault", |d| {
                d.leaf("SSEAlgorithm", algorithm)
                    .leaf_opt("KMSMasterKeyID", kms_key);
            })
            .leaf("BucketKeyEnabled", bucket_key);
        });
    })
}

/// What a PutBucketEncryption sets, as stored in the bucket's `encryption` field.
#[derive(serde::Serialize, serde::Deserialize)]
struct EncryptionSetting {
    algorithm: String,
    kms_key: Option<String>,
    bucket_key: bool,
}

impl Default for EncryptionSetting {
    fn default() -> Self {
        EncryptionSetting {
            algorithm: "AES256".into(),
            kms_key: None,
            bucket_key: false,
        }
    }
}

/// The modelled fields of a PutBucketEncryption body (only these are kept, and the answer to
/// GetBucketEncryption is written from them).
fn parse_encryption(body: &[u8]) -> Result<EncryptionSetting, AwsError> {
    const RULE: &str = "ServerSideEncryptionConfiguration/Rule";
    let fields = xml_fields(body, "ServerSideEncryptionConfiguration")?;
    let by_default = |name: &str| {
        field(
            &fields,
            &format!("{RULE}/ApplyServerSideEncryptionByDefault/{name}"),
        )
    };
    let algorithm = by_default("SSEAlgorithm").ok_or_else(malformed_xml)?;
    if !matches!(algorithm, "AES256" | "aws:kms" | "aws:kms:dsse") {
        return Err(malformed_xml());
    }
    Ok(EncryptionSetting {
        algorithm: algorithm.to_string(),
        kms_key: by_default("KMSMasterKeyID").map(str::to_string),
        bucket_key: field(&fields, &format!("{RULE}/BucketKeyEnabled")) == Some("true"),
    })
}

pub(super) fn encryption(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    // Parse before taking the lock: no other request waits on this one's XML.
    let setting = match req.method {
        Method::PUT => Some(parse_encryption(&req.body)?),
        Method::GET | Method::DELETE => None,
        _ => return Err(method_not_allowed()),
    };
    let mut state = ctx.store.lock();
    let b = bucket_mut(&mut state, bucket)?;
    if req.method == Method::GET {
        let setting = b
            .encryption
            .as_deref()
            .and_then(|stored| serde_json::from_str::<EncryptionSetting>(stored).ok())
            .unwrap_or_default();
        return Ok(encryption_xml(
            &setting.algorithm,
            setting.kms_key.as_deref(),
            setting.bucket_key,
        ));
    }
    b.encryption = match setting {
        Some(setting) => Some(serde_json::to_string(&setting).map_err(internal)?),
        None => None,
    };
    ctx.commit(state, &[Touched::Bucket(bucket)])?;
    Ok(status(if req.method == Method::PUT { 200 } else { 204 }))
}

/// Get/PutBucketVersioning. The emulator keeps one version per key, so versioning can be
/// suspended (a no-op that S3 reports back) but not enabled: saying yes would promise
/// versions it does not keep.
pub(super) fn versioning(ctx: &Ctx, req: &AwsRequest, bucket: &str) -> Outcome {
    match req.method {
        Method::GET => {
            let state = ctx.store.lock();
            let status = bucket_ref(&state, bucket)?.versioning.clone();
            Ok(xml_ok("VersioningConfiguration", |xml| {
                xml.leaf_opt("Status", status);
            }))
        }
        Method::PUT => {
            let fields = xml_fields(&req.body, "VersioningConfiguration")?;
            match field(&fields, "VersioningConfiguration/Status") {
                Some("Suspended") => {}
                Some("Enabled") => {
                    return Err(AwsError::new(
                        501,
                        "NotImplemented",
                        "PutBucketVersioning with Status Enabled: the nova_ft emulator keeps one version per key",
                    ))
                }
                _ => return Err(malformed_xml()),
            }
            let mut state = ctx.store.lock();
            bucket_mut(&mut state, bucket)?.versioning = Some("Suspended".into());
            ctx.commit(state, &[Touched::Bucket(bucket)])?;
            Ok(status(200))
        }
        _ => Err(method_not_allowed()),
    }
}

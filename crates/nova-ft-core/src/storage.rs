//! S3 for the workflow: a private, encrypted bucket, uploads that skip unchanged files, and
//! listing/deleting what a workflow wrote.

use crate::aws::{aws_error, deleted, is_not_found, AwsSession};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, Delete, ObjectIdentifier,
    PublicAccessBlockConfiguration, ServerSideEncryption, ServerSideEncryptionByDefault,
    ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use nova_ft_data::error::{NovaError, Result};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// User-metadata key holding the SHA-256 of an uploaded file, so a re-upload of the same
/// bytes can be skipped whatever the bucket's encryption does to the ETag.
pub const SHA256_METADATA: &str = "nova-ft-sha256";

#[derive(Debug, Clone, Serialize)]
pub struct BucketInfo {
    pub name: String,
    pub region: String,
    /// True when this call created the bucket (false: it existed and was made private).
    pub created: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct UploadedObject {
    pub uri: String,
    pub bucket: String,
    pub key: String,
    pub size: u64,
    pub sha256: String,
    /// False when the object already held these exact bytes and nothing was sent.
    pub uploaded: bool,
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let mut file = std::fs::File::open(path).map_err(|e| NovaError::io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(|e| NovaError::io(path, e))?;
        if n == 0 {
            break;
        }
        size += n as u64;
        hasher.update(&buffer[..n]);
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// A body that broke off while it was read.
pub fn read_error(bucket: &str, key: &str, error: impl std::fmt::Display) -> NovaError {
    NovaError::Aws {
        operation: "GetObject".into(),
        code: "ConnectionError".into(),
        message: format!("reading s3://{bucket}/{key}: {error}"),
        request_id: None,
        status: None,
    }
}

impl AwsSession {
    /// Create the bucket if it is missing, then block public access and turn on default
    /// encryption (SSE-S3). Safe to call again.
    pub async fn ensure_bucket(&self, name: &str) -> Result<BucketInfo> {
        let created = match self.s3.head_bucket().bucket(name).send().await {
            Ok(_) => false,
            Err(err) => {
                let status = err.raw_response().map(|r| r.status().as_u16());
                match status {
                    Some(404) => {
                        self.create_bucket(name).await?;
                        true
                    }
                    Some(403) => {
                        return Err(NovaError::Aws {
                            operation: "HeadBucket".into(),
                            code: "BucketAlreadyExists".into(),
                            message: format!("the bucket name {name} is taken by another account (or your credentials may not read it); choose another bucket name"),
                            request_id: None,
                            status,
                        })
                    }
                    _ => return Err(aws_error("HeadBucket", err)),
                }
            }
        };
        self.s3
            .put_public_access_block()
            .bucket(name)
            .public_access_block_configuration(
                PublicAccessBlockConfiguration::builder()
                    .block_public_acls(true)
                    .ignore_public_acls(true)
                    .block_public_policy(true)
                    .restrict_public_buckets(true)
                    .build(),
            )
            .send()
            .await
            .map_err(|e| aws_error("PutPublicAccessBlock", e))?;
        let default = ServerSideEncryptionByDefault::builder()
            .sse_algorithm(ServerSideEncryption::Aes256)
            .build()
            .map_err(NovaError::build)?;
        let rule = ServerSideEncryptionRule::builder()
            .apply_server_side_encryption_by_default(default)
            .build();
        let encryption = ServerSideEncryptionConfiguration::builder()
            .rules(rule)
            .build()
            .map_err(NovaError::build)?;
        self.s3
            .put_bucket_encryption()
            .bucket(name)
            .server_side_encryption_configuration(encryption)
            .send()
            .await
            .map_err(|e| aws_error("PutBucketEncryption", e))?;
        Ok(BucketInfo {
            name: name.to_string(),
            region: self.region.clone(),
            created,
        })
    }

    async fn create_bucket(&self, name: &str) -> Result<()> {
        let mut request = self.s3.create_bucket().bucket(name);
        // us-east-1 is the one region that must not be named as a location constraint.
        if self.region != "us-east-1" {
            request = request.create_bucket_configuration(
                CreateBucketConfiguration::builder()
                    .location_constraint(BucketLocationConstraint::from(self.region.as_str()))
                    .build(),
            );
        }
        match request.send().await {
            Ok(_) => Ok(()),
            // Lost a race with another `ensure` of ours: the bucket is there, which is the goal.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(err) => Err(aws_error("CreateBucket", err)),
        }
    }

    /// Upload a file unless the object already holds the same bytes (by SHA-256 metadata).
    pub async fn upload_file(
        &self,
        path: &Path,
        bucket: &str,
        key: &str,
    ) -> Result<UploadedObject> {
        let (sha256, size) = sha256_file(path)?;
        let result = |uploaded| UploadedObject {
            uri: format!("s3://{bucket}/{key}"),
            bucket: bucket.to_string(),
            key: key.to_string(),
            size,
            sha256: sha256.clone(),
            uploaded,
        };
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(head) => {
                let same = head
                    .metadata()
                    .and_then(|m| m.get(SHA256_METADATA))
                    .is_some_and(|h| *h == sha256);
                if same && head.content_length() == Some(size as i64) {
                    return Ok(result(false));
                }
            }
            Err(err) if is_not_found(&err) => {}
            Err(err) => return Err(aws_error("HeadObject", err)),
        }
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| NovaError::io(path, std::io::Error::other(e)))?;
        self.s3
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type("application/jsonl")
            .metadata(SHA256_METADATA, &sha256)
            .body(body)
            .send()
            .await
            .map_err(|e| aws_error("PutObject", e))?;
        Ok(result(true))
    }

    /// Every key under a prefix (all pages).
    pub async fn list_keys(&self, bucket: &str, prefix: &str) -> Result<Vec<String>> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .s3
                .list_objects_v2()
                .bucket(bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| aws_error("ListObjectsV2", e))?;
            keys.extend(
                out.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
            match out.next_continuation_token() {
                Some(next) if out.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => return Ok(keys),
            }
        }
    }

    /// Delete keys (1,000 per request); returns the keys deleted.
    pub async fn delete_keys(&self, bucket: &str, keys: &[String]) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(NovaError::build)?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(NovaError::build)?;
            let out = self
                .s3
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| aws_error("DeleteObjects", e))?;
            if let Some(failed) = out.errors().first() {
                return Err(NovaError::Aws {
                    operation: "DeleteObjects".into(),
                    code: failed.code().unwrap_or("InternalError").to_string(),
                    message: format!(
                        "{}: {}",
                        failed.key().unwrap_or_default(),
                        failed.message().unwrap_or_default()
                    ),
                    request_id: None,
                    status: None,
                });
            }
            deleted.extend_from_slice(chunk);
        }
        Ok(deleted)
    }

    /// Delete an empty bucket; a missing bucket is not an error (clean-up is idempotent).
    pub async fn delete_bucket(&self, name: &str) -> Result<bool> {
        deleted(
            "DeleteBucket",
            self.s3.delete_bucket().bucket(name).send().await,
        )
    }

    /// An object's body, to read as it arrives (its chunks' errors: [`read_error`]).
    pub async fn get_body(&self, bucket: &str, key: &str) -> Result<ByteStream> {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| aws_error("GetObject", e))?;
        Ok(out.body)
    }

    /// An object's body as text (metrics CSVs, small reports).
    pub async fn get_text(&self, bucket: &str, key: &str) -> Result<String> {
        let bytes = self
            .get_body(bucket, key)
            .await?
            .collect()
            .await
            .map_err(|e| read_error(bucket, key, e))?
            .into_bytes();
        String::from_utf8(bytes.to_vec())
            .map_err(|e| NovaError::data_file(format!("s3://{bucket}/{key}"), "not UTF-8 text", e))
    }

    /// An object's ETag (its content digest for single-part uploads), or `None` if there is
    /// no such object: what a job trained on, for comparing runs.
    pub async fn object_etag(&self, bucket: &str, key: &str) -> Result<Option<String>> {
        match self.s3.head_object().bucket(bucket).key(key).send().await {
            Ok(out) => Ok(out.e_tag().map(|e| e.trim_matches('"').to_string())),
            Err(err) if crate::aws::is_not_found(&err) => Ok(None),
            Err(err) => Err(aws_error("HeadObject", err)),
        }
    }
}

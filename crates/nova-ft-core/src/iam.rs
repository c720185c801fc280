//! The Bedrock service role: trusted by `bedrock.amazonaws.com` for this account's
//! customization jobs only, allowed exactly the S3 prefixes a workflow uses.

use crate::aws::{aws_error, deleted, is_not_found, AwsSession};
use nova_ft_data::error::{NovaError, Result};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What the role must allow.
#[derive(Debug, Clone, Deserialize)]
pub struct RoleSpec {
    pub name: String,
    pub account: String,
    pub region: String,
    pub bucket: String,
    /// Prefixes the job reads (training and validation data), without a trailing `*`.
    pub read_prefixes: Vec<String>,
    /// The prefix the job writes its output under.
    pub write_prefix: String,
    #[serde(default = "default_policy_name")]
    pub policy_name: String,
    /// Models the role may invoke (an evaluation job's judge), by id or ARN.
    #[serde(default)]
    pub invoke_models: Vec<String>,
}

fn default_policy_name() -> String {
    "s3-scoped".into()
}

#[derive(Debug, Clone, Serialize)]
pub struct RoleInfo {
    pub name: String,
    pub arn: String,
    pub policy_name: String,
    pub created: bool,
    /// True when the trust or permission policy was written by this call.
    pub policy_updated: bool,
}

fn object_arn(bucket: &str, prefix: &str) -> String {
    format!("arn:aws:s3:::{bucket}/{}*", prefix.trim_start_matches('/'))
}

impl RoleSpec {
    /// Only Bedrock, only for this account's customization jobs (and custom model imports,
    /// which read their artifacts as the role, batch inference and evaluation jobs) in this
    /// region.
    pub fn trust_policy(&self) -> Value {
        let bedrock = format!("arn:aws:bedrock:{}:{}", self.region, self.account);
        json!({
            "Version": "2012-10-17",
            "Statement": [{
                "Effect": "Allow",
                "Principal": {"Service": "bedrock.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": self.account},
                    "ArnLike": {"aws:SourceArn": [
                        format!("{bedrock}:model-customization-job/*"),
                        format!("{bedrock}:custom-model/*"),
                        format!("{bedrock}:model-invocation-job/*"),
                        format!("{bedrock}:evaluation-job/*"),
                    ]}
                }
            }]
        })
    }

    /// Read the data prefixes, write the output prefix, list the bucket: nothing else.
    pub fn permission_policy(&self) -> Value {
        let reads: Vec<String> = self
            .read_prefixes
            .iter()
            .map(|p| object_arn(&self.bucket, p))
            .collect();
        let mut statements = vec![
            json!({"Sid": "ReadTrainingData", "Effect": "Allow", "Action": ["s3:GetObject"], "Resource": reads}),
            json!({"Sid": "WriteOutput", "Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                   "Resource": [object_arn(&self.bucket, &self.write_prefix)]}),
            json!({"Sid": "ListBucket", "Effect": "Allow", "Action": ["s3:ListBucket"],
                   "Resource": [format!("arn:aws:s3:::{}", self.bucket)]}),
        ];
        if !self.invoke_models.is_empty() {
            let models: Vec<String> = self
                .invoke_models
                .iter()
                .map(|m| {
                    if m.starts_with("arn:") {
                        m.clone()
                    } else {
                        format!("arn:aws:bedrock:{}::foundation-model/{m}", self.region)
                    }
                })
                .collect();
            statements.push(json!({"Sid": "InvokeJudge", "Effect": "Allow",
                "Action": ["bedrock:InvokeModel", "bedrock:CreateModelInvocationJob"], "Resource": models}));
        }
        json!({"Version": "2012-10-17", "Statement": statements})
    }
}

/// IAM returns policy documents URL-encoded; compare them as JSON.
fn same_policy(encoded: Option<&str>, wanted: &Value) -> bool {
    let Some(encoded) = encoded else {
        return false;
    };
    let decoded = percent_encoding::percent_decode_str(encoded).decode_utf8_lossy();
    serde_json::from_str::<Value>(&decoded).is_ok_and(|v| &v == wanted)
}

impl AwsSession {
    /// Create or update the role so that it matches `spec`; safe to call again.
    pub async fn ensure_role(&self, spec: &RoleSpec) -> Result<RoleInfo> {
        if spec.read_prefixes.is_empty() {
            return Err(NovaError::invalid(
                "the training role needs at least one data prefix to read",
            ));
        }
        let trust = spec.trust_policy();
        let permissions = spec.permission_policy();
        let mut policy_updated = false;
        let (arn, created) = match self.iam.get_role().role_name(&spec.name).send().await {
            Ok(out) => {
                let role = out
                    .role()
                    .ok_or_else(|| NovaError::unexpected("GetRole returned no role"))?;
                if !same_policy(role.assume_role_policy_document(), &trust) {
                    self.iam
                        .update_assume_role_policy()
                        .role_name(&spec.name)
                        .policy_document(trust.to_string())
                        .send()
                        .await
                        .map_err(|e| aws_error("UpdateAssumeRolePolicy", e))?;
                    policy_updated = true;
                }
                (role.arn().to_string(), false)
            }
            Err(err) if is_not_found(&err) => {
                let out = self
                    .iam
                    .create_role()
                    .role_name(&spec.name)
                    .assume_role_policy_document(trust.to_string())
                    .description("Lets Amazon Bedrock customization jobs read training data and write output (created by nova_ft)")
                    .send()
                    .await
                    .map_err(|e| aws_error("CreateRole", e))?;
                let arn = out.role().map(|r| r.arn().to_string()).unwrap_or_default();
                (arn, true)
            }
            Err(err) => return Err(aws_error("GetRole", err)),
        };
        let current = match self
            .iam
            .get_role_policy()
            .role_name(&spec.name)
            .policy_name(&spec.policy_name)
            .send()
            .await
        {
            Ok(out) => Some(out.policy_document().to_string()),
            Err(err) if is_not_found(&err) => None,
            Err(err) => return Err(aws_error("GetRolePolicy", err)),
        };
        if !same_policy(current.as_deref(), &permissions) {
            self.iam
                .put_role_policy()
                .role_name(&spec.name)
                .policy_name(&spec.policy_name)
                .policy_document(permissions.to_string())
                .send()
                .await
                .map_err(|e| aws_error("PutRolePolicy", e))?;
            policy_updated = true;
        }
        Ok(RoleInfo {
            name: spec.name.clone(),
            arn,
            policy_name: spec.policy_name.clone(),
            created,
            policy_updated: policy_updated || created,
        })
    }

    /// Delete the role and its inline policies; a missing role is not an error.
    pub async fn delete_role(&self, name: &str) -> Result<bool> {
        let policies = match self.iam.list_role_policies().role_name(name).send().await {
            Ok(out) => out.policy_names().to_vec(),
            Err(err) if is_not_found(&err) => return Ok(false),
            Err(err) => return Err(aws_error("ListRolePolicies", err)),
        };
        for policy in policies {
            match self
                .iam
                .delete_role_policy()
                .role_name(name)
                .policy_name(&policy)
                .send()
                .await
            {
                Ok(_) => {}
                Err(err) if is_not_found(&err) => {}
                Err(err) => return Err(aws_error("DeleteRolePolicy", err)),
            }
        }
        deleted(
            "DeleteRole",
            self.iam.delete_role().role_name(name).send().await,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RoleSpec {
        RoleSpec {
            name: "r".into(),
            account: "123456789012".into(),
            region: "us-east-1".into(),
            bucket: "b".into(),
            read_prefixes: vec!["training-data/".into(), "validation-data/".into()],
            write_prefix: "output-data/".into(),
            policy_name: default_policy_name(),
            invoke_models: Vec::new(),
        }
    }

    #[test]
    fn permissions_name_exactly_the_prefixes() {
        let policy = spec().permission_policy().to_string();
        assert!(policy.contains("arn:aws:s3:::b/training-data/*"));
        assert!(policy.contains("arn:aws:s3:::b/output-data/*"));
        assert!(!policy.contains("s3:*"));
    }

    #[test]
    fn url_encoded_documents_compare_as_json() {
        let wanted = spec().trust_policy();
        let encoded: String = percent_encoding::utf8_percent_encode(
            &wanted.to_string(),
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        assert!(same_policy(Some(&encoded), &wanted));
        assert!(!same_policy(Some("%7B%7D"), &wanted));
        assert!(!same_policy(None, &wanted));
    }
}

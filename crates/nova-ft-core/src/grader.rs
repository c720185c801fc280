//! The reward function of reinforcement fine-tuning as a Lambda function: its execution role
//! (trusted by Lambda, allowed to write its logs), the function (created, or its code and
//! configuration updated), the training role's permission to invoke exactly that function,
//! and their removal.

use crate::aws::{aws_error, deleted, is_not_found, AwsSession};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LastUpdateStatus, Runtime};
use nova_ft_data::error::{NovaError, Result};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::time::Duration;

/// What to deploy.
#[derive(Debug, Clone, Deserialize)]
pub struct GraderSpec {
    pub function_name: String,
    /// The function's execution role (created if missing).
    pub execution_role: String,
    /// The deployment package (a zip).
    #[serde(skip)]
    pub package: Vec<u8>,
    pub handler: String,
    pub runtime: String,
    pub timeout_seconds: i32,
    pub memory_mb: i32,
    /// The training role that will invoke it (granted `lambda:InvokeFunction` on it).
    pub job_role: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct GraderInfo {
    pub function_name: String,
    pub function_arn: String,
    pub execution_role_arn: String,
    pub code_sha256: String,
    pub created: bool,
}

/// The inline policy name a training role gets for invoking a grader.
pub fn invoke_policy_name(function_name: &str) -> String {
    format!("invoke-{function_name}")
}

fn lambda_trust() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole"
        }]
    })
}

/// What AWSLambdaBasicExecutionRole allows, inline (so deleting the role takes it along).
fn logs_policy() -> serde_json::Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*"
        }]
    })
}

/// Lambda accepts a new role only once IAM has propagated it (seconds on AWS): how often and
/// how long to retry CreateFunction's "cannot be assumed" refusal.
const ROLE_PROPAGATION_RETRIES: u32 = 10;
const ROLE_PROPAGATION_WAIT: Duration = Duration::from_secs(2);

impl AwsSession {
    async fn ensure_execution_role(&self, name: &str) -> Result<(String, bool)> {
        let (arn, created) = match self.iam.get_role().role_name(name).send().await {
            Ok(out) => (
                out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                false,
            ),
            Err(err) if is_not_found(&err) => {
                let out = self
                    .iam
                    .create_role()
                    .role_name(name)
                    .assume_role_policy_document(lambda_trust().to_string())
                    .description("Runs the nova_ft reward function (created by nova_ft)")
                    .send()
                    .await
                    .map_err(|e| aws_error("CreateRole", e))?;
                (
                    out.role().map(|r| r.arn().to_string()).unwrap_or_default(),
                    true,
                )
            }
            Err(err) => return Err(aws_error("GetRole", err)),
        };
        self.iam
            .put_role_policy()
            .role_name(name)
            .policy_name("logs")
            .policy_document(logs_policy().to_string())
            .send()
            .await
            .map_err(|e| aws_error("PutRolePolicy", e))?;
        Ok((arn, created))
    }

    /// Wait until an update of the function has been applied (Lambda refuses the next one
    /// while `LastUpdateStatus` is `InProgress`).
    async fn wait_for_update(&self, name: &str) -> Result<()> {
        for _ in 0..120 {
            let out = self
                .lambda
                .get_function_configuration()
                .function_name(name)
                .send()
                .await
                .map_err(|e| aws_error("GetFunctionConfiguration", e))?;
            match out.last_update_status() {
                Some(LastUpdateStatus::InProgress) => {
                    tokio::time::sleep(Duration::from_millis(500)).await
                }
                Some(LastUpdateStatus::Failed) => {
                    return Err(NovaError::unexpected(format!(
                        "the update of Lambda function {name} failed: {}",
                        out.last_update_status_reason().unwrap_or("no reason given")
                    )))
                }
                _ => return Ok(()),
            }
        }
        Err(NovaError::unexpected(format!(
            "Lambda function {name} is still updating after a minute"
        )))
    }

    /// Create or update the reward function and its execution role; grant the job role
    /// `lambda:InvokeFunction` on exactly this function. Safe to call again.
    pub async fn deploy_grader(&self, spec: &GraderSpec) -> Result<GraderInfo> {
        let (role_arn, role_created) = self.ensure_execution_role(&spec.execution_role).await?;
        let runtime = Runtime::from(spec.runtime.as_str());
        let existing = match self
            .lambda
            .get_function()
            .function_name(&spec.function_name)
            .send()
            .await
        {
            Ok(_) => true,
            Err(err) if is_not_found(&err) => false,
            Err(err) => return Err(aws_error("GetFunction", err)),
        };
        let (function_arn, code_sha256) = if existing {
            self.lambda
                .update_function_code()
                .function_name(&spec.function_name)
                .zip_file(Blob::new(spec.package.clone()))
                .send()
                .await
                .map_err(|e| aws_error("UpdateFunctionCode", e))?;
            self.wait_for_update(&spec.function_name).await?;
            let out = self
                .lambda
                .update_function_configuration()
                .function_name(&spec.function_name)
                .role(&role_arn)
                .handler(&spec.handler)
                .runtime(runtime)
                .timeout(spec.timeout_seconds)
                .memory_size(spec.memory_mb)
                .send()
                .await
                .map_err(|e| aws_error("UpdateFunctionConfiguration", e))?;
            self.wait_for_update(&spec.function_name).await?;
            (
                out.function_arn().unwrap_or_default().to_string(),
                out.code_sha256().unwrap_or_default().to_string(),
            )
        } else {
            let mut attempt = 0;
            loop {
                let result = self
                    .lambda
                    .create_function()
                    .function_name(&spec.function_name)
                    .role(&role_arn)
                    .handler(&spec.handler)
                    .runtime(runtime.clone())
                    .timeout(spec.timeout_seconds)
                    .memory_size(spec.memory_mb)
                    .description("nova_ft reward function for reinforcement fine-tuning")
                    .code(
                        FunctionCode::builder()
                            .zip_file(Blob::new(spec.package.clone()))
                            .build(),
                    )
                    .send()
                    .await;
                match result {
                    Ok(out) => {
                        break (
                            out.function_arn().unwrap_or_default().to_string(),
                            out.code_sha256().unwrap_or_default().to_string(),
                        )
                    }
                    Err(err)
                        if role_created
                            && attempt < ROLE_PROPAGATION_RETRIES
                            && format!("{err:?}").contains("cannot be assumed") =>
                    {
                        attempt += 1;
                        tokio::time::sleep(ROLE_PROPAGATION_WAIT).await;
                    }
                    Err(err) => return Err(aws_error("CreateFunction", err)),
                }
            }
        };
        if let Some(job_role) = &spec.job_role {
            let policy = json!({
                "Version": "2012-10-17",
                "Statement": [{
                    "Effect": "Allow",
                    "Action": "lambda:InvokeFunction",
                    "Resource": function_arn,
                }]
            });
            self.iam
                .put_role_policy()
                .role_name(job_role)
                .policy_name(invoke_policy_name(&spec.function_name))
                .policy_document(policy.to_string())
                .send()
                .await
                .map_err(|e| aws_error("PutRolePolicy", e))?;
        }
        Ok(GraderInfo {
            function_name: spec.function_name.clone(),
            function_arn,
            execution_role_arn: role_arn,
            code_sha256,
            created: !existing,
        })
    }

    /// Delete a function; whether it existed.
    pub async fn delete_function(&self, name: &str) -> Result<bool> {
        deleted(
            "DeleteFunction",
            self.lambda
                .delete_function()
                .function_name(name)
                .send()
                .await,
        )
    }
}

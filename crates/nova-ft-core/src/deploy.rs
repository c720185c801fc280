//! Deployments of custom models, on demand (billed per token) or provisioned (model units
//! billed by the hour): the deployment's ARN is the model id for Converse.

use crate::aws::{aws_error, deleted, AwsSession};
use crate::job::iso;
use nova_ft_data::error::Result;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentSpec {
    pub name: String,
    pub model_arn: String,
    #[serde(default)]
    pub description: Option<String>,
    pub client_request_token: String,
}

/// Provisioned throughput for a custom model: `model_units` reserved, billed hourly, with an
/// optional commitment term (`OneMonth`, `SixMonths`).
#[derive(Debug, Clone, Deserialize)]
pub struct ProvisionedSpec {
    pub name: String,
    pub model_arn: String,
    pub model_units: i32,
    #[serde(default)]
    pub commitment: Option<String>,
    pub client_request_token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DeploymentInfo {
    pub deployment_arn: String,
    pub name: String,
    pub model_arn: String,
    pub status: String,
    pub description: Option<String>,
    pub failure_message: Option<String>,
    pub created_at: Option<String>,
    pub last_updated_at: Option<String>,
    /// Provisioned throughput only: the model units and the commitment term.
    pub model_units: Option<i32>,
    pub commitment: Option<String>,
    /// The last UpdateCustomModelDeployment: the model swapped in and `Updating`,
    /// `UpdateCompleted` or `UpdateFailed`.
    pub update_model_arn: Option<String>,
    pub update_status: Option<String>,
}

impl AwsSession {
    /// Create a deployment; returns its ARN.
    pub async fn create_deployment(&self, spec: &DeploymentSpec) -> Result<String> {
        let out = self
            .bedrock
            .create_custom_model_deployment()
            .model_deployment_name(&spec.name)
            .model_arn(&spec.model_arn)
            .set_description(spec.description.clone())
            .client_request_token(&spec.client_request_token)
            .send()
            .await
            .map_err(|e| aws_error("CreateCustomModelDeployment", e))?;
        Ok(out.custom_model_deployment_arn().to_string())
    }

    /// A deployment by name or ARN.
    pub async fn describe_deployment(&self, deployment: &str) -> Result<DeploymentInfo> {
        let out = self
            .bedrock
            .get_custom_model_deployment()
            .custom_model_deployment_identifier(deployment)
            .send()
            .await
            .map_err(|e| aws_error("GetCustomModelDeployment", e))?;
        Ok(DeploymentInfo {
            deployment_arn: out.custom_model_deployment_arn().to_string(),
            name: out.model_deployment_name().to_string(),
            model_arn: out.model_arn().to_string(),
            status: out.status().as_str().to_string(),
            description: out.description().map(str::to_string),
            failure_message: out.failure_message().map(str::to_string),
            created_at: iso(Some(out.created_at())),
            last_updated_at: iso(out.last_updated_at()),
            model_units: None,
            commitment: None,
            update_model_arn: out.update_details().map(|u| u.model_arn().to_string()),
            update_status: out
                .update_details()
                .map(|u| u.update_status().as_str().to_string()),
        })
    }

    /// Swap the model behind an on-demand deployment (UpdateCustomModelDeployment).
    pub async fn update_deployment(&self, deployment: &str, model_arn: &str) -> Result<String> {
        let out = self
            .bedrock
            .update_custom_model_deployment()
            .custom_model_deployment_identifier(deployment)
            .model_arn(model_arn)
            .send()
            .await
            .map_err(|e| aws_error("UpdateCustomModelDeployment", e))?;
        Ok(out.custom_model_deployment_arn().to_string())
    }

    /// Delete a deployment; a missing one is not an error (clean-up is idempotent).
    pub async fn delete_deployment(&self, deployment: &str) -> Result<bool> {
        let result = self
            .bedrock
            .delete_custom_model_deployment()
            .custom_model_deployment_identifier(deployment)
            .send()
            .await;
        deleted("DeleteCustomModelDeployment", result)
    }

    /// Buy provisioned throughput for a custom model; returns the provisioned model ARN.
    pub async fn create_provisioned(&self, spec: &ProvisionedSpec) -> Result<String> {
        let commitment = spec
            .commitment
            .as_deref()
            .map(aws_sdk_bedrock::types::CommitmentDuration::from);
        let out = self
            .bedrock
            .create_provisioned_model_throughput()
            .provisioned_model_name(&spec.name)
            .model_id(&spec.model_arn)
            .model_units(spec.model_units)
            .set_commitment_duration(commitment)
            .client_request_token(&spec.client_request_token)
            .send()
            .await
            .map_err(|e| aws_error("CreateProvisionedModelThroughput", e))?;
        Ok(out.provisioned_model_arn().to_string())
    }

    /// Provisioned throughput by name or ARN, described like a deployment (status
    /// `Creating`, `InService`, `Updating` or `Failed`).
    pub async fn describe_provisioned(&self, provisioned: &str) -> Result<DeploymentInfo> {
        let out = self
            .bedrock
            .get_provisioned_model_throughput()
            .provisioned_model_id(provisioned)
            .send()
            .await
            .map_err(|e| aws_error("GetProvisionedModelThroughput", e))?;
        Ok(DeploymentInfo {
            deployment_arn: out.provisioned_model_arn().to_string(),
            name: out.provisioned_model_name().to_string(),
            model_arn: out.model_arn().to_string(),
            status: out.status().as_str().to_string(),
            description: None,
            failure_message: out.failure_message().map(str::to_string),
            created_at: iso(Some(out.creation_time())),
            last_updated_at: iso(Some(out.last_modified_time())),
            model_units: Some(out.model_units()),
            commitment: out.commitment_duration().map(|c| c.as_str().to_string()),
            update_model_arn: None,
            update_status: None,
        })
    }

    /// Delete provisioned throughput (its billing stops); a missing one is not an error.
    pub async fn delete_provisioned(&self, provisioned: &str) -> Result<bool> {
        let result = self
            .bedrock
            .delete_provisioned_model_throughput()
            .provisioned_model_id(provisioned)
            .send()
            .await;
        deleted("DeleteProvisionedModelThroughput", result)
    }
}

//! Every workflow call as data: one enum, deserialized from the caller's arguments, and one
//! `execute`. The Python bindings then need a single sync and a single async entry point
//! instead of two hand-written wrappers per operation.

use crate::workflow::aws::AwsSession;
use crate::workflow::converse::ConverseSpec;
use crate::workflow::deploy::DeploymentSpec;
use crate::workflow::error::{NovaError, Result};
use crate::workflow::iam::RoleSpec;
use crate::workflow::job::JobSpec;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
    CallerIdentity,
    FoundationModels {
        customization: Option<String>,
    },
    FoundationModel {
        model_id: String,
    },
    EnsureBucket {
        name: String,
    },
    UploadFile {
        path: PathBuf,
        bucket: String,
        key: String,
    },
    ListKeys {
        bucket: String,
        prefix: String,
    },
    DeleteKeys {
        bucket: String,
        keys: Vec<String>,
    },
    DeleteBucket {
        name: String,
    },
    GetText {
        bucket: String,
        key: String,
    },
    EnsureRole(RoleSpec),
    DeleteRole {
        name: String,
    },
    CreateJob(JobSpec),
    DescribeJob {
        job: String,
    },
    StopJob {
        job: String,
    },
    DescribeCustomModel {
        model: String,
    },
    DeleteCustomModel {
        model: String,
    },
    CreateDeployment(DeploymentSpec),
    DescribeDeployment {
        deployment: String,
    },
    DeleteDeployment {
        deployment: String,
    },
    Converse(ConverseSpec),
}

fn value<T: Serialize>(result: Result<T>) -> Result<Value> {
    serde_json::to_value(result?).map_err(|e| NovaError::invalid(e.to_string()))
}

impl AwsSession {
    pub async fn execute(&self, call: Call) -> Result<Value> {
        match call {
            Call::CallerIdentity => value(self.caller_identity().await),
            Call::FoundationModels { customization } => {
                value(self.foundation_models(customization.as_deref()).await)
            }
            Call::FoundationModel { model_id } => value(self.foundation_model(&model_id).await),
            Call::EnsureBucket { name } => value(self.ensure_bucket(&name).await),
            Call::UploadFile { path, bucket, key } => {
                value(self.upload_file(&path, &bucket, &key).await)
            }
            Call::ListKeys { bucket, prefix } => value(self.list_keys(&bucket, &prefix).await),
            Call::DeleteKeys { bucket, keys } => value(self.delete_keys(&bucket, &keys).await),
            Call::DeleteBucket { name } => value(self.delete_bucket(&name).await),
            Call::GetText { bucket, key } => value(self.get_text(&bucket, &key).await),
            Call::EnsureRole(spec) => value(self.ensure_role(&spec).await),
            Call::DeleteRole { name } => value(self.delete_role(&name).await),
            Call::CreateJob(spec) => value(self.create_job(&spec).await),
            Call::DescribeJob { job } => value(self.describe_job(&job).await),
            Call::StopJob { job } => value(self.stop_job(&job).await),
            Call::DescribeCustomModel { model } => value(self.describe_custom_model(&model).await),
            Call::DeleteCustomModel { model } => value(self.delete_custom_model(&model).await),
            Call::CreateDeployment(spec) => value(self.create_deployment(&spec).await),
            Call::DescribeDeployment { deployment } => {
                value(self.describe_deployment(&deployment).await)
            }
            Call::DeleteDeployment { deployment } => {
                value(self.delete_deployment(&deployment).await)
            }
            Call::Converse(spec) => value(self.converse(&spec).await),
        }
    }
}

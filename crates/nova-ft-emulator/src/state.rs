//! What the emulator knows: buckets and their objects, roles, jobs, custom models,
//! deployments and open uploads. [`super::store::Store`] keeps it in memory for reads and in
//! SQLite under the data directory, one row per entity, so a restart loses nothing.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct State {
    pub buckets: BTreeMap<String, Bucket>,
    pub roles: BTreeMap<String, Role>,
    /// Customer managed policies, keyed by ARN (AWS managed ones are built in).
    #[serde(default)]
    pub policies: BTreeMap<String, ManagedPolicy>,
    /// Keyed by job ARN.
    pub jobs: BTreeMap<String, Job>,
    /// Keyed by custom-model ARN.
    pub custom_models: BTreeMap<String, CustomModel>,
    /// Keyed by deployment ARN.
    pub deployments: BTreeMap<String, Deployment>,
    /// Keyed by provisioned model ARN.
    #[serde(default)]
    pub provisioned: BTreeMap<String, Provisioned>,
    /// Keyed by upload id.
    pub uploads: BTreeMap<String, Upload>,
    /// Lambda functions, keyed by name.
    #[serde(default)]
    pub functions: BTreeMap<String, Function>,
    /// Batch inference jobs, keyed by ARN.
    #[serde(default)]
    pub batch_jobs: BTreeMap<String, BatchJob>,
    /// Model evaluation jobs, keyed by ARN.
    #[serde(default)]
    pub evaluation_jobs: BTreeMap<String, EvaluationJob>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bucket {
    pub created: DateTime<Utc>,
    pub region: String,
    pub public_access_block: Option<PublicAccessBlock>,
    /// The `ServerSideEncryptionConfiguration` XML as put, returned as is.
    pub encryption: Option<String>,
    /// `Suspended` once PutBucketVersioning suspended it (it is never enabled here).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versioning: Option<String>,
    /// Stored as rows of their own; read from the JSON state files of earlier versions.
    #[serde(default, skip_serializing)]
    pub objects: BTreeMap<String, Object>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Object {
    /// Name of the file under `objects/` that holds the body.
    pub blob: String,
    pub size: u64,
    /// Quoted, as S3 sends it: `"<md5 hex>"` or `"<md5 of part md5s>-N"`.
    pub etag: String,
    pub last_modified: DateTime<Utc>,
    pub content_type: Option<String>,
    pub checksum_crc32: Option<String>,
    /// User metadata (`x-amz-meta-*` headers, names lower-cased without the prefix).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    pub created: DateTime<Utc>,
    pub content_type: Option<String>,
    /// Part number -> (blob, etag, size).
    pub parts: BTreeMap<u32, (String, String, u64)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub created: DateTime<Utc>,
    pub assume_role_policy: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    /// Inline policies: name -> JSON document.
    pub policies: BTreeMap<String, String>,
    /// ARNs of the managed policies attached, in the order they were attached.
    #[serde(default)]
    pub attached: Vec<String>,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A customer managed policy and its versions (IAM keeps at most five).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ManagedPolicy {
    pub name: String,
    pub id: String,
    pub arn: String,
    pub path: String,
    pub description: Option<String>,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
    pub default_version: String,
    pub versions: Vec<PolicyVersion>,
    /// The number the next version gets (`v<n>`); never reused, as in IAM.
    pub next_version: u32,
    pub tags: Vec<(String, String)>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PolicyVersion {
    pub id: String,
    pub document: String,
    pub created: DateTime<Utc>,
}

impl ManagedPolicy {
    /// The document of the default version: the one IAM evaluates.
    pub fn default_document(&self) -> Option<&str> {
        self.versions
            .iter()
            .find(|v| v.id == self.default_version)
            .map(|v| v.document.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JobStatus {
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::InProgress => "InProgress",
            JobStatus::Completed => "Completed",
            JobStatus::Failed => "Failed",
            JobStatus::Stopping => "Stopping",
            JobStatus::Stopped => "Stopped",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            JobStatus::Completed | JobStatus::Failed | JobStatus::Stopped
        )
    }
}

/// A batch inference job's states, as `ModelInvocationJobStatus` names them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum BatchStatus {
    Submitted,
    Validating,
    Scheduled,
    InProgress,
    Completed,
    PartiallyCompleted,
    Failed,
    Stopping,
    Stopped,
    Expired,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Submitted => "Submitted",
            BatchStatus::Validating => "Validating",
            BatchStatus::Scheduled => "Scheduled",
            BatchStatus::InProgress => "InProgress",
            BatchStatus::Completed => "Completed",
            BatchStatus::PartiallyCompleted => "PartiallyCompleted",
            BatchStatus::Failed => "Failed",
            BatchStatus::Stopping => "Stopping",
            BatchStatus::Stopped => "Stopped",
            BatchStatus::Expired => "Expired",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            BatchStatus::Completed
                | BatchStatus::PartiallyCompleted
                | BatchStatus::Failed
                | BatchStatus::Stopped
                | BatchStatus::Expired
        )
    }
}

/// Record and token counts of a batch inference job, as its manifest reports them.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordCounts {
    pub total: u64,
    pub processed: u64,
    pub success: u64,
    pub error: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// A batch inference job, as CreateModelInvocationJob received it plus its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BatchJob {
    pub arn: String,
    pub name: String,
    pub model_id: String,
    pub role_arn: String,
    pub client_request_token: Option<String>,
    /// The create request without its token, to tell a retry from a different request.
    pub request_fingerprint: String,
    /// `inputDataConfig` and `outputDataConfig`, their modelled members as sent.
    pub input_config: serde_json::Value,
    pub output_config: serde_json::Value,
    pub input_uri: String,
    pub output_uri: String,
    /// `InvokeModel` (the default) or `Converse`: what each record's `modelInput` is.
    pub invocation_type: Option<String>,
    pub timeout_hours: Option<u32>,
    pub vpc_config: Option<serde_json::Value>,
    pub status: BatchStatus,
    pub message: Option<String>,
    pub submitted: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub expires: DateTime<Utc>,
    /// Known once validation has counted the records.
    pub counts: Option<RecordCounts>,
    pub tags: Vec<(String, String)>,
}

/// An evaluation job's states, as `EvaluationJobStatus` names them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub enum EvaluationStatus {
    InProgress,
    Completed,
    Failed,
    Stopping,
    Stopped,
    Deleting,
}

impl EvaluationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EvaluationStatus::InProgress => "InProgress",
            EvaluationStatus::Completed => "Completed",
            EvaluationStatus::Failed => "Failed",
            EvaluationStatus::Stopping => "Stopping",
            EvaluationStatus::Stopped => "Stopped",
            EvaluationStatus::Deleting => "Deleting",
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            EvaluationStatus::Completed | EvaluationStatus::Failed | EvaluationStatus::Stopped
        )
    }
}

/// A model evaluation job (automated: judge or programmatic metrics), as CreateEvaluationJob
/// received it plus its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvaluationJob {
    pub arn: String,
    pub name: String,
    pub description: Option<String>,
    pub role_arn: String,
    pub client_request_token: Option<String>,
    pub request_fingerprint: String,
    pub application_type: Option<String>,
    /// `evaluationConfig`, `inferenceConfig` and `outputDataConfig` as sent (their modelled
    /// members), returned by GetEvaluationJob and read by the runner.
    pub evaluation_config: serde_json::Value,
    pub inference_config: serde_json::Value,
    pub output_uri: String,
    pub status: EvaluationStatus,
    pub failure_messages: Vec<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub tags: Vec<(String, String)>,
}

/// A model customization job, as CreateModelCustomizationJob received it plus its progress.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub arn: String,
    pub name: String,
    pub custom_model_name: String,
    pub custom_model_arn: Option<String>,
    pub role_arn: String,
    pub client_request_token: Option<String>,
    pub base_model_id: String,
    /// The foundation model at the root (also for iterative fine-tuning).
    pub base_model_arn: String,
    /// Iterative fine-tuning: the custom model this job continues from.
    #[serde(default)]
    pub parent_model_arn: Option<String>,
    pub customization_type: String,
    pub training_uri: String,
    pub validation_uris: Vec<String>,
    pub output_uri: String,
    pub hyperparameters: BTreeMap<String, String>,
    /// The `customizationConfig` as sent (distillation teacher).
    pub customization_config: Option<serde_json::Value>,
    pub status: JobStatus,
    /// (validation, data processing, training) sub-step statuses, as Bedrock reports them.
    pub steps: [String; 3],
    pub failure_message: Option<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
    pub training_loss: Option<f64>,
    pub validation_losses: Vec<f64>,
    pub job_tags: Vec<(String, String)>,
    /// The create request without its token, to tell a retry from a different request.
    #[serde(default)]
    pub request_fingerprint: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CustomModel {
    pub arn: String,
    pub name: String,
    pub job_arn: String,
    pub created: DateTime<Utc>,
    /// Name of the model artifact under the data directory (written by the trainer).
    pub artifact: Option<String>,
    /// What the local stand-in model is (shown to users so nobody mistakes it for Nova).
    pub description: String,
    /// The base model it was customized from (recorded since imports have no job).
    #[serde(default)]
    pub base_model_arn: Option<String>,
    /// CreateCustomModel's token, so a retried import returns the model it made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_request_token: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deployment {
    pub arn: String,
    pub name: String,
    pub model_arn: String,
    pub description: Option<String>,
    pub client_request_token: Option<String>,
    pub created: DateTime<Utc>,
    /// When the deployment becomes Active (created + the configured delay).
    pub active_at: DateTime<Utc>,
    pub tags: Vec<(String, String)>,
    /// The last UpdateCustomModelDeployment: the model swapped in, and when the swap completes
    /// (until then the deployment answers from `model_arn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<DeploymentUpdate>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeploymentUpdate {
    pub model_arn: String,
    pub requested: DateTime<Utc>,
    pub done_at: DateTime<Utc>,
}

impl Deployment {
    /// The custom model that answers now: the updated one once its swap has completed.
    pub fn serving_model(&self, now: DateTime<Utc>) -> &str {
        match &self.update {
            Some(update) if now >= update.done_at => &update.model_arn,
            _ => &self.model_arn,
        }
    }
}

/// Provisioned throughput: model units reserved for a custom (or foundation) model.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Provisioned {
    pub arn: String,
    pub name: String,
    /// The model it serves now, and the one an update asked for (the same once InService).
    pub model_arn: String,
    pub desired_model_arn: String,
    pub foundation_model_arn: String,
    pub model_units: u32,
    pub commitment: Option<String>,
    pub client_request_token: Option<String>,
    pub created: DateTime<Utc>,
    pub last_modified: DateTime<Utc>,
    /// When the creation or the last update completes (Creating/Updating -> InService).
    pub ready_at: DateTime<Utc>,
    pub tags: Vec<(String, String)>,
}

/// A Lambda function: its configuration, its deployment package (a zip kept as a blob) and
/// its resource-based policy.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Function {
    pub name: String,
    pub arn: String,
    pub runtime: String,
    pub role: String,
    pub handler: String,
    pub description: String,
    pub timeout: u32,
    pub memory_size: u32,
    pub environment: BTreeMap<String, String>,
    pub code_blob: String,
    /// Base64 of the package's SHA-256, as Lambda reports `CodeSha256`.
    pub code_sha256: String,
    pub code_size: u64,
    pub last_modified: DateTime<Utc>,
    pub revision_id: String,
    /// The statements AddPermission added.
    pub policy: Vec<serde_json::Value>,
    pub tags: BTreeMap<String, String>,
}

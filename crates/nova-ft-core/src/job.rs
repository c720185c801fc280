//! Model customization jobs (FINE_TUNING, DISTILLATION, REINFORCEMENT_FINE_TUNING) and the
//! custom models they make.

use crate::aws::{aws_error, deleted, AwsSession};
use aws_sdk_bedrock::primitives::{DateTime, DateTimeFormat};
use aws_sdk_bedrock::types::{
    CustomizationConfig, CustomizationType, DistillationConfig, GraderConfig, LambdaGraderConfig,
    OutputDataConfig, ReasoningEffort, RftConfig, RftHyperParameters, TeacherModelConfig,
    TrainingDataConfig, ValidationDataConfig, Validator,
};
use nova_ft_data::error::{NovaError, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything a customization job is created from.
#[derive(Debug, Clone, Deserialize)]
pub struct JobSpec {
    pub job_name: String,
    pub custom_model_name: String,
    pub role_arn: String,
    pub base_model: String,
    /// `FINE_TUNING` or `DISTILLATION`.
    pub customization_type: String,
    pub training_uri: String,
    #[serde(default)]
    pub validation_uri: Option<String>,
    pub output_uri: String,
    /// Nova hyperparameters as strings (`epochCount`, `learningRate`, ...).
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, String>,
    #[serde(default)]
    pub teacher_model: Option<String>,
    #[serde(default)]
    pub max_response_length: Option<i32>,
    /// REINFORCEMENT_FINE_TUNING: the grader's Lambda ARN and the typed hyperparameters
    /// (`epochCount`, `batchSize`, `learningRate`, ...).
    #[serde(default)]
    pub grader_arn: Option<String>,
    #[serde(default)]
    pub rft_hyperparameters: serde_json::Map<String, serde_json::Value>,
    /// Derived from the configuration, so a re-run cannot start a second job.
    pub client_request_token: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobInfo {
    pub job_arn: String,
    pub job_name: String,
    pub status: String,
    pub failure_message: Option<String>,
    pub custom_model_name: String,
    pub custom_model_arn: Option<String>,
    pub base_model_arn: String,
    pub customization_type: Option<String>,
    pub role_arn: String,
    pub client_request_token: Option<String>,
    pub training_uri: Option<String>,
    pub validation_uris: Vec<String>,
    pub output_uri: Option<String>,
    pub hyperparameters: BTreeMap<String, String>,
    /// Sub-steps (`validation`, `data_processing`, `training`) and their status.
    pub steps: BTreeMap<String, String>,
    pub creation_time: Option<String>,
    pub last_modified_time: Option<String>,
    pub end_time: Option<String>,
    pub training_loss: Option<f32>,
    pub validation_losses: Vec<Option<f32>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CustomModelInfo {
    pub model_arn: String,
    pub model_name: String,
    pub job_arn: Option<String>,
    pub base_model_arn: Option<String>,
    pub customization_type: Option<String>,
    pub status: Option<String>,
    pub creation_time: Option<String>,
    pub failure_message: Option<String>,
}

pub fn iso(time: Option<&DateTime>) -> Option<String> {
    time.and_then(|t| t.fmt(DateTimeFormat::DateTime).ok())
}

fn build_error(e: impl std::error::Error + Send + Sync + 'static) -> NovaError {
    NovaError::build(e)
}

/// RFT's typed hyperparameters from their JSON names; an unknown name or a wrong type is
/// refused here, before any call.
fn rft_hyperparameters(
    given: &serde_json::Map<String, serde_json::Value>,
) -> Result<RftHyperParameters> {
    let int = |name: &str| -> Result<Option<i32>> {
        match given.get(name) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| {
                    NovaError::invalid(format!(
                        "RFT hyperparameter {name} must be an integer, got {v}"
                    ))
                }),
        }
    };
    let mut builder = RftHyperParameters::builder()
        .set_epoch_count(int("epochCount")?)
        .set_batch_size(int("batchSize")?)
        .set_max_prompt_length(int("maxPromptLength")?)
        .set_training_sample_per_prompt(int("trainingSamplePerPrompt")?)
        .set_inference_max_tokens(int("inferenceMaxTokens")?)
        .set_eval_interval(int("evalInterval")?);
    if let Some(v) = given.get("learningRate").filter(|v| !v.is_null()) {
        let rate = v.as_f64().ok_or_else(|| {
            NovaError::invalid(format!(
                "RFT hyperparameter learningRate must be a number, got {v}"
            ))
        })?;
        builder = builder.learning_rate(rate as f32);
    }
    if let Some(v) = given.get("reasoningEffort").filter(|v| !v.is_null()) {
        let effort = v.as_str().unwrap_or_default();
        if !matches!(effort, "low" | "medium" | "high") {
            return Err(NovaError::invalid(format!(
                "RFT hyperparameter reasoningEffort must be low, medium or high, got {v}"
            )));
        }
        builder = builder.reasoning_effort(ReasoningEffort::from(effort));
    }
    const KNOWN: [&str; 8] = [
        "epochCount",
        "batchSize",
        "learningRate",
        "maxPromptLength",
        "trainingSamplePerPrompt",
        "inferenceMaxTokens",
        "evalInterval",
        "reasoningEffort",
    ];
    if let Some(unknown) = given.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(NovaError::invalid(format!(
            "unknown RFT hyperparameter {unknown:?}: use {}",
            KNOWN.join(", ")
        )));
    }
    Ok(builder.build())
}

/// An RFT job's typed hyperparameters, as strings beside SFT's (for one table of jobs).
fn rft_settings(config: Option<&CustomizationConfig>) -> Vec<(String, String)> {
    let Some(CustomizationConfig::RftConfig(rft)) = config else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if let Some(h) = rft.hyper_parameters() {
        let ints = [
            ("epochCount", h.epoch_count()),
            ("batchSize", h.batch_size()),
            ("maxPromptLength", h.max_prompt_length()),
            ("trainingSamplePerPrompt", h.training_sample_per_prompt()),
            ("inferenceMaxTokens", h.inference_max_tokens()),
            ("evalInterval", h.eval_interval()),
        ];
        out.extend(
            ints.into_iter()
                .filter_map(|(k, v)| Some((k.to_string(), v?.to_string()))),
        );
        if let Some(rate) = h.learning_rate() {
            out.push(("learningRate".into(), format!("{rate:e}")));
        }
        if let Some(effort) = h.reasoning_effort() {
            out.push(("reasoningEffort".into(), effort.as_str().to_string()));
        }
    }
    if let Some(GraderConfig::LambdaGrader(grader)) = rft.grader_config() {
        out.push(("graderLambdaArn".into(), grader.lambda_arn().to_string()));
    }
    out
}

impl AwsSession {
    /// Start a customization job; returns its ARN.
    pub async fn create_job(&self, spec: &JobSpec) -> Result<String> {
        let kind = CustomizationType::from(spec.customization_type.as_str());
        let mut request = self
            .bedrock
            .create_model_customization_job()
            .job_name(&spec.job_name)
            .custom_model_name(&spec.custom_model_name)
            .role_arn(&spec.role_arn)
            .base_model_identifier(&spec.base_model)
            .customization_type(kind.clone())
            .client_request_token(&spec.client_request_token)
            .training_data_config(
                TrainingDataConfig::builder()
                    .s3_uri(&spec.training_uri)
                    .build(),
            )
            .output_data_config(
                OutputDataConfig::builder()
                    .s3_uri(&spec.output_uri)
                    .build()
                    .map_err(build_error)?,
            );
        if let Some(uri) = &spec.validation_uri {
            let validator = Validator::builder()
                .s3_uri(uri)
                .build()
                .map_err(build_error)?;
            request = request.validation_data_config(
                ValidationDataConfig::builder()
                    .validators(validator)
                    .build()
                    .map_err(build_error)?,
            );
        }
        for (key, value) in &spec.hyperparameters {
            request = request.hyper_parameters(key, value);
        }
        if kind == CustomizationType::Distillation {
            let teacher = spec.teacher_model.as_deref().ok_or_else(|| {
                NovaError::invalid("a DISTILLATION job needs a teacher model (teacher_model=...)")
            })?;
            let teacher = TeacherModelConfig::builder()
                .teacher_model_identifier(teacher)
                .set_max_response_length_for_inference(spec.max_response_length)
                .build()
                .map_err(build_error)?;
            request = request.customization_config(CustomizationConfig::DistillationConfig(
                DistillationConfig::builder()
                    .teacher_model_config(teacher)
                    .build(),
            ));
        }
        if kind == CustomizationType::ReinforcementFineTuning {
            let grader = spec.grader_arn.as_deref().ok_or_else(|| {
                NovaError::invalid(
                    "a REINFORCEMENT_FINE_TUNING job needs a grader (a Lambda function ARN)",
                )
            })?;
            let grader = LambdaGraderConfig::builder()
                .lambda_arn(grader)
                .build()
                .map_err(build_error)?;
            request = request.customization_config(CustomizationConfig::RftConfig(
                RftConfig::builder()
                    .grader_config(GraderConfig::LambdaGrader(grader))
                    .hyper_parameters(rft_hyperparameters(&spec.rft_hyperparameters)?)
                    .build(),
            ));
        }
        let out = request
            .send()
            .await
            .map_err(|e| aws_error("CreateModelCustomizationJob", e))?;
        Ok(out.job_arn().to_string())
    }

    /// A job by name or ARN.
    pub async fn describe_job(&self, job: &str) -> Result<JobInfo> {
        let out = self
            .bedrock
            .get_model_customization_job()
            .job_identifier(job)
            .send()
            .await
            .map_err(|e| aws_error("GetModelCustomizationJob", e))?;
        let mut steps = BTreeMap::new();
        if let Some(details) = out.status_details() {
            let parts = [
                (
                    "validation",
                    details.validation_details().and_then(|d| d.status()),
                ),
                (
                    "data_processing",
                    details.data_processing_details().and_then(|d| d.status()),
                ),
                (
                    "training",
                    details.training_details().and_then(|d| d.status()),
                ),
            ];
            for (step, status) in parts {
                if let Some(status) = status {
                    steps.insert(step.to_string(), status.as_str().to_string());
                }
            }
        }
        Ok(JobInfo {
            job_arn: out.job_arn().to_string(),
            job_name: out.job_name().to_string(),
            status: out
                .status()
                .map(|s| s.as_str().to_string())
                .unwrap_or_default(),
            failure_message: out.failure_message().map(str::to_string),
            custom_model_name: out.output_model_name().to_string(),
            custom_model_arn: out.output_model_arn().map(str::to_string),
            base_model_arn: out.base_model_arn().to_string(),
            customization_type: out.customization_type().map(|c| c.as_str().to_string()),
            role_arn: out.role_arn().to_string(),
            client_request_token: out.client_request_token().map(str::to_string),
            training_uri: out
                .training_data_config()
                .and_then(|c| c.s3_uri())
                .map(str::to_string),
            validation_uris: out
                .validation_data_config()
                .map(|c| {
                    c.validators()
                        .iter()
                        .map(|v| v.s3_uri().to_string())
                        .collect()
                })
                .unwrap_or_default(),
            output_uri: out.output_data_config().map(|c| c.s3_uri().to_string()),
            hyperparameters: out
                .hyper_parameters()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect::<BTreeMap<_, _>>()
                })
                .unwrap_or_default()
                .into_iter()
                .chain(rft_settings(out.customization_config()))
                .collect(),
            steps,
            creation_time: iso(Some(out.creation_time())),
            last_modified_time: iso(out.last_modified_time()),
            end_time: iso(out.end_time()),
            training_loss: out.training_metrics().and_then(|m| m.training_loss()),
            validation_losses: out
                .validation_metrics()
                .iter()
                .map(|m| m.validation_loss())
                .collect(),
        })
    }

    /// Every customization job's ARN, newest first (all pages).
    pub async fn list_jobs(&self) -> Result<Vec<String>> {
        let mut arns = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let out = self
                .bedrock
                .list_model_customization_jobs()
                .set_next_token(token.take())
                .max_results(100)
                .send()
                .await
                .map_err(|e| aws_error("ListModelCustomizationJobs", e))?;
            arns.extend(
                out.model_customization_job_summaries()
                    .iter()
                    .map(|j| j.job_arn().to_string()),
            );
            match out.next_token() {
                Some(next) if !next.is_empty() => token = Some(next.to_string()),
                _ => return Ok(arns),
            }
        }
    }

    pub async fn stop_job(&self, job: &str) -> Result<()> {
        self.bedrock
            .stop_model_customization_job()
            .job_identifier(job)
            .send()
            .await
            .map_err(|e| aws_error("StopModelCustomizationJob", e))?;
        Ok(())
    }

    /// A custom model by name or ARN.
    pub async fn describe_custom_model(&self, model: &str) -> Result<CustomModelInfo> {
        let out = self
            .bedrock
            .get_custom_model()
            .model_identifier(model)
            .send()
            .await
            .map_err(|e| aws_error("GetCustomModel", e))?;
        Ok(CustomModelInfo {
            model_arn: out.model_arn().to_string(),
            model_name: out.model_name().to_string(),
            job_arn: out.job_arn().map(str::to_string),
            base_model_arn: out.base_model_arn().map(str::to_string),
            customization_type: out.customization_type().map(|c| c.as_str().to_string()),
            status: out.model_status().map(|s| s.as_str().to_string()),
            creation_time: iso(Some(out.creation_time())),
            failure_message: out.failure_message().map(str::to_string),
        })
    }

    /// Delete a custom model; a missing one is not an error (clean-up is idempotent).
    pub async fn delete_custom_model(&self, model: &str) -> Result<bool> {
        let result = self
            .bedrock
            .delete_custom_model()
            .model_identifier(model)
            .send()
            .await;
        deleted("DeleteCustomModel", result)
    }

    /// Bring a model trained elsewhere to Bedrock from its artifacts in S3 (CreateCustomModel);
    /// returns its ARN.
    pub async fn import_custom_model(
        &self,
        name: &str,
        s3_uri: &str,
        role_arn: &str,
        client_request_token: &str,
    ) -> Result<String> {
        let source = aws_sdk_bedrock::types::S3DataSource::builder()
            .s3_uri(s3_uri)
            .build()
            .map_err(|e| nova_ft_data::error::NovaError::invalid(e.to_string()))?;
        let out = self
            .bedrock
            .create_custom_model()
            .model_name(name)
            .model_source_config(aws_sdk_bedrock::types::ModelDataSource::S3DataSource(
                source,
            ))
            .role_arn(role_arn)
            .client_request_token(client_request_token)
            .send()
            .await
            .map_err(|e| aws_error("CreateCustomModel", e))?;
        Ok(out.model_arn().to_string())
    }
}

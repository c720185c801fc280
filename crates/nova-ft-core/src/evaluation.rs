//! Bedrock model evaluation jobs on your own responses (bring your own inference): the job's
//! request built from a plain spec, and its status. The dataset is written and the results
//! read by the caller (`nova_ft.evaluation`), through `storage.rs`.

use crate::aws::{aws_error, AwsSession};
use aws_sdk_bedrock::types::{
    AutomatedEvaluationConfig, AutomatedEvaluationCustomMetricConfig,
    AutomatedEvaluationCustomMetricSource, BedrockEvaluatorModel,
    CustomMetricBedrockEvaluatorModel, CustomMetricDefinition, CustomMetricEvaluatorModelConfig,
    EvaluationConfig, EvaluationDataset, EvaluationDatasetLocation, EvaluationDatasetMetricConfig,
    EvaluationInferenceConfig, EvaluationModelConfig, EvaluationOutputDataConfig,
    EvaluationPrecomputedInferenceSource, EvaluationTaskType, EvaluatorModelConfig,
    RatingScaleItem, RatingScaleItemValue,
};
use nova_ft_data::error::{NovaError, Result};
use serde::Deserialize;

/// A custom metric: its name, its instructions to the judge (with `{{prompt}}`,
/// `{{prediction}}`, `{{ground_truth}}`) and its rating scale (definition, value).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomMetricSpec {
    pub name: String,
    pub instructions: String,
    #[serde(default)]
    pub rating_scale: Vec<(String, f32)>,
}

/// An evaluation job on precomputed responses.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvaluationSpec {
    pub job_name: String,
    pub role_arn: String,
    pub dataset_name: String,
    pub dataset_uri: String,
    pub task_type: String,
    /// Built-in metric names (`Builtin.Correctness`, ...) and the custom metrics' names.
    pub metrics: Vec<String>,
    /// The judge model (built-in judge metrics and custom metrics alike).
    pub evaluator: String,
    #[serde(default)]
    pub custom_metrics: Vec<CustomMetricSpec>,
    /// The `modelIdentifier`s of the dataset's `modelResponses` to evaluate (1 or 2).
    pub sources: Vec<String>,
    pub output_uri: String,
    #[serde(default)]
    pub client_request_token: Option<String>,
}

fn build_error(e: aws_sdk_bedrock::error::BuildError) -> NovaError {
    NovaError::invalid(format!("an evaluation job request is incomplete: {e}"))
}

fn custom_config(spec: &EvaluationSpec) -> Result<Option<AutomatedEvaluationCustomMetricConfig>> {
    if spec.custom_metrics.is_empty() {
        return Ok(None);
    }
    let mut config = AutomatedEvaluationCustomMetricConfig::builder();
    for metric in &spec.custom_metrics {
        let mut definition = CustomMetricDefinition::builder()
            .name(&metric.name)
            .instructions(&metric.instructions);
        for (meaning, value) in &metric.rating_scale {
            definition = definition.rating_scale(
                RatingScaleItem::builder()
                    .definition(meaning)
                    .value(RatingScaleItemValue::FloatValue(*value))
                    .build()
                    .map_err(build_error)?,
            );
        }
        config = config.custom_metrics(
            AutomatedEvaluationCustomMetricSource::CustomMetricDefinition(
                definition.build().map_err(build_error)?,
            ),
        );
    }
    let judge = CustomMetricBedrockEvaluatorModel::builder()
        .model_identifier(&spec.evaluator)
        .build()
        .map_err(build_error)?;
    config = config.evaluator_model_config(
        CustomMetricEvaluatorModelConfig::builder()
            .bedrock_evaluator_models(judge)
            .build()
            .map_err(build_error)?,
    );
    config.build().map(Some).map_err(build_error)
}

impl AwsSession {
    /// Start an evaluation job; returns its ARN.
    pub async fn create_evaluation_job(&self, spec: &EvaluationSpec) -> Result<String> {
        let dataset = EvaluationDataset::builder()
            .name(&spec.dataset_name)
            .dataset_location(EvaluationDatasetLocation::S3Uri(spec.dataset_uri.clone()))
            .build()
            .map_err(build_error)?;
        let mut metrics = EvaluationDatasetMetricConfig::builder()
            .task_type(EvaluationTaskType::from(spec.task_type.as_str()))
            .dataset(dataset);
        for name in &spec.metrics {
            metrics = metrics.metric_names(name);
        }
        let judge = BedrockEvaluatorModel::builder()
            .model_identifier(&spec.evaluator)
            .build()
            .map_err(build_error)?;
        let automated = AutomatedEvaluationConfig::builder()
            .dataset_metric_configs(metrics.build().map_err(build_error)?)
            .evaluator_model_config(EvaluatorModelConfig::BedrockEvaluatorModels(vec![judge]))
            .set_custom_metric_config(custom_config(spec)?)
            .build()
            .map_err(build_error)?;
        let sources = spec
            .sources
            .iter()
            .map(|id| {
                EvaluationPrecomputedInferenceSource::builder()
                    .inference_source_identifier(id)
                    .build()
                    .map(EvaluationModelConfig::PrecomputedInferenceSource)
                    .map_err(build_error)
            })
            .collect::<Result<Vec<_>>>()?;
        let out = self
            .bedrock
            .create_evaluation_job()
            .job_name(&spec.job_name)
            .role_arn(&spec.role_arn)
            .set_client_request_token(spec.client_request_token.clone())
            .evaluation_config(EvaluationConfig::Automated(automated))
            .inference_config(EvaluationInferenceConfig::Models(sources))
            .output_data_config(
                EvaluationOutputDataConfig::builder()
                    .s3_uri(&spec.output_uri)
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await
            .map_err(|e| aws_error("CreateEvaluationJob", e))?;
        Ok(out.job_arn().to_string())
    }

    /// An evaluation job's status and failure messages.
    pub async fn describe_evaluation_job(&self, job: &str) -> Result<(String, Vec<String>)> {
        let out = self
            .bedrock
            .get_evaluation_job()
            .job_identifier(job)
            .send()
            .await
            .map_err(|e| aws_error("GetEvaluationJob", e))?;
        Ok((
            out.status().as_str().to_string(),
            out.failure_messages().to_vec(),
        ))
    }

    /// Stop a running evaluation job.
    pub async fn stop_evaluation_job(&self, job: &str) -> Result<()> {
        self.bedrock
            .stop_evaluation_job()
            .job_identifier(job)
            .send()
            .await
            .map_err(|e| aws_error("StopEvaluationJob", e))?;
        Ok(())
    }
}

//! Bindings for a session of AWS clients (wrapped by `nova_ft.Session`): one method per
//! workflow operation, each returning a [`PyPending`] that Python either waits on (blocking,
//! GIL released, Ctrl-C interrupts it) or awaits, on the one shared tokio runtime. Results
//! are the typed classes of `results.rs`.

use super::errors::to_pyerr;
use super::pending::{pending, PyPending};
use super::results::{
    PyBucketInfo, PyCustomModelInfo, PyDeploymentInfo, PyFoundationModel, PyGraderInfo, PyIdentity,
    PyJobInfo, PyReply, PyRoleInfo, PyUploadedObject,
};
use super::tokio_runtime::{py_runtime, wait_for};
use nova_ft_core::aws::{AwsSession, SessionConfig};
use nova_ft_core::converse::ConverseSpec;
use nova_ft_core::deploy::{DeploymentSpec, ProvisionedSpec};
use nova_ft_core::evaluation::EvaluationSpec;
use nova_ft_core::grader::GraderSpec;
use nova_ft_core::iam::RoleSpec;
use nova_ft_core::job::JobSpec;
use pyo3::prelude::*;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

#[pyclass(name = "SessionCore", module = "nova_ft._nova_ft", frozen)]
pub struct PySession {
    inner: Arc<AwsSession>,
}

impl PySession {
    pub fn inner(&self) -> Arc<AwsSession> {
        Arc::clone(&self.inner)
    }
}

/// `Pending` for a session call: `$call` runs on a clone of the session, `$map` turns its
/// result into the Python class.
macro_rules! call {
    ($self:ident, $op:literal, |$s:ident| $call:expr) => {{
        let $s = $self.inner();
        pending($op, async move { $call.await })
    }};
    ($self:ident, $op:literal, |$s:ident| $call:expr, $map:expr) => {{
        let $s = $self.inner();
        pending($op, async move { $call.await.map($map) })
    }};
}

#[pymethods]
impl PySession {
    /// Resolve configuration and build the clients (blocking).
    #[staticmethod]
    #[pyo3(signature = (region=None, profile=None, endpoint_url=None, access_key=None, secret_key=None))]
    fn connect(
        py: Python<'_>,
        region: Option<String>,
        profile: Option<String>,
        endpoint_url: Option<String>,
        access_key: Option<String>,
        secret_key: Option<String>,
    ) -> PyResult<PySession> {
        let credentials = access_key.zip(secret_key);
        let config = SessionConfig {
            region,
            profile,
            endpoint_url,
            credentials,
        };
        super::logging::refresh();
        let _guard = py_runtime(py)?.enter();
        let session = wait_for(py, AwsSession::connect(config))?.map_err(|e| to_pyerr(py, e))?;
        Ok(PySession {
            inner: Arc::new(session),
        })
    }

    #[getter]
    fn region(&self) -> &str {
        &self.inner.region
    }

    #[getter]
    fn endpoint_url(&self) -> Option<&str> {
        self.inner.endpoint_url.as_deref()
    }

    // -- environment ---------------------------------------------------------------------

    /// `sts get-caller-identity`.
    fn caller_identity(&self) -> PyPending {
        call!(
            self,
            "caller_identity",
            |s| s.caller_identity(),
            PyIdentity::from
        )
    }

    /// Foundation models, optionally only those with a customization type.
    #[pyo3(signature = (customization=None))]
    fn foundation_models(&self, customization: Option<String>) -> PyPending {
        call!(
            self,
            "foundation_models",
            |s| s.foundation_models(customization.as_deref()),
            |models| models
                .into_iter()
                .map(PyFoundationModel::from)
                .collect::<Vec<_>>()
        )
    }

    /// One foundation model by id or ARN.
    fn foundation_model(&self, model_id: String) -> PyPending {
        call!(
            self,
            "foundation_model",
            |s| s.foundation_model(&model_id),
            PyFoundationModel::from
        )
    }

    // -- S3 ------------------------------------------------------------------------------

    /// Create the bucket if needed; block public access; default encryption.
    fn ensure_bucket(&self, name: String) -> PyPending {
        call!(
            self,
            "ensure_bucket",
            |s| s.ensure_bucket(&name),
            PyBucketInfo::from
        )
    }

    /// Upload a file unless the object already holds the same bytes.
    fn upload_file(&self, path: PathBuf, bucket: String, key: String) -> PyPending {
        call!(
            self,
            "upload_file",
            |s| s.upload_file(&path, &bucket, &key),
            PyUploadedObject::from
        )
    }

    /// Every key under a prefix.
    fn list_keys(&self, bucket: String, prefix: String) -> PyPending {
        call!(self, "list_keys", |s| s.list_keys(&bucket, &prefix))
    }

    /// Delete keys; the ones that were deleted.
    fn delete_keys(&self, bucket: String, keys: Vec<String>) -> PyPending {
        call!(self, "delete_keys", |s| s.delete_keys(&bucket, &keys))
    }

    /// Delete an empty bucket; whether it existed.
    fn delete_bucket(&self, name: String) -> PyPending {
        call!(self, "delete_bucket", |s| s.delete_bucket(&name))
    }

    /// An object's text.
    fn get_text(&self, bucket: String, key: String) -> PyPending {
        call!(self, "get_text", |s| s.get_text(&bucket, &key))
    }

    // -- IAM -----------------------------------------------------------------------------

    /// Create or update the training role, trusted by Bedrock and scoped to the prefixes.
    #[pyo3(signature = (name, account, region, bucket, read_prefixes, write_prefix, policy_name="s3-scoped".to_string(), invoke_models=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn ensure_role(
        &self,
        name: String,
        account: String,
        region: String,
        bucket: String,
        read_prefixes: Vec<String>,
        write_prefix: String,
        policy_name: String,
        invoke_models: Vec<String>,
    ) -> PyPending {
        let spec = RoleSpec {
            name,
            account,
            region,
            bucket,
            read_prefixes,
            write_prefix,
            policy_name,
            invoke_models,
        };
        call!(
            self,
            "ensure_role",
            |s| s.ensure_role(&spec),
            PyRoleInfo::from
        )
    }

    // -- evaluation jobs -------------------------------------------------------------------

    /// Start an evaluation job on precomputed responses (`spec` as
    /// `workflow::evaluation::EvaluationSpec`); its ARN.
    fn create_evaluation_job(&self, spec: &Bound<'_, PyAny>) -> PyResult<PyPending> {
        let spec: EvaluationSpec = pythonize::depythonize(spec).map_err(|e| {
            to_pyerr(
                spec.py(),
                nova_ft_data::error::NovaError::invalid(format!("bad evaluation job: {e}")),
            )
        })?;
        Ok(call!(self, "create_evaluation_job", |s| s
            .create_evaluation_job(&spec)))
    }

    /// An evaluation job's (status, failure messages).
    fn describe_evaluation_job(&self, job: String) -> PyPending {
        call!(self, "describe_evaluation_job", |s| s
            .describe_evaluation_job(&job))
    }

    fn stop_evaluation_job(&self, job: String) -> PyPending {
        call!(self, "stop_evaluation_job", |s| s.stop_evaluation_job(&job))
    }

    /// Delete a role and its inline policies; whether it existed.
    fn delete_role(&self, name: String) -> PyPending {
        call!(self, "delete_role", |s| s.delete_role(&name))
    }

    // -- Bedrock: jobs and models ----------------------------------------------------------

    /// Start a customization job; its ARN.
    #[pyo3(signature = (
        job_name, custom_model_name, role_arn, base_model, customization_type, training_uri,
        output_uri, client_request_token, validation_uri=None, hyperparameters=BTreeMap::new(),
        teacher_model=None, max_response_length=None, grader_arn=None, rft_hyperparameters=None,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn create_job(
        &self,
        job_name: String,
        custom_model_name: String,
        role_arn: String,
        base_model: String,
        customization_type: String,
        training_uri: String,
        output_uri: String,
        client_request_token: String,
        validation_uri: Option<String>,
        hyperparameters: BTreeMap<String, String>,
        teacher_model: Option<String>,
        max_response_length: Option<i32>,
        grader_arn: Option<String>,
        rft_hyperparameters: Option<Bound<'_, pyo3::types::PyDict>>,
    ) -> PyResult<PyPending> {
        let rft_hyperparameters = match rft_hyperparameters {
            Some(dict) => match pythonize::depythonize::<serde_json::Value>(dict.as_any())? {
                serde_json::Value::Object(map) => map,
                _ => serde_json::Map::new(),
            },
            None => serde_json::Map::new(),
        };
        let spec = JobSpec {
            job_name,
            custom_model_name,
            role_arn,
            base_model,
            customization_type,
            training_uri,
            validation_uri,
            output_uri,
            hyperparameters,
            teacher_model,
            max_response_length,
            grader_arn,
            rft_hyperparameters,
            client_request_token,
        };
        Ok(call!(self, "create_job", |s| s.create_job(&spec)))
    }

    // -- Lambda: the reward function of reinforcement fine-tuning --------------------------

    /// Create or update the reward function (a zip) and its execution role; grant
    /// `job_role` `lambda:InvokeFunction` on it.
    #[pyo3(signature = (function_name, execution_role, package, handler, runtime="python3.12", timeout_seconds=300, memory_mb=512, job_role=None))]
    #[allow(clippy::too_many_arguments)]
    fn deploy_grader(
        &self,
        function_name: String,
        execution_role: String,
        package: Vec<u8>,
        handler: String,
        runtime: &str,
        timeout_seconds: i32,
        memory_mb: i32,
        job_role: Option<String>,
    ) -> PyPending {
        let spec = GraderSpec {
            function_name,
            execution_role,
            package,
            handler,
            runtime: runtime.to_string(),
            timeout_seconds,
            memory_mb,
            job_role,
        };
        call!(
            self,
            "deploy_grader",
            |s| s.deploy_grader(&spec),
            PyGraderInfo::from
        )
    }

    /// Delete a Lambda function; whether it existed.
    fn delete_function(&self, name: String) -> PyPending {
        call!(self, "delete_function", |s| s.delete_function(&name))
    }

    /// A job's state.
    fn describe_job(&self, job: String) -> PyPending {
        call!(
            self,
            "describe_job",
            |s| s.describe_job(&job),
            PyJobInfo::from
        )
    }

    /// Every customization job's ARN.
    fn list_jobs(&self) -> PyPending {
        call!(self, "list_jobs", |s| s.list_jobs())
    }

    /// An object's ETag, or None when it does not exist.
    fn object_etag(&self, bucket: String, key: String) -> PyPending {
        call!(self, "object_etag", |s| s.object_etag(&bucket, &key))
    }

    /// Ask a running job to stop.
    fn stop_job(&self, job: String) -> PyPending {
        call!(self, "stop_job", |s| s.stop_job(&job))
    }

    /// A custom model's state.
    fn describe_custom_model(&self, model: String) -> PyPending {
        call!(
            self,
            "describe_custom_model",
            |s| s.describe_custom_model(&model),
            PyCustomModelInfo::from
        )
    }

    /// Import a model from S3 (CreateCustomModel); its ARN.
    fn import_custom_model(
        &self,
        name: String,
        s3_uri: String,
        role_arn: String,
        client_request_token: String,
    ) -> PyPending {
        call!(self, "import_custom_model", |s| s.import_custom_model(
            &name,
            &s3_uri,
            &role_arn,
            &client_request_token
        ))
    }

    /// Delete a custom model; whether it existed.
    fn delete_custom_model(&self, model: String) -> PyPending {
        call!(self, "delete_custom_model", |s| s
            .delete_custom_model(&model))
    }

    // -- Bedrock: deployments and inference --------------------------------------------------

    /// Create an on-demand deployment; its ARN.
    #[pyo3(signature = (name, model_arn, client_request_token, description=None))]
    fn create_deployment(
        &self,
        name: String,
        model_arn: String,
        client_request_token: String,
        description: Option<String>,
    ) -> PyPending {
        let spec = DeploymentSpec {
            name,
            model_arn,
            description,
            client_request_token,
        };
        call!(self, "create_deployment", |s| s.create_deployment(&spec))
    }

    /// A deployment's state.
    fn describe_deployment(&self, deployment: String) -> PyPending {
        call!(
            self,
            "describe_deployment",
            |s| s.describe_deployment(&deployment),
            PyDeploymentInfo::from
        )
    }

    /// Swap the model behind a deployment; its ARN.
    fn update_deployment(&self, deployment: String, model_arn: String) -> PyPending {
        call!(self, "update_deployment", |s| s
            .update_deployment(&deployment, &model_arn))
    }

    /// Delete a deployment; whether it existed.
    fn delete_deployment(&self, deployment: String) -> PyPending {
        call!(self, "delete_deployment", |s| s
            .delete_deployment(&deployment))
    }

    /// Buy provisioned throughput for a custom model; its ARN.
    #[pyo3(signature = (name, model_arn, model_units, client_request_token, commitment=None))]
    fn create_provisioned(
        &self,
        name: String,
        model_arn: String,
        model_units: i32,
        client_request_token: String,
        commitment: Option<String>,
    ) -> PyPending {
        let spec = ProvisionedSpec {
            name,
            model_arn,
            model_units,
            commitment,
            client_request_token,
        };
        call!(self, "create_provisioned", |s| s.create_provisioned(&spec))
    }

    /// Provisioned throughput's state.
    fn describe_provisioned(&self, provisioned: String) -> PyPending {
        call!(
            self,
            "describe_provisioned",
            |s| s.describe_provisioned(&provisioned),
            PyDeploymentInfo::from
        )
    }

    /// Delete provisioned throughput; whether it existed.
    fn delete_provisioned(&self, provisioned: String) -> PyPending {
        call!(self, "delete_provisioned", |s| s
            .delete_provisioned(&provisioned))
    }

    /// One Converse call.
    #[pyo3(signature = (model_id, text, system=None, max_tokens=None, temperature=None, messages=Vec::new(), top_p=None, stop_sequences=Vec::new()))]
    #[allow(clippy::too_many_arguments)]
    fn converse(
        &self,
        model_id: String,
        text: String,
        system: Option<String>,
        max_tokens: Option<i32>,
        temperature: Option<f32>,
        messages: Vec<(String, Vec<String>)>,
        top_p: Option<f32>,
        stop_sequences: Vec<String>,
    ) -> PyPending {
        let spec = ConverseSpec {
            messages,
            system,
            max_tokens,
            temperature,
            top_p,
            stop_sequences,
            ..ConverseSpec::single(model_id, text)
        };
        call!(self, "converse", |s| s.converse(&spec), PyReply::from)
    }
}

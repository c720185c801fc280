//! What workflow calls return, as frozen Python classes with real attributes and `repr`s.
//!
//! Each class mirrors one core struct field for field (the `result_class!` macro writes the
//! class, its conversion from the core type and its Python methods), so the core stays free
//! of PyO3 and a new field is added in one place. The classes also read as mappings
//! (`info["status"]`, `info.get(...)`, `to_dict()`), for code written against the dicts of
//! earlier versions.

use nova_ft_core::{aws, converse, deploy, grader, iam, job, storage};
use pyo3::exceptions::PyKeyError;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3::IntoPyObjectExt;
use std::collections::BTreeMap;

macro_rules! result_class {
    (
        $(#[doc = $doc:literal])*
        $rust:ident as $name:literal from $core:path {
            $($(#[doc = $fdoc:literal])* $field:ident : $ty:ty),* $(,)?
        }
    ) => {
        $(#[doc = $doc])*
        #[pyclass(name = $name, module = "nova_ft._nova_ft", frozen, get_all, eq, skip_from_py_object)]
        #[derive(Debug, Clone, PartialEq)]
        pub struct $rust {
            $($(#[doc = $fdoc])* pub $field: $ty),*
        }

        impl From<$core> for $rust {
            fn from(value: $core) -> Self {
                $rust { $($field: value.$field),* }
            }
        }

        #[pymethods]
        impl $rust {
            /// The field names, in order.
            #[classattr]
            fn fields() -> Vec<&'static str> {
                vec![$(stringify!($field)),*]
            }

            /// A plain dict of the fields (JSON-ready).
            fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
                let out = PyDict::new(py);
                $(out.set_item(stringify!($field), self.$field.clone())?;)*
                Ok(out)
            }

            /// The field names (with `__getitem__`, `dict(obj)` works).
            fn keys(&self) -> Vec<&'static str> {
                Self::fields()
            }

            fn __getitem__<'py>(&self, py: Python<'py>, key: &str) -> PyResult<Bound<'py, PyAny>> {
                match key {
                    $(stringify!($field) => self.$field.clone().into_bound_py_any(py),)*
                    _ => Err(PyKeyError::new_err(key.to_string())),
                }
            }

            fn __contains__(&self, key: &str) -> bool {
                Self::fields().contains(&key)
            }

            /// A field by name, or `default` when there is no such field.
            #[pyo3(signature = (key, default=None))]
            fn get<'py>(
                &self,
                py: Python<'py>,
                key: &str,
                default: Option<Bound<'py, PyAny>>,
            ) -> PyResult<Bound<'py, PyAny>> {
                match self.__getitem__(py, key) {
                    Ok(value) => Ok(value),
                    Err(_) => Ok(default.unwrap_or_else(|| py.None().into_bound(py))),
                }
            }

            fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
                let mut parts: Vec<String> = Vec::new();
                $(
                    let value = self.$field.clone().into_bound_py_any(py)?;
                    parts.push(format!("{}={}", stringify!($field), value.repr()?));
                )*
                Ok(format!("{}({})", $name, parts.join(", ")))
            }
        }
    };
}

result_class! {
    /// Who the credentials belong to (`sts get-caller-identity`).
    PyIdentity as "Identity" from aws::Identity {
        account: String,
        arn: String,
        user_id: String,
    }
}

result_class! {
    /// A Bedrock foundation model: its id, and which customizations and inference types it
    /// supports.
    PyFoundationModel as "FoundationModel" from aws::FoundationModelInfo {
        model_id: String,
        model_arn: String,
        model_name: Option<String>,
        provider: Option<String>,
        customizations: Vec<String>,
        inference_types: Vec<String>,
    }
}

result_class! {
    /// A bucket made ready: private, encrypted.
    PyBucketInfo as "BucketInfo" from storage::BucketInfo {
        name: String,
        region: String,
        /// True when this call created the bucket (false: it existed and was made private).
        created: bool,
    }
}

result_class! {
    /// A file on S3 after an upload.
    PyUploadedObject as "UploadedObject" from storage::UploadedObject {
        uri: String,
        bucket: String,
        key: String,
        size: u64,
        sha256: String,
        /// False when S3 already held these exact bytes and nothing was sent.
        uploaded: bool,
    }
}

result_class! {
    /// The training role after `ensure`.
    PyRoleInfo as "RoleInfo" from iam::RoleInfo {
        name: String,
        arn: String,
        policy_name: String,
        created: bool,
        /// True when the trust or permission policy was written by this call.
        policy_updated: bool,
    }
}

result_class! {
    /// The reward function after `deploy_grader`: the Lambda function and its role.
    PyGraderInfo as "GraderInfo" from grader::GraderInfo {
        function_name: String,
        function_arn: String,
        execution_role_arn: String,
        /// Base64 SHA-256 of the deployed package, as Lambda reports it.
        code_sha256: String,
        /// True when this call created the function (False: its code was updated).
        created: bool,
    }
}

result_class! {
    /// A model customization job as Bedrock describes it.
    PyJobInfo as "JobInfo" from job::JobInfo {
        job_arn: String,
        job_name: String,
        status: String,
        failure_message: Option<String>,
        custom_model_name: String,
        custom_model_arn: Option<String>,
        base_model_arn: String,
        customization_type: Option<String>,
        role_arn: String,
        client_request_token: Option<String>,
        training_uri: Option<String>,
        validation_uris: Vec<String>,
        output_uri: Option<String>,
        hyperparameters: BTreeMap<String, String>,
        /// Sub-steps (`validation`, `data_processing`, `training`) and their status.
        steps: BTreeMap<String, String>,
        creation_time: Option<String>,
        last_modified_time: Option<String>,
        end_time: Option<String>,
        training_loss: Option<f32>,
        validation_losses: Vec<Option<f32>>,
    }
}

result_class! {
    /// A custom model (the output of a customization job).
    PyCustomModelInfo as "CustomModelInfo" from job::CustomModelInfo {
        model_arn: String,
        model_name: String,
        job_arn: Option<String>,
        base_model_arn: Option<String>,
        customization_type: Option<String>,
        status: Option<String>,
        creation_time: Option<String>,
        failure_message: Option<String>,
    }
}

result_class! {
    /// An on-demand custom model deployment.
    PyDeploymentInfo as "DeploymentInfo" from deploy::DeploymentInfo {
        deployment_arn: String,
        name: String,
        model_arn: String,
        status: String,
        description: Option<String>,
        failure_message: Option<String>,
        created_at: Option<String>,
        last_updated_at: Option<String>,
        /// Provisioned throughput only: model units reserved.
        model_units: Option<i32>,
        /// Provisioned throughput only: `OneMonth`, `SixMonths` or none (hourly).
        commitment: Option<String>,
        /// The model the last update swapped in.
        update_model_arn: Option<String>,
        /// `Updating`, `UpdateCompleted` or `UpdateFailed` (None if never updated).
        update_status: Option<String>,
    }
}

result_class! {
    /// One Converse answer.
    PyReply as "Reply" from converse::Reply {
        text: String,
        stop_reason: String,
        input_tokens: i64,
        output_tokens: i64,
        /// Wall time of the call as the client saw it.
        latency_ms: f64,
        /// The model id sent (a `:128k` fine-tuning base becomes its on-demand id; a Nova 2 id,
        /// its inference profile).
        model_id: String,
    }
}

/// A benchmark run's counters so far.
#[derive(Debug, Clone, PartialEq)]
pub struct ProgressCounts {
    pub total: u64,
    pub skipped: u64,
    pub done: u64,
    pub failed: u64,
    pub retries: u64,
    pub throttled: u64,
    pub limit: usize,
}

result_class! {
    /// A benchmark run's progress: calls to make, resumed, done, failed, retried, throttled,
    /// and the concurrency limit the adaptive controller has settled on.
    PyBenchmarkProgress as "BenchmarkProgress" from ProgressCounts {
        total: u64,
        /// Rows answered in an earlier run of the same results file.
        skipped: u64,
        done: u64,
        failed: u64,
        retries: u64,
        throttled: u64,
        limit: usize,
    }
}

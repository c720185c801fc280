//! The core's one error type. The Python layer maps each variant onto the `NovaFtError`
//! hierarchy, so every failure a user sees says what went wrong and what to do.

use crate::workflow::dataset::validate::Issue;
use std::path::PathBuf;

pub type Result<T, E = NovaError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum NovaError {
    /// A caller passed an argument that cannot work (bad ratio, unknown option, ...).
    #[error("{0}")]
    InvalidParameter(String),

    /// Input data broke one or more rules; `issues` name the file, line and field of each.
    #[error("{summary}")]
    DatasetValidation {
        summary: String,
        issues: Vec<Issue>,
        omitted: usize,
    },

    /// An AWS call (or the emulator's answer to one) failed.
    #[error("{operation} failed: {code}: {message}")]
    Aws {
        operation: String,
        /// The AWS error code (`ThrottlingException`, `NoSuchEntity`, ...).
        code: String,
        message: String,
        request_id: Option<String>,
        status: Option<u16>,
    },

    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl NovaError {
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        NovaError::Io {
            path: path.into(),
            source,
        }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        NovaError::InvalidParameter(message.into())
    }

    /// A single data problem as a validation failure.
    pub fn data(issue: Issue) -> Self {
        NovaError::DatasetValidation {
            summary: issue.to_string(),
            issues: vec![issue],
            omitted: 0,
        }
    }
}

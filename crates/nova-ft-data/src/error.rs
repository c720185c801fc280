//! The core's one error type. The Python layer maps each variant onto the `NovaFtError`
//! hierarchy, so every failure a user sees says what went wrong and what to do.

use crate::dataset::validate::Issue;
use std::path::PathBuf;

pub type Result<T, E = NovaError> = std::result::Result<T, E>;

/// A boxed source error, kept so Python sees it as `__cause__`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Every failure of the core, one variant per kind; each becomes its own Python class.
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

    /// A file was read but its content cannot be used (not SQLite, not UTF-8, ...).
    #[error("{path}: {message}")]
    DataFile {
        path: String,
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// The local emulator cannot start, or its data directory cannot be used.
    #[error("{message}")]
    Emulator {
        message: String,
        #[source]
        source: Option<BoxError>,
    },

    /// The work was cancelled before it finished.
    #[error("{0}")]
    Cancelled(String),

    /// A bug in nova_ft (a request the SDK could not build, a task that panicked, ...).
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<BoxError>,
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

    /// A file whose content cannot be used, with the error that said so.
    pub fn data_file(
        path: impl Into<String>,
        message: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        NovaError::DataFile {
            path: path.into(),
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The emulator cannot run, with the error that stopped it.
    pub fn emulator(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        NovaError::Emulator {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// A bug: something that cannot fail did, with the error it gave.
    pub fn internal(message: impl Into<String>, source: impl Into<BoxError>) -> Self {
        NovaError::Internal {
            message: message.into(),
            source: Some(source.into()),
        }
    }

    /// The variant's name, as a short code for logs and results files.
    pub fn kind_name(&self) -> &'static str {
        match self {
            NovaError::InvalidParameter(_) => "InvalidParameter",
            NovaError::DatasetValidation { .. } => "DatasetValidation",
            NovaError::Aws { .. } => "Aws",
            NovaError::Io { .. } => "Io",
            NovaError::DataFile { .. } => "DataFile",
            NovaError::Emulator { .. } => "Emulator",
            NovaError::Cancelled(_) => "Cancelled",
            NovaError::Internal { .. } => "Internal",
        }
    }

    /// An answer that cannot happen (a service response without its required part, ...).
    pub fn unexpected(message: impl Into<String>) -> Self {
        NovaError::Internal {
            message: message.into(),
            source: None,
        }
    }

    /// An error of the AWS SDK's request builders, which fail only on a missing required
    /// field: always a bug here, never the user's input.
    pub fn build(source: impl std::error::Error + Send + Sync + 'static) -> Self {
        NovaError::internal(format!("could not build an AWS request: {source}"), source)
    }
}

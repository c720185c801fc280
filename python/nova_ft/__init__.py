"""nova_ft: from labelled examples to a fine-tuned Amazon Nova Micro on Bedrock.

Build and validate training data in Bedrock's ``bedrock-conversation-2024`` format, and run
the whole customization workflow (bucket, role, job, deployment, benchmark, clean-up) against
AWS or the embedded local emulator. See the README for the two set-up commands.
"""

from . import datasets, exceptions
from ._issue import Issue
from ._nova_ft import (
    SCHEMA_VERSION,
    SQL_SYSTEM_PROMPT,
    SYNTHETIC_SYSTEM_PROMPT,
    BenchmarkProgress,
    BucketInfo,
    CustomModelInfo,
    DeploymentInfo,
    FoundationModel,
    Identity,
    JobInfo,
    Reply,
    RoleInfo,
    UploadedObject,
    __version__,
)
from .benchmark import Benchmark, BenchmarkReport
from .dataset import Dataset, estimate_tokens, price_table, validate
from .deployment import Deployment
from .emulator import LocalEmulator
from .exceptions import (
    AuthError,
    AwsError,
    ConflictError,
    DataFileError,
    DatasetUnavailableError,
    DatasetValidationError,
    DeploymentFailedError,
    EmulatorError,
    InternalError,
    InvalidParameterError,
    JobFailedError,
    NovaFtError,
    OperationCancelledError,
    QuotaExceededError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
    ThrottlingError,
    UnsupportedOperationError,
)
from .job import DEFAULT_BASE_MODEL, CustomModel, FineTuneJob, Hyperparameters
from .report import CostEstimate, DataStats, OverlapReport, PriceTable, ValidationReport
from .resources import Resource, ResourceRecord
from .role import TrainingRole
from .session import Session
from .storage import Bucket, DataLocation

__all__ = [
    "DEFAULT_BASE_MODEL",
    "SCHEMA_VERSION",
    "SQL_SYSTEM_PROMPT",
    "SYNTHETIC_SYSTEM_PROMPT",
    "AuthError",
    "AwsError",
    "Benchmark",
    "BenchmarkProgress",
    "BenchmarkReport",
    "Bucket",
    "BucketInfo",
    "ConflictError",
    "CostEstimate",
    "CustomModel",
    "CustomModelInfo",
    "DataFileError",
    "DataLocation",
    "DataStats",
    "Dataset",
    "DatasetUnavailableError",
    "DatasetValidationError",
    "Deployment",
    "DeploymentFailedError",
    "DeploymentInfo",
    "EmulatorError",
    "FineTuneJob",
    "FoundationModel",
    "Hyperparameters",
    "Identity",
    "InternalError",
    "InvalidParameterError",
    "Issue",
    "JobFailedError",
    "JobInfo",
    "LocalEmulator",
    "NovaFtError",
    "OperationCancelledError",
    "OverlapReport",
    "PriceTable",
    "QuotaExceededError",
    "Reply",
    "Resource",
    "ResourceNotFoundError",
    "ResourceRecord",
    "RoleInfo",
    "ServiceError",
    "ServiceValidationError",
    "Session",
    "ThrottlingError",
    "TrainingRole",
    "UnsupportedOperationError",
    "UploadedObject",
    "ValidationReport",
    "__version__",
    "datasets",
    "estimate_tokens",
    "exceptions",
    "price_table",
    "validate",
]

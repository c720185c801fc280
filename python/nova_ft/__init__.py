"""nova_ft: from labelled examples to a fine-tuned Amazon Nova Micro on Bedrock.

Build and validate training data in Bedrock's ``bedrock-conversation-2024`` format, and run
the whole customization workflow (bucket, role, job, deployment, benchmark, clean-up) against
AWS or the embedded local emulator. See the README for the two set-up commands.
"""

from . import exceptions
from ._issue import Issue
from ._nova_ft import SCHEMA_VERSION, SQL_SYSTEM_PROMPT, SYNTHETIC_SYSTEM_PROMPT, __version__
from .benchmark import Benchmark, BenchmarkReport
from .dataset import Dataset, estimate_tokens, price_table, validate
from .deployment import Deployment
from .emulator import LocalEmulator
from .exceptions import (
    AuthError,
    AwsError,
    ConflictError,
    DataFileError,
    DatasetValidationError,
    DeploymentFailedError,
    InvalidParameterError,
    JobFailedError,
    NovaFtError,
    QuotaExceededError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
    ThrottlingError,
)
from .job import DEFAULT_BASE_MODEL, CustomModel, FineTuneJob, Hyperparameters
from .report import CostEstimate, DataStats, OverlapReport, PriceTable, ValidationReport
from .resources import Resource, ResourceRecord
from .role import TrainingRole
from .session import Reply, Session
from .storage import Bucket, DataLocation, UploadedObject

__all__ = [
    "DEFAULT_BASE_MODEL",
    "SCHEMA_VERSION",
    "SQL_SYSTEM_PROMPT",
    "SYNTHETIC_SYSTEM_PROMPT",
    "AuthError",
    "AwsError",
    "Benchmark",
    "BenchmarkReport",
    "Bucket",
    "ConflictError",
    "CostEstimate",
    "CustomModel",
    "DataFileError",
    "DataLocation",
    "DataStats",
    "Dataset",
    "DatasetValidationError",
    "Deployment",
    "DeploymentFailedError",
    "FineTuneJob",
    "Hyperparameters",
    "InvalidParameterError",
    "Issue",
    "JobFailedError",
    "LocalEmulator",
    "NovaFtError",
    "OverlapReport",
    "PriceTable",
    "QuotaExceededError",
    "Reply",
    "Resource",
    "ResourceNotFoundError",
    "ResourceRecord",
    "ServiceError",
    "ServiceValidationError",
    "Session",
    "ThrottlingError",
    "TrainingRole",
    "UploadedObject",
    "ValidationReport",
    "__version__",
    "estimate_tokens",
    "exceptions",
    "price_table",
    "validate",
]

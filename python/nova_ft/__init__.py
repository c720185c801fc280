"""nova_ft: from labelled examples to a fine-tuned Amazon Nova Micro on Bedrock.

Build and validate training data in Bedrock's ``bedrock-conversation-2024`` format, and (as
the package grows) run the whole customization workflow against AWS or the bundled local
emulator. See the README for the two set-up commands.
"""

from . import exceptions
from ._issue import Issue
from ._nova_ft import SCHEMA_VERSION, SQL_SYSTEM_PROMPT, SYNTHETIC_SYSTEM_PROMPT, __version__
from .dataset import Dataset, estimate_tokens, price_table, validate
from .emulator import LocalEmulator
from .exceptions import (
    AuthError,
    AwsError,
    ConflictError,
    DataFileError,
    DatasetValidationError,
    InvalidParameterError,
    NovaFtError,
    QuotaExceededError,
    ResourceNotFoundError,
    ServiceError,
    ServiceValidationError,
    ThrottlingError,
)
from .report import CostEstimate, DataStats, OverlapReport, PriceTable, ValidationReport
from .session import Session

__all__ = [
    "SCHEMA_VERSION",
    "SQL_SYSTEM_PROMPT",
    "SYNTHETIC_SYSTEM_PROMPT",
    "AuthError",
    "AwsError",
    "ConflictError",
    "CostEstimate",
    "DataFileError",
    "DataStats",
    "Dataset",
    "DatasetValidationError",
    "InvalidParameterError",
    "Issue",
    "LocalEmulator",
    "NovaFtError",
    "OverlapReport",
    "PriceTable",
    "QuotaExceededError",
    "ResourceNotFoundError",
    "ServiceError",
    "ServiceValidationError",
    "Session",
    "ThrottlingError",
    "ValidationReport",
    "__version__",
    "estimate_tokens",
    "exceptions",
    "price_table",
    "validate",
]

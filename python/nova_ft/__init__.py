"""nova_ft: from labelled examples to a fine-tuned Amazon Nova Micro on Bedrock.

Build and validate training data in Bedrock's ``bedrock-conversation-2024`` format, and run
the whole customization workflow (bucket, role, job, deployment, benchmark, clean-up) against
AWS or the embedded local emulator. See the README for the two set-up commands, and the user
guide (docs/guide/) for the rest.
"""

from __future__ import annotations

import importlib
import platform
import sys
from typing import TYPE_CHECKING, Any


def _check_cpu() -> None:
    """The native module is built for x86-64-v3 (AVX2, FMA): say so on an older CPU, before
    loading it would stop Python with an illegal instruction."""
    if sys.platform != "linux" or platform.machine() not in ("x86_64", "AMD64"):
        return
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            flags = next(
                (line.split(":", 1)[1].split() for line in f if line.startswith("flags")), None
            )
    except OSError:
        return
    missing = [flag for flag in ("avx2", "fma") if flags is not None and flag not in flags]
    if missing:
        raise ImportError(
            f"nova_ft needs an x86-64-v3 CPU (AVX2 and FMA; Intel since 2013, AMD since 2015); "
            f"this one lacks {', '.join(missing)}. Build from source with "
            "RUSTFLAGS='-C target-cpu=native' to run it here."
        )


_check_cpu()

if TYPE_CHECKING:
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
        GraderInfo,
        Identity,
        JobInfo,
        Reply,
        RoleInfo,
        UploadedObject,
        __version__,
    )
    from .benchmark import Benchmark
    from .benchmark_report import BenchmarkReport
    from .data_report import CostEstimate, DataStats, OverlapReport, PriceTable, ValidationReport
    from .dataset import Dataset, estimate_tokens, price_table, validate
    from .deployment import Deployment
    from .emulator import LocalEmulator
    from .evaluation import CustomMetric, EvaluationJob
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
        RewardFunctionError,
        ServiceError,
        ServiceValidationError,
        ThrottlingError,
        UnsupportedOperationError,
    )
    from .job import DEFAULT_BASE_MODEL, CustomModel, FineTuneJob, Hyperparameters
    from .resources import Resource, ResourceRecord
    from .reward import Grader, RewardFunction, RewardTest
    from .rft import RFT_BASE_MODEL, RftDataset, RftHyperparameters
    from .role import TrainingRole
    from .session import Session
    from .storage import Bucket, DataLocation

# What each public name is imported from. Nothing is imported until it is used, so
# `nova-ft --help` and `import nova_ft` start in milliseconds (the native module, asyncio
# and the AWS workflow load with the first class that needs them).
_WHERE: dict[str, str] = {
    "datasets": ".datasets",
    "exceptions": ".exceptions",
    "Issue": "._issue",
    "SCHEMA_VERSION": "._nova_ft",
    "SQL_SYSTEM_PROMPT": "._nova_ft",
    "SYNTHETIC_SYSTEM_PROMPT": "._nova_ft",
    "BenchmarkProgress": "._nova_ft",
    "BucketInfo": "._nova_ft",
    "CustomModelInfo": "._nova_ft",
    "DeploymentInfo": "._nova_ft",
    "FoundationModel": "._nova_ft",
    "GraderInfo": "._nova_ft",
    "Identity": "._nova_ft",
    "JobInfo": "._nova_ft",
    "Reply": "._nova_ft",
    "RoleInfo": "._nova_ft",
    "UploadedObject": "._nova_ft",
    "__version__": "._nova_ft",
    "Benchmark": ".benchmark",
    "BenchmarkReport": ".benchmark_report",
    "Dataset": ".dataset",
    "estimate_tokens": ".dataset",
    "price_table": ".dataset",
    "validate": ".dataset",
    "Deployment": ".deployment",
    "LocalEmulator": ".emulator",
    "CustomMetric": ".evaluation",
    "EvaluationJob": ".evaluation",
    "AuthError": ".exceptions",
    "AwsError": ".exceptions",
    "ConflictError": ".exceptions",
    "DataFileError": ".exceptions",
    "DatasetUnavailableError": ".exceptions",
    "DatasetValidationError": ".exceptions",
    "DeploymentFailedError": ".exceptions",
    "EmulatorError": ".exceptions",
    "InternalError": ".exceptions",
    "InvalidParameterError": ".exceptions",
    "JobFailedError": ".exceptions",
    "NovaFtError": ".exceptions",
    "OperationCancelledError": ".exceptions",
    "QuotaExceededError": ".exceptions",
    "ResourceNotFoundError": ".exceptions",
    "RewardFunctionError": ".exceptions",
    "ServiceError": ".exceptions",
    "ServiceValidationError": ".exceptions",
    "ThrottlingError": ".exceptions",
    "UnsupportedOperationError": ".exceptions",
    "DEFAULT_BASE_MODEL": ".job",
    "CustomModel": ".job",
    "FineTuneJob": ".job",
    "Hyperparameters": ".job",
    "CostEstimate": ".data_report",
    "DataStats": ".data_report",
    "OverlapReport": ".data_report",
    "PriceTable": ".data_report",
    "ValidationReport": ".data_report",
    "Resource": ".resources",
    "ResourceRecord": ".resources",
    "Grader": ".reward",
    "RewardFunction": ".reward",
    "RewardTest": ".reward",
    "RFT_BASE_MODEL": ".rft",
    "RftDataset": ".rft",
    "RftHyperparameters": ".rft",
    "TrainingRole": ".role",
    "Session": ".session",
    "Bucket": ".storage",
    "DataLocation": ".storage",
}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'nova_ft' has no attribute {name!r}")
    module = importlib.import_module(where, __name__)
    value = module if where == f".{name}" else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))


__all__ = [
    "DEFAULT_BASE_MODEL",
    "RFT_BASE_MODEL",
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
    "CustomMetric",
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
    "EvaluationJob",
    "FineTuneJob",
    "FoundationModel",
    "Grader",
    "GraderInfo",
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
    "RewardFunction",
    "RewardFunctionError",
    "RewardTest",
    "RftDataset",
    "RftHyperparameters",
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

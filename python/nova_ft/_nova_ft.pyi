# Type stubs for the native module built from src/py. Checked against the built module by
# `python -m mypy.stubtest nova_ft._nova_ft` in CI.
import os
from collections.abc import Awaitable, Sequence
from typing import Any, final

__all__ = [
    "SCHEMA_VERSION",
    "SQL_SYSTEM_PROMPT",
    "SYNTHETIC_SYSTEM_PROMPT",
    "BenchmarkRunCore",
    "DatasetCore",
    "EmulatorCore",
    "SessionCore",
    "__version__",
    "bench_rows_from_jsonl",
    "benchmark_report",
    "convert",
    "estimate_tokens",
    "load_jsonl",
    "price_table",
    "synthetic_dataset",
    "validate_files",
]

__version__: str
SYNTHETIC_SYSTEM_PROMPT: str
SQL_SYSTEM_PROMPT: str
SCHEMA_VERSION: str

@final
class DatasetCore:
    @property
    def labels(self) -> list[str] | None: ...
    def split_names(self) -> list[str]: ...
    def split_len(self, split: str) -> int: ...
    def records(self, split: str) -> Any: ...
    def jsonl(self, split: str) -> bytes: ...
    def write_jsonl(self, dir: str | os.PathLike[str]) -> list[str]: ...
    def write_split(self, split: str, path: str | os.PathLike[str]) -> None: ...
    def overlap_report(self) -> Any: ...
    def validate(
        self,
        splits: Sequence[str] | None = None,
        task: str = "sft",
        max_issues: int = 100,
        epochs: int = 2,
    ) -> Any: ...

@final
class EmulatorCore:
    def __new__(
        cls,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | os.PathLike[str] | None = None,
        region: str = "us-east-1",
        latency_ms: float = 0.0,
        jitter_ms: float = 0.0,
        throttle_rate: float = 0.0,
        error_rate: float = 0.0,
        deployment_delay: float = 2.0,
        job_step_delay: float = 0.3,
    ) -> EmulatorCore: ...
    @property
    def endpoint_url(self) -> str: ...
    @property
    def data_dir(self) -> str: ...
    @property
    def running(self) -> bool: ...
    def stop(self) -> None: ...
    def serve_forever(self) -> None: ...

@final
class SessionCore:
    @staticmethod
    def connect(
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> SessionCore: ...
    @property
    def region(self) -> str: ...
    @property
    def endpoint_url(self) -> str | None: ...
    def call(self, args: dict[str, Any]) -> Any: ...
    def call_async(self, args: dict[str, Any]) -> Awaitable[Any]: ...

@final
class BenchmarkRunCore:
    @staticmethod
    def start(
        session: SessionCore, rows: list[dict[str, Any]], options: dict[str, Any]
    ) -> BenchmarkRunCore: ...
    def progress(self) -> tuple[int, int, int, int, int, int, int]: ...
    def done(self) -> bool: ...
    def wait(self, seconds: float) -> bool: ...
    def cancel(self) -> None: ...
    def report(self, results: str | os.PathLike[str], options: dict[str, Any]) -> Any: ...
    def result(self) -> Any: ...

def bench_rows_from_jsonl(path: str | os.PathLike[str]) -> Any: ...
def benchmark_report(
    results: str | os.PathLike[str], rows: list[dict[str, Any]], options: dict[str, Any]
) -> Any: ...
def synthetic_dataset(
    seed: int = 7, train: int = 800, valid: int = 100, test: int = 0, test_seed: int | None = None
) -> DatasetCore: ...
def convert(
    source: str | os.PathLike[str] | list[Any],
    kind: str,
    *,
    fields: dict[str, str] | None = None,
    instruction: str | None = None,
    labels: Sequence[str] | None = None,
    valid: float = 0.0,
    test: float = 0.0,
    seed: int = 0,
    stratify: bool = True,
    drop_leaks: bool = False,
    name: str | None = None,
) -> DatasetCore: ...
def load_jsonl(
    files: Sequence[tuple[str, str | os.PathLike[str]]], task: str = "sft"
) -> DatasetCore: ...
def validate_files(
    paths: Sequence[str | os.PathLike[str]],
    task: str = "sft",
    max_issues: int = 100,
    max_record_tokens: int = 32000,
    check_counts: bool = True,
    epochs: int = 2,
) -> Any: ...
def estimate_tokens(text: str) -> int: ...
def price_table() -> Any: ...

"""Typed views of what the Rust core reports about data: validation, statistics, cost, leakage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._display import escape_html
from ._issue import Issue
from ._pandas import require_pandas
from .exceptions import DatasetValidationError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CostEstimate",
    "DataStats",
    "OverlapReport",
    "PriceTable",
    "ValidationReport",
]


@dataclass(frozen=True)
class PriceTable:
    """Nova Micro prices in US dollars, with their source and date."""

    model: str
    region: str
    input_per_million: float
    output_per_million: float
    training_per_thousand: float
    storage_per_month: float
    source: str
    as_of: str
    unverified: tuple[str, ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PriceTable:
        return cls(**{**d, "unverified": tuple(d["unverified"])})


@dataclass(frozen=True)
class CostEstimate:
    """Estimated dollars to train on a data set and to serve requests shaped like it."""

    epochs: int
    training_tokens: int
    training_usd: float
    mean_input_tokens: float
    mean_output_tokens: float
    inference_usd_per_1000: float
    storage_usd_per_month: float
    prices: PriceTable

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CostEstimate:
        return cls(**{**d, "prices": PriceTable.from_dict(d["prices"])})

    def __str__(self) -> str:
        unverified = ", ".join(self.prices.unverified)
        return (
            f"training ~${self.training_usd:.4f} ({self.training_tokens:,} tokens x "
            f"{self.epochs} epochs); inference ~${self.inference_usd_per_1000:.4f} per 1,000 "
            f"queries; storage ${self.storage_usd_per_month:.2f}/month "
            f"(prices as of {self.prices.as_of}; unverified: {unverified})"
        )


@dataclass(frozen=True)
class DataStats:
    """What a data set holds. Token counts are estimates (see ``token_estimator``)."""

    records: int
    answered: int
    input_tokens: int
    output_tokens: int
    max_record_tokens: int
    token_estimator: str
    system_prompts: list[dict[str, Any]]
    duplicate_records: int
    conflicting_inputs: int
    distinct_answers: int
    labels: dict[str, int] | None
    first_duplicate: tuple[str, str] | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DataStats:
        labels = d.get("labels")
        first = d.get("first_duplicate")
        return cls(
            records=d["records"],
            answered=d["answered"],
            input_tokens=d["input_tokens"],
            output_tokens=d["output_tokens"],
            max_record_tokens=d["max_record_tokens"],
            token_estimator=d["token_estimator"],
            system_prompts=list(d["system_prompts"]),
            duplicate_records=d["duplicate_records"],
            conflicting_inputs=d["conflicting_inputs"],
            distinct_answers=d["distinct_answers"],
            labels=None if labels is None else {x["label"]: x["count"] for x in labels},
            first_duplicate=None if first is None else (first[0], first[1]),
        )

    def label_frame(self) -> pd.DataFrame:
        """The label distribution as a DataFrame (label, count, share), most frequent first."""
        pd = require_pandas()
        labels = self.labels or {}
        total = sum(labels.values()) or 1
        rows = [(k, v, v / total) for k, v in labels.items()]
        return pd.DataFrame(rows, columns=["label", "count", "share"])


@dataclass(frozen=True)
class ValidationReport:
    """The result of checking data against Bedrock's rules for Nova fine-tuning.

    ``ok`` is true when no errors were found; warnings never make it false.
    ``raise_for_errors()`` turns a failed report into :class:`DatasetValidationError`.
    """

    task: str
    files: list[tuple[str, int]]
    errors: list[Issue]
    warnings: list[Issue]
    omitted_errors: int
    omitted_warnings: int
    stats: DataStats
    cost: CostEstimate
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ValidationReport:
        return cls(
            task=d["task"],
            files=[(f["path"], f["records"]) for f in d["files"]],
            errors=[Issue.from_dict(i) for i in d["errors"]],
            warnings=[Issue.from_dict(i) for i in d["warnings"]],
            omitted_errors=d["omitted_errors"],
            omitted_warnings=d["omitted_warnings"],
            stats=DataStats.from_dict(d["stats"]),
            cost=CostEstimate.from_dict(d["cost"]),
            raw=d,
        )

    @property
    def ok(self) -> bool:
        """True when no rule is broken."""
        return not self.errors and self.omitted_errors == 0

    @property
    def error_count(self) -> int:
        """How many problems were found (listed or not)."""
        return len(self.errors) + self.omitted_errors

    def raise_for_errors(self) -> ValidationReport:
        """Return self when valid; otherwise raise :class:`DatasetValidationError`."""
        if self.ok:
            return self
        names = ", ".join(path for path, _ in self.files)
        lines = [f"{self.error_count} problem(s) in {names}. Fix these lines and run again:"]
        lines += [f"  {issue}" for issue in self.errors[:10]]
        if self.error_count > 10:
            lines.append(f"  ... and {self.error_count - 10} more")
        raise DatasetValidationError("\n".join(lines), self.errors, self.omitted_errors)

    def lines(self) -> list[str]:
        """Every problem as one line: errors, then warnings prefixed with ``warning:``."""
        out = [str(i) for i in self.errors]
        if self.omitted_errors:
            out.append(f"... {self.omitted_errors} more error(s) not listed")
        out += [f"warning: {i}" for i in self.warnings]
        if self.omitted_warnings:
            out.append(f"warning: ... {self.omitted_warnings} more warning(s) not listed")
        return out

    def to_frame(self) -> pd.DataFrame:
        """All issues as a DataFrame (severity, file, line, field, message)."""
        pd = require_pandas()
        rows = [
            (i.severity, i.file, i.line, i.field, i.message) for i in self.errors + self.warnings
        ]
        return pd.DataFrame(rows, columns=["severity", "file", "line", "field", "message"])

    def __repr__(self) -> str:
        records = sum(n for _, n in self.files)
        return (
            f"ValidationReport(ok={self.ok}, task={self.task!r}, records={records}, "
            f"errors={self.error_count}, warnings={len(self.warnings) + self.omitted_warnings})"
        )

    def _repr_html_(self) -> str:
        status = "valid" if self.ok else f"{self.error_count} error(s)"
        items = "".join(f"<li><code>{escape_html(line)}</code></li>" for line in self.lines()[:50])
        return f"<b>{escape_html(repr(self))}</b> &mdash; {status}<ul>{items}</ul>"


@dataclass(frozen=True)
class OverlapReport:
    """Duplicate inputs within each split, and inputs a later split shares with an earlier one.

    A test record whose input also appears in training measures memory, not generalisation.
    """

    splits: list[dict[str, Any]]
    overlaps: list[dict[str, Any]]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> OverlapReport:
        return cls(splits=list(d["splits"]), overlaps=list(d["overlaps"]))

    @property
    def leaked_records(self) -> int:
        """Records of later splits whose input also appears in an earlier split."""
        return sum(int(o["records"]) for o in self.overlaps)

    def lines(self) -> list[str]:
        """The report as readable lines."""
        out = []
        for s in self.splits:
            out.append(
                f"{s['split']}: {s['records']} records, {s['duplicate_inputs']} duplicate inputs"
            )
        for o in self.overlaps:
            out.append(
                f"leakage: {o['records']} {o['split']} record(s) repeat inputs from "
                f"{o['earlier']} (e.g. {o['examples'][0]!r})"
            )
        return out

    def __repr__(self) -> str:
        return f"OverlapReport(leaked_records={self.leaked_records}, splits={len(self.splits)})"

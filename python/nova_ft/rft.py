"""Reinforcement fine-tuning data and settings: :class:`RftDataset` (prompts with the
reference answers only the grader sees) and :class:`RftHyperparameters` (typed, checked
against the API's ranges before any call)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ._display import escape_html
from ._fsio import write_bytes_atomically
from ._pandas import require_pandas
from ._steps import Steps, async_twin, step
from .data_report import ValidationReport
from .dataset import Dataset, validate
from .exceptions import DataFileError, InvalidParameterError
from .job import check_ranges

if TYPE_CHECKING:
    import pandas as pd

    from .storage import Bucket, DataLocation

PathLike = str | os.PathLike[str]

__all__ = ["RFT_BASE_MODEL", "RftDataset", "RftHyperparameters"]

#: The customizable base for RFT (Nova Micro and Nova Lite take no RFT).
RFT_BASE_MODEL = "amazon.nova-2-lite-v1:0:256k"


def _text(value: Any) -> str:
    """A reference answer as the model would write it: strings as they are, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


class RftDataset:
    """RFT records: OpenAI-style ``messages`` (an optional system turn, then the user's) and a
    ``reference_answer`` the grader checks the model's answer against, with an optional ``id``
    and any extra fields (they reach the grader as metadata).

    Build one from a conversation :class:`Dataset` (:meth:`from_dataset`: the label or gold
    SQL becomes the reference answer, and is never shown to the model), from your own dicts,
    or from a JSONL file (:meth:`from_jsonl`). Bedrock wants 100 to 20,000 records per job.

    Examples:
        >>> data = Dataset.synthetic(7, 200, 0)
        >>> rft = RftDataset.from_dataset(data)
        >>> len(rft), sorted(rft.records[0])
        (200, ['id', 'messages', 'reference_answer'])
    """

    def __init__(self, records: Iterable[Mapping[str, Any]], name: str = "rft") -> None:
        self.records: list[dict[str, Any]] = [dict(r) for r in records]
        self.name = name

    @classmethod
    def from_dataset(cls, dataset: Dataset, split: str = "train") -> RftDataset:
        """Prompts of a conversation dataset's split, each with its answer as the reference."""
        records = []
        for i, record in enumerate(dataset.records(split)):
            turns = record["messages"]
            if not turns or turns[-1]["role"] != "assistant":
                raise InvalidParameterError(
                    f"{split} record {i + 1} has no answer to use as the reference answer"
                )
            messages: list[dict[str, str]] = []
            system = "\n".join(b["text"] for b in record.get("system", []))
            if system:
                messages.append({"role": "system", "content": system})
            for turn in turns[:-1]:
                text = "\n".join(b["text"] for b in turn["content"])
                messages.append({"role": turn["role"], "content": text})
            answer = "\n".join(b["text"] for b in turns[-1]["content"])
            records.append({"id": f"{split}-{i}", "messages": messages, "reference_answer": answer})
        return cls(records, name=f"{split} of {dataset!r}")

    @classmethod
    def from_jsonl(cls, path: PathLike) -> RftDataset:
        """Read an RFT JSONL file, checked line by line (every problem is raised at once)."""
        validate(path, task="rft", check_counts=False).raise_for_errors()
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise DataFileError(f"cannot read {path}: {exc}", path=str(path)) from exc
        return cls((json.loads(line) for line in lines if line.strip()), name=str(path))

    def __len__(self) -> int:
        return len(self.records)

    def prompts(self) -> list[tuple[str, str]]:
        """(system, user text) of each record."""
        out = []
        for record in self.records:
            messages = record.get("messages", [])
            system = next((m["content"] for m in messages if m.get("role") == "system"), "")
            user = "\n".join(m["content"] for m in messages if m.get("role") == "user")
            out.append((system, user))
        return out

    def jsonl(self) -> bytes:
        """The records as JSONL bytes."""
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records).encode()

    def write(self, path: PathLike) -> Path:
        """Write the records to ``path`` atomically."""
        return write_bytes_atomically(path, self.jsonl())

    def validate(self, *, check_counts: bool = True) -> ValidationReport:
        """Check every record against RFT's rules; problems are in the report (each with its
        line and field), not raised."""
        with tempfile.TemporaryDirectory(prefix="nova_ft-rft-") as tmp:
            path = self.write(Path(tmp) / "train.jsonl")
            return validate(path, task="rft", check_counts=check_counts)

    def to_frame(self) -> pd.DataFrame:
        """The records as a DataFrame: ``id``, ``system``, ``input``, ``reference_answer``."""
        pd = require_pandas()
        rows = [
            {
                "id": r.get("id"),
                "system": system,
                "input": user,
                "reference_answer": _text(r.get("reference_answer")),
            }
            for r, (system, user) in zip(self.records, self.prompts(), strict=True)
        ]
        return pd.DataFrame(rows, columns=["id", "system", "input", "reference_answer"])

    @step
    def upload(
        self, bucket: Bucket, prefix: str = "", validation: RftDataset | None = None
    ) -> Steps[DataLocation]:
        """Validate, then upload to ``<prefix>training-data/train.jsonl``, and ``validation``
        (optional, as AWS's RFT samples send one: the job reports its reward every
        ``evalInterval`` steps) to ``<prefix>validation-data/valid.jsonl``. Nothing is
        uploaded if either fails validation."""
        from ._nova_ft import UploadedObject
        from .storage import SPLIT_KEYS, DataLocation

        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.validate().raise_for_errors()
        if validation is not None:
            # The per-job record counts are the training file's rule; a validation file's
            # records need only be valid.
            validation.validate(check_counts=False).raise_for_errors()
        session = bucket._session
        name = yield from bucket._resolve_name()
        parts = [("train", self)] + ([("valid", validation)] if validation is not None else [])
        objects: list[UploadedObject] = []
        with tempfile.TemporaryDirectory(prefix="nova_ft-upload-") as tmp:
            for split, data in parts:
                path = data.write(Path(tmp) / f"{split}.jsonl")
                uploaded: UploadedObject = yield session.core.upload_file(
                    path, name, prefix + SPLIT_KEYS[split]
                )
                if uploaded.uploaded:
                    session.record.add("object", uploaded.key, bucket=name)
                objects.append(uploaded)
        return DataLocation(
            bucket=name,
            prefix=prefix,
            splits=tuple(split for split, _ in parts),
            objects=tuple(objects),
        )

    upload_async = async_twin(upload)

    def __repr__(self) -> str:
        return f"RftDataset({len(self)} records, {self.name})"

    def _repr_html_(self) -> str:
        return f"<b>nova_ft.RftDataset</b>: {len(self):,} records ({escape_html(self.name)})"


@dataclass(frozen=True)
class RftHyperparameters:
    """Reinforcement fine-tuning's typed hyperparameters, range-checked before any call
    (Bedrock API reference, ``RFTHyperParameters``). ``None`` leaves one to Bedrock's default.

    Examples:
        >>> RftHyperparameters(epochs=2, batch_size=64).to_api()
        {'epochCount': 2, 'batchSize': 64}

        ``RftHyperparameters(batch_size=8)`` raises :class:`InvalidParameterError` (16 to 512).
    """

    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    samples_per_prompt: int | None = None
    eval_interval: int | None = None
    max_prompt_length: int | None = None
    inference_max_tokens: int | None = None
    reasoning_effort: str | None = None

    RANGES: ClassVar[dict[str, tuple[float, float]]] = {
        "epochs": (1, 50),
        "batch_size": (16, 512),
        "learning_rate": (1e-7, 1e-3),
        "samples_per_prompt": (2, 16),
        "eval_interval": (1, 100),
        "max_prompt_length": (1, 2**31 - 1),
        "inference_max_tokens": (1, 2**31 - 1),
    }
    API_NAMES: ClassVar[dict[str, str]] = {
        "epochs": "epochCount",
        "batch_size": "batchSize",
        "learning_rate": "learningRate",
        "samples_per_prompt": "trainingSamplePerPrompt",
        "eval_interval": "evalInterval",
        "max_prompt_length": "maxPromptLength",
        "inference_max_tokens": "inferenceMaxTokens",
        "reasoning_effort": "reasoningEffort",
    }

    def __post_init__(self) -> None:
        check_ranges(self, self.RANGES, self.API_NAMES, "RFT's", optional=True)
        if self.reasoning_effort not in (None, "low", "medium", "high"):
            raise InvalidParameterError(
                f"reasoning_effort must be low, medium or high, got {self.reasoning_effort!r}"
            )

    def to_api(self) -> dict[str, Any]:
        """The ``rftConfig.hyperParameters`` members that are set, by their API names."""
        return {
            self.API_NAMES[f.name]: getattr(self, f.name)
            for f in fields(self)
            if getattr(self, f.name) is not None
        }

    @classmethod
    def from_api(cls, values: Mapping[str, Any]) -> RftHyperparameters:
        """From API names (``epochCount``, ...); an unknown name is refused."""
        by_api = {v: k for k, v in cls.API_NAMES.items()}
        unknown = sorted(set(values) - set(by_api))
        if unknown:
            raise InvalidParameterError(
                f"unknown RFT hyperparameter(s) {', '.join(unknown)}: use "
                f"{', '.join(cls.API_NAMES.values())}"
            )
        return cls(**{by_api[k]: v for k, v in values.items()})


def reference_texts(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """Each record's reference answer as answer text."""
    return [_text(r.get("reference_answer")) for r in records]

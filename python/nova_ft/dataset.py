"""Training data for Amazon Nova Micro in Bedrock's ``bedrock-conversation-2024`` format.

The work (generation, conversion, splitting, validation, writing) happens in the Rust core;
this module gives it a Python shape that accepts paths, lists of dicts and DataFrames.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias

from . import _nova_ft
from ._display import escape_html
from ._pandas import require_pandas
from ._steps import Steps, async_twin, step
from .data_report import OverlapReport, PriceTable, ValidationReport

if TYPE_CHECKING:
    import pandas as pd

    from .storage import Bucket, DataLocation

__all__ = ["Dataset", "estimate_tokens", "price_table", "validate"]

PathLike: TypeAlias = str | os.PathLike[str]
#: What the converters accept: a .jsonl/.csv path, a list of dicts, or a pandas DataFrame.
Rows: TypeAlias = PathLike | Sequence[Mapping[str, Any]] | Any


class Dataset:
    """Named splits (``train``, ``valid``, optionally ``test``) of conversation records.

    Build one with :meth:`synthetic`, :meth:`from_intents`, :meth:`from_sql` or
    :meth:`from_jsonl`; check it with :meth:`validate`; save it with :meth:`write`.

    Examples:
        >>> ds = Dataset.synthetic(seed=7, train=800, valid=100)
        >>> ds
        Dataset(train=800, valid=100, labels=8)
        >>> ds.validate().ok
        True
    """

    def __init__(self, core: _nova_ft.DatasetCore) -> None:
        self._core = core

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def synthetic(
        cls,
        seed: int = 7,
        train: int = 800,
        valid: int = 100,
        test: int = 0,
        test_seed: int | None = None,
    ) -> Dataset:
        """The Bedrock tutorial's synthetic airline-intent data.

        Rows are drawn exactly as the tutorial's Python does, so for a given seed the JSONL is
        byte-identical to the tutorial's files. ``train`` then ``valid`` (then ``test``) rows come
        from one stream; with ``test_seed`` the test rows come from a stream of their own (the
        tutorial uses seed 99 for its 120 test rows).

        Examples:
            >>> Dataset.synthetic(seed=99, train=120, valid=0).records("train")[0]["messages"][1]
            {'role': 'assistant', 'content': [{'text': 'flight_time'}]}
        """
        return cls(_nova_ft.synthetic_dataset(seed, train, valid, test, test_seed))

    @classmethod
    def from_intents(
        cls,
        data: Rows,
        *,
        text: str = "text",
        label: str = "label",
        instruction: str | None = None,
        labels: Sequence[str] | None = None,
        valid: float = 0.0,
        test: float = 0.0,
        seed: int = 0,
        stratify: bool = True,
        drop_leaks: bool = False,
    ) -> Dataset:
        """Intent-classification rows (a text and a label each) as conversation records.

        The system prompt names every label, in the tutorial's wording:
        ``"<instruction> Choose one intent from this list: a, b, c\\n\\nRespond with only the
        intent name, nothing else."`` Labels are listed sorted unless ``labels`` gives the order.
        ``valid``/``test`` are fractions for a seeded split, stratified by label;
        ``drop_leaks`` removes valid/test rows whose text also appears in an earlier split.

        Examples:
            >>> rows = [{"text": "fares to boston", "label": "airfare"},
            ...         {"text": "flights to denver", "label": "flight"}]
            >>> system = Dataset.from_intents(rows).records("train")[0]["system"][0]["text"]
            >>> system.splitlines()[0].split(". ")[1]
            'Choose one intent from this list: airfare, flight'
        """
        return cls._convert(
            data,
            "intent",
            {"text": text, "label": label},
            instruction=instruction,
            labels=list(labels) if labels is not None else None,
            valid=valid,
            test=test,
            seed=seed,
            stratify=stratify,
            drop_leaks=drop_leaks,
        )

    @classmethod
    def from_sql(
        cls,
        data: Rows,
        *,
        question: str = "question",
        context: str = "context",
        sql: str = "sql",
        valid: float = 0.0,
        test: float = 0.0,
        seed: int = 0,
        drop_leaks: bool = False,
    ) -> Dataset:
        """Text-to-SQL rows (question, CREATE TABLE context, SQL) as conversation records.

        Prompts follow AWS's Nova Micro text-to-SQL sample: its system prompt and a user turn
        ``### Input:\\n{question}\\n\\n### Context:\\n{context}\\n\\n### Response:\\n``.
        """
        return cls._convert(
            data,
            "sql",
            {"question": question, "context": context, "sql": sql},
            valid=valid,
            test=test,
            seed=seed,
            stratify=False,
            drop_leaks=drop_leaks,
        )

    @classmethod
    def _convert(cls, data: Rows, kind: str, fields: dict[str, str], **options: Any) -> Dataset:
        if isinstance(data, (str, os.PathLike)):
            return cls(_nova_ft.convert(Path(data), kind, fields=fields, **options))
        if hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
            rows = data.to_dict(orient="records")
            return cls(_nova_ft.convert(rows, kind, fields=fields, name="DataFrame", **options))
        return cls(_nova_ft.convert([dict(r) for r in data], kind, fields=fields, **options))

    @classmethod
    def from_jsonl(
        cls,
        train: PathLike,
        valid: PathLike | None = None,
        test: PathLike | None = None,
        *,
        task: str = "sft",
    ) -> Dataset:
        """Load existing ``bedrock-conversation-2024`` JSONL files, validating every line.

        Raises :class:`~nova_ft.exceptions.DatasetValidationError` listing each bad line.
        """
        files = [("train", Path(train))]
        files += [
            (name, Path(p)) for name, p in (("valid", valid), ("test", test)) if p is not None
        ]
        return cls(_nova_ft.load_jsonl(files, task))

    # -- inspection -----------------------------------------------------------------------

    @property
    def splits(self) -> tuple[str, ...]:
        """Split names, in order."""
        return tuple(self._core.split_names())

    @property
    def labels(self) -> list[str] | None:
        """The label list named in the system prompt (intent data), else ``None``."""
        return self._core.labels

    def __len__(self) -> int:
        return sum(self._core.split_len(s) for s in self.splits)

    def __contains__(self, split: object) -> bool:
        return split in self.splits

    def size(self, split: str) -> int:
        """Number of records in one split."""
        return self._core.split_len(split)

    def records(self, split: str = "train") -> list[dict[str, Any]]:
        """A split's records as dicts in the ``bedrock-conversation-2024`` shape."""
        result: list[dict[str, Any]] = self._core.records(split)
        return result

    def jsonl(self, split: str = "train") -> bytes:
        """A split as JSONL bytes, each line exactly as Python's ``json.dumps`` writes it."""
        return self._core.jsonl(split)

    def to_frame(self, split: str = "train") -> pd.DataFrame:
        """A split as a DataFrame with columns ``system``, ``input`` and ``target``."""
        pd = require_pandas()
        rows = []
        for record in self.records(split):
            turns = record["messages"]
            answer = turns[-1] if turns and turns[-1]["role"] == "assistant" else None
            prompt = turns[:-1] if answer else turns
            rows.append(
                {
                    "system": "\n".join(b["text"] for b in record.get("system", [])),
                    "input": "\n".join(b["text"] for t in prompt for b in t["content"]),
                    "target": "\n".join(b["text"] for b in answer["content"]) if answer else None,
                }
            )
        return pd.DataFrame(rows, columns=["system", "input", "target"])

    def overlap(self) -> OverlapReport:
        """Duplicates within splits, and test/valid inputs that also appear in training."""
        return OverlapReport.from_dict(self._core.overlap_report())

    def validate(
        self,
        *,
        task: str = "sft",
        splits: Sequence[str] | None = None,
        epochs: int = 2,
        model: str = "",
    ) -> ValidationReport:
        """Check the training splits (all but ``test`` unless named) against Bedrock's rules
        for ``model`` (default Nova Micro's; see :func:`validate`).

        The report also carries statistics and a cost estimate for ``epochs`` epochs.
        """
        names = list(splits) if splits is not None else None
        return ValidationReport.from_dict(
            self._core.validate(names, task, epochs=epochs, model=model)
        )

    # -- output ---------------------------------------------------------------------------

    def write(self, directory: PathLike) -> dict[str, Path]:
        """Write each split to ``directory/<split>.jsonl``, atomically, and return the paths."""
        paths = self._core.write_jsonl(Path(directory))
        return {Path(p).stem: Path(p) for p in paths}

    def write_split(self, split: str, path: PathLike) -> Path:
        """Write one split to ``path`` atomically."""
        self._core.write_split(split, Path(path))
        return Path(path)

    @property
    def system_prompt(self) -> str | None:
        """The first training record's system prompt: send the same one at inference."""
        split = "train" if "train" in self.splits else self.splits[0]
        records = self.records(split)
        if not records or not records[0].get("system"):
            return None
        return "\n".join(block["text"] for block in records[0]["system"])

    @step
    def upload(
        self, bucket: Bucket, prefix: str = "", *, task: str = "sft", model: str = ""
    ) -> Steps[DataLocation]:
        """Validate (as ``task``: ``sft`` or ``distillation``, under ``model``'s rules: default
        Nova Micro's, ``amazon.nova-2-lite-v1:0:256k`` for Nova 2 Lite), then upload ``train`` and
        ``valid`` to the tutorial's layout (``<prefix>training-data/train.jsonl``,
        ``<prefix>validation-data/valid.jsonl``).

        Nothing is uploaded if validation fails; a file S3 already holds (same SHA-256) is not
        sent again. ``test`` stays local: it is held out for the benchmark.
        """
        # Imported here: validating data needs none of the AWS workflow.
        from .storage import upload_steps

        return (yield from upload_steps(self, bucket, prefix, task, model))

    upload_async = async_twin(upload)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{s}={self.size(s)}" for s in self.splits)
        labels = f", labels={len(self.labels)}" if self.labels else ""
        return f"Dataset({sizes}{labels})"

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{s}</td><td>{self.size(s):,}</td></tr>" for s in self.splits)
        labels = ", ".join(self.labels) if self.labels else "open-ended answers"
        return (
            f"<b>nova_ft.Dataset</b> ({escape_html(labels)})"
            f"<table><tr><th>split</th><th>records</th></tr>{rows}</table>"
        )


def validate(
    *paths: PathLike,
    task: str = "sft",
    max_issues: int = 100,
    max_record_tokens: int = 32_000,
    check_counts: bool = True,
    epochs: int = 2,
    model: str = "",
) -> ValidationReport:
    """Validate JSONL files as the data of one customization job.

    Streams every line through Bedrock's rules for Nova Micro and reports each problem as
    ``file:line: field: message``. The record-count bounds (fine-tuning 8-20,000; distillation
    100-15,000) apply to all the files together. Data problems are in the report, not raised:
    call :meth:`ValidationReport.raise_for_errors` to turn them into an exception.

    ``task="rft"`` checks reinforcement fine-tuning records (100-20,000). ``model`` picks the
    base model's rules (default Nova Micro's, text only): ``amazon.nova-2-lite-v1:0:256k``
    also takes image or video blocks in user turns (one kind per dataset), ``reasoningContent``
    in assistant turns, and needs 200-20,000 fine-tuning records.
    """
    if not paths:
        raise TypeError("validate() needs at least one file")
    report = _nova_ft.validate_files(
        [Path(p) for p in paths],
        task,
        max_issues,
        max_record_tokens,
        check_counts,
        epochs,
        model=model,
    )
    return ValidationReport.from_dict(report)


def estimate_tokens(text: str) -> int:
    """nova_ft's token estimate (Nova's tokenizer is not public).

    Examples:
        >>> estimate_tokens("show me flights from boston")
        7
    """
    return _nova_ft.estimate_tokens(text)


def price_table() -> PriceTable:
    """Nova Micro's on-demand prices, with their source and date."""
    return PriceTable.from_dict(_nova_ft.price_table())

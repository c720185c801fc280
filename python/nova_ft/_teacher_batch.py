"""Distillation data through batch inference: a teacher model answers unlabelled prompts in
one Bedrock batch job (half the on-demand price), and its answers become supervised training
data, for when a DISTILLATION job is not the right fit (another base, your own filtering, a
teacher distillation jobs do not offer)."""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _nova_ft
from ._fsio import write_text_atomically
from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    from .dataset import Dataset
    from .session import Session
    from .storage import Bucket

log = logging.getLogger("nova_ft")


def _record(row: dict[str, Any], answer: str) -> dict[str, Any]:
    """A training record: the row's system prompt and turns, then the teacher's answer."""
    turns = row.get("messages") or [("user", [row["text"]])]
    messages = [
        {"role": role, "content": [{"text": text} for text in texts]} for role, texts in turns
    ]
    messages.append({"role": "assistant", "content": [{"text": answer}]})
    record: dict[str, Any] = {"schemaVersion": "bedrock-conversation-2024", "messages": messages}
    if row.get("system"):
        record["system"] = [{"text": row["system"]}]
    return record


def teacher_answers(
    session: Session,
    prompts: Dataset | str | os.PathLike[str],
    teacher: str,
    *,
    out_dir: str | os.PathLike[str] | None,
    max_tokens: int,
    bucket: str | Bucket | None,
    role: str | None,
    progress: bool,
) -> Dataset:
    """See :meth:`Session.teacher_answers`."""
    from .benchmark import Benchmark
    from .dataset import Dataset

    out = Path(out_dir or tempfile.mkdtemp(prefix="nova_ft-teacher-"))
    out.mkdir(parents=True, exist_ok=True)
    if isinstance(prompts, Dataset):
        source = prompts.write_split("train", out / "prompts.jsonl")
    else:
        source = Path(prompts)
    rows: list[dict[str, Any]] = _nova_ft.bench_rows_from_jsonl(source)
    bench = Benchmark(
        session,
        source,
        {"teacher": teacher},
        out_dir=out,
        mode="batch",
        max_tokens=max_tokens,
        bucket=bucket,
        role=role,
    )
    if bench.modes[teacher] != "batch":
        raise InvalidParameterError(
            f"the teacher {teacher} cannot run batch inference (a custom model): use a "
            "foundation model or an inference profile"
        )
    bench.run(progress=progress)
    answers: dict[str, str] = {}
    for line in bench.results_path.read_text(encoding="utf-8").splitlines():
        result = json.loads(line) if line.strip() else None
        if result and result.get("prediction") and result["prediction"].strip():
            answers[result["row_id"]] = result["prediction"].strip()
    records = [_record(row, answers[row["id"]]) for row in rows if row["id"] in answers]
    skipped = len(rows) - len(records)
    if skipped:
        log.warning(
            "%d of %d prompts got no answer from %s (failed or empty) and were left out",
            skipped,
            len(rows),
            teacher,
        )
    train = write_text_atomically(
        out / "teacher-train.jsonl", "".join(json.dumps(r) + "\n" for r in records)
    )
    return Dataset.from_jsonl(train)

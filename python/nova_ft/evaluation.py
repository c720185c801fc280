"""Bedrock model evaluation jobs on nova_ft's answers (bring your own inference).

``report.to_evaluation_dataset()`` writes a benchmark's answers in Bedrock's evaluation
dataset format; ``session.evaluate(report)`` uploads it, runs ``CreateEvaluationJob`` with a
judge model (built-in metrics such as ``Builtin.Correctness`` and your own custom metrics),
and :class:`EvaluationJob` waits for it and reads the results from the job's output layout
into DataFrames, next to the benchmark's own metrics.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ._display import html_table, progress_bar
from ._pandas import require_pandas
from ._steps import Sleep, Steps, async_twin, step
from .exceptions import InvalidParameterError, JobFailedError

if TYPE_CHECKING:
    import pandas as pd

    from .benchmark_report import BenchmarkReport
    from .session import Session

__all__ = ["DEFAULT_EVALUATOR", "CustomMetric", "EvaluationJob"]

log = logging.getLogger("nova_ft")

#: The judge model by default: Amazon Nova Pro, one of the evaluator models Bedrock lists.
DEFAULT_EVALUATOR = "amazon.nova-pro-v1:0"
#: Judge metrics that need only a prompt, a response and a reference answer.
DEFAULT_METRICS = ("Builtin.Correctness", "Builtin.Completeness")
#: Bedrock's limit on prompts per evaluation dataset.
MAX_PROMPTS = 1000
TERMINAL = ("Completed", "Failed", "Stopped")


@dataclass(frozen=True)
class CustomMetric:
    """A metric of your own: the judge reads ``instructions`` (with ``{{prompt}}``,
    ``{{prediction}}`` and ``{{ground_truth}}`` filled in) and answers on ``rating_scale``,
    pairs of (meaning, value), for example ``[("wrong", 0.0), ("right", 1.0)]``."""

    name: str
    instructions: str
    rating_scale: Sequence[tuple[str, float]] = field(default_factory=list)

    def spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "instructions": self.instructions,
            "rating_scale": [[meaning, float(value)] for meaning, value in self.rating_scale],
        }


def evaluation_records(
    report: BenchmarkReport, models: Sequence[str] | None = None, limit: int | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """A benchmark's rows as evaluation dataset records (``prompt``, ``referenceResponse``,
    ``modelResponses`` of each model by display name), and those names."""
    rows = report.rows
    if rows is None or report.results_path is None:
        raise InvalidParameterError(
            "this report has no rows: make it with Benchmark.run() (a report read from JSON "
            "has only the scores)"
        )
    names = list(models) if models is not None else list(report.models)
    if not 1 <= len(names) <= 2:
        raise InvalidParameterError(
            f"an evaluation job compares 1 or 2 models; the report has {len(names)}: pass "
            "models=[...] with one or two of " + ", ".join(report.models)
        )
    unknown = [n for n in names if n not in report.models]
    if unknown:
        raise InvalidParameterError(
            f"no model {unknown[0]!r} in the report: choose from {', '.join(report.models)}"
        )
    ids = {report.models[n]["model"]: n for n in names}
    answers: dict[tuple[str, str], str] = {}
    for line in report.results_path.read_text(encoding="utf-8").splitlines():
        result = json.loads(line) if line.strip() else None
        if result and result["model"] in ids and result.get("prediction") is not None:
            answers[(result["row_id"], ids[result["model"]])] = result["prediction"]
    chosen = rows if limit is None else rows[:limit]
    if len(chosen) > MAX_PROMPTS:
        raise InvalidParameterError(
            f"an evaluation dataset holds at most {MAX_PROMPTS} prompts and the report has "
            f"{len(chosen)} rows: pass limit={MAX_PROMPTS} (or fewer)"
        )
    records = []
    for row in chosen:
        system = row.get("system") or ""
        text = row.get("text") or ""
        responses = [
            {"response": answers[(row["id"], name)], "modelIdentifier": name}
            for name in names
            if (row["id"], name) in answers
        ]
        record: dict[str, Any] = {
            "prompt": f"{system}\n\n{text}" if system else text,
            "modelResponses": responses,
        }
        if row.get("gold") is not None:
            record["referenceResponse"] = row["gold"]
        records.append(record)
    return records, names


def _job_name(text: str) -> str:
    """A name Bedrock accepts for evaluation jobs: lower case, digits and hyphens."""
    name = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return name[:63].rstrip("-") or "nova-ft-eval"


class EvaluationJob:
    """A Bedrock model evaluation job on your own responses.

    ``wait()`` polls until it ends (progress in a bar), ``results()`` reads every score the
    judge gave (one row per model, prompt and metric), ``scores()`` the same as one column per
    metric, and ``summary()`` each model's mean per metric (N/A excluded), beside the
    benchmark's accuracy when the job was made from a report.
    """

    def __init__(
        self,
        session: Session,
        arn: str,
        name: str,
        bucket: str,
        output_prefix: str,
        report: BenchmarkReport | None = None,
    ) -> None:
        self._session = session
        self.arn = arn
        self.name = name
        self.bucket = bucket
        self.output_prefix = output_prefix
        self.report = report
        self.status: str | None = None
        self.failure_messages: list[str] = []

    @step
    def refresh(self) -> Steps[EvaluationJob]:
        """Read the job's status and failure messages."""
        status, messages = yield self._session.core.describe_evaluation_job(self.arn)
        self.status, self.failure_messages = status, list(messages)
        return self

    refresh_async = async_twin(refresh)

    @step
    def wait(
        self, poll_seconds: float | None = None, progress: bool = True
    ) -> Steps[EvaluationJob]:
        """Poll until the job ends; raise :class:`JobFailedError` if it failed or stopped."""
        poll = (
            poll_seconds if poll_seconds is not None else (0.05 if self._session.is_local else 30.0)
        )
        bar = progress_bar(None, f"evaluation {self.name}", progress)
        try:
            while True:
                yield from EvaluationJob.refresh.__steps__(self)  # type: ignore[attr-defined]
                if bar is not None:
                    bar.set_postfix(status=self.status, refresh=True)
                if self.status in TERMINAL:
                    break
                yield Sleep(poll)
        finally:
            if bar is not None:
                bar.close()
        if self.status != "Completed":
            message = "; ".join(self.failure_messages) or None
            raise JobFailedError(
                f"evaluation job {self.name} ended {self.status}: {message or 'no message'}",
                job_name=self.name,
                status=self.status or "",
                failure_message=message,
            )
        return self

    wait_async = async_twin(wait)

    @step
    def results(self) -> Steps[pd.DataFrame]:
        """Every score: one row per model, prompt and metric (``model``, ``prompt``,
        ``reference``, ``response``, ``metric``, ``result``, ``explanation``). ``result`` is
        NaN where the judge found the metric not applicable."""
        pd = require_pandas()
        prefix = f"{self.output_prefix}{self.name}/"
        keys: list[str] = yield self._session.core.list_keys(self.bucket, prefix)
        rows = []
        for key in sorted(k for k in keys if k.endswith("_output.jsonl")):
            model = (
                key.split("/models/", 1)[1].split("/taskTypes/", 1)[0] if "/models/" in key else ""
            )
            text: str = yield self._session.core.get_text(self.bucket, key)
            for index, line in enumerate(text.splitlines()):
                if not line.strip():
                    continue
                entry = json.loads(line)
                record = entry.get("inputRecord", {})
                responses = record.get("modelResponses") or [{}]
                response = next(
                    (r.get("response") for r in responses if r.get("modelIdentifier") == model),
                    responses[0].get("response"),
                )
                for score in entry.get("automatedEvaluationResult", {}).get("scores", []):
                    details = score.get("evaluatorDetails") or [{}]
                    rows.append(
                        {
                            "model": model,
                            "row": index,
                            "prompt": record.get("prompt"),
                            "reference": record.get("referenceResponse"),
                            "response": response,
                            "metric": score.get("metricName"),
                            "result": score.get("result"),
                            "explanation": details[0].get("explanation"),
                        }
                    )
        frame = pd.DataFrame(
            rows,
            columns=[
                "model",
                "row",
                "prompt",
                "reference",
                "response",
                "metric",
                "result",
                "explanation",
            ],
        )
        frame["result"] = pd.to_numeric(frame["result"], errors="coerce")
        return frame

    results_async = async_twin(results)

    def scores(self, results: pd.DataFrame | None = None) -> pd.DataFrame:
        """One row per (model, prompt), one column per metric."""
        frame = self.results() if results is None else results
        return frame.pivot_table(
            index=["model", "row"], columns="metric", values="result", aggfunc="first"
        )

    def summary(self, results: pd.DataFrame | None = None) -> pd.DataFrame:
        """Each model's mean per metric (N/A excluded) and how many were N/A, beside the
        benchmark's accuracy when the job was made from a report."""
        frame = self.results() if results is None else results
        means = frame.pivot_table(index="model", columns="metric", values="result", aggfunc="mean")
        missing = frame[frame["result"].isna()].groupby("model").size()
        means["n/a"] = missing.reindex(means.index).fillna(0).astype(int)
        if self.report is not None:
            accuracy = {name: m["accuracy"] for name, m in self.report.models.items()}
            means.insert(0, "benchmark accuracy", [accuracy.get(m) for m in means.index])
        return means

    def __repr__(self) -> str:
        return f"EvaluationJob(name={self.name!r}, status={self.status!r})"

    def _repr_html_(self) -> str:
        return html_table(
            "nova_ft.EvaluationJob", {"name": self.name, "arn": self.arn, "status": self.status}
        )


def evaluate_steps(
    session: Session,
    data: BenchmarkReport | str,
    *,
    metrics: Sequence[str],
    evaluator: str,
    custom_metrics: Sequence[CustomMetric],
    models: Sequence[str] | None,
    limit: int | None,
    bucket: str | None,
    role: str | None,
    job_name: str | None,
    task_type: str,
    sources: Sequence[str] | None,
) -> Steps[EvaluationJob]:
    """Upload the dataset, scope a role to it, start the job (see ``Session.evaluate``)."""
    from .role import TrainingRole
    from .storage import Bucket

    report = None if isinstance(data, str) else data
    if report is not None:
        records, names = evaluation_records(report, models, limit)
        body = "".join(json.dumps(r) + "\n" for r in records)
    else:
        path = str(data)
        if not path.endswith(".jsonl"):
            raise InvalidParameterError(f"{path}: an evaluation dataset is a .jsonl file")
        with open(path, encoding="utf-8") as f:
            body = f.read()
        if not sources:
            raise InvalidParameterError(
                "evaluating a dataset file needs sources=[...]: the modelIdentifier(s) of "
                "its modelResponses"
            )
        names = list(sources)
    digest = hashlib.sha256(json.dumps([body, list(metrics), evaluator]).encode()).hexdigest()[:10]
    name = _job_name(job_name or f"nova-ft-eval-{digest}")
    custom_names = [m.name for m in custom_metrics]
    place = Bucket(session, bucket)
    yield from Bucket.ensure.__steps__(place)  # type: ignore[attr-defined]
    prefix = f"nova-ft-eval/{name}/"
    session.record.add("prefix", prefix, bucket=place.name)
    dataset_key = f"{prefix}dataset/{name}.jsonl"
    import os
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        f.write(body)
        local = f.name
    try:
        yield session.core.upload_file(local, place.name, dataset_key)
    finally:
        os.unlink(local)
    if role is None:
        scoped = TrainingRole(
            session,
            place.name,
            [f"{prefix}dataset/"],
            f"{prefix}output/",
            name="BedrockNovaEvaluation",
            invoke_models=[evaluator],
        )
        yield from TrainingRole.ensure.__steps__(scoped)  # type: ignore[attr-defined]
        role = scoped.arn
    spec: dict[str, object] = {
        "job_name": name,
        "role_arn": role,
        "dataset_name": "nova-ft-answers",
        "dataset_uri": f"s3://{place.name}/{dataset_key}",
        "task_type": task_type,
        "metrics": [*metrics, *custom_names],
        "evaluator": evaluator,
        "custom_metrics": [m.spec() for m in custom_metrics],
        "sources": names,
        "output_uri": f"s3://{place.name}/{prefix}output/",
    }
    arn: str = yield session.core.create_evaluation_job(spec)
    log.info("evaluation job %s started (%s)", name, arn)
    return EvaluationJob(session, arn, name, place.name, f"{prefix}output/", report)


def normalise_custom(
    metrics: Sequence[CustomMetric | Mapping[str, Any]] | None,
) -> list[CustomMetric]:
    """Custom metrics given as :class:`CustomMetric` or dicts (``name``, ``instructions``,
    ``rating_scale``)."""
    out = []
    for m in metrics or ():
        if isinstance(m, CustomMetric):
            out.append(m)
        else:
            scale = [(str(a), float(b)) for a, b in m.get("rating_scale", [])]
            out.append(CustomMetric(str(m["name"]), str(m["instructions"]), scale))
    return out

"""Step 5: base vs tuned through Converse, fast and resumable, with honest numbers.

The loop runs in the Rust core: bounded concurrency that adapts to throttling, retries with
jittered exponential backoff, a time limit per request, and every result appended to
``<out_dir>/results.jsonl`` as it arrives. Running the same benchmark again with the same
``out_dir`` calls only what is missing.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import _baselines, _batch_mode, _nova_ft, _steps
from ._converse import converse_request
from ._display import progress_bar
from ._steps import Steps
from .benchmark_report import BenchmarkReport, _short_name
from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

    from .dataset import Dataset
    from .deployment import Deployment
    from .session import Session
    from .storage import Bucket

__all__ = ["Benchmark", "BenchmarkReport"]  # BenchmarkReport lives in benchmark_report.py

log = logging.getLogger("nova_ft")

#: What the local models' token counts are, by the emulator's ``models`` choice.
ESTIMATED_NOTES = {
    "stand-ins": (
        "token counts and dollars are estimated: the local stand-in models count tokens with "
        "nova_ft's estimator (a word costs a token per 4 characters, a symbol one), not Nova's "
        "tokenizer"
    ),
    "lm": (
        "token counts and dollars are estimated: the local language model (SmolLM2-135M, a "
        "stand-in for Nova) counts real tokens with its own tokenizer, not Nova's, and the "
        "dollars price those counts at Nova's rates"
    ),
}


def _rows_from(data: Any, system: str | None) -> list[dict[str, Any]]:
    """Benchmark rows (``id``, ``text`` or Converse's ``messages``, ``system``, ``gold``) from a
    file, Dataset or rows."""
    from .dataset import Dataset

    if isinstance(data, (str, os.PathLike)):
        rows: list[dict[str, Any]] = _nova_ft.bench_rows_from_jsonl(Path(data))
    elif isinstance(data, Dataset):
        split = "test" if "test" in data.splits else data.splits[-1]
        with tempfile.TemporaryDirectory(prefix="nova_ft-bench-") as tmp:
            path = data.write_split(split, Path(tmp) / f"{split}.jsonl")
            rows = _nova_ft.bench_rows_from_jsonl(path)
    else:
        if hasattr(data, "to_dict"):  # a pandas DataFrame
            data = data.to_dict("records")
        rows = []
        for i, item in enumerate(data, start=1):
            if not isinstance(item, Mapping) or ("text" in item) == ("messages" in item):
                raise InvalidParameterError(
                    f"benchmark row {i}: expected a mapping with 'text' or Converse's 'messages' "
                    f"(and 'gold', optionally 'id' and 'system'), got {item!r:.80}"
                )
            row = {
                "id": str(item.get("id", i)),
                "system": item.get("system"),
                "gold": None if item.get("gold") is None else str(item["gold"]),
            }
            if "messages" in item:
                try:
                    request = converse_request(
                        None, item["messages"], item.get("system"), None, None, None
                    )
                except InvalidParameterError as exc:
                    raise InvalidParameterError(f"benchmark row {i}: {exc}") from None
                row["messages"] = request["messages"]
                row["system"] = request["system"]
                row["text"] = "\n".join(request["messages"][-1][1])
            else:
                row["text"] = str(item["text"])
            rows.append(row)
    if system is not None:
        for row in rows:
            row["system"] = system
    if not rows:
        raise InvalidParameterError("the benchmark has no rows")
    return rows


def _training_answers(data: Any, train: Any) -> list[str | None] | None:
    """The gold answers of the training data, if the benchmark knows it."""
    from .dataset import Dataset

    if train is None and isinstance(data, Dataset) and data.records("train"):
        train = data
    if train is None:
        return None
    if isinstance(train, Dataset):
        if not train.records("train"):
            raise InvalidParameterError(f"train= is a Dataset without training records: {train!r}")
        with tempfile.TemporaryDirectory(prefix="nova_ft-bench-") as tmp:
            path = train.write_split("train", Path(tmp) / "train.jsonl")
            rows = _nova_ft.bench_rows_from_jsonl(path)
            return [None if row["gold"] is None else str(row["gold"]) for row in rows]
    return [row["gold"] for row in _rows_from(train, None)]


class Benchmark:
    """Converse over the same rows for one or more models, side by side.

    Args:
        session: where to call Converse.
        data: a conversation JSONL file (the final assistant turn is the gold answer; the
            turns before it are the conversation sent), a :class:`Dataset` (its ``test``
            split), or rows (dicts or a DataFrame with ``text``, or Converse's ``messages``
            for a multi-turn row, and ``gold``, optionally ``id`` and ``system``, which may be
            Converse's list of ``{"text": ...}`` blocks).
        models: model ids or deployments; a mapping gives them display names
            (``{"base": "amazon.nova-micro-v1:0", "tuned": deployment}``).
        out_dir: where ``results.jsonl`` and ``report.json`` go; the same directory resumes.
        kind: ``classification`` or ``sql`` (execution accuracy; pass ``db`` for a SQLite file).
        max_attempts: attempts a row gets against server errors and time-outs.
        throttle_deadline: seconds a throttled row keeps being retried (with backoff, while
            the loop lowers its concurrency) before it is recorded as failed: throttling means
            "later", so a run under throttling ends with every row answered.
        inference_config: Converse's ``inferenceConfig`` (``maxTokens``, ``temperature``,
            ``topP``, ``stopSequences``) for every call; it wins over ``max_tokens`` and
            ``temperature``.
        train: the training data (a file, :class:`Dataset` or rows, as ``data``), whose answers
            give the baselines reported beside the models: the majority class and the label
            prior (for SQL, the most common query). A :class:`Dataset` given as ``data`` brings
            its own train split; without either, the benchmark's rows give them, as an upper
            bound.
        mode: ``online`` (Converse from this process) or ``batch``: each model that Bedrock
            batch inference can run (foundation models and inference profiles) gets one
            ``CreateModelInvocationJob`` over all rows (at least 100), at about half the
            on-demand price and with no client-side concurrency; custom model deployments
            run online in the same report, and ``report.modes`` says which ran how.
        bucket: batch mode: the bucket for the jobs' input and output (default: the
            session's, ``sl-nova-ft-<account>``), under ``nova-ft-batch/<run>/``.
        role: batch mode: the service role's ARN; by default a role scoped to exactly this
            run's prefixes is created or rescoped (``BedrockNovaBatchInference``).
        poll_seconds: batch mode: seconds between job status checks (default 10; 0.1 on the
            local emulator).
        records_per_file: batch mode: a job's input is split into files of at most this many
            records (Bedrock's default quota per input file), uploaded as one folder.

    Examples:
        >>> import nova_ft as nf
        >>> rows = [{"text": "ground transportation in boston", "gold": "ground_service"},
        ...         {"text": "cheapest fare to denver", "gold": "airfare"}]
        >>> with nf.Session.local() as session:
        ...     report = session.benchmark(
        ...         rows, ["amazon.nova-micro-v1:0"], system=nf.SYNTHETIC_SYSTEM_PROMPT
        ...     ).run(progress=False)
        >>> report.accuracy("amazon.nova-micro-v1:0"), report.run["called"]
        (1.0, 2)
    """

    def __init__(
        self,
        session: Session,
        data: str | os.PathLike[str] | Dataset | pd.DataFrame | Sequence[Mapping[str, Any]],
        models: Sequence[str | Deployment] | Mapping[str, str | Deployment],
        *,
        out_dir: str | os.PathLike[str] | None = None,
        concurrency: int = 16,
        max_tokens: int = 64,
        temperature: float = 0.0,
        timeout: float = 60.0,
        max_attempts: int = 8,
        throttle_deadline: float = 600.0,
        kind: str = "classification",
        db: str | os.PathLike[str] | None = None,
        system: str | None = None,
        normalize: Mapping[str, bool] | None = None,
        monthly_queries: float = 22_000,
        retry_failed: bool = False,
        inference_config: Mapping[str, Any] | None = None,
        train: str
        | os.PathLike[str]
        | Dataset
        | pd.DataFrame
        | Sequence[Mapping[str, Any]]
        | None = None,
        mode: str = "online",
        bucket: str | Bucket | None = None,
        role: str | None = None,
        poll_seconds: float | None = None,
        records_per_file: int = 50_000,
    ) -> None:
        self._session = session
        self.rows = _rows_from(data, system)
        self.train_gold = _training_answers(data, train)
        named = models.items() if isinstance(models, Mapping) else [(None, m) for m in models]
        self.names: dict[str, str] = {}
        for name, model in named:
            model_id = model if isinstance(model, str) else model.model_id
            self.names[model_id] = name or _short_name(model_id)
        if not self.names:
            raise InvalidParameterError("the benchmark needs at least one model")
        if kind not in ("classification", "sql"):
            raise InvalidParameterError(f"kind must be classification or sql, got {kind!r}")
        if mode not in ("online", "batch"):
            raise InvalidParameterError(f"mode must be online or batch, got {mode!r}")
        self.mode = mode
        #: How each model runs: ``online`` or ``batch``.
        self.modes: dict[str, str] = {
            m: "batch" if mode == "batch" and _batch_mode.batch_capable(m) else "online"
            for m in self.names
        }
        self.out_dir = Path(out_dir or tempfile.mkdtemp(prefix="nova_ft-bench-"))
        self._batch_where = (bucket, role)
        self.options: dict[str, Any] = {
            "model_ids": [m for m, how in self.modes.items() if how == "online"],
            "output": str(self.out_dir / "results.jsonl"),
            "concurrency": concurrency,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "timeout_seconds": timeout,
            "max_attempts": max_attempts,
            "throttle_deadline_seconds": throttle_deadline,
            "retry_failed": retry_failed,
        }
        if inference_config is not None:
            # Converse's own inferenceConfig wins over max_tokens/temperature.
            request = converse_request("", None, None, inference_config, max_tokens, temperature)
            self.options.update(
                max_tokens=request["max_tokens"],
                temperature=request["temperature"],
                top_p=request["top_p"],
                stop_sequences=request["stop_sequences"],
            )
        self.batch_options: dict[str, Any] = {
            "model_ids": [m for m, how in self.modes.items() if how == "batch"],
            "output": self.options["output"],
            "max_tokens": self.options["max_tokens"],
            "temperature": self.options["temperature"],
            "top_p": self.options.get("top_p"),
            "stop_sequences": self.options.get("stop_sequences", []),
            "records_per_file": records_per_file,
            "poll_seconds": poll_seconds
            if poll_seconds is not None
            else (0.1 if session.is_local else 10.0),
        }
        self.metric_options: dict[str, Any] = {
            "models": list(self.names),
            "batch_models": self.batch_options["model_ids"],
            "kind": kind,
            "normalize": dict(normalize or {}),
            "monthly_queries": monthly_queries,
        }
        if db is not None:
            self.metric_options["db"] = str(db)

    @property
    def results_path(self) -> Path:
        """Where the results stream to (``<out_dir>/results.jsonl``)."""
        return self.out_dir / "results.jsonl"

    def _batch_setup(self) -> Steps[None]:
        """Batch mode: the bucket, this run's prefixes and the role scoped to them."""
        if not self.batch_options["model_ids"] or "role_arn" in self.batch_options:
            return
        prefix, job_prefix = _batch_mode.run_names(self.out_dir)
        bucket, role = self._batch_where
        where = yield from _batch_mode.setup(self._session, bucket, role, prefix)
        self.batch_options.update(where, job_prefix=job_prefix)

    def _phases(self) -> list[Callable[[], _nova_ft.BenchmarkRunCore]]:
        """The runs to make, in order: the online models, then the batch jobs."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        core = self._session._core
        phases: list[Callable[[], _nova_ft.BenchmarkRunCore]] = []
        if self.options["model_ids"]:
            phases.append(lambda: _nova_ft.BenchmarkRunCore.start(core, self.rows, self.options))
        if self.batch_options["model_ids"]:
            phases.append(
                lambda: _nova_ft.BenchmarkRunCore.start_batch(core, self.rows, self.batch_options)
            )
        return phases

    def _update(self, bar: Any, run: _nova_ft.BenchmarkRunCore, offset: int) -> None:
        progress = run.progress()
        if bar is None:
            return
        bar.n = offset + progress.skipped + progress.done
        bar.set_postfix(
            failed=progress.failed,
            retries=progress.retries,
            concurrency=progress.limit,
            refresh=True,
        )

    def _stopped(self, run: _nova_ft.BenchmarkRunCore) -> None:
        """After Ctrl-C: stop the run; a batch run first stops its job (a few seconds)."""
        run.cancel()
        try:
            run.wait(30.0)
        except KeyboardInterrupt:
            pass
        log.warning(
            "benchmark stopped; results so far are in %s: run again to resume",
            self.results_path,
        )

    @staticmethod
    def _merged(summaries: list[dict[str, Any]]) -> dict[str, Any]:
        """One run summary from the phases' (their counts add up)."""
        merged = dict(summaries[0])
        for key in ("pairs", "resumed", "called", "failed", "retries", "throttled"):
            merged[key] = sum(s[key] for s in summaries)
        merged["elapsed_seconds"] = sum(s["elapsed_seconds"] for s in summaries)
        merged["cancelled"] = any(s["cancelled"] for s in summaries)
        elapsed = merged["elapsed_seconds"]
        merged["requests_per_second"] = merged["called"] / elapsed if elapsed > 0 else 0.0
        return merged

    def _finish(self, run: _nova_ft.BenchmarkRunCore, summary: dict[str, Any]) -> BenchmarkReport:
        options = dict(self.metric_options)
        # Requests per second only mean something when this run made every call.
        if summary["resumed"] == 0 and summary["called"] > 0:
            options["elapsed_seconds"] = summary["elapsed_seconds"]
        report = run.report(self.results_path, options)
        report["baselines"] = _baselines.baselines(
            [row["gold"] for row in self.rows],
            self.train_gold,
            self.metric_options["kind"],
            self.metric_options.get("db"),
        )
        report["modes"] = dict(self.modes)
        emulator = self._session.emulator
        if emulator is not None:
            report["tokens_estimated"] = True
            report["token_counter"] = emulator.models
            note = ESTIMATED_NOTES[emulator.models]
            report["notes"] = [*cast("list[str]", report["notes"]), note]
        result = BenchmarkReport(report, self.names, summary, self.results_path, self.rows)
        result.save(self.out_dir / "report.json")
        return result

    def run(self, progress: bool = True) -> BenchmarkReport:
        """Run what is missing, then score everything in ``results.jsonl``.

        Ctrl-C stops within a fraction of a second (a batch job is stopped first); every
        answer received so far is kept, and running again resumes.
        """
        _steps.run(self._batch_setup())
        bar = progress_bar(len(self.rows) * len(self.names), "benchmark", progress)
        summaries: list[dict[str, Any]] = []
        offset = 0
        try:
            for start in self._phases():
                run = start()
                try:
                    while not run.wait(0.1):
                        self._update(bar, run, offset)
                    self._update(bar, run, offset)
                except KeyboardInterrupt:
                    self._stopped(run)
                    raise
                summaries.append(run.result())
                offset += summaries[-1]["pairs"]
        finally:
            if bar is not None:
                bar.close()
        return self._finish(run, self._merged(summaries))

    async def run_async(self, progress: bool = False) -> BenchmarkReport:
        """Async twin of :meth:`run` (cancelling the task stops the run, keeping results)."""
        import asyncio  # loaded already by the caller's event loop; sync runs never need it

        await _steps.run_async(self._batch_setup())
        bar = progress_bar(len(self.rows) * len(self.names), "benchmark", progress)
        summaries: list[dict[str, Any]] = []
        offset = 0
        try:
            for start in self._phases():
                run = start()
                try:
                    # A real future: it resolves when the run ends, or after 0.1 s to redraw.
                    while not await run.wait_async(0.1):
                        self._update(bar, run, offset)
                    self._update(bar, run, offset)
                except asyncio.CancelledError:
                    run.cancel()
                    raise
                summaries.append(run.result())
                offset += summaries[-1]["pairs"]
        finally:
            if bar is not None:
                bar.close()
        return self._finish(run, self._merged(summaries))

    def __repr__(self) -> str:
        models = ", ".join(self.names.values())
        return f"Benchmark(rows={len(self.rows)}, models=[{models}], out_dir={str(self.out_dir)!r})"

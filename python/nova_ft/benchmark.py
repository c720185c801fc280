"""Step 5: base vs tuned through Converse, fast and resumable, with honest numbers.

The loop runs in the Rust core: bounded concurrency that adapts to throttling, retries with
jittered exponential backoff, a time limit per request, and every result appended to
``<out_dir>/results.jsonl`` as it arrives. Running the same benchmark again with the same
``out_dir`` calls only what is missing.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from . import _baselines, _batch_mode, _nova_ft, _steps
from ._converse import converse_request
from ._display import figure_of, html_table, progress_bar, require_pyplot
from ._fsio import write_text_atomically
from ._pandas import require_pandas
from ._steps import Steps
from .exceptions import InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from .dataset import Dataset
    from .deployment import Deployment
    from .session import Session
    from .storage import Bucket

__all__ = ["Benchmark", "BenchmarkReport"]

log = logging.getLogger("nova_ft")

ESTIMATED_NOTE = (
    "token counts and dollars are estimated: the local stand-in models count tokens with "
    "nova_ft's estimator (a word costs a token per 4 characters, a symbol one), not Nova's "
    "tokenizer"
)


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
        poll_seconds: batch mode: seconds between job status checks.

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
        poll_seconds: float = 10.0,
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
            "poll_seconds": poll_seconds,
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
        if self._session.is_local:
            report["tokens_estimated"] = True
            report["notes"] = [*cast("list[str]", report["notes"]), ESTIMATED_NOTE]
        result = BenchmarkReport(report, self.names, summary, self.results_path)
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


def _short_name(model_id: str) -> str:
    return model_id.rsplit("/", 1)[-1] if "/" in model_id else model_id


class BenchmarkReport:
    """Scores of a benchmark: one entry per model, and paired comparisons with the first."""

    def __init__(
        self,
        report: dict[str, Any],
        names: Mapping[str, str] | None = None,
        run: dict[str, Any] | None = None,
        results_path: Path | None = None,
    ) -> None:
        self.raw = report
        self.names = dict(names or {})
        self.run = run or {}
        self.results_path = results_path

    def name(self, model_id: str) -> str:
        """The display name of a model id."""
        return self.names.get(model_id, _short_name(model_id))

    @property
    def models(self) -> dict[str, dict[str, Any]]:
        """Per model (by display name): every figure of the core's report."""
        return {self.name(m["model"]): m for m in self.raw["models"]}

    def accuracy(self, model: str) -> float:
        """A model's accuracy (by display name)."""
        return float(self.models[model]["accuracy"])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: per model by name (``{"base": {"accuracy": ...}, ...}``), plus details."""
        out: dict[str, Any] = {name: _plain(m) for name, m in self.models.items()}
        out["comparisons"] = [
            {
                **_plain(c),
                "baseline": self.name(c["baseline"]),
                "candidate": self.name(c["candidate"]),
            }
            for c in self.raw["comparisons"]
        ]
        out["run"] = _plain(self.run)
        out["baselines"] = self.baselines
        for key in ("kind", "normalization", "rows", "monthly_queries", "price_source", "notes"):
            out[key] = self.raw[key]
        out["tokens_estimated"] = self.tokens_estimated
        out["modes"] = self.modes
        return out

    @property
    def modes(self) -> dict[str, str]:
        """How each model (by display name) ran: ``online`` (Converse) or ``batch`` (a
        Bedrock batch inference job)."""
        found = self.raw.get("modes") or {}
        return {self.name(m): how for m, how in found.items()}

    @property
    def tokens_estimated(self) -> bool:
        """True when token counts (and so dollars) are nova_ft's estimate, not the model's."""
        return bool(self.raw.get("tokens_estimated"))

    @property
    def baselines(self) -> dict[str, Any]:
        """What answering without reading the input scores: ``majority`` (``answer``,
        ``accuracy``) and ``prior`` (``accuracy``) for classification, ``most_common_query``
        for SQL, and their ``source`` (see :class:`Benchmark`'s ``train``)."""
        return dict(self.raw.get("baselines") or {})

    def to_json(self, indent: int | None = 2) -> str:
        """The report as JSON (see :meth:`to_dict`)."""
        return json.dumps(self.to_dict(), indent=indent)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write :meth:`to_json` atomically."""
        return write_text_atomically(path, self.to_json() + "\n")

    def summary(self) -> pd.DataFrame:
        """Base vs tuned (one row per model) as a DataFrame, then one row per baseline (its
        accuracy only; see :attr:`baselines`)."""
        pd = require_pandas()
        rows = []
        for name, m in self.models.items():
            latency = m.get("latency_ms") or {}
            sql = m.get("sql") or {}
            rows.append(
                {
                    "model": name,
                    "mode": self.modes.get(name, "online"),
                    "accuracy": m["accuracy"],
                    "ci_low": m["accuracy_ci"][0],
                    "ci_high": m["accuracy_ci"][1],
                    "macro_f1": m.get("macro_f1"),
                    **({"exact_match": sql.get("exact_match")} if sql else {}),
                    **({"executes": sql.get("executes")} if sql else {}),
                    "requests": m["requests"],
                    "failed": m["failed"],
                    "retries": m["retries"],
                    "p50_ms": latency.get("p50"),
                    "p95_ms": latency.get("p95"),
                    "p99_ms": latency.get("p99"),
                    "input_tokens": m["input_tokens"],
                    "output_tokens": m["output_tokens"],
                    "cost_usd": m["cost_usd"],
                    "cost_per_1000": m["cost_per_1000"],
                    "monthly_cost_usd": m["monthly_cost_usd"],
                    "requests_per_second": m.get("requests_per_second"),
                }
            )
        for name, accuracy in _baselines.accuracy_lines(self.baselines):
            rows.append({"model": f"baseline: {name}", "accuracy": accuracy})
        return pd.DataFrame(rows).set_index("model")

    def per_class(self, model: str) -> pd.DataFrame:
        """Precision, recall, F1 and support per gold label, as a DataFrame."""
        pd = require_pandas()
        return pd.DataFrame(self.models[model]["per_class"]).set_index("label")

    def confusion(self, model: str) -> pd.DataFrame:
        """Gold labels (rows) by predicted labels (columns, ``<other>`` last)."""
        pd = require_pandas()
        m = self.models[model]
        labels = m["confusion_labels"]
        return pd.DataFrame(m["confusion"], index=labels, columns=[*labels, "<other>"])

    def plot_accuracy(self, ax: Axes | None = None) -> Figure:
        """Accuracy per model with its 95% bootstrap interval, and the baselines as lines."""
        plt = require_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        fig = figure_of(ax)
        names = list(self.models)
        acc = [self.models[n]["accuracy"] for n in names]
        low = [a - self.models[n]["accuracy_ci"][0] for a, n in zip(acc, names, strict=True)]
        high = [self.models[n]["accuracy_ci"][1] - a for a, n in zip(acc, names, strict=True)]
        ax.bar(names, acc, yerr=[low, high], capsize=6, color="#4C72B0")
        for (name, value), style in zip(
            _baselines.accuracy_lines(self.baselines), ("--", ":", "-."), strict=False
        ):
            ax.axhline(value, color="#C44E52", linestyle=style, linewidth=1, label=name)
        if self.baselines:
            ax.legend(fontsize=7, loc="lower right")
        ax.set_ylim(0, 1)
        ax.set_ylabel("accuracy (95% CI)")
        fig.tight_layout()
        return fig

    def plot_confusion(self, model: str, ax: Axes | None = None) -> Figure:
        """The confusion matrix of one model as a heat map."""
        plt = require_pyplot()
        frame = self.confusion(model)
        size = max(4.0, 0.35 * len(frame.columns))
        if ax is None:
            _, ax = plt.subplots(figsize=(size, size))
        fig = figure_of(ax)
        ax.imshow(frame.values, cmap="Blues")
        ax.set_xticks(range(len(frame.columns)), frame.columns, rotation=90, fontsize=7)
        ax.set_yticks(range(len(frame.index)), frame.index, fontsize=7)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        ax.set_title(f"confusion: {model}")
        fig.tight_layout()
        return fig

    def latencies(self) -> dict[str, list[float]]:
        """Per model, the latency of every answered request (from ``results.jsonl``)."""
        out: dict[str, list[float]] = {}
        if self.results_path is None or not self.results_path.exists():
            return out
        with open(self.results_path) as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:
                    continue
                if row.get("latency_ms") is not None:
                    out.setdefault(self.name(row["model"]), []).append(row["latency_ms"])
        return out

    def plot_latency(self, ax: Axes | None = None) -> Figure:
        """Latency distribution per model."""
        plt = require_pyplot()
        if ax is None:
            _, ax = plt.subplots(figsize=(5, 3))
        fig = figure_of(ax)
        data = self.latencies()
        ax.boxplot(list(data.values()), tick_labels=list(data), showfliers=False)
        ax.set_ylabel("latency (ms)")
        fig.tight_layout()
        return fig

    def lines(self) -> list[str]:
        """A small text table: accuracy, latency, tokens, cost per 1,000 queries."""
        est = "~" if self.tokens_estimated else ""
        out = [
            f"{'model':<10} {'accuracy':>17} {'p50 ms':>8} {'p95 ms':>8} "
            f"{est + 'tokens in/out':>14} {est + '$/1k queries':>12}"
        ]
        for name, m in self.models.items():
            lat = m.get("latency_ms") or {}
            ci = m["accuracy_ci"]
            acc = f"{m['accuracy']:.1%} [{ci[0]:.0%}-{ci[1]:.0%}]"
            tokens = f"{m['input_tokens']}/{m['output_tokens']}"
            out.append(
                f"{name:<10} {acc:>17} {lat.get('p50', float('nan')):>8.2f} "
                f"{lat.get('p95', float('nan')):>8.2f} {tokens:>14} {m['cost_per_1000']:>12.5f}"
            )
        found = self.baselines
        if self.tokens_estimated:
            out.append("~ estimated: local stand-in models; tokens by nova_ft's estimator")
        for name, accuracy in _baselines.accuracy_lines(found):
            out.append(f"{name[:24]:<24} {accuracy:>7.1%}  baseline, from the {found['source']}")
        for c in self.raw["comparisons"]:
            out.append(
                f"{self.name(c['candidate'])} vs {self.name(c['baseline'])}: "
                f"{c['accuracy_delta']:+.1%} (McNemar p={c['mcnemar_p']:.2g}, "
                f"{c['only_candidate']} rows only {self.name(c['candidate'])} got right, "
                f"{c['only_baseline']} only {self.name(c['baseline'])})"
            )
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        accs = ", ".join(f"{n}={m['accuracy']:.3f}" for n, m in self.models.items())
        return f"BenchmarkReport(rows={self.raw['rows']}, {accs})"

    def _repr_html_(self) -> str:
        fields = {
            n: f"{m['accuracy']:.1%} (95% CI {m['accuracy_ci'][0]:.1%}-{m['accuracy_ci'][1]:.1%})"
            for n, m in self.models.items()
        }
        for name, accuracy in _baselines.accuracy_lines(self.baselines):
            fields[f"baseline: {name}"] = f"{accuracy:.1%}"
        return html_table(f"nova_ft.BenchmarkReport ({self.raw['rows']} rows)", fields)


def _plain(value: Any) -> Any:
    """NaN becomes None so the JSON is standard."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value

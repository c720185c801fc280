"""The benchmark's report: scores per model, paired comparisons, baselines, tables, plots,
and the answers as a Bedrock evaluation dataset."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _baselines
from ._display import figure_of, html_table, require_pyplot
from ._fsio import write_text_atomically
from ._pandas import require_pandas

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["BenchmarkReport"]


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
        rows: list[dict[str, Any]] | None = None,
    ) -> None:
        self.raw = report
        self.names = dict(names or {})
        self.run = run or {}
        self.results_path = results_path
        #: The benchmark's rows (``id``, ``text``, ``system``, ``gold``), when it ran here.
        self.rows = rows

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

    def to_evaluation_dataset(
        self,
        path: str | os.PathLike[str] | None = None,
        models: Sequence[str] | None = None,
        limit: int | None = None,
    ) -> Path:
        """Write the answers as a Bedrock evaluation dataset (bring your own inference): one
        line per row, ``{"prompt", "referenceResponse", "modelResponses": [{"response",
        "modelIdentifier"}]}``, the identifiers being the models' display names (one or two:
        ``models=``). ``session.evaluate(report)`` does this itself; this is for running the job
        elsewhere. At most 1,000 rows (Bedrock's limit): ``limit=`` takes the first ones.
        Returns the file (default ``<results folder>/evaluation-dataset.jsonl``)."""
        from .evaluation import evaluation_records

        records, _ = evaluation_records(self, models, limit)
        target = (
            Path(path)
            if path is not None
            else Path(str(self.results_path)).with_name("evaluation-dataset.jsonl")
        )
        return write_text_atomically(target, "".join(json.dumps(r) + "\n" for r in records))

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

    def predictions(self) -> pd.DataFrame:
        """Every answer, one row per model and benchmark row (from ``results.jsonl``):
        ``model`` (display name), ``row_id``, ``prediction``, ``gold``, ``stop_reason``,
        ``latency_ms``, token counts and ``error``; the rows as the benchmark sent them."""
        pd = require_pandas()
        columns = [
            "model",
            "row_id",
            "prediction",
            "gold",
            "stop_reason",
            "latency_ms",
            "input_tokens",
            "output_tokens",
            "error",
        ]
        out = []
        if self.results_path is not None and self.results_path.exists():
            with open(self.results_path, encoding="utf-8") as f:
                for line in f:
                    try:
                        row = json.loads(line)
                    except ValueError:
                        continue
                    row["model"] = self.name(row["model"])
                    out.append({c: row.get(c) for c in columns})
        return pd.DataFrame(out, columns=columns)

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
            counter = (
                "SmolLM2's tokenizer"
                if self.raw.get("token_counter") == "lm"
                else "nova_ft's estimator"
            )
            out.append(f"~ estimated: local stand-in models; tokens by {counter}, not Nova's")
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

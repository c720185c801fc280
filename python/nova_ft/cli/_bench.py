"""``nova-ft bench``: base vs tuned (or any models) on a test file, resumable."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._output import emit
from ._session import open_session


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    bench = commands.add_parser(
        "bench",
        parents=[common],
        help="benchmark models through Converse (parallel, retrying, resumable)",
        description="Call Converse for every row of a test file and every --model-id, with "
        "bounded concurrency and retries; write OUT/results.jsonl as answers arrive (a rerun "
        "with the same --out resumes) and OUT/report.json with the scores.",
    )
    bench.add_argument(
        "--model-id",
        action="append",
        required=True,
        help="a model id or deployment ARN; repeat for several (the first is the baseline); "
        "NAME=ID sets a display name",
    )
    bench.add_argument("--data", type=Path, required=True, help="conversation JSONL test file")
    bench.add_argument(
        "--train",
        type=Path,
        help="the training JSONL file: its answers give the majority-class and label-prior "
        "baselines (without it, the test file's own answers, as an upper bound)",
    )
    bench.add_argument("--concurrency", type=int, default=16)
    bench.add_argument("--max-tokens", type=int, default=64)
    bench.add_argument("--timeout", type=float, default=60.0, help="seconds per attempt")
    bench.add_argument(
        "--max-attempts", type=int, default=8, help="attempts against server errors (default 8)"
    )
    bench.add_argument(
        "--throttle-deadline",
        type=float,
        default=600.0,
        help="seconds a throttled row keeps being retried (default 600)",
    )
    bench.add_argument("--out", type=Path, default=Path("bench-out"))
    bench.add_argument("--kind", choices=["classification", "sql"], default="classification")
    bench.add_argument("--db", type=Path, help="SQLite database (execution accuracy, --kind sql)")
    bench.add_argument("--retry-failed", action="store_true", help="call failed rows again")
    bench.add_argument("--monthly-queries", type=float, default=22_000)
    bench.add_argument(
        "--batch",
        action="store_true",
        help="run each model that batch inference can serve as one Bedrock batch job "
        "(CreateModelInvocationJob; at least 100 rows; about half the on-demand price); "
        "deployments still run online",
    )
    bench.add_argument(
        "--bucket", help="--batch: the bucket for the jobs' files (default sl-nova-ft-<account>)"
    )
    bench.add_argument(
        "--role-arn",
        help="--batch: the role the jobs run as (default: one scoped to this run's prefixes)",
    )
    bench.add_argument(
        "--poll-seconds",
        type=float,
        help="--batch: seconds between status checks (default 10; 0.1 on the local emulator)",
    )
    bench.add_argument(
        "--evaluate",
        action="store_true",
        help="then have a Bedrock evaluation job judge the answers (one or two models, at most "
        "1,000 rows: the first ones) and print its means beside the accuracy",
    )
    bench.add_argument(
        "--metric",
        action="append",
        help="--evaluate: a built-in metric; repeat for several "
        "(default Builtin.Correctness and Builtin.Completeness)",
    )
    bench.add_argument(
        "--evaluator", default="amazon.nova-pro-v1:0", help="--evaluate: the judge model"
    )
    bench.set_defaults(handler=run_bench)


def _models(values: list[str]) -> dict[str, str]:
    models: dict[str, str] = {}
    for value in values:
        name, sep, model_id = value.partition("=")
        if sep and not name.startswith("arn:"):
            models[name] = model_id
        elif len(values) == 2:
            models[("base", "tuned")[len(models)]] = value
        else:
            models[f"model{len(models) + 1}"] = value
    return models


def run_bench(args: argparse.Namespace) -> int:
    from ..benchmark import Benchmark

    with open_session(args) as session:
        bench = Benchmark(
            session,
            args.data,
            _models(args.model_id),
            out_dir=args.out,
            concurrency=args.concurrency,
            max_tokens=args.max_tokens,
            timeout=args.timeout,
            max_attempts=args.max_attempts,
            throttle_deadline=args.throttle_deadline,
            kind=args.kind,
            db=args.db,
            monthly_queries=args.monthly_queries,
            retry_failed=args.retry_failed,
            train=args.train,
            mode="batch" if args.batch else "online",
            bucket=args.bucket,
            role=args.role_arn,
            poll_seconds=args.poll_seconds,
        )
        report = bench.run(progress=not getattr(args, "json", False))
        judged = None
        if args.evaluate:
            names = list(report.models)[:2]
            job = session.evaluate(
                report,
                metrics=args.metric or ["Builtin.Correctness", "Builtin.Completeness"],
                evaluator=args.evaluator,
                models=names,
                limit=1000,
                bucket=args.bucket,
            )
            judged = job.wait(progress=not getattr(args, "json", False)).summary()
    data: dict[str, Any] = {}
    for name, m in report.models.items():
        data[name] = {
            "model_id": m["model"],
            "mode": report.modes.get(name, "online"),
            "accuracy": m["accuracy"],
            "accuracy_ci": m["accuracy_ci"],
            "requests": m["requests"],
            "failures": m["failed"],
            "retries": m["retries"],
            "requests_per_second": m.get("requests_per_second"),
            "latency_ms": m.get("latency_ms"),
            "cost_usd": m["cost_usd"],
            "cost_per_1000": m["cost_per_1000"],
            **({"sql": m["sql"]} if m.get("sql") else {}),
        }
    data["baselines"] = report.baselines
    data["run"] = report.run
    text = f"{report}\nresults: {bench.results_path}\nreport: {args.out / 'report.json'}"
    if judged is not None:
        data["evaluation"] = {
            name: {k: (None if v != v else v) for k, v in row.items()}
            for name, row in judged.to_dict(orient="index").items()
        }
        text += f"\n\nevaluation job (judge {args.evaluator}):\n{judged.to_string()}"
    from ..benchmark_report import _plain

    emit(args, text, _plain(data))
    return 0

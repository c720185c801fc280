"""``nova-ft demo``: the whole Bedrock tutorial, end to end, on the embedded emulator (or,
with ``--aws`` and a confirmation, on the account in the environment)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from .._defaults import DEFAULT_BASE_MODEL

STAND_IN_NOTE = (
    "Local mode: the models answering here are small local stand-ins (a zero-shot label "
    "matcher as the base model, an n-gram classifier trained by the emulator's job), not "
    "Amazon Nova. They really train and are really scored on held-out rows, but the numbers "
    "show the workflow, not Nova's quality. Run with --aws for the real thing."
)


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    demo = commands.add_parser(
        "demo",
        parents=[common],
        help="run the whole tutorial end to end (local emulator by default)",
        description="Synthetic airline-intent data (seed 7, 800/100; test seed 99, 120 rows), "
        "bucket, role, fine-tuning job (3 epochs, learning rate 1e-5, warmup 10), on-demand "
        "deployment, then base vs tuned on the test rows. Writes OUT/results.json, "
        "OUT/loss.png and the benchmark files. Safe to run again on the same --data-dir.",
    )
    demo.add_argument("--out", type=Path, default=Path("nova-ft-demo"), help="output directory")
    demo.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="the emulator's state directory (default OUT/emulator)",
    )
    demo.add_argument("--aws", action="store_true", help="run against your AWS account")
    demo.add_argument("--yes", action="store_true", help="with --aws: do not ask to confirm")
    demo.add_argument(
        "--keep", action="store_true", help="with --aws: keep the deployment and custom model"
    )
    aws = demo.add_argument_group("AWS (with --aws)")
    aws.add_argument("--region", default=None)
    aws.add_argument("--profile", default=None)
    demo.set_defaults(handler=run_demo)


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "json", False):
        print(text, flush=True)


def _confirm(args: argparse.Namespace, estimate: str) -> bool:
    print(f"This runs the tutorial on your AWS account and costs money: {estimate}.")
    print("It creates a bucket, an IAM role, a customization job, a custom model and an")
    print("on-demand deployment (deleted at the end unless --keep).")
    if args.yes:
        return True
    try:
        answer = input("Continue? [y/N] ")
    except EOFError:
        answer = ""
    return answer.strip().lower() in ("y", "yes")


def run_demo(args: argparse.Namespace) -> int:
    from .._fsio import write_text_atomically
    from ..dataset import Dataset
    from ..job import Hyperparameters
    from ..session import Session

    started = time.monotonic()
    out: Path = args.out
    quiet = getattr(args, "json", False)
    dataset = Dataset.synthetic(seed=7, train=800, valid=100, test=120, test_seed=99)
    hyperparameters = Hyperparameters(epochs=3, learning_rate=1e-5, warmup_steps=10)
    checked = dataset.validate(epochs=hyperparameters.epochs).raise_for_errors()
    leaked = next(
        (
            int(o["records"])
            for o in dataset.overlap().overlaps
            if o["split"] == "test" and o["earlier"] == "train"
        ),
        0,
    )
    if args.aws:
        if not _confirm(args, str(checked.cost)):
            print("aborted: nothing was created", file=sys.stderr)
            return 1
        session = Session(region=args.region, profile=args.profile)
    else:
        _say(args, STAND_IN_NOTE)
        session = Session.local(args.data_dir or out / "emulator")
    out.mkdir(parents=True, exist_ok=True)
    _say(args, f"data: {dataset!r}; {checked.stats.records} training records valid")
    _say(
        args,
        f"note: {leaked} of 120 test rows repeat a training input (the synthetic generator has "
        "few distinct sentences); real ATIS gives a clean test (see notebooks/02_atis.ipynb)",
    )
    with session:
        bucket = session.bucket().ensure()
        location = dataset.upload(bucket)
        _say(args, f"bucket s3://{bucket.name}: {len(location.objects)} files in place")
        role = session.training_role(location).ensure()
        _say(args, f"role {role.arn}")
        job = session.fine_tune(location, role, hyperparameters=hyperparameters)
        _say(args, f"job {job.name}: {job.status}")
        model = job.wait(progress=not quiet)
        _say(args, f"job {job.name}: {job.status}; custom model {model.arn}")
        job.metrics().to_csv(out / "loss.csv", index=False)
        job.plot_loss(str(out / "loss.png"))
        deployment = model.deploy()
        deployment.wait(progress=not quiet)
        _say(args, f"deployment {deployment.name}: {deployment.status}")
        bench = session.benchmark(
            dataset,
            {"base": DEFAULT_BASE_MODEL, "tuned": deployment},
            out_dir=out / "bench",
            max_tokens=8,
            concurrency=16,
        )
        report = bench.run(progress=not quiet)
        report.plot_accuracy().savefig(out / "accuracy.png", dpi=120)
        report.plot_confusion("tuned").savefig(out / "confusion_tuned.png", dpi=120)
        results = report.to_dict()
        results.update(
            {
                "local_stand_in_models": not args.aws,
                "note": STAND_IN_NOTE if not args.aws else "Amazon Nova Micro on Bedrock",
                "job": {"name": job.name, "arn": job.arn, "custom_model": model.arn},
                "deployment": {"name": deployment.name, "arn": deployment.arn},
                "test_rows_leaked_from_training": leaked,
                "training_cost_estimate_usd": checked.cost.training_usd,
                "seconds": round(time.monotonic() - started, 1),
            }
        )
        write_text_atomically(out / "results.json", json.dumps(results, indent=2) + "\n")
        if args.aws and not args.keep:
            for item in session.cleanup():
                _say(args, f"deleted {item.label}")
    if quiet:
        print(json.dumps(results, indent=2))
    else:
        print()
        print(report)
        print()
        print(f"results: {out / 'results.json'}; loss curve: {out / 'loss.png'}")
        print(f"done in {time.monotonic() - started:.1f} s")
    return 0

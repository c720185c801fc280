"""Reinforcement fine-tuning from the command line (``nova-ft rft ...``), the job history
(``nova-ft jobs``) and stopping a job (``nova-ft stop``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._output import add_location, emit, emit_upload
from ._session import open_session


def register(
    commands: Any, common: argparse.ArgumentParser, with_aws: argparse.ArgumentParser
) -> None:
    rft = commands.add_parser(
        "rft",
        help="reinforcement fine-tuning: data, reward function, job, reward curve",
        description="Reinforcement fine-tuning (RFT) of Nova 2 Lite with a Python reward "
        "function run as a Lambda grader.",
    )
    steps = rft.add_subparsers(dest="rft_command", required=True, metavar="STEP")

    convert = steps.add_parser(
        "convert",
        parents=[common],
        help="conversation JSONL (SFT) -> RFT JSONL (the answer becomes reference_answer)",
    )
    convert.add_argument("source", type=Path, help="bedrock-conversation-2024 JSONL file")
    convert.add_argument("-o", "--output", type=Path, required=True, help="RFT JSONL to write")
    convert.set_defaults(handler=run_convert)

    test = steps.add_parser(
        "test-grader",
        parents=[common],
        help="run the reward function locally on right and wrong answers (spends nothing)",
    )
    test.add_argument("grader", type=Path, help="Python file defining the grading function")
    test.add_argument("--function", default="grade", help="its name (default grade)")
    test.add_argument("--data", type=Path, required=True, help="RFT JSONL to test on")
    test.add_argument("--limit", type=int, default=200, help="records to test (default 200)")
    test.set_defaults(handler=run_test_grader)

    deploy = steps.add_parser(
        "deploy-grader",
        parents=[with_aws],
        help="deploy the reward function as a Lambda function the training role may invoke",
    )
    deploy.add_argument("grader", type=Path, help="Python file defining the grading function")
    deploy.add_argument("--function", default="grade", help="its name (default grade)")
    deploy.add_argument("--name", default="nova-ft-grader", help="Lambda function name")
    deploy.add_argument("--role", default="BedrockNovaFineTune", help="training role name")
    deploy.add_argument("--timeout", type=int, default=300, help="seconds per invocation")
    deploy.set_defaults(handler=run_deploy_grader)

    upload = steps.add_parser(
        "upload", parents=[with_aws], help="validate and upload RFT data (training-data/)"
    )
    upload.add_argument("data", type=Path, help="RFT JSONL file")
    add_location(upload, "key prefix before training-data/")
    upload.set_defaults(handler=run_upload)

    train = steps.add_parser(
        "train", parents=[with_aws], help="start a REINFORCEMENT_FINE_TUNING job"
    )
    train.add_argument("--grader", required=True, help="Lambda function name or ARN")
    add_location(train)
    train.add_argument("--role", default="BedrockNovaFineTune", help="role name or ARN")
    train.add_argument("--base-model", default=None, help="default amazon.nova-2-lite-v1:0:256k")
    train.add_argument("--epochs", type=int)
    train.add_argument("--batch-size", type=int)
    train.add_argument("--learning-rate", type=float)
    train.add_argument("--samples-per-prompt", type=int)
    train.add_argument("--eval-interval", type=int)
    train.add_argument("--reasoning-effort", choices=["low", "medium", "high"])
    train.add_argument("--job-name")
    train.add_argument("--model-name", help="custom model name")
    train.add_argument("--wait", action="store_true", help="wait until the job ends")
    train.add_argument(
        "--stop-on-interrupt",
        action="store_true",
        help="with --wait: Ctrl-C also stops the job (StopModelCustomizationJob)",
    )
    train.set_defaults(handler=run_train)

    rewards = steps.add_parser("rewards", parents=[with_aws], help="an RFT job's reward curve")
    rewards.add_argument("job", help="job name or ARN")
    rewards.add_argument("--plot", type=Path, help="also save the curve as an image")
    rewards.set_defaults(handler=run_rewards)

    jobs = commands.add_parser(
        "jobs", parents=[with_aws], help="every customization job, to compare runs"
    )
    jobs.set_defaults(handler=run_jobs)

    stop = commands.add_parser(
        "stop", parents=[with_aws], help="stop a running job (StopModelCustomizationJob)"
    )
    stop.add_argument("job", help="job name or ARN")
    stop.set_defaults(handler=run_stop)


def run_convert(args: argparse.Namespace) -> int:
    from ..dataset import Dataset
    from ..rft import RftDataset

    data = RftDataset.from_dataset(Dataset.from_jsonl(train=args.source))
    data.validate(check_counts=False).raise_for_errors()
    data.write(args.output)
    emit(args, f"wrote {len(data)} RFT records to {args.output}", {"records": len(data)})
    return 0


def run_test_grader(args: argparse.Namespace) -> int:
    from ..reward import RewardFunction
    from ..rft import RftDataset

    reward = RewardFunction.from_file(args.grader, args.function)
    result = reward.test(RftDataset.from_jsonl(args.data), limit=args.limit)
    summary = result.summary() | {"ok": result.ok, "errors_list": result.errors}
    lines = [repr(result), *(f"  error: {e}" for e in result.errors[:10])]
    if not result.separates and not result.errors:
        lines.append("  the reward does not score reference answers above wrong ones")
    emit(args, "\n".join(lines), summary)
    return 0 if result.ok else 1


def run_deploy_grader(args: argparse.Namespace) -> int:
    from ..reward import RewardFunction

    reward = RewardFunction.from_file(args.grader, args.function, name=args.name)
    with open_session(args) as session:
        grader = session.deploy_grader(reward, args.role, timeout_seconds=args.timeout)
    data = {"function_name": grader.function_name, "function_arn": grader.function_arn}
    emit(args, f"deployed {grader.function_arn}", data)
    return 0


def run_upload(args: argparse.Namespace) -> int:
    from ..rft import RftDataset

    data = RftDataset.from_jsonl(args.data)
    with open_session(args) as session:
        location = data.upload(session.bucket(args.bucket), args.prefix)
    emit_upload(args, location)
    return 0


def run_train(args: argparse.Namespace) -> int:
    from ..rft import RFT_BASE_MODEL, RftHyperparameters
    from ..storage import DataLocation

    settings = RftHyperparameters(
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        samples_per_prompt=args.samples_per_prompt,
        eval_interval=args.eval_interval,
        reasoning_effort=args.reasoning_effort,
    )
    with open_session(args) as session:
        bucket = args.bucket or session.bucket().name
        prefix = args.prefix if not args.prefix or args.prefix.endswith("/") else args.prefix + "/"
        location = DataLocation(bucket, prefix, ("train",))
        account, region = session.account_id, session.region
        role = (
            args.role
            if args.role.startswith("arn:")
            else f"arn:aws:iam::{account}:role/{args.role}"
        )
        grader = args.grader
        if not grader.startswith("arn:"):
            grader = f"arn:aws:lambda:{region}:{account}:function:{grader}"
        job = session.fine_tune(
            location,
            role,
            base_model=args.base_model or RFT_BASE_MODEL,
            customization="REINFORCEMENT_FINE_TUNING",
            grader=grader,
            rft_hyperparameters=settings,
            job_name=args.job_name,
            custom_model_name=args.model_name,
        )
        if args.wait:
            job.wait(progress=not args.json, stop_on_interrupt=args.stop_on_interrupt)
    data = {"name": job.name, "arn": job.arn, "status": job.status}
    emit(args, f"{job.name}: {job.status} ({job.arn})", data)
    return 0


def run_rewards(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        job = session.job(args.job)
        frame = job.rewards()
        if args.plot:
            job.plot_rewards(str(args.plot))
    emit(args, frame.to_string(index=False), json.loads(frame.to_json(orient="records")))
    return 0


def run_jobs(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        frame = session.jobs()
    if frame.empty:
        emit(args, "no customization jobs", [])
        return 0
    shown = frame[["name", "type", "base_model", "status", "duration_s", "data_etag"]]
    emit(args, shown.to_string(index=False), json.loads(frame.to_json(orient="records")))
    return 0


def run_stop(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        job = session.job(args.job).stop()
    emit(args, f"{job.name}: {job.status}", {"name": job.name, "status": job.status})
    return 0

"""``nova-ft models | bucket | upload | role | train | wait | deploy | update | import-model |
converse | cleanup``: the tutorial's steps, one command each, safe to re-run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .._defaults import DEFAULT_BASE_MODEL
from ._output import add_location, emit, emit_upload
from ._session import open_session


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    models = commands.add_parser(
        "models", parents=[common], help="list foundation models (check model access)"
    )
    models.add_argument("--customization", choices=["FINE_TUNING", "DISTILLATION"])
    models.set_defaults(handler=run_models)

    bucket = commands.add_parser(
        "bucket", parents=[common], help="create the private, encrypted bucket (idempotent)"
    )
    bucket.add_argument("action", choices=["ensure"])
    bucket.add_argument("--name", help="bucket name (default sl-nova-ft-<account id>)")
    bucket.set_defaults(handler=run_bucket)

    upload = commands.add_parser(
        "upload",
        parents=[common],
        help="validate and upload train.jsonl/valid.jsonl (skips unchanged files)",
    )
    upload.add_argument("data", type=Path, help="directory with train.jsonl (and valid.jsonl)")
    add_location(upload, "key prefix before training-data/ etc.")
    upload.set_defaults(handler=run_upload)

    role = commands.add_parser(
        "role", parents=[common], help="create or update the Bedrock service role (idempotent)"
    )
    role.add_argument("action", choices=["ensure"])
    role.add_argument("--name", default="BedrockNovaFineTune")
    add_location(role)
    role.set_defaults(handler=run_role)

    train = commands.add_parser(
        "train",
        parents=[common],
        help="start a customization job (re-running attaches to the same job)",
    )
    add_location(train)
    train.add_argument("--role", default="BedrockNovaFineTune", help="role name or ARN")
    train.add_argument("--base-model", default=DEFAULT_BASE_MODEL)
    train.add_argument("--epochs", type=int, default=2)
    train.add_argument("--learning-rate", type=float, default=1e-5)
    train.add_argument("--warmup-steps", type=int, default=10)
    train.add_argument("--customization", choices=["FINE_TUNING", "DISTILLATION"])
    train.add_argument("--teacher", help="teacher model id (DISTILLATION)")
    train.add_argument("--job-name")
    train.add_argument("--model-name", help="custom model name")
    train.add_argument("--no-validation", action="store_true", help="no validation split")
    train.add_argument("--wait", action="store_true", help="wait until the job ends")
    train.set_defaults(handler=run_train)

    wait = commands.add_parser(
        "wait", parents=[common], help="wait for a job (progress bar); print its custom model"
    )
    wait.add_argument("job", help="job name or ARN")
    wait.add_argument("--timeout", type=float, default=None, help="give up after N seconds")
    wait.set_defaults(handler=run_wait)

    deploy = commands.add_parser(
        "deploy",
        parents=[common],
        help="deploy a custom model (on demand, or --provisioned) and wait until it answers",
    )
    source = deploy.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", help="custom model ARN")
    source.add_argument("--job", help="job name or ARN (deploys its custom model)")
    deploy.add_argument("--name", help="deployment name (default derived from the model)")
    deploy.add_argument("--no-wait", action="store_true")
    deploy.add_argument(
        "--provisioned",
        type=int,
        metavar="UNITS",
        help="buy provisioned throughput of UNITS model units (billed hourly) instead",
    )
    deploy.add_argument(
        "--commitment", choices=["OneMonth", "SixMonths"], help="provisioned commitment term"
    )
    deploy.add_argument(
        "--hourly-price",
        type=float,
        help="dollars per model unit per hour (Bedrock's pricing page), to print the total",
    )
    deploy.set_defaults(handler=run_deploy)

    update = commands.add_parser(
        "update",
        parents=[common],
        help="swap the model behind a live deployment (its ARN stays) and wait until done",
    )
    update.add_argument("deployment", help="deployment name or ARN")
    new_model = update.add_mutually_exclusive_group(required=True)
    new_model.add_argument("--model", help="custom model ARN")
    new_model.add_argument("--job", help="job name or ARN (its custom model)")
    update.add_argument("--no-wait", action="store_true")
    update.set_defaults(handler=run_update)

    imported = commands.add_parser(
        "import-model",
        parents=[common],
        help="bring a model trained elsewhere to Bedrock from S3 (CreateCustomModel)",
    )
    imported.add_argument("s3_uri", help="s3://bucket/prefix/ holding the model's artifacts")
    imported.add_argument("--name", required=True, help="the custom model's name")
    imported.add_argument(
        "--role", required=True, help="ARN of a role Bedrock assumes to read the artifacts"
    )
    imported.set_defaults(handler=run_import)

    converse = commands.add_parser("converse", parents=[common], help="one Converse call")
    converse.add_argument("--model-id", required=True, help="model id or deployment ARN")
    converse.add_argument("--system", default=None)
    converse.add_argument("--max-tokens", type=int, default=512)
    converse.add_argument("text")
    converse.set_defaults(handler=run_converse)

    cleanup = commands.add_parser(
        "cleanup",
        parents=[common],
        help="delete what nova-ft created here (deployments, models, objects, role)",
    )
    cleanup.add_argument("--delete-bucket", action="store_true", help="also the bucket")
    cleanup.add_argument("--dry-run", action="store_true", help="list, delete nothing")
    cleanup.set_defaults(handler=run_cleanup)


def run_models(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        models = session.foundation_models(args.customization)
    text = "\n".join(
        f"{m.model_id:<40} {','.join(m.customizations) or '-':<28} {','.join(m.inference_types)}"
        for m in models
    )
    data = [m.to_dict() for m in models]
    emit(args, text or "no models listed: check model access in the Bedrock console", data)
    return 0


def run_bucket(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        bucket = session.bucket(args.name).ensure()
        data = {"name": bucket.name, "created": bucket.created, "region": session.region}
    emit(args, f"{'created' if data['created'] else 'exists'}: s3://{data['name']}", data)
    return 0


def run_upload(args: argparse.Namespace) -> int:
    from ..dataset import Dataset

    dataset = Dataset.from_jsonl(
        train=args.data / "train.jsonl",
        valid=args.data / "valid.jsonl" if (args.data / "valid.jsonl").exists() else None,
    )
    with open_session(args) as session:
        location = dataset.upload(session.bucket(args.bucket), args.prefix)
    emit_upload(args, location)
    return 0


def run_role(args: argparse.Namespace) -> int:
    from ..storage import DataLocation

    with open_session(args) as session:
        bucket = args.bucket or session.bucket().name
        role = session.training_role(DataLocation(bucket, _prefix(args.prefix)), name=args.name)
        role.ensure()
        data = {"name": role.name, "arn": role.arn, "created": role.created}
    emit(args, f"{'created' if role.created else 'ok'}: {role.arn}", data)
    return 0


def _prefix(prefix: str) -> str:
    return prefix if not prefix or prefix.endswith("/") else prefix + "/"


def _job_data(job: Any) -> dict[str, Any]:
    return {
        "name": job.name,
        "arn": job.arn,
        "status": job.status,
        "custom_model_arn": job.custom_model_arn,
        "failure_message": job.failure_message,
    }


def run_train(args: argparse.Namespace) -> int:
    from ..job import Hyperparameters
    from ..storage import DataLocation

    with open_session(args) as session:
        bucket = args.bucket or session.bucket().name
        splits = ("train",) if args.no_validation else ("train", "valid")
        location = DataLocation(bucket, _prefix(args.prefix), splits)
        role = args.role
        if not role.startswith("arn:"):
            role = f"arn:aws:iam::{session.account_id}:role/{role}"
        customization = args.customization or ("DISTILLATION" if args.teacher else "FINE_TUNING")
        hyperparameters = (
            Hyperparameters(args.epochs, args.learning_rate, args.warmup_steps)
            if customization == "FINE_TUNING"
            else None
        )
        job = session.fine_tune(
            location,
            role,
            base_model=args.base_model,
            hyperparameters=hyperparameters,
            customization=customization,
            teacher_model=args.teacher,
            job_name=args.job_name,
            custom_model_name=args.model_name,
        )
        if args.wait:
            job.wait(progress=not args.json)
    emit(args, f"{job.name}: {job.status} ({job.arn})", _job_data(job))
    return 0


def run_wait(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        job = session.job(args.job)
        model = job.wait(progress=not getattr(args, "json", False), timeout=args.timeout)
    emit(args, f"{job.name}: {job.status}; custom model {model.arn}", _job_data(job))
    return 0


def run_import(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        model = session.import_model(args.s3_uri, args.name, args.role)
        data = {"name": model.name, "arn": model.arn, "status": model.status}
    emit(args, f"{model.name}: {model.status}; {model.arn}", data)
    return 0


def run_update(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        model = session.job(args.job).custom_model.arn if args.job else args.model
        deployment = session.deployment(args.deployment)
        deployment.update(model, wait=not args.no_wait)
        data = {
            "name": deployment.name,
            "arn": deployment.arn,
            "model": deployment.model_arn,
            "update_status": deployment.update_status,
        }
    emit(
        args, f"{deployment.name}: {deployment.update_status}; serving {deployment.model_arn}", data
    )
    return 0


def run_deploy(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        if args.job:
            model = session.job(args.job).custom_model
        else:
            from ..job import CustomModel

            model = CustomModel(session, args.model)
        deployment = model.deploy(
            args.name,
            model_units=args.provisioned,
            commitment=args.commitment,
            hourly_price=args.hourly_price,
        )
        if not args.no_wait:
            deployment.wait(progress=not getattr(args, "json", False))
        data = {"name": deployment.name, "arn": deployment.arn, "status": deployment.status}
    emit(args, f"{deployment.name}: {deployment.status}; model id {deployment.arn}", data)
    return 0


def run_converse(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        reply = session.converse(
            args.model_id, args.text, system=args.system, max_tokens=args.max_tokens
        )
    emit(args, reply.text, reply.to_dict())
    return 0


def run_cleanup(args: argparse.Namespace) -> int:
    with open_session(args) as session:
        done = session.cleanup(delete_bucket=args.delete_bucket, dry_run=args.dry_run)
        record = str(session.record.path)
    verb = "would delete" if args.dry_run else "deleted"
    lines = [f"{verb} {r.label}" for r in done] or [f"nothing to delete (record: {record})"]
    emit(args, "\n".join(lines), [r.__dict__ for r in done])
    return 0

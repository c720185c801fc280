"""The tutorial's steps through nova_ft's classes, against the embedded emulator: each step
works, re-running it creates nothing twice, and sync and async give the same results."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft as nf
from nova_ft.exceptions import (
    ConflictError,
    DatasetValidationError,
    InvalidParameterError,
    JobFailedError,
    ResourceNotFoundError,
    ServiceValidationError,
)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.Session]:
    data_dir = tmp_path_factory.mktemp("emulator")
    with nf.Session.local(data_dir, deployment_delay=0.2, job_step_delay=0.02) as s:
        yield s


@pytest.fixture(scope="module")
def synthetic() -> nf.Dataset:
    return nf.Dataset.synthetic(seed=7, train=800, valid=100, test=120, test_seed=99)


@pytest.fixture(scope="module")
def trained(session: nf.Session, synthetic: nf.Dataset) -> dict[str, Any]:
    """Bucket, upload, role, job and deployment of the tutorial, made once per module."""
    bucket = session.bucket().ensure()
    location = synthetic.upload(bucket)
    role = session.training_role(location).ensure()
    job = session.fine_tune(location, role, hyperparameters=nf.Hyperparameters(epochs=3))
    model = job.wait(progress=False)
    deployment = model.deploy()
    deployment.wait(progress=False)
    return {
        "bucket": bucket,
        "location": location,
        "role": role,
        "job": job,
        "model": model,
        "deployment": deployment,
    }


def test_bucket_is_created_once_with_the_tutorial_name(session: nf.Session) -> None:
    first = session.bucket("nova-ft-test-bucket").ensure()
    again = session.bucket("nova-ft-test-bucket").ensure()
    assert (first.created, again.created) == (True, False)
    assert session.bucket().name == f"sl-nova-ft-{session.account_id}"
    emulator = session.emulator
    assert emulator is not None
    s3 = emulator.client("s3")
    block = s3.get_public_access_block(Bucket="nova-ft-test-bucket")
    assert all(block["PublicAccessBlockConfiguration"].values())
    rules = s3.get_bucket_encryption(Bucket="nova-ft-test-bucket")
    algorithm = rules["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert algorithm["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"


def test_upload_skips_unchanged_files_and_reuploads_changed_ones(
    session: nf.Session, synthetic: nf.Dataset, trained: dict[str, Any]
) -> None:
    bucket = trained["bucket"]
    again = synthetic.upload(bucket)
    assert [o.uploaded for o in again.objects] == [False, False]
    assert again.train_uri == f"s3://{bucket.name}/training-data/train.jsonl"
    assert again.valid_uri == f"s3://{bucket.name}/validation-data/valid.jsonl"
    other = nf.Dataset.synthetic(seed=8, train=100, valid=20)
    moved = other.upload(bucket, prefix="other")
    assert [o.uploaded for o in moved.objects] == [True, True]
    assert moved.data_prefixes == ["other/training-data/", "other/validation-data/"]
    body = bucket.keys("other/training-data/")
    assert body == ["other/training-data/train.jsonl"]


def test_invalid_data_is_refused_before_anything_is_uploaded(session: nf.Session) -> None:
    rows = [{"text": f"question {i}", "label": "a" if i % 2 else "b"} for i in range(3)]
    too_few = nf.Dataset.from_intents(rows)
    bucket = session.bucket("nova-ft-bad-data").ensure()
    with pytest.raises(DatasetValidationError) as caught:
        too_few.upload(bucket)
    assert "8" in str(caught.value)
    assert bucket.keys() == []


def test_role_is_scoped_to_the_upload_and_updated_when_prefixes_change(
    session: nf.Session, trained: dict[str, Any]
) -> None:
    role = trained["role"]
    assert role.arn == f"arn:aws:iam::{session.account_id}:role/BedrockNovaFineTune"
    emulator = session.emulator
    assert emulator is not None
    iam = emulator.client("iam")
    policy = iam.get_role_policy(RoleName=role.name, PolicyName="s3-scoped")["PolicyDocument"]
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    bucket = trained["bucket"].name
    assert f"arn:aws:s3:::{bucket}/training-data/*" in resources
    assert not any(r.endswith(":::*") or r == "*" for r in resources)
    trust = iam.get_role(RoleName=role.name)["Role"]["AssumeRolePolicyDocument"]
    condition = trust["Statement"][0]["Condition"]
    assert condition["StringEquals"]["aws:SourceAccount"] == session.account_id
    unchanged = session.training_role(trained["location"]).ensure()
    assert unchanged.created is False
    moved = session.training_role(
        bucket=bucket, data_prefixes=["elsewhere/"], output_prefix="out/", name="OtherRole"
    ).ensure()
    assert moved.created is True
    updated = session.training_role(
        bucket=bucket, data_prefixes=["elsewhere2/"], output_prefix="out/", name="OtherRole"
    )
    updated.ensure()
    policy = iam.get_role_policy(RoleName="OtherRole", PolicyName="s3-scoped")["PolicyDocument"]
    assert any("elsewhere2/" in r for s in policy["Statement"] for r in s["Resource"])


def test_rerunning_fine_tune_attaches_to_the_same_job(
    session: nf.Session, trained: dict[str, Any]
) -> None:
    job = trained["job"]
    again = session.fine_tune(
        trained["location"], trained["role"], hyperparameters=nf.Hyperparameters(epochs=3)
    )
    assert again.arn == job.arn
    assert repr(job) == f"FineTuneJob(name={job.name!r}, status='Completed')"
    assert job.info["hyperparameters"] == {
        "epochCount": "3",
        "learningRate": "0.00001",
        "learningRateWarmupSteps": "10",
    }
    assert "<table>" in job._repr_html_()


def test_a_changed_setting_starts_a_new_job_and_a_taken_name_is_a_conflict(
    session: nf.Session, trained: dict[str, Any]
) -> None:
    location, role = trained["location"], trained["role"]
    other = session.fine_tune(location, role, hyperparameters=nf.Hyperparameters(epochs=1))
    assert other.arn != trained["job"].arn
    other.wait(progress=False)
    named = session.fine_tune(location, role, job_name="fixed-name", custom_model_name="fixed-m")
    assert (
        session.fine_tune(location, role, job_name="fixed-name", custom_model_name="fixed-m").arn
        == named.arn
    )
    with pytest.raises(ConflictError, match="different configuration"):
        session.fine_tune(
            location,
            role,
            job_name="fixed-name",
            custom_model_name="fixed-m",
            hyperparameters=nf.Hyperparameters(epochs=4),
        )
    named.wait(progress=False)


def test_metrics_and_loss_plot(trained: dict[str, Any], tmp_path: Path) -> None:
    job = trained["job"]
    frame = job.metrics()
    assert list(frame.columns) == ["split", "step_number", "epoch_number", "loss", "perplexity"]
    train = frame[frame["split"] == "training"]
    assert len(train) > 10
    assert train["loss"].iloc[-1] < train["loss"].iloc[0]
    assert set(frame[frame["split"] == "validation"]["epoch_number"]) == {1, 2, 3}
    job.plot_loss(str(tmp_path / "loss.png"))
    assert (tmp_path / "loss.png").read_bytes()[:4] == b"\x89PNG"


def test_deployment_is_reused_and_answers(session: nf.Session, trained: dict[str, Any]) -> None:
    deployment = trained["deployment"]
    assert deployment.status == "Active"
    again = trained["model"].deploy()
    assert again.arn == deployment.arn
    reply = deployment.converse(
        "what kind of plane flies boston to denver", system=nf.SYNTHETIC_SYSTEM_PROMPT
    )
    assert reply.text == "aircraft"
    assert reply.input_tokens > 0 and reply.output_tokens > 0
    base = session.converse(nf.DEFAULT_BASE_MODEL, "hello", system=nf.SYNTHETIC_SYSTEM_PROMPT)
    assert base.model_id == "amazon.nova-micro-v1:0"


def test_a_provisioned_deployment_says_its_price_answers_and_is_cleaned_up(
    session: nf.Session, trained: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    model = trained["model"]
    with pytest.raises(InvalidParameterError):
        model.deploy(model_units=0)
    with pytest.raises(InvalidParameterError):
        model.deploy(model_units=1, commitment="OneYear")
    with caplog.at_level("WARNING", logger="nova_ft"):
        provisioned = model.deploy("tutorial-pt", model_units=2, hourly_price=21.5)
    notice = " ".join(r.getMessage() for r in caplog.records)
    assert "2 model unit(s)" in notice and "$43.00/hour" in notice and "cleanup()" in notice
    assert provisioned.provisioned and provisioned.status == "Creating"
    assert provisioned.arn and ":provisioned-model/" in provisioned.arn
    provisioned.wait(progress=False)
    assert (provisioned.status, provisioned.model_units) == ("InService", 2)
    assert "provisioned=2 MU" in repr(provisioned)
    reply = provisioned.converse(
        "what kind of plane flies boston to denver", system=nf.SYNTHETIC_SYSTEM_PROMPT
    )
    assert reply.text == "aircraft"
    # Re-running attaches; the session can find it by ARN; cleanup() deletes it.
    assert model.deploy("tutorial-pt", model_units=2).arn == provisioned.arn
    assert session.deployment(provisioned.arn).provisioned
    assert "provisioned" in {r.kind for r in session.record.in_cleanup_order()}
    assert provisioned.delete() and not provisioned.delete()


def test_a_deployment_is_updated_in_place_to_a_better_model(
    session: nf.Session, synthetic: nf.Dataset, trained: dict[str, Any], tmp_path: Path
) -> None:
    # A second model on the same data with upper-case labels, so its answers are told apart.
    paths = {}
    for split in ("train", "valid"):
        records = synthetic.records(split)
        for record in records:
            answer = record["messages"][-1]["content"][0]
            answer["text"] = answer["text"].upper()
        paths[split] = tmp_path / f"{split}.jsonl"
        paths[split].write_text("".join(json.dumps(r) + "\n" for r in records))
    upper = nf.Dataset.from_jsonl(paths["train"], paths["valid"])
    location = upper.upload(trained["bucket"], prefix="upper/")
    role = session.training_role(location).ensure()
    better = session.fine_tune(location, role, job_name="upper-labels").wait(progress=False)
    deployment = trained["model"].deploy("updatable")
    deployment.wait(progress=False)
    question = "what kind of plane flies boston to denver"
    assert deployment.converse(question, system=nf.SYNTHETIC_SYSTEM_PROMPT).text == "aircraft"
    with pytest.raises(InvalidParameterError):
        deployment.update(None)
    arn = deployment.arn
    deployment.update(better)
    assert (deployment.arn, deployment.update_status) == (arn, "UpdateCompleted")
    assert deployment.model_arn == better.arn
    assert deployment.converse(question, system=nf.SYNTHETIC_SYSTEM_PROMPT).text == "AIRCRAFT"
    asyncio.run(deployment.update_async(trained["model"].arn))
    assert deployment.converse(question, system=nf.SYNTHETIC_SYSTEM_PROMPT).text == "aircraft"
    assert deployment.delete()


def test_a_model_exported_to_s3_is_imported_back_and_deployed(
    session: nf.Session, trained: dict[str, Any]
) -> None:
    model, bucket = trained["model"], trained["bucket"]
    # Scoped to the upload's prefixes again (other tests re-scope the shared role).
    role = session.training_role(trained["location"]).ensure()
    readable = model.export(f"s3://{bucket.name}/training-data/exported/")
    assert readable.endswith("/training-data/exported/")
    elsewhere = model.export(f"s3://{bucket.name}/elsewhere/exported/")
    with pytest.raises(nf.exceptions.AuthError):
        session.import_model(elsewhere, "imported-denied", role)
    imported = session.import_model(readable, "imported-intents", role)
    # Re-running the cell returns the same model (the request token derives from the call).
    assert session.import_model(readable, "imported-intents", role).arn == imported.arn
    assert imported.arn.startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert imported.status == "Active" and imported.name == "imported-intents"
    assert "custom_model" in {r.kind for r in session.record.in_cleanup_order()}
    deployment = imported.deploy("imported-od")
    deployment.wait(progress=False)
    reply = deployment.converse(
        "what kind of plane flies boston to denver", system=nf.SYNTHETIC_SYSTEM_PROMPT
    )
    assert reply.text == "aircraft"
    assert deployment.delete()
    with pytest.raises(InvalidParameterError):
        nf.job.CustomModel(nf.Session(region="us-east-1"), imported.arn).export("s3://b/p/")


def test_async_twins_match_the_sync_steps(
    session: nf.Session, synthetic: nf.Dataset, trained: dict[str, Any]
) -> None:
    async def steps() -> tuple[Any, ...]:
        bucket = await session.bucket().ensure_async()
        location = await synthetic.upload_async(bucket)
        role = await session.training_role(location).ensure_async()
        job = await session.fine_tune_async(
            location, role, hyperparameters=nf.Hyperparameters(epochs=3)
        )
        model = await job.wait_async()
        deployment = await model.deploy_async()
        await deployment.wait_async()
        reply = await session.converse_async(
            deployment.model_id, "car rental in boston", system=nf.SYNTHETIC_SYSTEM_PROMPT
        )
        return bucket.created, location, role.arn, job.arn, model.arn, deployment.arn, reply

    created, location, role_arn, job_arn, model_arn, deployment_arn, reply = asyncio.run(steps())
    assert created is False
    assert location.train_uri == trained["location"].train_uri
    assert (role_arn, job_arn, model_arn, deployment_arn) == (
        trained["role"].arn,
        trained["job"].arn,
        trained["model"].arn,
        trained["deployment"].arn,
    )
    assert reply.text == "ground_service"


def test_hyperparameters_are_checked_before_any_call() -> None:
    with pytest.raises(InvalidParameterError, match="epochs=9 is outside"):
        nf.Hyperparameters(epochs=9)
    with pytest.raises(InvalidParameterError, match="learning_rate"):
        nf.Hyperparameters(learning_rate=0.5)
    with pytest.raises(InvalidParameterError, match="learningRate"):
        nf.Hyperparameters.from_api({"learningRateMultiplier": "1.0"})
    assert nf.Hyperparameters.from_api({"epochCount": "3"}) == nf.Hyperparameters(epochs=3)


def test_aws_error_paths(session: nf.Session, trained: dict[str, Any]) -> None:
    with pytest.raises(ResourceNotFoundError) as missing:
        session.job("no-such-job")
    assert missing.value.request_id
    with pytest.raises(ServiceValidationError) as bad_base:
        session.fine_tune(
            trained["location"],
            trained["role"],
            base_model="amazon.nova-micro-v1:0:999k",
            job_name="bad-base",
            custom_model_name="bad-base",
        )
    assert bad_base.value.hint and "foundation_models" in bad_base.value.hint
    with pytest.raises(InvalidParameterError, match="teacher_model"):
        session.fine_tune(trained["location"], trained["role"], customization="DISTILLATION")


def test_a_role_without_access_to_the_data_fails_the_job_with_a_hint(
    session: nf.Session, trained: dict[str, Any]
) -> None:
    location = trained["location"]
    narrow = session.training_role(
        bucket=location.bucket,
        data_prefixes=["somewhere-else/"],
        output_prefix=location.output_prefix,
        name="NarrowRole",
    ).ensure()
    job = session.fine_tune(location, narrow, job_name="denied", custom_model_name="denied")
    with pytest.raises(JobFailedError) as failed:
        job.wait(progress=False)
    assert failed.value.status == "Failed"
    assert "AccessDenied" in (failed.value.failure_message or "")
    assert failed.value.hint and "prefixes" in failed.value.hint


def test_throttling_surfaces_as_throttling_error(tmp_path: Path) -> None:
    with nf.Session.local(tmp_path, throttle_rate=1.0) as throttled:
        with pytest.raises(nf.ThrottlingError) as caught:
            throttled.converse("amazon.nova-micro-v1:0", "hi")
    assert caught.value.code == "ThrottlingException"


def test_stop_ends_a_running_job(tmp_path: Path, synthetic: nf.Dataset) -> None:
    with nf.Session.local(tmp_path, job_step_delay=30.0) as slow:
        location = synthetic.upload(slow.bucket().ensure())
        role = slow.training_role(location).ensure()
        job = slow.fine_tune(location, role)
        job.stop()
        with pytest.raises(JobFailedError) as stopped:
            job.wait(progress=False)
        assert stopped.value.status == "Stopped"


def test_cleanup_deletes_exactly_what_was_created(tmp_path: Path, synthetic: nf.Dataset) -> None:
    with nf.Session.local(tmp_path / "emu", deployment_delay=0.1, job_step_delay=0.01) as s:
        emulator = s.emulator
        assert emulator is not None
        s3 = emulator.client("s3")
        s3.create_bucket(Bucket="users-own-bucket")
        bucket = s.bucket().ensure()
        s3.put_object(Bucket=bucket.name, Key="notes/mine.txt", Body=b"keep me")
        location = synthetic.upload(bucket)
        role = s.training_role(location).ensure()
        model = s.fine_tune(location, role).wait(progress=False)
        model.deploy().wait(progress=False)
        record = json.loads(s.record.path.read_text())
        kinds = sorted(r["kind"] for r in record["resources"])
        assert kinds == [
            "bucket",
            "custom_model",
            "deployment",
            "job",
            "object",
            "object",
            "prefix",
            "role",
        ]
        planned = s.cleanup(dry_run=True)
        assert "bucket" not in {r.kind for r in planned}
        deleted = s.cleanup()
        assert [r.kind for r in deleted][:2] == ["deployment", "custom_model"]
        assert s.cleanup() == []
        assert bucket.keys() == ["notes/mine.txt"]
        assert "users-own-bucket" in {b["Name"] for b in s3.list_buckets()["Buckets"]}
        with pytest.raises(ResourceNotFoundError):
            model.refresh()

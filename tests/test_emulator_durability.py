"""The emulator keeps everything across restarts and under concurrent requests."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

import nova_ft
from conftest import TRUST_BEDROCK
from test_emulator_bedrock import job_request, scoped_policy

pytest.importorskip("boto3")


def clients(emu: nova_ft.LocalEmulator) -> dict[str, Any]:
    return {s: emu.client(s) for s in ("s3", "iam", "bedrock", "bedrock-runtime")}


def test_a_job_running_at_shutdown_resumes_after_restart(tmp_path: Path) -> None:
    # Slow steps, so the job is certainly still running when the emulator stops.
    with nova_ft.LocalEmulator(tmp_path, job_step_delay=2.0) as emu:
        c = clients(emu)
        c["s3"].create_bucket(Bucket="resume")
        data = nova_ft.Dataset.synthetic(7, 100, 20)
        c["s3"].put_object(
            Bucket="resume", Key="training-data/train.jsonl", Body=data.jsonl("train")
        )
        c["s3"].put_object(
            Bucket="resume", Key="validation-data/valid.jsonl", Body=data.jsonl("valid")
        )
        role = c["iam"].create_role(
            RoleName="ResumeRole", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
        )["Role"]["Arn"]
        c["iam"].put_role_policy(
            RoleName="ResumeRole",
            PolicyName="p",
            PolicyDocument=scoped_policy(
                "resume", ["training-data", "validation-data", "output-data"]
            ),
        )
        arn = c["bedrock"].create_model_customization_job(
            **job_request("resume", role, "resume-job")
        )["jobArn"]
        assert c["bedrock"].get_model_customization_job(jobIdentifier=arn)["status"] == "InProgress"
    with nova_ft.LocalEmulator(tmp_path, job_step_delay=0.01) as emu:
        bedrock = clients(emu)["bedrock"]
        deadline = time.monotonic() + 20
        while (job := bedrock.get_model_customization_job(jobIdentifier=arn))[
            "status"
        ] == "InProgress":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert job["status"] == "Completed", job.get("failureMessage")
        assert (
            bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])["modelName"]
            == "resume-job-model"
        )


def test_concurrent_writes_keep_state_consistent(tmp_path: Path) -> None:
    with nova_ft.LocalEmulator(tmp_path) as emu:
        c = clients(emu)
        c["s3"].create_bucket(Bucket="concurrent")

        def work(i: int) -> None:
            c["s3"].put_object(Bucket="concurrent", Key=f"k/{i:03d}", Body=str(i).encode())
            c["iam"].create_role(
                RoleName=f"role-{i}", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
            )
            if i % 3 == 0:
                c["s3"].delete_object(Bucket="concurrent", Key=f"k/{i:03d}")

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(work, range(120)))
    expected = [f"k/{i:03d}" for i in range(120) if i % 3 != 0]
    with nova_ft.LocalEmulator(tmp_path) as emu:
        c = clients(emu)
        pages = c["s3"].get_paginator("list_objects_v2").paginate(Bucket="concurrent")
        keys = [o["Key"] for p in pages for o in p.get("Contents", [])]
        assert keys == expected
        for key in expected[:10]:
            body = c["s3"].get_object(Bucket="concurrent", Key=key)["Body"].read()
            assert int(body) == int(key[2:])
        for i in (0, 57, 119):
            assert c["iam"].get_role(RoleName=f"role-{i}")["Role"]["RoleName"] == f"role-{i}"
    blobs = list((tmp_path / "objects").iterdir())
    assert len(blobs) == len(expected), "deleted objects leave no files behind"

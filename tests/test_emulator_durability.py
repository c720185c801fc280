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


def _serve(data_dir: Path) -> tuple[Any, str]:
    import subprocess
    import sys

    command = [sys.executable, "-m", "nova_ft.cli", "emulator", "serve", "--port", "0"]
    command += ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    return proc, proc.stdout.readline().split()[4]


def test_a_hard_kill_loses_no_acknowledged_object_and_the_job_ends(tmp_path: Path) -> None:
    import hashlib
    import os
    import threading

    import boto3
    from botocore.config import Config

    def client(endpoint: str, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )

    proc, endpoint = _serve(tmp_path)
    acknowledged: dict[str, tuple[bytes, str]] = {}
    lock = threading.Lock()
    try:
        s3, iam, bedrock = (client(endpoint, s) for s in ("s3", "iam", "bedrock"))
        s3.create_bucket(Bucket="crash")
        data = nova_ft.Dataset.synthetic(7, 100, 20)
        s3.put_object(Bucket="crash", Key="training-data/train.jsonl", Body=data.jsonl("train"))
        s3.put_object(Bucket="crash", Key="validation-data/valid.jsonl", Body=data.jsonl("valid"))
        role = iam.create_role(
            RoleName="CrashRole", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
        )["Role"]["Arn"]
        prefixes = ["training-data", "validation-data", "output-data"]
        iam.put_role_policy(
            RoleName="CrashRole", PolicyName="p", PolicyDocument=scoped_policy("crash", prefixes)
        )
        arn = bedrock.create_model_customization_job(**job_request("crash", role, "crash-job"))[
            "jobArn"
        ]

        def upload(worker: int) -> None:
            mine = client(endpoint, "s3")
            for i in range(1000):
                body = os.urandom(1000 + 37 * i)
                key = f"w{worker}/{i:04d}"
                try:
                    etag = mine.put_object(Bucket="crash", Key=key, Body=body)["ETag"]
                except Exception:
                    return  # the server is gone: this PUT was never acknowledged
                with lock:
                    acknowledged[key] = (body, etag)

        workers = [threading.Thread(target=upload, args=(w,)) for w in range(4)]
        for worker in workers:
            worker.start()
        while len(acknowledged) < 60:
            time.sleep(0.01)
        proc.kill()  # SIGKILL: no shutdown, no flush, mid-upload
        proc.wait(timeout=30)
        for worker in workers:
            worker.join(timeout=60)
    finally:
        proc.kill()
        proc.communicate()

    proc, endpoint = _serve(tmp_path)  # the lock went with the killed process
    try:
        s3, bedrock = client(endpoint, "s3"), client(endpoint, "bedrock")
        for key, (body, etag) in sorted(acknowledged.items()):
            got = s3.get_object(Bucket="crash", Key=key)
            assert got["ETag"] == etag == '"' + hashlib.md5(body).hexdigest() + '"', key
            assert got["Body"].read() == body, key
        deadline = time.monotonic() + 60
        while (job := bedrock.get_model_customization_job(jobIdentifier=arn))[
            "status"
        ] == "InProgress":
            assert time.monotonic() < deadline, "the job never ended after the restart"
            time.sleep(0.1)
        assert job["status"] == "Completed", job.get("failureMessage")
        assert not [p for p in (tmp_path / "objects").iterdir() if p.name.endswith(".tmp")]
    finally:
        proc.kill()
        proc.communicate()

"""The emulator as a program of its own (`nova-ft-emulator`, from `cargo install`), driven by
clients that are not nova_ft: the AWS CLI through the tutorial's steps, and the AWS SDK for
JavaScript v3 where its packages are installed (`examples/js`)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft
from conftest import TRUST_BEDROCK

ROOT = Path(__file__).resolve().parent.parent
BASE = "amazon.nova-micro-v1:0:128k"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`cargo install` of the emulator crate, as the guide says. `--debug` and the
    workspace's target folder reuse what the test build compiled (CI builds no second
    profile); the program is the same."""
    cargo = shutil.which("cargo")
    if cargo is None:
        pytest.skip("cargo is not on the PATH")
    root = tmp_path_factory.mktemp("cargo-root")
    subprocess.run(
        [
            cargo,
            "install",
            "--locked",
            "--debug",
            "--quiet",
            "--path",
            str(ROOT / "crates" / "nova-ft-emulator"),
            "--root",
            str(root),
            "--target-dir",
            str(ROOT / "target"),
        ],
        check=True,
        timeout=1200,
    )
    program = root / "bin" / "nova-ft-emulator"
    assert program.is_file()
    return program


@pytest.fixture(scope="module")
def served(installed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The installed program serving on a free port, started with an empty PATH: nothing it
    needs comes from Python (only Lambda handlers would, and these steps run none)."""
    data = tmp_path_factory.mktemp("state")
    process = subprocess.Popen(
        [
            str(installed),
            "serve",
            "--port",
            "0",
            "--data-dir",
            str(data),
            "--deployment-delay",
            "0.2",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "", "RUST_LOG": "warn"},
    )
    assert process.stdout is not None and process.stderr is not None
    first = process.stdout.readline()
    assert first.startswith("nova_ft emulator listening on http://127.0.0.1:"), first
    assert "AWS_ACCESS_KEY_ID=test" in process.stdout.readline()
    url = first.split()[4]
    try:
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        stderr = process.stderr.read()
        process.stdout.close()
        process.stderr.close()
        assert code == 0, stderr
        assert "nova_ft emulator stopped" in stderr


def aws_cli(url: str, *args: str) -> Any:
    """One AWS CLI command against the emulator, with the credentials its docs name."""
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": url,
    }
    env.pop("AWS_PROFILE", None)
    env.pop("AWS_SESSION_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-m", "awscli", *args, "--output", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, f"aws {' '.join(args)}: {done.stderr}"
    # `aws s3 ...` prints progress lines; the API commands print JSON.
    out = done.stdout.strip()
    return json.loads(out) if out.startswith(("{", "[")) else out


def test_the_tutorial_through_the_aws_cli(served: str, tmp_path: Path) -> None:
    pytest.importorskip("awscli")
    data = nova_ft.Dataset.synthetic(7, 400, 50, test=1)
    for split in ("train", "valid"):
        data.write_split(split, tmp_path / f"{split}.jsonl")
    bucket = "cli-tutorial"
    assert aws_cli(served, "s3", "mb", f"s3://{bucket}") == f"make_bucket: {bucket}"
    aws_cli(served, "s3", "cp", str(tmp_path / "train.jsonl"), f"s3://{bucket}/training-data/")
    aws_cli(served, "s3", "cp", str(tmp_path / "valid.jsonl"), f"s3://{bucket}/validation-data/")
    listed = aws_cli(served, "s3api", "list-objects-v2", "--bucket", bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == [
        "training-data/train.jsonl",
        "validation-data/valid.jsonl",
    ]

    role = aws_cli(
        served,
        "iam",
        "create-role",
        "--role-name",
        "CliTutorialRole",
        "--assume-role-policy-document",
        json.dumps(TRUST_BEDROCK),
    )["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    aws_cli(
        served,
        "iam",
        "put-role-policy",
        "--role-name",
        "CliTutorialRole",
        "--policy-name",
        "s3",
        "--policy-document",
        json.dumps(policy),
    )

    job = aws_cli(
        served,
        "bedrock",
        "create-model-customization-job",
        "--job-name",
        "cli-tutorial",
        "--custom-model-name",
        "cli-tutorial-model",
        "--role-arn",
        role,
        "--base-model-identifier",
        BASE,
        "--customization-type",
        "FINE_TUNING",
        "--training-data-config",
        f"s3Uri=s3://{bucket}/training-data/train.jsonl",
        "--validation-data-config",
        json.dumps({"validators": [{"s3Uri": f"s3://{bucket}/validation-data/valid.jsonl"}]}),
        "--output-data-config",
        f"s3Uri=s3://{bucket}/output-data/",
        "--hyper-parameters",
        "epochCount=2,learningRate=0.00001,learningRateWarmupSteps=10",
    )["jobArn"]
    deadline = time.monotonic() + 120
    while (
        status := aws_cli(served, "bedrock", "get-model-customization-job", "--job-identifier", job)
    )["status"] not in {"Completed", "Failed", "Stopped"}:
        assert time.monotonic() < deadline, status
        time.sleep(0.5)
    assert status["status"] == "Completed", status.get("failureMessage")

    deployment = aws_cli(
        served,
        "bedrock",
        "create-custom-model-deployment",
        "--model-deployment-name",
        "cli-tutorial",
        "--model-arn",
        status["outputModelArn"],
    )["customModelDeploymentArn"]
    deadline = time.monotonic() + 60
    while (
        state := aws_cli(
            served,
            "bedrock",
            "get-custom-model-deployment",
            "--custom-model-deployment-identifier",
            deployment,
        )
    )["status"] != "Active":
        assert state["status"] == "Creating" and time.monotonic() < deadline, state
        time.sleep(0.3)

    held_out = data.records("test")[0]["messages"][0]["content"][0]["text"]
    reply = aws_cli(
        served,
        "bedrock-runtime",
        "converse",
        "--model-id",
        deployment,
        "--system",
        json.dumps([{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}]),
        "--messages",
        json.dumps([{"role": "user", "content": [{"text": held_out}]}]),
        "--inference-config",
        "maxTokens=16,temperature=0",
    )
    answer = reply["output"]["message"]["content"][0]["text"]
    assert answer in (data.labels or [])
    assert reply["usage"]["inputTokens"] > 0 and reply["stopReason"] == "end_turn"


def test_the_program_refuses_settings_that_cannot_work(installed: Path) -> None:
    done = subprocess.run(
        [str(installed), "serve", "--port", "0", "--throttle-rate", "2"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 1
    assert "rates must be in [0, 1]" in done.stderr
    done = subprocess.run(
        [str(installed), "serve", "--latency-ms=-5"], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2 and "--latency-ms" in done.stderr
    coverage = subprocess.run(
        [str(installed), "coverage"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    assert coverage == nova_ft.LocalEmulator.coverage_markdown()


def test_the_javascript_sdk_runs_the_tutorial(served: str, tmp_path: Path) -> None:
    """examples/js/tutorial.mjs on the AWS SDK for JavaScript v3. Its packages come from npm
    (`npm ci` in examples/js); where npm cannot be reached they are not installed, and the
    test says so instead of passing."""
    node = shutil.which("node")
    example = ROOT / "examples" / "js"
    if node is None or not (example / "node_modules" / "@aws-sdk" / "client-bedrock").is_dir():
        pytest.skip("needs node and `npm ci` in examples/js (the AWS SDK for JavaScript v3)")
    data = nova_ft.Dataset.synthetic(7, 400, 50, test=1)
    data.write_split("train", tmp_path / "train.jsonl")
    done = subprocess.run(
        [node, str(example / "tutorial.mjs"), str(tmp_path / "train.jsonl")],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": served,
            "NOVA_FT_SYSTEM_PROMPT": nova_ft.SYNTHETIC_SYSTEM_PROMPT,
            "NOVA_FT_PROMPT": data.records("test")[0]["messages"][0]["content"][0]["text"],
        },
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["status"] == "Completed" and result["answer"] in (data.labels or [])

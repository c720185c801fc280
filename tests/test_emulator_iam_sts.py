"""IAM and STS of the emulator, through unmodified boto3 and the AWS CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nova_ft
from conftest import TRUST_BEDROCK


def test_caller_identity(aws: Callable[[str], Any]) -> None:
    identity = aws("sts").get_caller_identity()
    assert identity["Account"] == "123456789012"
    assert identity["Arn"].startswith("arn:aws:iam::123456789012:")


def test_role_lifecycle_and_errors(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    doc = json.dumps(TRUST_BEDROCK)
    role = iam.create_role(RoleName="lifecycle-role", AssumeRolePolicyDocument=doc)["Role"]
    assert role["Arn"] == "arn:aws:iam::123456789012:role/lifecycle-role"
    assert role["RoleId"].startswith("AROA")
    assert role["AssumeRolePolicyDocument"] == TRUST_BEDROCK  # URL-encoded on the wire
    with pytest.raises(iam.exceptions.EntityAlreadyExistsException):
        iam.create_role(RoleName="lifecycle-role", AssumeRolePolicyDocument=doc)
    assert iam.get_role(RoleName="lifecycle-role")["Role"]["RoleName"] == "lifecycle-role"

    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}],
    }
    iam.put_role_policy(
        RoleName="lifecycle-role", PolicyName="s3-scoped", PolicyDocument=json.dumps(policy)
    )
    assert iam.list_role_policies(RoleName="lifecycle-role")["PolicyNames"] == ["s3-scoped"]
    got = iam.get_role_policy(RoleName="lifecycle-role", PolicyName="s3-scoped")
    assert got["PolicyDocument"] == policy
    with pytest.raises(iam.exceptions.DeleteConflictException):
        iam.delete_role(RoleName="lifecycle-role")
    iam.delete_role_policy(RoleName="lifecycle-role", PolicyName="s3-scoped")
    iam.delete_role(RoleName="lifecycle-role")
    with pytest.raises(iam.exceptions.NoSuchEntityException) as caught:
        iam.get_role(RoleName="lifecycle-role")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.value.response["ResponseMetadata"]["RequestId"]


def test_bad_input_gets_iam_errors(aws: Callable[[str], Any]) -> None:
    iam = aws("iam")
    with pytest.raises(iam.exceptions.MalformedPolicyDocumentException):
        iam.create_role(RoleName="bad-doc", AssumeRolePolicyDocument="{not json")
    with pytest.raises(iam.exceptions.ClientError) as caught:
        iam.create_role(RoleName="bad name!", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK))
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.put_role_policy(
            RoleName="missing", PolicyName="p", PolicyDocument=json.dumps(TRUST_BEDROCK)
        )


def test_aws_cli_works_against_the_emulator(emulator: nova_ft.LocalEmulator) -> None:
    env = {**os.environ, **emulator.env}
    create = subprocess.run(
        [
            sys.executable,
            "-m",
            "awscli",
            "iam",
            "create-role",
            "--role-name",
            "cli-role",
            "--assume-role-policy-document",
            json.dumps(TRUST_BEDROCK),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert create.returncode == 0, create.stderr
    assert json.loads(create.stdout)["Role"]["RoleName"] == "cli-role"
    who = subprocess.run(
        [sys.executable, "-m", "awscli", "sts", "get-caller-identity"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert who.returncode == 0, who.stderr
    assert json.loads(who.stdout)["Account"] == "123456789012"


def test_state_survives_a_restart(tmp_path: Path) -> None:
    pytest.importorskip("boto3")
    with nova_ft.LocalEmulator(tmp_path) as emu:
        iam = emu.client("iam")
        iam.create_role(RoleName="kept", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK))
    with nova_ft.LocalEmulator(tmp_path) as emu:
        iam = emu.client("iam")
        assert iam.get_role(RoleName="kept")["Role"]["RoleName"] == "kept"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_prints_the_endpoint_and_stops_on_signals(tmp_path: Path, sig: int) -> None:
    command = [
        sys.executable,
        "-m",
        "nova_ft.cli",
        "emulator",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path),
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            line = proc.stdout.readline()
            assert line.startswith("nova_ft emulator listening on http://127.0.0.1:"), line
            endpoint = line.split()[4]
            # The next line hands over the credentials it verifies signatures against.
            credentials = dict(item.split("=", 1) for item in proc.stdout.readline().split()[1:])
            assert credentials == {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
            # And what becomes of other keys (accepted unless --strict-credentials).
            assert proc.stdout.readline().startswith("other access keys: accepted")
            boto3 = pytest.importorskip("boto3")
            sts = boto3.client(
                "sts",
                endpoint_url=endpoint,
                region_name="us-east-1",
                aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
            )
            assert sts.get_caller_identity()["Account"] == "123456789012"
            proc.send_signal(sig)
            assert proc.wait(timeout=10) == 0
            assert "stopped" in proc.stderr.read()
        finally:
            proc.kill()


def test_bad_fault_settings_are_refused() -> None:
    with pytest.raises(nova_ft.InvalidParameterError):
        nova_ft.LocalEmulator(throttle_rate=1.5)

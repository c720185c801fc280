"""Session: the AWS SDK for Rust against the emulator, sync and async, and AWS errors mapped
onto nova_ft's exceptions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import nova_ft
from nova_ft import exceptions


def test_local_session_resolves_identity_and_models() -> None:
    with nova_ft.Session.local() as session:
        assert session.is_local and session.region == "us-east-1"
        assert session.endpoint_url == session.emulator.endpoint_url  # type: ignore[union-attr]
        assert session.account_id == "123456789012"
        tunable = [m["model_id"] for m in session.foundation_models("FINE_TUNING")]
        assert "amazon.nova-micro-v1:0:128k" in tunable
        assert "amazon.nova-micro-v1:0" not in tunable
        assert session.foundation_model("amazon.nova-micro-v1:0")["inference_types"] == [
            "ON_DEMAND",
            "INFERENCE_PROFILE",
        ]
        assert "local=True" in repr(session)
    assert session.emulator is not None and not session.emulator.running


def test_async_twins_give_the_same_answers() -> None:
    with nova_ft.Session.local() as session:

        async def both() -> tuple[object, object]:
            return (
                await session.caller_identity_async(),
                await session.foundation_models_async("DISTILLATION"),
            )

        identity, models = asyncio.run(both())
        assert identity == session.caller_identity()
        assert models == session.foundation_models("DISTILLATION")


def test_aws_errors_map_to_the_hierarchy() -> None:
    with nova_ft.Session.local() as session:
        with pytest.raises(nova_ft.ResourceNotFoundError) as caught:
            session.foundation_model("amazon.nova-nano-v9:0")
    err = caught.value
    assert isinstance(err, exceptions.AwsError) and isinstance(err, nova_ft.NovaFtError)
    assert err.code == "ResourceNotFoundException" and err.status == 404
    assert err.operation == "GetFoundationModel" and err.request_id
    assert err.hint and "region" in err.hint
    assert "GetFoundationModel failed" in str(err)


def test_an_unreachable_endpoint_is_a_service_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with nova_ft.LocalEmulator(tmp_path) as emu:
        endpoint = emu.endpoint_url
    session = nova_ft.Session(region="us-east-1", endpoint_url=endpoint)
    with pytest.raises(nova_ft.ServiceError) as caught:
        session.caller_identity()
    assert caught.value.code == "ConnectionError"


def test_missing_region_says_what_to_do(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with pytest.raises(nova_ft.InvalidParameterError, match="AWS_REGION"):
        nova_ft.Session()


def test_the_error_table_covers_the_codes_the_emulator_sends() -> None:
    for code, cls in [
        ("ThrottlingException", nova_ft.ThrottlingError),
        ("NoSuchEntity", nova_ft.ResourceNotFoundError),
        ("EntityAlreadyExists", nova_ft.ConflictError),
        ("ValidationException", nova_ft.ServiceValidationError),
        ("AccessDeniedException", nova_ft.AuthError),
        ("ServiceQuotaExceededException", nova_ft.QuotaExceededError),
        ("SomethingNew", exceptions.AwsError),
    ]:
        assert type(exceptions.aws_error("Op", code, "m", None, 400)) is cls


def test_missing_credentials_say_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    session = nova_ft.Session(region="us-east-1", endpoint_url="http://127.0.0.1:9")
    with pytest.raises(nova_ft.AuthError) as caught:
        session.caller_identity()
    assert caught.value.code == "NoCredentials"
    assert "aws configure" in str(caught.value) and "Session.local()" in str(caught.value)

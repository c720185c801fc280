"""Session: the AWS SDK for Rust against the emulator, sync and async, and AWS errors mapped
onto nova_ft's exceptions."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import nova_ft
from nova_ft import _nova_ft, exceptions


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


def test_every_code_in_the_one_table_becomes_its_class() -> None:
    # The Rust core's table decides both the retries and the class; the Python side only
    # names classes, so a table entry with an unknown class name would fall back silently.
    codes = _nova_ft.aws_error_codes()
    assert len(codes) > 50
    for code, class_name, retryable in codes:
        err = exceptions.aws_error("Op", code, "m", None, 400)
        assert type(err).__name__ == class_name, code
        assert err.hint and err.code == code
        if retryable:
            assert isinstance(err, (nova_ft.ThrottlingError, nova_ft.ServiceError)), code
    assert isinstance(
        exceptions.aws_error("Op", "InvalidAction", "m", None, 400), nova_ft.ServiceValidationError
    )


def test_each_failure_kind_has_its_own_class_and_keeps_its_cause(tmp_path: Path) -> None:
    # A port in use is the emulator's failure, with the OS error as its cause.
    with nova_ft.LocalEmulator(tmp_path / "a") as emu:
        port = int(emu.endpoint_url.rsplit(":", 1)[1])
        with pytest.raises(nova_ft.EmulatorError) as caught:
            nova_ft.LocalEmulator(tmp_path / "b", port=port)
    assert not isinstance(caught.value, nova_ft.InvalidParameterError)
    assert isinstance(caught.value.__cause__, OSError)
    # A state file that is not JSON is the emulator's failure too, naming the file.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "state.json").write_text("{not json")
    with pytest.raises(nova_ft.EmulatorError, match=r"state\.json") as caught:
        nova_ft.LocalEmulator(broken)
    assert caught.value.__cause__ is not None
    # A missing file is a DataFileError whose cause is the OS's FileNotFoundError.
    with pytest.raises(nova_ft.DataFileError) as missing:
        nova_ft.validate(tmp_path / "nope.jsonl")
    assert isinstance(missing.value.__cause__, FileNotFoundError)


def test_boto3_names_for_region_and_profile(
    emulator: nova_ft.LocalEmulator, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``Session(region_name=, profile_name=)`` as boto3 spells them; the profile's own keys
    (unknown to the emulator) are accepted, as a user's real ones would be."""
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    credentials = tmp_path / "credentials"
    credentials.write_text(
        "[dev]\naws_access_key_id = AKIADEVPROFILEKEY1\naws_secret_access_key = dev-secret\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    session = nova_ft.Session(
        region_name="us-west-2", profile_name="dev", endpoint_url=emulator.endpoint_url
    )
    assert session.region == "us-west-2"
    assert session.caller_identity().account == "123456789012"
    local = emulator.endpoint_url
    assert nova_ft.Session("us-west-2", region_name="us-west-2", endpoint_url=local).region == (
        "us-west-2"
    )
    with pytest.raises(nova_ft.InvalidParameterError, match="disagree"):
        nova_ft.Session(region="us-east-1", region_name="eu-west-1", endpoint_url=local)


def test_converse_takes_conversation_in_converse_shape(
    emulator: nova_ft.LocalEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in emulator.env.items():
        monkeypatch.setenv(name, value)
    session = nova_ft.Session(endpoint_url=emulator.endpoint_url)
    model = "amazon.nova-micro-v1:0"
    question = "show me flights from boston to denver"
    single = session.converse(model, question, system=nova_ft.SYNTHETIC_SYSTEM_PROMPT)
    turns = [
        {"role": "user", "content": [{"text": "what can you do for me today"}]},
        {"role": "assistant", "content": [{"text": "I classify airline requests."}]},
        {"role": "user", "content": [{"text": question}]},
    ]
    multi = session.converse(
        model,
        messages=turns,
        system=[{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
        inference_config={"maxTokens": 16, "temperature": 0.0, "topP": 0.9},
    )
    # Every turn reached the model: it read (and counted) more than the last one.
    assert multi.input_tokens > single.input_tokens
    assert multi.stop_reason == "end_turn"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"text": question, "messages": turns}, "not both"),
        ({"messages": turns[:2]}, "last message must be the user's"),
        ({"messages": [{"role": "user", "content": [{"image": {}}]}]}, "only text blocks"),
        ({"text": question, "inference_config": {"maxTokenz": 3}}, "unknown key"),
    ]
    for bad, message in cases:
        with pytest.raises(nova_ft.InvalidParameterError, match=message):
            session.converse(model, **bad)

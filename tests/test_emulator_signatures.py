"""SigV4 as AWS checks it: the emulator verifies what its own key signed and refuses the rest
(unsigned, another secret, a tampered body or chunk, an expired URL) in each service's own
error shape. Other keys are checked for form and accepted, as local emulators do, unless it
runs with strict credentials; turning verification off accepts anything."""

from __future__ import annotations

import datetime
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

import nova_ft
from conftest import TRUST_BEDROCK

boto3 = pytest.importorskip("boto3")
from botocore.auth import S3SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

EMPTY = hashlib.sha256(b"").hexdigest()


def client(emulator: Any, service: str, key: str, secret: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=emulator.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=secret,
    )


def calls(emulator: Any, key: str, secret: str) -> dict[str, Callable[[], Any]]:
    """One call per service."""
    return {
        "s3": lambda: client(emulator, "s3", key, secret).list_buckets(),
        "iam": lambda: client(emulator, "iam", key, secret).list_role_policies(RoleName="probe"),
        "sts": lambda: client(emulator, "sts", key, secret).get_caller_identity(),
        "bedrock": lambda: client(emulator, "bedrock", key, secret).list_custom_models(),
    }


def error_code(call: Callable[[], Any]) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    code: str = caught.value.response["Error"]["Code"]
    return code


def test_the_known_key_is_verified_and_other_keys_are_accepted(
    emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    trust = json.dumps(TRUST_BEDROCK)
    emulator.client("iam").create_role(RoleName="probe", AssumeRolePolicyDocument=trust)
    for call in calls(emulator, "test", "test").values():
        call()
    # A user's real AWS keys (whatever is in the shell or ~/.aws) work unchanged.
    for call in calls(emulator, "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCY").values():
        call()
    wrong_secret = {name: error_code(c) for name, c in calls(emulator, "test", "nope").items()}
    assert wrong_secret == {
        "s3": "SignatureDoesNotMatch",
        "iam": "SignatureDoesNotMatch",
        "sts": "SignatureDoesNotMatch",
        "bedrock": "InvalidSignatureException",
    }
    # Through nova_ft (the Rust SDK signing), the refusal is an AuthError.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "nope")
    session = nova_ft.Session(endpoint_url=emulator.endpoint_url, region="us-east-1")
    with pytest.raises(nova_ft.AuthError, match="SignatureDoesNotMatch"):
        session.caller_identity()


def unsigned(emulator: Any, method: str, path: str) -> tuple[int, bytes]:
    request = urllib.request.Request(emulator.endpoint_url + path, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_unsigned_requests_are_refused_and_change_nothing(emulator: Any) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="unsigned")
    s3.put_object(Bucket="unsigned", Key="keep", Body=b"precious")
    status, body = unsigned(emulator, "DELETE", "/unsigned/keep")
    assert status == 403 and b"<Code>AccessDenied</Code>" in body
    status, body = unsigned(emulator, "GET", "/custom-models")
    assert status == 403 and b"Missing Authentication Token" in body
    assert s3.get_object(Bucket="unsigned", Key="keep")["Body"].read() == b"precious"


@pytest.mark.parametrize("version", ["s3v4", None])  # None: boto3's default, SigV2 query auth
def test_presigned_urls_work_until_they_expire(emulator: Any, version: str | None) -> None:
    from botocore.config import Config

    s3 = emulator.client("s3", config=Config(signature_version=version))
    s3.create_bucket(Bucket="presigned")
    s3.put_object(Bucket="presigned", Key="k", Body=b"shared")
    params = {"Bucket": "presigned", "Key": "k"}
    url = s3.generate_presigned_url("get_object", Params=params, ExpiresIn=1)
    assert ("X-Amz-Signature" in url) == (version == "s3v4")
    with urllib.request.urlopen(url, timeout=30) as response:
        assert response.read() == b"shared"
    tampered = url.replace("/presigned/k", "/presigned/other")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(tampered, timeout=30)
    assert b"SignatureDoesNotMatch" in caught.value.read()
    time.sleep(2.1)  # past the URL's one-second lifetime (its time has whole seconds)
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(url, timeout=30)
    assert caught.value.code == 403
    assert b"Request has expired" in caught.value.read()


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


class StreamingSigV4(S3SigV4Auth):  # type: ignore[misc]
    """botocore's S3 signer, declaring a signed aws-chunked payload."""

    def payload(self, request: Any) -> str:
        return "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"


def put_signed_chunks(
    emulator: Any, key: str, chunks: list[bytes], tamper: bool = False
) -> tuple[int, bytes]:
    """PUT an object as aws-chunked with a signature on every chunk, chained from the seed."""
    url = f"{emulator.endpoint_url}/chunks/{key}"
    decoded = b"".join(chunks)
    headers = {
        "Content-Encoding": "aws-chunked",
        "X-Amz-Decoded-Content-Length": str(len(decoded)),
    }
    request = AWSRequest(method="PUT", url=url, headers=headers)
    StreamingSigV4(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    seed = request.headers["Authorization"].rsplit("Signature=", 1)[1]
    stamp = request.context["timestamp"]
    scope = f"{stamp[:8]}/us-east-1/s3/aws4_request"
    key_bytes = signing_key("test", stamp[:8], "us-east-1", "s3")
    body, previous = b"", seed
    for chunk in [*chunks, b""]:
        to_sign = "\n".join(
            [
                "AWS4-HMAC-SHA256-PAYLOAD",
                stamp,
                scope,
                previous,
                EMPTY,
                hashlib.sha256(chunk).hexdigest(),
            ]
        )
        previous = hmac.new(key_bytes, to_sign.encode(), hashlib.sha256).hexdigest()
        sent = chunk.replace(b"a", b"b") if tamper else chunk
        body += f"{len(sent):x};chunk-signature={previous}\r\n".encode() + sent + b"\r\n"
    prepared = urllib.request.Request(url, data=body, method="PUT", headers=dict(request.headers))
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_signed_chunks_are_verified_one_by_one(emulator: Any) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="chunks")
    status, answer = put_signed_chunks(emulator, "good", [b"a" * 70_000, b"tail"])
    assert status == 200, answer
    assert s3.get_object(Bucket="chunks", Key="good")["Body"].read() == b"a" * 70_000 + b"tail"
    status, answer = put_signed_chunks(emulator, "bad", [b"a" * 10, b"tail"], tamper=True)
    assert status == 403 and b"SignatureDoesNotMatch" in answer
    assert "Contents" not in s3.list_objects_v2(Bucket="chunks", Prefix="bad")


def test_a_body_that_is_not_the_one_signed_is_refused(emulator: Any) -> None:
    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="swapped")
    url = f"{emulator.endpoint_url}/swapped/k"
    request = AWSRequest(method="PUT", url=url, data=b"what was signed")
    S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(
        url, data=b"what was sent!!", method="PUT", headers=dict(request.headers)
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(prepared, timeout=30)
    assert caught.value.code == 400
    assert b"XAmzContentSHA256Mismatch" in caught.value.read()
    assert "Contents" not in s3.list_objects_v2(Bucket="swapped")


def test_a_request_signed_long_ago_is_refused(emulator: Any) -> None:
    url = f"{emulator.endpoint_url}/"
    request = AWSRequest(method="GET", url=url)
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    signer = S3SigV4Auth(Credentials("test", "test"), "s3", "us-east-1")
    request.context["timestamp"] = old.strftime("%Y%m%dT%H%M%SZ")
    signer._modify_request_before_signing = lambda r: None
    request.headers["X-Amz-Date"] = request.context["timestamp"]
    request.headers["X-Amz-Content-SHA256"] = EMPTY
    request.headers["Host"] = url.removeprefix("http://").rstrip("/")
    signature = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    signed = signer.signed_headers(signer.headers_to_sign(request))
    request.headers["Authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=test/{old:%Y%m%d}/us-east-1/s3/aws4_request, "
        f"SignedHeaders={signed}, Signature={signature}"
    )
    prepared = urllib.request.Request(url, headers=dict(request.headers))
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(prepared, timeout=30)
    assert b"RequestTimeTooSkewed" in caught.value.read()


def test_strict_credentials_refuse_other_keys_naming_the_one_accepted(tmp_path: Any) -> None:
    with nova_ft.LocalEmulator(tmp_path / "strict", strict_credentials=True) as strict:
        trust = json.dumps(TRUST_BEDROCK)
        strict.client("iam").create_role(RoleName="probe", AssumeRolePolicyDocument=trust)
        for call in calls(strict, "test", "test").values():
            call()
        refused: dict[str, str] = {}
        for name, call in calls(strict, "AKIAIOSFODNN7EXAMPLE", "secret").items():
            with pytest.raises(ClientError) as caught:
                call()
            error = caught.value.response["Error"]
            assert 'accepts the access key id "test"' in error["Message"], error
            refused[name] = error["Code"]
        assert refused == {
            "s3": "InvalidAccessKeyId",
            "iam": "InvalidClientTokenId",
            "sts": "InvalidClientTokenId",
            "bedrock": "UnrecognizedClientException",
        }
        # Presigned URLs: the known key's work, another key's are refused.
        s3 = strict.client("s3")
        s3.create_bucket(Bucket="strict")
        s3.put_object(Bucket="strict", Key="k", Body=b"v")
        url = s3.generate_presigned_url("get_object", Params={"Bucket": "strict", "Key": "k"})
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == b"v"
        other = client(strict, "s3", "AKIAIOSFODNN7EXAMPLE", "secret")
        url = other.generate_presigned_url("get_object", Params={"Bucket": "strict", "Key": "k"})
        with pytest.raises(urllib.error.HTTPError) as refused_url:
            urllib.request.urlopen(url, timeout=30)
        assert b"InvalidAccessKeyId" in refused_url.value.read()


def test_another_keys_presigned_urls_and_the_aws_cli_work_by_default(
    emulator: Any, tmp_path: Any
) -> None:
    import os
    import subprocess
    import sys

    from botocore.config import Config

    s3 = emulator.client("s3")
    s3.create_bucket(Bucket="lenient")
    s3.put_object(Bucket="lenient", Key="k", Body=b"v")
    for version in ("s3v4", None):  # None: boto3's default for presigning, SigV2
        other = boto3.client(
            "s3",
            endpoint_url=emulator.endpoint_url,
            region_name="us-east-1",
            aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
            aws_secret_access_key="their-secret",
            config=Config(signature_version=version),
        )
        url = other.generate_presigned_url("get_object", Params={"Bucket": "lenient", "Key": "k"})
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == b"v"
    pytest.importorskip("awscli")
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": emulator.endpoint_url,
        "AWS_ACCESS_KEY_ID": "AKIAIOSFODNN7EXAMPLE",
        "AWS_SECRET_ACCESS_KEY": "their-secret",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    done = subprocess.run(
        [sys.executable, "-m", "awscli", "sts", "get-caller-identity"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["Account"] == "123456789012"


def test_verification_can_be_turned_off_and_credentials_chosen(tmp_path: Any) -> None:
    with nova_ft.LocalEmulator(tmp_path / "open", verify_signatures=False) as open_emu:
        status, _ = unsigned(open_emu, "GET", "/")
        assert status == 200
        calls(open_emu, "anyone", "anything")["sts"]()
    with nova_ft.LocalEmulator(
        tmp_path / "own", access_key_id="AKIDLOCAL", secret_access_key="s3cret"
    ) as own:
        assert own.env["AWS_ACCESS_KEY_ID"] == "AKIDLOCAL"
        own.client("sts").get_caller_identity()
        # Its own key with another secret is refused; another key is accepted.
        assert error_code(calls(own, "AKIDLOCAL", "test")["sts"]) == "SignatureDoesNotMatch"
        calls(own, "test", "test")["sts"]()
        with nova_ft.Session.local(tmp_path / "session") as session:
            assert session.account_id == "123456789012"


def test_the_account_id_is_chosen_and_checked(tmp_path: Any) -> None:
    with nova_ft.LocalEmulator(tmp_path / "acct", account_id="111122223333") as emu:
        assert emu.client("sts").get_caller_identity()["Account"] == "111122223333"
        role = emu.client("iam").create_role(
            RoleName="r", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
        )
        assert role["Role"]["Arn"] == "arn:aws:iam::111122223333:role/r"
    with pytest.raises(nova_ft.InvalidParameterError, match="12 digits"):
        nova_ft.LocalEmulator(tmp_path / "bad", account_id="12345")

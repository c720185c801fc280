"""The emulator against input a hostile or careless client sends: each case was reproduced
against an earlier build (a panic, broken XML, data deleted or overwritten, a second process
taking over a data directory) and must now be refused the way S3 refuses it, losing nothing."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nova_ft

botocore = pytest.importorskip("botocore")
from botocore.auth import S3SigV4Auth, SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402


def raw_s3(
    emulator: Any,
    method: str,
    path: str,
    body: bytes = b"",
    region: str = "us-east-1",
    service: str = "s3",
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    """A signed request with exactly these bytes (no SDK to tidy the path or the body)."""
    url = emulator.endpoint_url + path
    request = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    signer = S3SigV4Auth if service == "s3" else SigV4Auth
    signer(Credentials("test", "test"), service, region).add_auth(request)
    prepared = urllib.request.Request(
        url, data=body or None, method=method, headers=dict(request.headers)
    )
    try:
        with urllib.request.urlopen(prepared, timeout=30) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.fixture
def s3(aws: Callable[[str], Any]) -> Any:
    return aws("s3")


def test_a_location_constraint_must_be_a_region(s3: Any, emulator: Any) -> None:
    from botocore.exceptions import ClientError

    for bad in ("us-east-1\x01", "</BucketRegion><x>", "mars-north-1"):
        with pytest.raises(ClientError) as caught:
            s3.create_bucket(
                Bucket="hostile-region", CreateBucketConfiguration={"LocationConstraint": bad}
            )
        assert caught.value.response["Error"]["Code"] == "InvalidLocationConstraint"
    # The SigV4 scope's region is checked too: it would become the bucket's region.
    status, body = raw_s3(emulator, "PUT", "/hostile-scope", region="us-east-1<x>&")
    assert status == 400 and b"InvalidLocationConstraint" in body
    s3.create_bucket(Bucket="good-region", CreateBucketConfiguration={"LocationConstraint": "EU"})
    assert s3.get_bucket_location(Bucket="good-region")["LocationConstraint"] == "EU"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "good-region" in names and "hostile-region" not in names


def test_s3_naming_rules_are_applied(s3: Any) -> None:
    from botocore.exceptions import ClientError

    for bad in ("192.168.5.4", "xn--abc", "abc-s3alias", "sthree-abc", "abc--ol-s3"):
        with pytest.raises(ClientError) as caught:
            s3.create_bucket(Bucket=bad)
        assert caught.value.response["Error"]["Code"] == "InvalidBucketName", bad


def test_truncated_or_foreign_xml_bodies_change_nothing(s3: Any, emulator: Any) -> None:
    s3.create_bucket(Bucket="hostile-xml")
    s3.put_object(Bucket="hostile-xml", Key="keep", Body=b"precious")
    for body in (
        b"<Delete><Object><Key>keep</Key>",  # unclosed
        b"",  # empty
        b"<Other><Object><Key>keep</Key></Object></Other>",  # another root
        b"<Delete><Object><Key>keep</Key></Object></Delete><Delete/>",  # two roots
        b"<Delete><Object><Key>keep</Key></Wrong></Delete>",  # unbalanced
    ):
        status, answer = raw_s3(emulator, "POST", "/hostile-xml?delete", body)
        assert status == 400 and b"<Code>MalformedXML</Code>" in answer, body
    assert s3.get_object(Bucket="hostile-xml", Key="keep")["Body"].read() == b"precious"
    upload = s3.create_multipart_upload(Bucket="hostile-xml", Key="big")["UploadId"]
    part = s3.upload_part(Bucket="hostile-xml", Key="big", UploadId=upload, PartNumber=1, Body=b"x")
    unclosed = f"<CompleteMultipartUpload><Part><ETag>{part['ETag']}</ETag>"
    unclosed += "<PartNumber>1</PartNumber></Part>"
    status, answer = raw_s3(
        emulator, "POST", f"/hostile-xml/big?uploadId={upload}", unclosed.encode()
    )
    assert status == 400 and b"MalformedXML" in answer
    listed = s3.list_objects_v2(Bucket="hostile-xml")
    assert [o["Key"] for o in listed["Contents"]] == ["keep"]


def test_keys_that_are_not_utf8_are_refused_not_merged(s3: Any, emulator: Any) -> None:
    s3.create_bucket(Bucket="hostile-keys")
    for key in ("%FF", "%FE", "a%C3"):
        status, answer = raw_s3(emulator, "PUT", f"/hostile-keys/{key}", b"data")
        assert status == 400 and b"InvalidURI" in answer, key
    assert s3.list_objects_v2(Bucket="hostile-keys")["KeyCount"] == 0
    # Valid UTF-8, percent-encoded, still works.
    status, _ = raw_s3(emulator, "PUT", "/hostile-keys/caf%C3%A9", b"data")
    assert status == 200
    assert s3.get_object(Bucket="hostile-keys", Key="café")["Body"].read() == b"data"


def test_a_second_emulator_cannot_take_a_data_directory_in_use(tmp_path: Path) -> None:
    with nova_ft.LocalEmulator(tmp_path) as first:
        with pytest.raises(nova_ft.EmulatorError, match=f"process {os.getpid()}"):
            nova_ft.LocalEmulator(tmp_path)
        assert first.running
    # Stopped, the directory is free again, and nothing of the first one's was lost.
    with nova_ft.LocalEmulator(tmp_path) as again:
        assert again.running


def test_leftovers_of_a_crash_are_removed_at_start(tmp_path: Path) -> None:
    with nova_ft.LocalEmulator(tmp_path) as emu:
        s3 = emu.client("s3")
        s3.create_bucket(Bucket="leftovers")
        s3.put_object(Bucket="leftovers", Key="kept", Body=b"kept")
        upload = s3.create_multipart_upload(Bucket="leftovers", Key="open")["UploadId"]
        s3.upload_part(Bucket="leftovers", Key="open", UploadId=upload, PartNumber=1, Body=b"p")
    blobs = tmp_path / "objects"
    live = set(os.listdir(blobs))
    assert len(live) == 2  # the object and the open upload's part
    (blobs / "half-written.tmp").write_bytes(b"x")
    (tmp_path / ".tmpstate.tmp").write_bytes(b"x")
    (blobs / "orphan").write_bytes(b"no object refers to this")
    with nova_ft.LocalEmulator(tmp_path) as emu:
        assert set(os.listdir(blobs)) == live
        assert not (tmp_path / ".tmpstate.tmp").exists()
        s3 = emu.client("s3")
        assert s3.get_object(Bucket="leftovers", Key="kept")["Body"].read() == b"kept"
        # Deleting a bucket with an open upload removes the upload's parts too.
        s3.delete_object(Bucket="leftovers", Key="kept")
        s3.delete_bucket(Bucket="leftovers")
        assert os.listdir(blobs) == []


def _stall_an_upload(endpoint: str) -> Any:
    """A client that sends a PUT's headers and half its body, then goes quiet."""
    import socket

    host, port = endpoint.removeprefix("http://").split(":")
    stalled = socket.create_connection((host, int(port)))
    stalled.sendall(
        b"PUT /stalled/key HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, "
        b"SignedHeaders=host, Signature=0\r\nContent-Length: 1000000\r\n\r\n" + b"x" * 1000
    )
    return stalled


def test_stopping_does_not_wait_for_a_stalled_client(tmp_path: Path) -> None:
    emulator = nova_ft.LocalEmulator(tmp_path)
    emulator.client("s3").create_bucket(Bucket="stalled")
    stalled = _stall_an_upload(emulator.endpoint_url)
    try:
        emulator.stop()  # returns: the grace period ends and the connection is closed
        assert not emulator.running
        # Nothing half-sent was stored, and the directory is free for the next emulator.
        with nova_ft.LocalEmulator(tmp_path) as again:
            assert again.client("s3").list_objects_v2(Bucket="stalled")["KeyCount"] == 0
    finally:
        stalled.close()


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
def test_serve_stops_on_sigint_with_a_stalled_client_even_if_started_ignoring_it(
    tmp_path: Path,
) -> None:
    import signal
    import subprocess
    import sys

    # A background job of a non-interactive shell starts with SIGINT ignored.
    script = (
        "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_IGN); "
        "from nova_ft.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    command = [sys.executable, "-c", script, "emulator", "serve", "--port", "0"]
    command += ["--data-dir", str(tmp_path)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stalled = None
    try:
        assert proc.stdout is not None
        endpoint = proc.stdout.readline().split()[4]
        stalled = _stall_an_upload(endpoint)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if stalled is not None:
            stalled.close()
        proc.kill()
        proc.communicate()


def test_control_plane_requests_are_bounded_and_only_modelled_fields_kept(
    aws: Callable[[str], Any], emulator: Any
) -> None:
    import json

    from test_emulator_bedrock import job_request, make_role, setup_data

    setup_data(aws, "bounded-data")
    role = make_role(aws, "bounded-role", "bounded-data", ["training-data", "validation-data"])

    def stored_job(arn: str) -> str:
        import sqlite3

        db = sqlite3.connect(Path(emulator.data_dir) / "emulator.db")
        try:
            (value,) = db.execute(
                "SELECT value FROM records WHERE kind = 'job' AND id = ?", (arn,)
            ).fetchone()
        finally:
            db.close()
        return str(value)

    def create(request: dict[str, Any]) -> tuple[int, bytes]:
        body = json.dumps(request).encode()
        headers = {"content-type": "application/json"}
        return raw_s3(
            emulator, "POST", "/model-customization-jobs", body, service="bedrock", headers=headers
        )

    # 2 MB announced: refused from the Content-Length, before the body is read.
    answer = refused_by_length(emulator, "POST", "/model-customization-jobs", "bedrock", 2 << 20)
    assert b"ValidationException" in answer
    padded = job_request(
        "bounded-data",
        role,
        "padded",
        unknownMember="x" * 500_000,
        customizationType="DISTILLATION",
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                    "maxResponseLengthForInference": 1000,
                    "smuggled": "y" * 300_000,
                },
                "alsoSmuggled": "z" * 100_000,
            }
        },
    )
    status, answer = create(padded)
    assert status == 201, answer
    arn = json.loads(answer)["jobArn"]
    job = aws("bedrock").get_model_customization_job(jobIdentifier=arn)
    assert job["customizationConfig"] == {
        "distillationConfig": {
            "teacherModelConfig": {
                "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                "maxResponseLengthForInference": 1000,
            }
        }
    }
    assert len(stored_job(arn)) < 20_000  # the job, not the padding


def refused_by_length(emulator: Any, method: str, path: str, service: str, length: int) -> bytes:
    """Announce a body of `length` bytes, send none of it, and return the answer (if any)."""
    import socket

    host, port = emulator.endpoint_url.removeprefix("http://").split(":")
    scope = f"t/20260101/us-east-1/{service}/aws4_request"
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(
            f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, "
            f"Signature=0\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        answer = client.recv(65536)
    assert answer.startswith(b"HTTP/1.1 400"), answer
    return answer


def test_an_object_over_the_limit_is_refused_before_its_body_is_read(emulator: Any) -> None:
    answer = refused_by_length(emulator, "PUT", "/anything/huge", "s3", 6_000_000_000)
    assert b"EntityTooLarge" in answer


def _send(emulator: Any, request: bytes) -> bytes:
    import socket

    host, port = emulator.endpoint_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as client:
        client.sendall(request)
        return client.recv(65536)


def test_web_pages_and_rebound_host_names_cannot_drive_it(s3: Any, emulator: Any) -> None:
    s3.create_bucket(Bucket="browser")
    s3.put_object(Bucket="browser", Key="keep", Body=b"precious")
    scope = b"Authorization: AWS4-HMAC-SHA256 Credential=t/20260101/us-east-1/s3/aws4_request, "
    scope += b"SignedHeaders=host, Signature=0\r\n"
    # A cross-origin "simple" request from a page (no preflight): refused, nothing deleted.
    body = b"<Delete><Object><Key>keep</Key></Object></Delete>"
    page = b"POST /browser?delete HTTP/1.1\r\nHost: 127.0.0.1\r\nOrigin: https://evil.example\r\n"
    page += b"Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    answer = _send(emulator, page)
    assert answer.startswith(b"HTTP/1.1 403") and b"AccessDenied" in answer
    # DNS rebinding: a page's own host name resolved to 127.0.0.1.
    rebound = b"DELETE /browser/keep HTTP/1.1\r\nHost: evil.example:4566\r\n" + scope + b"\r\n"
    assert _send(emulator, rebound).startswith(b"HTTP/1.1 403")
    # A CORS preflight: S3 has no rule for it.
    preflight = b"OPTIONS /browser/keep HTTP/1.1\r\nHost: localhost\r\n"
    preflight += b"Origin: https://evil.example\r\nAccess-Control-Request-Method: DELETE\r\n\r\n"
    assert b"AccessForbidden" in _send(emulator, preflight)
    assert s3.get_object(Bucket="browser", Key="keep")["Body"].read() == b"precious"
    # A local page with a presigned URL still works.
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "browser", "Key": "keep"})
    host, path = url.removeprefix("http://").split("/", 1)
    local = f"GET /{path} HTTP/1.1\r\nHost: {host}\r\nOrigin: http://127.0.0.1:8888\r\n\r\n"
    assert _send(emulator, local.encode()).startswith(b"HTTP/1.1 200")


def test_listening_beyond_loopback_needs_an_explicit_yes(tmp_path: Path) -> None:
    with pytest.raises(nova_ft.InvalidParameterError, match="allow_remote"):
        nova_ft.LocalEmulator(tmp_path, host="0.0.0.0")

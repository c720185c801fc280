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
from botocore.auth import SigV4Auth  # noqa: E402
from botocore.awsrequest import AWSRequest  # noqa: E402
from botocore.credentials import Credentials  # noqa: E402


def raw_s3(
    emulator: Any, method: str, path: str, body: bytes = b"", region: str = "us-east-1"
) -> tuple[int, bytes]:
    """A signed S3 request with exactly these bytes (no SDK to tidy the path or the body)."""
    url = emulator.endpoint_url + path
    request = AWSRequest(method=method, url=url, data=body)
    SigV4Auth(Credentials("test", "test"), "s3", region).add_auth(request)
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

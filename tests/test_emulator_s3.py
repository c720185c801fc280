"""S3 of the emulator, through unmodified boto3 and the AWS CLI."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import nova_ft


@pytest.fixture
def s3(aws: Callable[[str], Any]) -> Any:
    return aws("s3")


def test_tutorial_bucket_setup(s3: Any) -> None:
    s3.create_bucket(Bucket="sl-nova-ft-123456789012")
    s3.create_bucket(Bucket="sl-nova-ft-123456789012")  # us-east-1: creating again is fine
    s3.head_bucket(Bucket="sl-nova-ft-123456789012")
    flags = {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    s3.put_public_access_block(
        Bucket="sl-nova-ft-123456789012", PublicAccessBlockConfiguration=flags
    )
    got = s3.get_public_access_block(Bucket="sl-nova-ft-123456789012")
    assert got["PublicAccessBlockConfiguration"] == flags
    default = s3.get_bucket_encryption(Bucket="sl-nova-ft-123456789012")
    rule = default["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    s3.put_bucket_encryption(
        Bucket="sl-nova-ft-123456789012",
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    rule = s3.get_bucket_encryption(Bucket="sl-nova-ft-123456789012")[
        "ServerSideEncryptionConfiguration"
    ]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "sl-nova-ft-123456789012" in names


def test_bucket_errors(s3: Any) -> None:
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.head_bucket(Bucket="no-such-bucket-here")
    assert caught.value.response["Error"]["Code"] == "404"
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="no-such-bucket-here")
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.create_bucket(Bucket="Bad_Name")
    assert caught.value.response["Error"]["Code"] == "InvalidBucketName"
    s3.create_bucket(Bucket="no-public-access-block")
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.get_public_access_block(Bucket="no-public-access-block")
    assert caught.value.response["Error"]["Code"] == "NoSuchPublicAccessBlockConfiguration"
    s3.put_object(Bucket="no-public-access-block", Key="k", Body=b"x")
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.delete_bucket(Bucket="no-public-access-block")
    assert caught.value.response["Error"]["Code"] == "BucketNotEmpty"


def test_objects_round_trip_with_checksums_and_ranges(s3: Any, tmp_path: Path) -> None:
    s3.create_bucket(Bucket="objects")
    data = nova_ft.Dataset.synthetic().jsonl("train")
    path = tmp_path / "train.jsonl"
    path.write_bytes(data)
    s3.upload_file(str(path), "objects", "training-data/train.jsonl")
    head = s3.head_object(Bucket="objects", Key="training-data/train.jsonl")
    assert head["ContentLength"] == len(data)
    assert head["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket="objects", Key="training-data/train.jsonl", ChecksumMode="ENABLED")
    assert got["Body"].read() == data
    part = s3.get_object(Bucket="objects", Key="training-data/train.jsonl", Range="bytes=0-15")
    assert part["Body"].read() == data[:16]
    assert part["ContentRange"] == f"bytes 0-15/{len(data)}"
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket="objects", Key="training-data/missing.jsonl")
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.put_object(Bucket="objects", Key="k", Body=b"abc", ContentMD5="AAAAAAAAAAAAAAAAAAAAAA==")
    assert caught.value.response["Error"]["Code"] == "BadDigest"
    s3.delete_object(Bucket="objects", Key="training-data/train.jsonl")
    s3.delete_object(Bucket="objects", Key="training-data/train.jsonl")  # idempotent


def test_listing_with_prefix_delimiter_pagination_and_odd_keys(s3: Any) -> None:
    s3.create_bucket(Bucket="listing")
    keys = [f"data/part-{i:03d}.jsonl" for i in range(25)] + [
        "data/sub/x.jsonl",
        "top.txt",
        "a b+c&d.txt",
    ]
    for key in keys:
        s3.put_object(Bucket="listing", Key=key, Body=key.encode())
    paginator = s3.get_paginator("list_objects_v2")
    pages = list(
        paginator.paginate(Bucket="listing", Prefix="data/", PaginationConfig={"PageSize": 10})
    )
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert listed == sorted(k for k in keys if k.startswith("data/"))
    assert len(pages) == 3
    top = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["data/"]
    assert sorted(o["Key"] for o in top["Contents"]) == ["a b+c&d.txt", "top.txt"]
    nested = s3.list_objects_v2(Bucket="listing", Prefix="data/", Delimiter="/")
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["data/sub/"]
    deleted = s3.delete_objects(Bucket="listing", Delete={"Objects": [{"Key": k} for k in keys]})
    assert len(deleted["Deleted"]) == len(keys)
    assert s3.list_objects_v2(Bucket="listing")["KeyCount"] == 0
    s3.delete_bucket(Bucket="listing")


def test_multipart_upload_through_the_transfer_manager(s3: Any, tmp_path: Path) -> None:
    boto3 = pytest.importorskip("boto3")
    s3.create_bucket(Bucket="multipart")
    data = os.urandom(12 * 1024 * 1024)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024
    )
    s3.upload_file(str(path), "multipart", "big.bin", Config=config)
    head = s3.head_object(Bucket="multipart", Key="big.bin")
    assert head["ContentLength"] == len(data)
    assert head["ETag"].endswith('-3"')
    assert s3.get_object(Bucket="multipart", Key="big.bin")["Body"].read() == data
    upload = s3.create_multipart_upload(Bucket="multipart", Key="aborted")["UploadId"]
    s3.upload_part(Bucket="multipart", Key="aborted", UploadId=upload, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="multipart", Key="aborted", UploadId=upload)
    with pytest.raises(s3.exceptions.NoSuchUpload):
        s3.abort_multipart_upload(Bucket="multipart", Key="aborted", UploadId=upload)
    small = s3.create_multipart_upload(Bucket="multipart", Key="small")["UploadId"]
    etags = [
        s3.upload_part(Bucket="multipart", Key="small", UploadId=small, PartNumber=n, Body=b"tiny")[
            "ETag"
        ]
        for n in (1, 2)
    ]
    with pytest.raises(s3.exceptions.ClientError) as caught:
        s3.complete_multipart_upload(
            Bucket="multipart",
            Key="small",
            UploadId=small,
            MultipartUpload={
                "Parts": [{"ETag": e, "PartNumber": n} for n, e in zip((1, 2), etags, strict=True)]
            },
        )
    assert caught.value.response["Error"]["Code"] == "EntityTooSmall"


def test_keys_cannot_escape_the_data_directory(s3: Any, emulator: nova_ft.LocalEmulator) -> None:
    s3.create_bucket(Bucket="escape")
    key = "../../../../tmp/nova-ft-escape-test"
    s3.put_object(Bucket="escape", Key=key, Body=b"contained")
    assert not Path("/tmp/nova-ft-escape-test").exists()
    assert s3.get_object(Bucket="escape", Key=key)["Body"].read() == b"contained"
    stored = [p for p in emulator.data_dir.rglob("*") if p.is_file()]
    assert all(p.resolve().is_relative_to(emulator.data_dir.resolve()) for p in stored)


def test_aws_cli_copies_and_lists(emulator: nova_ft.LocalEmulator, tmp_path: Path) -> None:
    env = {**os.environ, **emulator.env}
    source = tmp_path / "valid.jsonl"
    source.write_bytes(nova_ft.Dataset.synthetic(7, 10, 0).jsonl("train"))

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "awscli", *args],
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    cli("s3", "mb", "s3://cli-bucket")
    cli("s3", "cp", str(source), "s3://cli-bucket/validation-data/valid.jsonl")
    assert "valid.jsonl" in cli("s3", "ls", "s3://cli-bucket/validation-data/")
    back = tmp_path / "back.jsonl"
    cli("s3", "cp", "s3://cli-bucket/validation-data/valid.jsonl", str(back))
    assert back.read_bytes() == source.read_bytes()
    listed = json.loads(cli("s3api", "list-objects-v2", "--bucket", "cli-bucket"))
    assert [o["Key"] for o in listed["Contents"]] == ["validation-data/valid.jsonl"]


def test_what_a_response_echoes_is_escaped(s3: Any) -> None:
    s3.create_bucket(Bucket="echo-bucket")
    key = "a&b/<c> \"d\" 'e'"
    s3.put_object(Bucket="echo-bucket", Key=key, Body=b"x")
    listed = s3.list_objects_v2(Bucket="echo-bucket", Prefix="a&b/<")
    assert [o["Key"] for o in listed["Contents"]] == [key]
    assert listed["Prefix"] == "a&b/<"
    deleted = s3.delete_objects(Bucket="echo-bucket", Delete={"Objects": [{"Key": key}]})
    assert [d["Key"] for d in deleted["Deleted"]] == [key]
    s3.put_bucket_encryption(
        Bucket="echo-bucket",
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "arn:aws:kms:us-east-1:123456789012:key/<k&>",
                    },
                    "BucketKeyEnabled": True,
                }
            ]
        },
    )
    rule = s3.get_bucket_encryption(Bucket="echo-bucket")["ServerSideEncryptionConfiguration"][
        "Rules"
    ][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": "arn:aws:kms:us-east-1:123456789012:key/<k&>",
    }
    assert rule["BucketKeyEnabled"] is True


def test_cleanup_calls_list_v1_versions_versioning_and_copy(aws: Callable[[str], Any]) -> None:
    """The S3 calls cleanup code makes (#15 item 5), answered as S3 answers an unversioned
    bucket: ListObjects v1 with markers, ListObjectVersions with version id null,
    Get/PutBucketVersioning, CopyObject; boto3's object_versions.all().delete() empties it."""
    import boto3
    from botocore.exceptions import ClientError

    s3 = aws("s3")
    s3.create_bucket(Bucket="cleanup-calls")
    for key in ("a/1.jsonl", "a/2.jsonl", "b.txt"):
        s3.put_object(Bucket="cleanup-calls", Key=key, Body=key.encode(), ContentType="text/plain")
    first = s3.list_objects(Bucket="cleanup-calls", MaxKeys=2)
    assert first["IsTruncated"] and [o["Key"] for o in first["Contents"]] == [
        "a/1.jsonl",
        "a/2.jsonl",
    ]
    paged = s3.get_paginator("list_objects").paginate(
        Bucket="cleanup-calls", PaginationConfig={"PageSize": 1}
    )
    assert [o["Key"] for p in paged for o in p.get("Contents", [])] == [
        "a/1.jsonl",
        "a/2.jsonl",
        "b.txt",
    ]
    grouped = s3.list_objects(Bucket="cleanup-calls", Delimiter="/", MaxKeys=1)
    assert grouped["CommonPrefixes"] == [{"Prefix": "a/"}] and grouped["NextMarker"] == "a/2.jsonl"

    versions = s3.list_object_versions(Bucket="cleanup-calls")["Versions"]
    assert [(v["Key"], v["VersionId"], v["IsLatest"]) for v in versions] == [
        ("a/1.jsonl", "null", True),
        ("a/2.jsonl", "null", True),
        ("b.txt", "null", True),
    ]
    assert "Status" not in s3.get_bucket_versioning(Bucket="cleanup-calls")
    s3.put_bucket_versioning(
        Bucket="cleanup-calls", VersioningConfiguration={"Status": "Suspended"}
    )
    assert s3.get_bucket_versioning(Bucket="cleanup-calls")["Status"] == "Suspended"
    with pytest.raises(ClientError) as enabled:
        s3.put_bucket_versioning(
            Bucket="cleanup-calls", VersioningConfiguration={"Status": "Enabled"}
        )
    assert enabled.value.response["Error"]["Code"] == "NotImplemented"

    copied = s3.copy_object(Bucket="cleanup-calls", Key="c.txt", CopySource="cleanup-calls/b.txt")
    original = s3.head_object(Bucket="cleanup-calls", Key="b.txt")
    assert copied["CopyObjectResult"]["ETag"] == original["ETag"]
    got = s3.get_object(Bucket="cleanup-calls", Key="c.txt")
    assert got["Body"].read() == b"b.txt" and got["ContentType"] == "text/plain"
    s3.copy_object(
        Bucket="cleanup-calls",
        Key="c.txt",
        CopySource={"Bucket": "cleanup-calls", "Key": "c.txt"},
        MetadataDirective="REPLACE",
        ContentType="application/json",
        Metadata={"stage": "copied"},
    )
    replaced = s3.head_object(Bucket="cleanup-calls", Key="c.txt")
    assert replaced["ContentType"] == "application/json" and replaced["Metadata"] == {
        "stage": "copied"
    }
    for source, code in (
        ("cleanup-calls/c.txt", "InvalidRequest"),
        ("cleanup-calls/none", "NoSuchKey"),
    ):
        with pytest.raises(ClientError) as refused:
            s3.copy_object(Bucket="cleanup-calls", Key="c.txt", CopySource=source)
        assert refused.value.response["Error"]["Code"] == code

    resource = boto3.resource(
        "s3",
        endpoint_url=s3.meta.endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    resource.Bucket("cleanup-calls").object_versions.all().delete()
    assert s3.list_objects_v2(Bucket="cleanup-calls")["KeyCount"] == 0
    s3.delete_bucket(Bucket="cleanup-calls")

"""Batch inference jobs (CreateModelInvocationJob) on the emulator with plain boto3: the
input and output layouts of the Bedrock user guide, states, record counts, stop, IAM, and
bad input refused or recorded as Bedrock does."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import TRUST_BEDROCK

MODEL = "amazon.nova-micro-v1:0"
LABELS = "Answer with one label from this list: billing, refund, shipping_status"
FINAL = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Expired"}


def converse_input(text: str) -> dict[str, Any]:
    return {
        "system": [{"text": LABELS}],
        "messages": [{"role": "user", "content": [{"text": text}]}],
        "inferenceConfig": {"maxTokens": 20, "temperature": 0},
    }


def invoke_input(text: str) -> dict[str, Any]:
    return {"schemaVersion": "messages-v1", **converse_input(text)}


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def records(
    count: int, body: Callable[[str], dict[str, Any]] = converse_input
) -> list[dict[str, Any]]:
    words = ["billing question", "a refund please", "shipping status of my order"]
    return [
        {"recordId": f"R{i:05d}", "modelInput": body(words[i % 3] + f" #{i}")} for i in range(count)
    ]


def role(aws: Callable[[str], Any], name: str, bucket: str, actions: list[str]) -> str:
    iam = aws("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK))[
        "Role"
    ]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": actions,
                "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            }
        ],
    }
    iam.put_role_policy(RoleName=name, PolicyName="batch", PolicyDocument=json.dumps(policy))
    return arn


ALL = ["s3:GetObject", "s3:PutObject", "s3:ListBucket"]


def create(
    aws: Callable[[str], Any], name: str, role_arn: str, input_uri: str, **extra: Any
) -> str:
    arn: str = aws("bedrock").create_model_invocation_job(
        jobName=name,
        roleArn=role_arn,
        modelId=extra.pop("modelId", MODEL),
        inputDataConfig={"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
        outputDataConfig={
            "s3OutputDataConfig": {"s3Uri": extra.pop("output", "s3://batch-data/out/")}
        },
        **extra,
    )["jobArn"]
    return arn


def wait(aws: Callable[[str], Any], arn: str) -> tuple[dict[str, Any], list[str]]:
    """The job once it ends, and every status seen on the way."""
    seen: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = aws("bedrock").get_model_invocation_job(jobIdentifier=arn)
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] in FINAL:
            return job, seen
        time.sleep(0.01)
    raise AssertionError(f"the job did not end: {seen}")


def read_jsonl(aws: Callable[[str], Any], bucket: str, key: str) -> list[dict[str, Any]]:
    body = aws("s3").get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def aws(checked_aws: Any) -> Any:
    """Every answer checked against botocore's model (``conftest.checked_aws``)."""
    return checked_aws


@pytest.fixture(scope="module")
def bucket(emulator: Any) -> str:
    emulator.client("s3").create_bucket(Bucket="batch-data")
    return "batch-data"


def test_converse_records_are_answered_and_counted(aws: Any, bucket: str) -> None:
    rows = records(120)
    rows[7]["modelInput"] = {"messages": "not a list"}  # a record the model cannot read
    del rows[8]["recordId"]  # Bedrock makes one up
    aws("s3").put_object(Bucket=bucket, Key="in/converse.jsonl", Body=jsonl(rows))
    arn = create(
        aws,
        "converse-job",
        role(aws, "batch-converse", bucket, ALL),
        f"s3://{bucket}/in/converse.jsonl",
        modelInvocationType="Converse",
    )
    job, seen = wait(aws, arn)
    assert seen[-1] == "PartiallyCompleted", (seen, job.get("message"))
    order = ["Submitted", "Validating", "Scheduled", "InProgress", "PartiallyCompleted"]
    assert seen == sorted(seen, key=order.index)  # in Bedrock's order, whichever were seen
    assert job["totalRecordCount"] == job["processedRecordCount"] == 120
    assert (job["successRecordCount"], job["errorRecordCount"]) == (119, 1)
    assert "1 of 120 records failed" in job["message"]
    assert job["modelInvocationType"] == "Converse"
    job_id = arn.rsplit("/", 1)[1]
    out = read_jsonl(aws, bucket, f"out/{job_id}/converse.jsonl.out")
    assert len(out) == 120
    by_id = {r["recordId"]: r for r in out}
    assert by_id["R00007"]["error"]["errorCode"] == 400
    assert "modelOutput" not in by_id["R00007"]
    assert len(by_id) == 120  # the missing id was filled in, not dropped
    answered = by_id["R00000"]
    assert answered["modelInput"] == rows[0]["modelInput"]
    output = answered["modelOutput"]
    assert output["output"]["message"]["content"][0]["text"] == "billing"
    assert output["stopReason"] == "end_turn"
    manifest = read_jsonl(aws, bucket, f"out/{job_id}/manifest.json.out")[0]
    assert manifest["totalRecordCount"] == 120
    assert manifest["successRecordCount"] == 119
    assert manifest["errorRecordCount"] == 1
    tokens = sum(r["modelOutput"]["usage"]["inputTokens"] for r in out if "modelOutput" in r)
    assert manifest["inputTokenCount"] == tokens > 0


def test_invoke_model_bodies_from_a_folder_of_files(aws: Any, bucket: str) -> None:
    rows = records(150, invoke_input)
    s3 = aws("s3")
    s3.put_object(Bucket=bucket, Key="folder/a.jsonl", Body=jsonl(rows[:100]))
    s3.put_object(Bucket=bucket, Key="folder/nested/b.jsonl", Body=jsonl(rows[100:]))
    s3.put_object(Bucket=bucket, Key="folder/notes.txt", Body=b"not an input")
    arn = create(
        aws, "folder-job", role(aws, "batch-folder", bucket, ALL), f"s3://{bucket}/folder/"
    )
    job, _ = wait(aws, arn)
    assert job["status"] == "Completed", job.get("message")
    assert "modelInvocationType" not in job  # not sent: InvokeModel bodies
    job_id = arn.rsplit("/", 1)[1]
    a = read_jsonl(aws, bucket, f"out/{job_id}/a.jsonl.out")
    b = read_jsonl(aws, bucket, f"out/{job_id}/nested/b.jsonl.out")
    assert [r["recordId"] for r in a + b] == [r["recordId"] for r in rows]
    assert all("cacheReadInputTokenCount" in r["modelOutput"]["usage"] for r in a)


def test_too_few_and_malformed_records_fail_validation(aws: Any, bucket: str) -> None:
    s3 = aws("s3")
    arn_role = role(aws, "batch-bad", bucket, ALL)
    s3.put_object(Bucket=bucket, Key="few/in.jsonl", Body=jsonl(records(99)))
    job, seen = wait(aws, create(aws, "too-few", arn_role, f"s3://{bucket}/few/in.jsonl"))
    assert seen[-1] == "Failed" and "InProgress" not in seen
    assert "99 records" in job["message"] and "at least 100" in job["message"]
    lines = jsonl(records(150)).decode().splitlines()
    lines[41] = '{"recordId": "broken", "modelInput": '
    s3.put_object(Bucket=bucket, Key="bad/in.jsonl", Body="\n".join(lines).encode())
    job, _ = wait(aws, create(aws, "malformed", arn_role, f"s3://{bucket}/bad/in.jsonl"))
    assert job["status"] == "Failed"
    assert "bad/in.jsonl line 42" in job["message"]
    job, _ = wait(aws, create(aws, "no-input", arn_role, f"s3://{bucket}/nothing-here/"))
    assert job["status"] == "Failed" and "No input" in job["message"]


def test_the_role_is_evaluated(aws: Any, bucket: str) -> None:
    aws("s3").put_object(Bucket=bucket, Key="iam/in.jsonl", Body=jsonl(records(100)))
    read_only = role(aws, "batch-read-only", bucket, ["s3:GetObject", "s3:ListBucket"])
    job, _ = wait(aws, create(aws, "cannot-write", read_only, f"s3://{bucket}/iam/in.jsonl"))
    assert job["status"] == "Failed"
    assert "s3:PutObject" in job["message"]
    iam = aws("iam")
    untrusting = iam.create_role(
        RoleName="batch-untrusting",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]["Arn"]
    with pytest.raises(ClientError) as refused:
        create(aws, "untrusted", untrusting, f"s3://{bucket}/iam/in.jsonl")
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"


def test_create_refuses_what_bedrock_refuses(aws: Any, bucket: str) -> None:
    arn_role = role(aws, "batch-refusals", bucket, ALL)
    uri = f"s3://{bucket}/iam/in.jsonl"
    cases = [
        {
            "modelId": "arn:aws:bedrock:us-east-1:123456789012:custom-model/"
            "amazon.nova-micro-v1:0:128k/abcdefghijkl"
        },
        {"modelId": "no.such-model-v1:0"},
        {"modelInvocationType": "Chat"},
    ]
    for i, extra in enumerate(cases):
        with pytest.raises(ClientError) as refused:
            create(aws, f"refused-{i}", arn_role, uri, **extra)
        assert refused.value.response["Error"]["Code"] == "ValidationException", extra
    first = create(aws, "once", arn_role, uri, clientRequestToken="token-1")
    assert create(aws, "once", arn_role, uri, clientRequestToken="token-1") == first
    with pytest.raises(ClientError) as conflict:
        create(aws, "once", arn_role, uri)
    assert conflict.value.response["Error"]["Code"] == "ConflictException"
    with pytest.raises(ClientError) as missing:
        aws("bedrock").get_model_invocation_job(jobIdentifier="abcdefghijkl")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_list_filters_and_pages(aws: Any, bucket: str) -> None:
    aws("s3").put_object(Bucket=bucket, Key="list/in.jsonl", Body=jsonl(records(100)))
    arn_role = role(aws, "batch-list", bucket, ALL)
    arns = [create(aws, f"listed-{i}", arn_role, f"s3://{bucket}/list/in.jsonl") for i in range(3)]
    for arn in arns:
        wait(aws, arn)
    bedrock = aws("bedrock")
    named = bedrock.list_model_invocation_jobs(nameContains="listed-")["invocationJobSummaries"]
    assert [j["jobArn"] for j in named] == arns[::-1]  # newest first
    assert {j["status"] for j in named} == {"Completed"}
    assert all(j["totalRecordCount"] == 100 for j in named)
    page = bedrock.list_model_invocation_jobs(nameContains="listed-", maxResults=2)
    assert len(page["invocationJobSummaries"]) == 2
    rest = bedrock.list_model_invocation_jobs(nameContains="listed-", nextToken=page["nextToken"])
    assert [j["jobArn"] for j in rest["invocationJobSummaries"]] == [arns[0]]
    failed = bedrock.list_model_invocation_jobs(statusEquals="Failed")["invocationJobSummaries"]
    assert all(j["status"] == "Failed" for j in failed)


def test_stop_ends_a_job_and_its_output_says_how_far_it_got(tmp_path: Any) -> None:
    pytest.importorskip("boto3")
    from nova_ft import LocalEmulator

    with LocalEmulator(job_step_delay=2.0, data_dir=tmp_path) as emu:
        emu.client("s3").create_bucket(Bucket="batch-data")
        emu.client("s3").put_object(Bucket="batch-data", Key="in.jsonl", Body=jsonl(records(100)))
        arn = create(
            emu.client,
            "stopped",
            role(emu.client, "r", "batch-data", ALL),
            "s3://batch-data/in.jsonl",
        )
        bedrock = emu.client("bedrock")
        bedrock.stop_model_invocation_job(jobIdentifier=arn)
        assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] in {
            "Stopping",
            "Stopped",
        }
        job, _ = wait(emu.client, arn)
        assert job["status"] == "Stopped"
        with pytest.raises(ClientError) as again:
            bedrock.stop_model_invocation_job(jobIdentifier=arn)
        assert again.value.response["Error"]["Code"] == "ConflictException"


def test_the_conformance_check_sees_what_boto3_forgives(aws: Any) -> None:
    from botocore_shapes import problems

    output = aws("bedrock").meta.service_model.operation_model("GetModelInvocationJob").output_shape
    found = problems(output, {"jobArn": 7, "status": "Done", "totalRecordCount": -1, "extra": 1})
    text = "\n".join(found)
    for expected in (
        "$.jobArn: expected a string",
        "'Done' is not one of",
        "-1 outside 0",
        "$.extra: not a member",
        "$.modelId: required",
    ):
        assert expected in text, text

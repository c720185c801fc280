"""Bedrock and bedrock-runtime of the emulator: the tutorial's steps with plain boto3, and
the failures Bedrock gives for the tutorial's known mistakes."""

from __future__ import annotations

import csv
import io
import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

import nova_ft
from conftest import TRUST_BEDROCK

BASE = "amazon.nova-micro-v1:0:128k"
HYPER = {"epochCount": "3", "learningRate": "0.00001", "learningRateWarmupSteps": "10"}


def scoped_policy(bucket: str, prefixes: list[str]) -> str:
    resources = [f"arn:aws:s3:::{bucket}"] + [f"arn:aws:s3:::{bucket}/{p}/*" for p in prefixes]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                    "Resource": resources,
                }
            ],
        }
    )


def setup_data(aws: Callable[[str], Any], bucket: str, data: nova_ft.Dataset | None = None) -> None:
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    data = data or nova_ft.Dataset.synthetic(7, 800, 100)
    s3.put_object(Bucket=bucket, Key="training-data/train.jsonl", Body=data.jsonl("train"))
    s3.put_object(Bucket=bucket, Key="validation-data/valid.jsonl", Body=data.jsonl("valid"))


def make_role(aws: Callable[[str], Any], name: str, bucket: str, prefixes: list[str]) -> str:
    iam = aws("iam")
    arn: str = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK))[
        "Role"
    ]["Arn"]
    iam.put_role_policy(
        RoleName=name, PolicyName="s3-scoped", PolicyDocument=scoped_policy(bucket, prefixes)
    )
    return arn


def job_request(bucket: str, role: str, name: str, **overrides: Any) -> dict[str, Any]:
    request = {
        "jobName": name,
        "customModelName": name + "-model",
        "roleArn": role,
        "baseModelIdentifier": BASE,
        "customizationType": "FINE_TUNING",
        "trainingDataConfig": {"s3Uri": f"s3://{bucket}/training-data/train.jsonl"},
        "validationDataConfig": {
            "validators": [{"s3Uri": f"s3://{bucket}/validation-data/valid.jsonl"}]
        },
        "outputDataConfig": {"s3Uri": f"s3://{bucket}/output-data/"},
        "hyperParameters": HYPER,
    }
    request.update(overrides)
    return request


def wait_job(bedrock: Any, arn: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = bedrock.get_model_customization_job(jobIdentifier=arn)
        if job["status"] in {"Completed", "Failed", "Stopped"}:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {arn} did not finish")


def converse(runtime: Any, model_id: str, text: str) -> dict[str, Any]:
    response: dict[str, Any] = runtime.converse(
        modelId=model_id,
        system=[{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
        messages=[{"role": "user", "content": [{"text": text}]}],
        inferenceConfig={"maxTokens": 8, "temperature": 0},
    )
    return response


def test_foundation_models_list_the_fine_tuning_base(aws: Callable[[str], Any]) -> None:
    bedrock = aws("bedrock")
    ft = bedrock.list_foundation_models(byProvider="Amazon", byCustomizationType="FINE_TUNING")
    ids = [m["modelId"] for m in ft["modelSummaries"]]
    assert BASE in ids and "amazon.nova-micro-v1:0" not in ids
    details = bedrock.get_foundation_model(modelIdentifier=BASE)["modelDetails"]
    assert details["inferenceTypesSupported"] == ["PROVISIONED"]
    # The name says what answers locally for the id.
    assert details["modelName"] == "Nova Micro (local: nova_ft stand-in)"
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_foundation_model(modelIdentifier="amazon.nova-nano-v9:0")


def test_the_tutorial_end_to_end_with_boto3(
    aws: Callable[[str], Any], emulator: nova_ft.LocalEmulator
) -> None:
    bucket = "sl-nova-ft-tutorial"
    setup_data(aws, bucket)
    role = make_role(
        aws, "BedrockNovaFineTune", bucket, ["training-data", "validation-data", "output-data"]
    )
    bedrock, runtime = aws("bedrock"), aws("bedrock-runtime")
    request = job_request(
        bucket, role, "nova-micro-intent-sft", clientRequestToken="tutorial-run-1"
    )
    arn = bedrock.create_model_customization_job(**request)["jobArn"]
    assert arn.startswith(f"arn:aws:bedrock:us-east-1:123456789012:model-customization-job/{BASE}/")
    # Re-running the cell with the same token does not start a second job.
    assert bedrock.create_model_customization_job(**request)["jobArn"] == arn
    first = bedrock.get_model_customization_job(jobIdentifier=arn)
    assert first["status"] in {"InProgress", "Completed"}
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["outputModelArn"].startswith("arn:aws:bedrock:us-east-1:123456789012:custom-model/")
    assert job["validationDataConfig"]["validators"][0]["s3Uri"].endswith("valid.jsonl")
    assert job["trainingMetrics"]["trainingLoss"] >= 0
    assert {d["status"] for d in job["statusDetails"].values()} == {"Completed"}
    listed = bedrock.list_model_customization_jobs(nameContains="intent-sft")[
        "modelCustomizationJobSummaries"
    ]
    assert [j["jobArn"] for j in listed] == [arn]

    s3 = aws("s3")
    job_dir = f"output-data/model-customization-job-{arn.rsplit('/', 1)[1]}"
    key = f"{job_dir}/training_artifacts/step_wise_training_metrics.csv"
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == ["step_number", "epoch_number", "training_loss", "perplexity"]
    assert [r["epoch_number"] for r in rows][-1] == "3"
    # Where AWS's on-demand sample reads it (its user guide omits `validation/`).
    valid_key = (
        f"{job_dir}/validation_artifacts/post_fine_tuning_validation/validation/"
        "validation_metrics.csv"
    )
    assert s3.head_object(Bucket=bucket, Key=valid_key)["ContentLength"] > 0

    model = bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])
    assert model["modelName"] == "nova-micro-intent-sft-model" and model["modelStatus"] == "Active"
    # The API has no description field, so boto3 drops it; the wire still says what the model is.
    url = f"{emulator.endpoint_url}/custom-models/{urllib.parse.quote(model['modelArn'], safe='')}"
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    signed = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("test", "test"), "bedrock", "us-east-1").add_auth(signed)
    described = urllib.request.Request(url, headers=dict(signed.headers))
    with urllib.request.urlopen(described) as raw:
        assert "not Amazon Nova" in json.load(raw)["description"]
    deployment = bedrock.create_custom_model_deployment(
        modelDeploymentName="nova-micro-intent-od",
        modelArn=job["outputModelArn"],
        description="tutorial",
        clientRequestToken="deploy-1",
    )["customModelDeploymentArn"]
    assert (
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)["status"]
        == "Creating"
    )
    with pytest.raises(runtime.exceptions.ModelNotReadyException):
        runtime_no_retry(emulator).converse(
            modelId=deployment, messages=[{"role": "user", "content": [{"text": "hi"}]}]
        )
    deadline = time.monotonic() + 10
    while (
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)["status"]
        != "Active"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    answer = converse(runtime, deployment, "show me flights from boston to denver")
    assert answer["output"]["message"]["content"][0]["text"] == "flight"
    assert answer["usage"]["inputTokens"] > 0 and answer["usage"]["outputTokens"] == 2
    assert answer["stopReason"] == "end_turn"
    # The base model reads the label list from the system prompt (zero-shot).
    base = converse(runtime, "amazon.nova-micro-v1:0", "show me flights from boston to denver")
    assert base["output"]["message"]["content"][0]["text"] == "flight"
    unlabelled = runtime.converse(
        modelId="us.amazon.nova-micro-v1:0",
        messages=[{"role": "user", "content": [{"text": "hello"}]}],
        inferenceConfig={"maxTokens": 5},
    )
    assert unlabelled["output"]["message"]["content"][0]["text"] == "I am the"  # cut at 5 tokens
    assert unlabelled["stopReason"] == "max_tokens"

    seen = nova_ft.Dataset.synthetic(7, 800, 100).records("train")[3]["messages"]
    stream = runtime.converse_stream(
        modelId=deployment,
        messages=[seen[0]],
        system=[{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
    )
    events = list(stream["stream"])
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == seen[1]["content"][0]["text"]
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 2

    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.delete_custom_model(modelIdentifier=job["outputModelArn"])
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment)
    bedrock.delete_custom_model(modelIdentifier=job["outputModelArn"])
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_custom_model(modelIdentifier=job["outputModelArn"])


def runtime_no_retry(emulator: nova_ft.LocalEmulator) -> Any:
    from botocore.config import Config

    config = Config(retries={"mode": "standard", "total_max_attempts": 1})
    return emulator.client("bedrock-runtime", config=config)


def test_the_tutorials_mistakes_fail_like_bedrock(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-mistakes"
    setup_data(aws, bucket)
    role = make_role(
        aws, "MistakesRole", bucket, ["training-data", "validation-data", "output-data"]
    )
    bedrock, runtime = aws("bedrock"), aws("bedrock-runtime")
    with pytest.raises(bedrock.exceptions.ValidationException) as caught:
        bedrock.create_model_customization_job(
            **job_request(
                bucket,
                role,
                "wrong-key",
                hyperParameters={"epochCount": "3", "learningRateMultiplier": "0.00001"},
            )
        )
    assert "learningRate" in str(caught.value) and "learningRateMultiplier" in str(caught.value)
    with pytest.raises(bedrock.exceptions.ValidationException) as caught:
        bedrock.create_model_customization_job(
            **job_request(
                bucket, role, "wrong-base", baseModelIdentifier="amazon.nova-micro-v1:1:128k"
            )
        )
    assert "The provided model identifier is invalid." in str(caught.value)
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.create_model_customization_job(
            **job_request(
                bucket, role, "on-demand-base", baseModelIdentifier="amazon.nova-micro-v1:0"
            )
        )
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.create_model_customization_job(
            **job_request(bucket, role, "epochs", hyperParameters={"epochCount": "9"})
        )
    with pytest.raises(bedrock.exceptions.ValidationException) as caught:
        bedrock.create_model_customization_job(
            **job_request(
                bucket,
                role,
                "colon-prefix",
                outputDataConfig={"s3Uri": f"s3://{bucket}/out/2025-07-20T12:00:00/"},
            )
        )
    assert "outputDataConfig" in str(caught.value)
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        converse(runtime, BASE, "hello")
    assert "on-demand throughput" in str(caught.value)
    with pytest.raises(runtime.exceptions.ValidationException):
        converse(runtime, "amazon.nova-micro-v7:0", "hello")


def test_access_denied_on_training_data_fails_the_job(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-denied"
    setup_data(aws, bucket)
    # The most common tutorial failure: the policy's prefixes do not match the upload's.
    role = make_role(aws, "DeniedRole", bucket, ["data", "output-data"])
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(bucket, role, "denied-job"))[
        "jobArn"
    ]
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert (
        "AccessDenied" in job["failureMessage"]
        and "training-data/train.jsonl" in job["failureMessage"]
    )
    assert "s3:GetObject" in job["failureMessage"]
    assert "outputModelArn" not in job


def test_role_must_exist_and_trust_bedrock(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-trust"
    setup_data(aws, bucket)
    bedrock, iam = aws("bedrock"), aws("iam")
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.create_model_customization_job(
            **job_request(bucket, "arn:aws:iam::123456789012:role/NoSuchRole", "no-role")
        )
    sagemaker_trust = {
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ]
    }
    arn = iam.create_role(
        RoleName="WrongTrust", AssumeRolePolicyDocument=json.dumps(sagemaker_trust)
    )["Role"]["Arn"]
    with pytest.raises(bedrock.exceptions.AccessDeniedException):
        bedrock.create_model_customization_job(**job_request(bucket, arn, "wrong-trust"))


def test_bad_training_data_fails_with_the_line(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-baddata"
    setup_data(aws, bucket)
    lines = nova_ft.Dataset.synthetic(7, 50, 0).jsonl("train").decode().splitlines()
    lines[6] = lines[6].replace('"role": "assistant"', '"role": "system"')
    aws("s3").put_object(
        Bucket=bucket, Key="training-data/train.jsonl", Body=("\n".join(lines) + "\n").encode()
    )
    role = make_role(
        aws, "BadDataRole", bucket, ["training-data", "validation-data", "output-data"]
    )
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(bucket, role, "bad-data"))["jobArn"]
    job = wait_job(bedrock, arn)
    assert job["status"] == "Failed"
    assert f"s3://{bucket}/training-data/train.jsonl:7: messages[1].role" in job["failureMessage"]


def test_stop_and_name_conflicts(
    aws: Callable[[str], Any], emulator: nova_ft.LocalEmulator
) -> None:
    bucket = "sl-nova-ft-stop"
    setup_data(aws, bucket)
    role = make_role(aws, "StopRole", bucket, ["training-data", "validation-data", "output-data"])
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(bucket, role, "to-stop"))["jobArn"]
    bedrock.stop_model_customization_job(jobIdentifier="to-stop")
    job = wait_job(bedrock, arn)
    assert job["status"] == "Stopped"
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.create_model_customization_job(**job_request(bucket, role, "to-stop"))
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_model_customization_job(jobIdentifier="never-created")


def test_fault_injection_throttles_and_fails(aws: Callable[[str], Any]) -> None:
    from botocore.config import Config

    with nova_ft.LocalEmulator(throttle_rate=0.5, error_rate=0.2) as emu:
        config = Config(retries={"mode": "standard", "total_max_attempts": 1})
        runtime = emu.client("bedrock-runtime", config=config)
        codes: dict[str, int] = {}
        for _ in range(200):
            try:
                converse(runtime, "amazon.nova-micro-v1:0", "hi")
                codes["ok"] = codes.get("ok", 0) + 1
            except runtime.exceptions.ClientError as e:
                code = e.response["Error"]["Code"]
                codes[code] = codes.get(code, 0) + 1
        assert codes.get("ThrottlingException", 0) > 60
        assert (
            codes.get("InternalServerException", 0) + codes.get("ServiceUnavailableException", 0)
            > 10
        )
        assert codes.get("ok", 0) > 30


def test_distillation_writes_the_artifacts_the_user_guide_lists(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-distill"
    prompts = nova_ft.Dataset.synthetic(7, 200, 20)
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    # Prompts only, as the distillation sample sends them: the teacher writes the answers.
    lines = []
    for record in prompts.records("train"):
        record["messages"] = record["messages"][:1]
        lines.append(json.dumps(record))
    s3.put_object(Bucket=bucket, Key="training-data/prompts.jsonl", Body="\n".join(lines))
    role = make_role(aws, "DistillRole", bucket, ["training-data", "output-data"])
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(
        jobName="distill-artifacts",
        customModelName="distill-artifacts-model",
        roleArn=role,
        baseModelIdentifier=BASE,
        customizationType="DISTILLATION",
        trainingDataConfig={"s3Uri": f"s3://{bucket}/training-data/prompts.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{bucket}/output-data/"},
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {"teacherModelIdentifier": "amazon.nova-pro-v1:0"}
            }
        },
    )["jobArn"]
    assert wait_job(bedrock, arn)["status"] == "Completed"
    base = f"output-data/model-customization-job-{arn.rsplit('/', 1)[1]}/distillation_artifacts"
    sample = s3.get_object(Bucket=bucket, Key=f"{base}/synthetic_data/synthetic_data_sample.jsonl")
    synthetic = [json.loads(line) for line in sample["Body"].read().decode().splitlines()]
    insights = s3.get_object(Bucket=bucket, Key=f"{base}/prompt_insights/prompt_insights.jsonl")
    rows = [json.loads(line) for line in insights["Body"].read().decode().splitlines()]
    assert len(rows) == 200 and {r["responseSource"] for r in rows} == {"teacher"}
    # The insight rule: a prompt already answered is rejected (the synthetic generator repeats
    # sentences), every first occurrence is accepted; the sample holds accepted answers only.
    texts = [r["messages"][0]["content"][0]["text"] for r in prompts.records("train")]
    first = {t: texts.index(t) for t in texts}
    for row in rows:
        i = row["recordIndex"]
        if first[texts[i]] == i:
            assert row["status"] == "ACCEPTED" and "reason" not in row, row
        else:
            assert row == {**row, "status": "REJECTED", "reason": "DUPLICATE_PROMPT"}, row
    accepted = sum(r["status"] == "ACCEPTED" for r in rows)
    assert 0 < accepted < 200
    assert len(synthetic) == min(100, accepted)
    labels = set(prompts.labels or [])
    assert all(r["messages"][-1]["role"] == "assistant" for r in synthetic)
    assert {r["messages"][-1]["content"][0]["text"] for r in synthetic} <= labels

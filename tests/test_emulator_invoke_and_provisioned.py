"""InvokeModel and InvokeModelWithResponseStream (Nova's native body, Anthropic's for Claude
ids), cross-region inference profiles, and Provisioned Throughput, through unmodified boto3,
with the shapes AWS documents (and AWS's on-demand sample uses)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from botocore.config import Config

import nova_ft
from test_emulator_bedrock import job_request, make_role, setup_data, wait_job

PROMPT = "show me flights from boston to denver"


def nova_body(text: str = PROMPT, **config: Any) -> str:
    """The body of the on-demand sample's InvokeModel cells."""
    return json.dumps(
        {
            "schemaVersion": "messages-v1",
            "system": [{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 500, "topP": 0.9, "topK": 20, "temperature": 0.7}
            | config,
        }
    )


def chunks(response: dict[str, Any]) -> list[dict[str, Any]]:
    """The JSON events of an InvokeModelWithResponseStream answer, as the sample reads them."""
    return [json.loads(e["chunk"]["bytes"].decode()) for e in response["body"] if "chunk" in e]


@pytest.fixture(scope="module")
def trained(emulator: nova_ft.LocalEmulator) -> str:
    """A custom model trained on the tutorial's synthetic data."""
    aws = emulator.client
    bucket = "sl-nova-ft-invoke"
    setup_data(aws, bucket)
    role = make_role(aws, "InvokeRole", bucket, ["training-data", "validation-data", "output-data"])
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(**job_request(bucket, role, "invoke-job"))[
        "jobArn"
    ]
    job = wait_job(bedrock, arn)
    assert job["status"] == "Completed", job.get("failureMessage")
    return str(job["outputModelArn"])


def test_invoke_model_with_novas_native_body(aws: Callable[[str], Any]) -> None:
    runtime = aws("bedrock-runtime")
    for model in ("amazon.nova-micro-v1:0", "us.amazon.nova-micro-v1:0"):
        response = runtime.invoke_model(modelId=model, body=nova_body())
        answer = json.loads(response["body"].read())
        assert answer["output"]["message"]["content"][0]["text"] == "flight"
        assert answer["stopReason"] == "end_turn"
        usage = answer["usage"]
        assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        assert int(headers["x-amzn-bedrock-input-token-count"]) == usage["inputTokens"]
    # Nova's documented key for the budget is max_new_tokens; the sample's maxTokens works too.
    cut = runtime.invoke_model(
        modelId="amazon.nova-micro-v1:0",
        body=json.dumps(
            {
                "messages": [{"role": "user", "content": [{"text": "hello"}]}],
                "inferenceConfig": {"max_new_tokens": 2},
            }
        ),
    )
    assert json.loads(cut["body"].read())["stopReason"] == "max_tokens"
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.invoke_model(modelId="amazon.nova-micro-v1:0", body=json.dumps({"prompt": "x"}))
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.invoke_model(modelId="eu.amazon.nova-micro-v1:0", body=nova_body())


def test_prompt_cache_points_are_accepted_and_other_blocks_refused(
    aws: Callable[[str], Any],
) -> None:
    """Converse's cachePoint blocks (prompt caching) carry no text: the answer is the one
    without them. An image is refused with the reason."""
    runtime = aws("bedrock-runtime")
    marker = {"cachePoint": {"type": "default"}}

    def ask(system: list[dict[str, Any]], content: list[dict[str, Any]]) -> dict[str, Any]:
        reply: dict[str, Any] = runtime.converse(
            modelId="amazon.nova-micro-v1:0",
            system=system,
            messages=[{"role": "user", "content": content}],
            inferenceConfig={"maxTokens": 32, "temperature": 0.0},
        )
        return reply

    plain = ask([{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}], [{"text": PROMPT}])
    cached = ask([{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}, marker], [{"text": PROMPT}, marker])
    assert cached["output"] == plain["output"]
    assert cached["usage"]["inputTokens"] == plain["usage"]["inputTokens"]
    with pytest.raises(runtime.exceptions.ValidationException, match="text content blocks"):
        ask(
            [{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
            [{"image": {"format": "png", "source": {"bytes": b"\x89PNG"}}}],
        )


def test_invoke_model_streams_chunks_as_the_sample_reads_them(aws: Callable[[str], Any]) -> None:
    runtime = aws("bedrock-runtime")
    whole = json.loads(
        runtime.invoke_model(modelId="amazon.nova-micro-v1:0", body=nova_body("hello"))[
            "body"
        ].read()
    )
    events = chunks(
        runtime.invoke_model_with_response_stream(
            modelId="amazon.nova-micro-v1:0", body=nova_body("hello")
        )
    )
    assert events[0] == {"messageStart": {"role": "assistant"}}
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == whole["output"]["message"]["content"][0]["text"]
    assert events[-2] == {"messageStop": {"stopReason": "end_turn"}} or "messageStop" in events[-2]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == whole["usage"]["outputTokens"]


def test_claude_ids_read_anthropics_body_and_a_local_stand_in_judges(
    aws: Callable[[str], Any],
) -> None:
    runtime = aws("bedrock-runtime")
    judge = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "system": "You are a SQL expert. Give a score from 0 to 100 for how similar the two "
        "queries are. Answer with the number only.",
        "messages": [
            {
                "role": "user",
                "content": "Expected SQL: SELECT name FROM head WHERE age > 56\n"
                "Generated SQL: SELECT name FROM head WHERE age > 56",
            }
        ],
    }
    haiku = "anthropic.claude-3-haiku-20240307-v1:0"
    answer = json.loads(runtime.invoke_model(modelId=haiku, body=json.dumps(judge))["body"].read())
    assert answer["type"] == "message" and answer["model"] == "claude-3-haiku-20240307"
    assert answer["content"] == [{"type": "text", "text": "100"}]
    assert answer["stop_reason"] == "end_turn" and answer["usage"]["input_tokens"] > 0
    events = chunks(
        runtime.invoke_model_with_response_stream(modelId=haiku, body=json.dumps(judge))
    )
    kinds = [e["type"] for e in events]
    assert kinds[:2] == ["message_start", "content_block_start"]
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]
    assert "amazon-bedrock-invocationMetrics" in events[-1]
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        runtime.invoke_model(modelId=haiku, body=nova_body())
    assert "anthropic_version" in str(caught.value)
    # A newer Claude needs its inference profile, as on AWS; Converse works on Claude ids too.
    sonnet = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        runtime.converse(modelId=sonnet, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert "inference profile" in str(caught.value)
    reply = runtime.converse(
        modelId=f"us.{sonnet}", messages=[{"role": "user", "content": [{"text": "hi"}]}]
    )
    assert "not Claude" in reply["output"]["message"]["content"][0]["text"]


def test_inference_profiles_are_listed_and_described(aws: Callable[[str], Any]) -> None:
    bedrock = aws("bedrock")
    profiles = bedrock.list_inference_profiles()["inferenceProfileSummaries"]
    ids = {p["inferenceProfileId"] for p in profiles}
    assert "us.amazon.nova-micro-v1:0" in ids and not any(i.startswith("eu.") for i in ids)
    page = bedrock.list_inference_profiles(maxResults=2)
    assert len(page["inferenceProfileSummaries"]) == 2 and page["nextToken"]
    micro = bedrock.get_inference_profile(inferenceProfileIdentifier="us.amazon.nova-micro-v1:0")
    assert micro["status"] == "ACTIVE" and micro["type"] == "SYSTEM_DEFINED"
    assert any("us-west-2" in m["modelArn"] for m in micro["models"])
    by_arn = bedrock.get_inference_profile(inferenceProfileIdentifier=micro["inferenceProfileArn"])
    assert by_arn["inferenceProfileId"] == micro["inferenceProfileId"]
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_inference_profile(inferenceProfileIdentifier="us.amazon.nova-nano-v1:0")


def wait_status(bedrock: Any, arn: str, status: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while True:
        got: dict[str, Any] = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
        if got["status"] == status:
            return got
        assert time.monotonic() < deadline, got["status"]
        time.sleep(0.05)


def test_provisioned_throughput_serves_the_custom_model(
    emulator: nova_ft.LocalEmulator, aws: Callable[[str], Any], trained: str
) -> None:
    bedrock = aws("bedrock")
    runtime = emulator.client("bedrock-runtime", config=Config(retries={"max_attempts": 1}))
    arn = bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName="distilled-pt", modelId=trained
    )["provisionedModelArn"]
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:provisioned-model/")
    first = bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    assert first["status"] == "Creating" and first["modelArn"] == trained
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.invoke_model(modelId=arn, body=nova_body())
    wait_status(bedrock, arn, "InService")
    answer = json.loads(runtime.invoke_model(modelId=arn, body=nova_body())["body"].read())
    assert answer["output"]["message"]["content"][0]["text"] == "flight"
    reply = runtime.converse(
        modelId=arn,
        system=[{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
        messages=[{"role": "user", "content": [{"text": PROMPT}]}],
    )
    assert reply["output"]["message"]["content"][0]["text"] == "flight"
    listed = bedrock.list_provisioned_model_throughputs(statusEquals="InService")
    assert [p["provisionedModelArn"] for p in listed["provisionedModelSummaries"]] == [arn]
    bedrock.update_provisioned_model_throughput(
        provisionedModelId=arn, desiredProvisionedModelName="renamed-pt"
    )
    assert (
        bedrock.get_provisioned_model_throughput(provisionedModelId="renamed-pt")[
            "provisionedModelArn"
        ]
        == arn
    )
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.delete_custom_model(modelIdentifier=trained)
    with pytest.raises(bedrock.exceptions.ValidationException):
        # A base model is provisioned only with a commitment term.
        bedrock.create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName="base-pt", modelId="amazon.nova-micro-v1:0:128k"
        )
    bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
    with pytest.raises(bedrock.exceptions.ResourceNotFoundException):
        bedrock.get_provisioned_model_throughput(provisionedModelId=arn)


def test_update_swaps_the_model_behind_a_live_deployment(
    emulator: nova_ft.LocalEmulator, aws: Callable[[str], Any], trained: str
) -> None:
    """UpdateCustomModelDeployment: Updating -> UpdateCompleted, the old model answering
    until the swap completes."""
    bucket = "sl-nova-ft-update"
    data = nova_ft.Dataset.synthetic(7, 800, 100)
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    for split, key in (
        ("train", "training-data/train.jsonl"),
        ("valid", "validation-data/v.jsonl"),
    ):
        # The same data with upper-case labels: a second model whose answers can be told apart.
        lines = []
        for record in data.records(split):
            answer = record["messages"][-1]["content"][0]
            answer["text"] = answer["text"].upper()
            lines.append(json.dumps(record))
        s3.put_object(Bucket=bucket, Key=key, Body="\n".join(lines))
    role = make_role(aws, "UpdateRole", bucket, ["training-data", "validation-data", "output-data"])
    bedrock = aws("bedrock")
    request = job_request(bucket, role, "update-job")
    request["validationDataConfig"] = {
        "validators": [{"s3Uri": f"s3://{bucket}/validation-data/v.jsonl"}]
    }
    upper = wait_job(bedrock, bedrock.create_model_customization_job(**request)["jobArn"])
    new_model = upper["outputModelArn"]
    deployment = bedrock.create_custom_model_deployment(
        modelDeploymentName="live-deployment", modelArn=trained
    )["customModelDeploymentArn"]
    runtime = emulator.client("bedrock-runtime", config=Config(retries={"max_attempts": 1}))

    def ask() -> str:
        reply = runtime.converse(
            modelId=deployment,
            system=[{"text": nova_ft.SYNTHETIC_SYSTEM_PROMPT}],
            messages=[{"role": "user", "content": [{"text": PROMPT}]}],
        )
        return str(reply["output"]["message"]["content"][0]["text"])

    def state() -> dict[str, Any]:
        got: dict[str, Any] = bedrock.get_custom_model_deployment(
            customModelDeploymentIdentifier=deployment
        )
        return got

    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.update_custom_model_deployment(
            customModelDeploymentIdentifier=deployment, modelArn=new_model
        )  # still Creating
    deadline = time.monotonic() + 10
    while state()["status"] != "Active":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert ask() == "flight" and "updateDetails" not in state()
    bedrock.update_custom_model_deployment(
        customModelDeploymentIdentifier=deployment, modelArn=new_model
    )
    during = state()
    assert during["updateDetails"] == {"modelArn": new_model, "updateStatus": "Updating"}
    assert during["modelArn"] == trained and during["status"] == "Active"
    assert ask() == "flight"
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.update_custom_model_deployment(
            customModelDeploymentIdentifier=deployment, modelArn=trained
        )
    while state()["updateDetails"]["updateStatus"] != "UpdateCompleted":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert state()["modelArn"] == new_model
    assert ask() == "FLIGHT"
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.delete_custom_model(modelIdentifier=new_model)
    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment)

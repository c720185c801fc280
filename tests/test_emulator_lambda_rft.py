"""Lambda (the calls an RFT workflow makes) and REINFORCEMENT_FINE_TUNING jobs on Nova 2
Lite, through unmodified boto3: functions are created from zips, run in their own Python
process with their timeout, and an RFT job calls its grader through Lambda as its role."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from collections.abc import Callable
from typing import Any, cast

import pytest
from botocore.config import Config

import nova_ft
from conftest import TRUST_BEDROCK
from test_emulator_bedrock import scoped_policy, wait_job

TRUST_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}

GRADER = """
def lambda_handler(event, context):
    scores = []
    for sample in event:
        answer = sample["messages"][-1]["content"].strip().lower()
        reference = str(sample["metadata"]["reference_answer"]).strip().lower()
        score = 1.0 if answer == reference else 0.0
        scores.append({"id": sample["id"], "aggregate_reward_score": score,
                       "reward_components": {"exact_match": score}})
    return scores
"""

RFT_BASE = "amazon.nova-2-lite-v1:0:256k"


def package(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return out.getvalue()


def lambda_role(aws: Callable[[str], Any], name: str) -> str:
    arn: str = aws("iam").create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST_LAMBDA)
    )["Role"]["Arn"]
    return arn


def create(aws: Callable[[str], Any], name: str, code: str, **extra: Any) -> dict[str, Any]:
    role = lambda_role(aws, name + "-exec")
    answer: dict[str, Any] = aws("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="grader.lambda_handler",
        Code={"ZipFile": package({"grader.py": code})},
        **extra,
    )
    return answer


def invoke(aws: Callable[[str], Any], name: str, event: Any, **extra: Any) -> tuple[Any, Any]:
    response = aws("lambda").invoke(FunctionName=name, Payload=json.dumps(event), **extra)
    return response, json.loads(response["Payload"].read())


def test_a_function_is_created_invoked_updated_and_deleted(aws: Callable[[str], Any]) -> None:
    client = aws("lambda")
    created = create(
        aws,
        "echo",
        "import os\ndef lambda_handler(e, c):\n"
        "    return {'got': e, 'env': os.environ.get('MODE'), 'name': c.function_name}\n",
        Environment={"Variables": {"MODE": "test"}},
        Timeout=5,
    )
    assert created["FunctionArn"].endswith(":function:echo")
    assert created["State"] == "Active" and created["Runtime"] == "python3.11"
    response, payload = invoke(aws, "echo", {"x": 1}, LogType="Tail")
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert payload == {"got": {"x": 1}, "env": "test", "name": "echo"}
    assert "REPORT RequestId" in base64.b64decode(response["LogResult"]).decode()
    # By ARN too, and a new version of the code replaces the old one.
    client.update_function_code(
        FunctionName=created["FunctionArn"],
        ZipFile=package({"grader.py": "def lambda_handler(e, c):\n    return 2\n"}),
    )
    assert invoke(aws, created["FunctionArn"], {})[1] == 2
    config = client.update_function_configuration(FunctionName="echo", Timeout=9)
    assert config["Timeout"] == 9
    assert client.get_function(FunctionName="echo")["Configuration"]["Timeout"] == 9
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert "echo" in names
    statement = client.add_permission(
        FunctionName="echo",
        StatementId="bedrock",
        Action="lambda:InvokeFunction",
        Principal="bedrock.amazonaws.com",
    )["Statement"]
    assert json.loads(statement)["Principal"] == {"Service": "bedrock.amazonaws.com"}
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.add_permission(
            FunctionName="echo",
            StatementId="bedrock",
            Action="lambda:InvokeFunction",
            Principal="bedrock.amazonaws.com",
        )
    client.delete_function(FunctionName="echo")
    with pytest.raises(client.exceptions.ResourceNotFoundException) as missing:
        client.get_function(FunctionName="echo")
    assert "Function not found" in str(missing.value)


def test_handler_failures_are_function_errors_not_service_errors(
    aws: Callable[[str], Any],
) -> None:
    create(aws, "raises", "def lambda_handler(e, c):\n    raise ValueError('bad sample')\n")
    response, payload = invoke(aws, "raises", {})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "ValueError" and payload["errorMessage"] == "bad sample"
    create(aws, "slow", "import time\ndef lambda_handler(e, c):\n    time.sleep(30)\n", Timeout=1)
    response, payload = invoke(aws, "slow", {})
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"]
    create(aws, "broken", "def lambda_handler(e, c) return 1\n")
    response, payload = invoke(aws, "broken", {})
    assert payload["errorType"].startswith("Runtime."), payload


def test_bad_functions_are_refused_as_lambda_refuses_them(aws: Callable[[str], Any]) -> None:
    client = aws("lambda")
    role = lambda_role(aws, "refusals-exec")
    bedrock_role = aws("iam").create_role(
        RoleName="not-for-lambda", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
    )["Role"]["Arn"]
    good = {"FunctionName": "f", "Runtime": "python3.12", "Role": role, "Handler": "a.b"}
    cases = [
        dict(good, Code={"ZipFile": b"not a zip"}),
        dict(good, Code={"ZipFile": package({"../escape.py": "x"})}),
        dict(good, Role=bedrock_role, Code={"ZipFile": package({"a.py": ""})}),
        dict(good, Runtime="nodejs20.x", Code={"ZipFile": package({"a.js": ""})}),
        dict(good, Timeout=901, Code={"ZipFile": package({"a.py": ""})}),
    ]
    for request in cases:
        with pytest.raises(client.exceptions.InvalidParameterValueException):
            client.create_function(**request)
    client.create_function(**good, Code={"ZipFile": package({"a.py": "def b(e, c): return 1"})})
    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_function(**good, Code={"ZipFile": package({"a.py": ""})})
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke(FunctionName="nope")


def rft_lines(rows: list[nova_ft.Dataset], split: str) -> bytes:
    """RFT records from a conversation split: the prompt, and the answer as reference."""
    lines = []
    for i, record in enumerate(rows[0].records(split)):
        messages = record["messages"]
        lines.append(
            json.dumps(
                {
                    "id": f"{split}-{i}",
                    "messages": [
                        {"role": "system", "content": record["system"][0]["text"]},
                        {"role": "user", "content": messages[0]["content"][0]["text"]},
                    ],
                    "reference_answer": messages[1]["content"][0]["text"],
                }
            )
        )
    return ("\n".join(lines) + "\n").encode()


def rft_setup(
    aws: Callable[[str], Any], bucket: str, role_name: str, grant_lambda: bool
) -> tuple[str, str]:
    data = nova_ft.Dataset.synthetic(11, 600, 10)
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="rft/train.jsonl", Body=rft_lines([data], "train"))
    function = create(aws, role_name + "-grader", GRADER, Timeout=60)["FunctionArn"]
    iam = aws("iam")
    role: str = iam.create_role(
        RoleName=role_name, AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
    )["Role"]["Arn"]
    iam.put_role_policy(
        RoleName=role_name, PolicyName="s3", PolicyDocument=scoped_policy(bucket, ["rft", "out"])
    )
    if grant_lambda:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}
            ],
        }
        iam.put_role_policy(
            RoleName=role_name, PolicyName="grader", PolicyDocument=json.dumps(policy)
        )
    return role, function


def rft_request(bucket: str, role: str, function: str, name: str, **hyper: Any) -> dict[str, Any]:
    return {
        "jobName": name,
        "customModelName": name + "-model",
        "roleArn": role,
        "baseModelIdentifier": RFT_BASE,
        "customizationType": "REINFORCEMENT_FINE_TUNING",
        "trainingDataConfig": {"s3Uri": f"s3://{bucket}/rft/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{bucket}/out/"},
        "customizationConfig": {
            "rftConfig": {
                "graderConfig": {"lambdaGrader": {"lambdaArn": function}},
                "hyperParameters": {
                    "epochCount": 2,
                    "batchSize": 32,
                    "learningRate": 1e-5,
                    "trainingSamplePerPrompt": 4,
                    "evalInterval": 5,
                }
                | hyper,
            }
        },
    }


def test_rft_learns_from_the_grader_alone_and_beats_the_base(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-rft"
    role, function = rft_setup(aws, bucket, "RftRole", grant_lambda=True)
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(**rft_request(bucket, role, function, "rft-job"))[
        "jobArn"
    ]
    job = wait_job(bedrock, arn, timeout=120)
    assert job["status"] == "Completed", job.get("failureMessage")
    assert job["customizationType"] == "REINFORCEMENT_FINE_TUNING"
    rft = job["customizationConfig"]["rftConfig"]
    assert rft["graderConfig"]["lambdaGrader"]["lambdaArn"] == function
    assert rft["hyperParameters"]["batchSize"] == 32
    # The reward curve rises: the held-out evaluation ends above where it started.
    prefix = f"out/model-customization-job-{arn.rsplit('/', 1)[1]}/training_artifacts/"
    body = aws("s3").get_object(Bucket=bucket, Key=prefix + "step_wise_training_metrics.csv")
    rows = [line.split(",") for line in body["Body"].read().decode().splitlines()]
    assert rows[0] == [
        "step_number",
        "epoch_number",
        "train_reward_mean",
        "train_reward_std",
        "eval_reward",
    ]
    evals = [float(r[4]) for r in rows[1:] if r[4]]
    assert evals[-1] > evals[0], evals
    # On rows it never saw, the RFT model answers better than the base model.
    runtime = aws("bedrock-runtime")
    model = job["outputModelArn"]
    test = nova_ft.Dataset.synthetic(99, 0, 0, 150, test_seed=99).records("test")

    def accuracy(model_id: str) -> float:
        right = 0
        for record in test:
            answer = runtime.converse(
                modelId=model_id,
                system=record["system"],
                messages=record["messages"][:1],
            )["output"]["message"]["content"][0]["text"]
            right += answer == record["messages"][1]["content"][0]["text"]
        return right / len(test)

    deployment = bedrock.create_custom_model_deployment(
        modelDeploymentName="rft-deployment", modelArn=model
    )["customModelDeploymentArn"]
    import time

    while (
        bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)["status"]
        != "Active"
    ):
        time.sleep(0.05)
    base, tuned = accuracy("us.amazon.nova-2-lite-v1:0"), accuracy(deployment)
    assert tuned > base, (base, tuned)


def test_rft_needs_the_grader_permission_and_valid_settings(aws: Callable[[str], Any]) -> None:
    bucket = "sl-nova-ft-rft-denied"
    role, function = rft_setup(aws, bucket, "RftNoLambda", grant_lambda=False)
    bedrock = aws("bedrock")
    arn = bedrock.create_model_customization_job(
        **rft_request(bucket, role, function, "rft-denied")
    )["jobArn"]
    job = wait_job(bedrock, arn, timeout=60)
    assert job["status"] == "Failed"
    assert "lambda:InvokeFunction" in job["failureMessage"]
    # Checked by the service, not only by boto3's own checks.
    unchecked = cast(Any, aws)("bedrock", config=Config(parameter_validation=False))
    for bad in (
        {"batchSize": 8},
        {"trainingSamplePerPrompt": 17},
        {"learningRate": 0.1},
        {"reasoningEffort": "max"},
    ):
        with pytest.raises(unchecked.exceptions.ValidationException):
            unchecked.create_model_customization_job(
                **rft_request(bucket, role, function, "rft-bad", **bad)
            )
    # Nova Micro takes no RFT (validation sets are taken: test_rft_workflow).
    with pytest.raises(bedrock.exceptions.ValidationException, match="does not support"):
        bedrock.create_model_customization_job(
            **rft_request(bucket, role, function, "rft-micro")
            | {"baseModelIdentifier": "amazon.nova-micro-v1:0:128k"}
        )


def test_nova_2_lite_is_listed_and_invoked_through_its_profiles(aws: Callable[[str], Any]) -> None:
    bedrock = aws("bedrock")
    listed = {
        m["modelId"]: m
        for m in bedrock.list_foundation_models(byProvider="Amazon")["modelSummaries"]
    }
    # The listing's enum has no RFT value: only fine-tuning is advertised.
    assert listed[RFT_BASE]["customizationsSupported"] == ["FINE_TUNING"]
    runtime = aws("bedrock-runtime")
    messages = [{"role": "user", "content": [{"text": "hello"}]}]
    for profile in ("us.amazon.nova-2-lite-v1:0", "global.amazon.nova-2-lite-v1:0"):
        assert runtime.converse(modelId=profile, messages=messages)["stopReason"]
    with pytest.raises(runtime.exceptions.ValidationException):
        runtime.converse(modelId="amazon.nova-2-lite-v1:0", messages=messages)


def test_nova_2_lite_fine_tuning_takes_its_own_data_rules(aws: Callable[[str], Any]) -> None:
    from test_emulator_bedrock import job_request, make_role

    bucket = "sl-nova-ft-nova2"
    s3 = aws("s3")
    s3.create_bucket(Bucket=bucket)
    role = make_role(aws, "Nova2Sft", bucket, ["training-data", "output-data"])
    bedrock = aws("bedrock")
    for name, rows in (("nova2-few", 150), ("nova2-enough", 220)):
        data = nova_ft.Dataset.synthetic(7, rows, 0)
        s3.put_object(Bucket=bucket, Key="training-data/train.jsonl", Body=data.jsonl("train"))
        request = job_request(bucket, role, name, baseModelIdentifier=RFT_BASE)
        del request["validationDataConfig"]
        arn = bedrock.create_model_customization_job(**request)["jobArn"]
        job = wait_job(bedrock, arn)
        if rows < 200:
            assert job["status"] == "Failed" and "between 200 and 20000" in job["failureMessage"]
        else:
            assert job["status"] == "Completed", job.get("failureMessage")
    # Warm-up steps: the Nova 2 guide gives no maximum of its own; Nova 1's documented 0-100
    # applies (docs/guide/data.md).
    too_long = job_request(bucket, role, "nova2-warmup", baseModelIdentifier=RFT_BASE)
    del too_long["validationDataConfig"]
    too_long["hyperParameters"] = dict(too_long["hyperParameters"], learningRateWarmupSteps="101")
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.create_model_customization_job(**too_long)


def test_hostile_lambda_requests_are_refused_and_the_server_keeps_serving() -> None:
    import urllib.error
    import urllib.request

    unsigned = nova_ft.LocalEmulator(verify_signatures=False)
    with unsigned:
        url = unsigned.endpoint_url + "/2015-03-31/functions"
        cases = [
            ("GET", url + "/..%2F..%2Fetc%2Fpasswd", None, 404),
            ("POST", url, b"{not json", 400),
            (
                "POST",
                url,
                json.dumps({"FunctionName": "x" * 65, "Role": "r", "Code": {}}).encode(),
                400,
            ),
            (
                "POST",
                url,
                json.dumps(
                    {
                        "FunctionName": "f",
                        "Role": "r",
                        "Code": {"ZipFile": "%%%"},
                        "Runtime": "python3.12",
                        "Handler": "a.b",
                    }
                ).encode(),
                400,
            ),
            ("POST", url + "/nope/invocations", b"{}", 404),
        ]
        for method, target, body, status in cases:
            request = urllib.request.Request(target, data=body, method=method)
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request)
            assert refused.value.code == status, (target, refused.value.read())
            answer = json.loads(refused.value.read())
            assert answer["Type"] == "User" and answer["Message"]
            assert refused.value.headers["x-amzn-errortype"]
        # Still serving.
        with urllib.request.urlopen(url) as listed:
            assert json.loads(listed.read()) == {"Functions": []}

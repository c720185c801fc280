"""The calls of AWS's own sample notebooks for batch inference and LLM-as-a-judge evaluation,
as they write them, against the emulator (only the account-specific values differ):

- ``evaluation-observe/bedrock-eval-bring-your-own-inference/llmaaj-bring-your-own-inference``
  (aws-samples/amazon-bedrock-samples): Nova Lite answers shopping-math prompts through
  InvokeModel, the answers go to S3 as a BYOI dataset, and a judge job with all eleven judge
  metrics, ``taskType`` ``General`` and a Claude Haiku evaluator runs on them;
- ``introduction-to-bedrock/batch_api/batch-inference-launch-and-compare-jobs``: the same
  records as batch jobs on several models (Nova bodies and Anthropic bodies), compared from
  ``list_model_invocation_jobs`` in a DataFrame.
"""

from __future__ import annotations

import json
import random
import time
from datetime import datetime
from typing import Any

import pytest

from conftest import TRUST_BEDROCK

BUCKET_NAME = "sample-bucket"
PREFIX = "byoi"


@pytest.fixture(scope="module")
def role_arn(emulator: Any) -> str:
    emulator.client("s3").create_bucket(Bucket=BUCKET_NAME)
    iam = emulator.client("iam")
    arn: str = iam.create_role(
        RoleName="sample-role", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
    )["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{BUCKET_NAME}", f"arn:aws:s3:::{BUCKET_NAME}/*"],
            },
            {"Effect": "Allow", "Action": ["bedrock:InvokeModel"], "Resource": "*"},
        ],
    }
    iam.put_role_policy(RoleName="sample-role", PolicyName="p", PolicyDocument=json.dumps(policy))
    return arn


def generate_shopping_problems(client: Any, num_problems: int = 30) -> list[dict[str, Any]]:
    """The sample's generator, with its InvokeModel call as written (minus its sleep)."""
    items = ["apples", "oranges", "bananas", "books", "pencils", "notebooks"]
    problems = []
    for _ in range(num_problems):
        item = random.choice(items)
        quantity = random.randint(3, 20)
        price_per_item = round(random.uniform(1.5, 15.0), 2)
        discount_percent = random.choice([10, 15, 20, 25, 30])
        total = quantity * price_per_item
        discount = total * (discount_percent / 100)
        final = round(total - discount, 2)
        prompt = (
            f"If {item} cost ${price_per_item} each and you buy {quantity} of them with a "
            f"{discount_percent}% discount, how much will you pay in total?"
        )
        body = json.dumps(
            {
                "schemaVersion": "messages-v1",
                "messages": [{"role": "user", "content": [{"text": prompt}]}],
                "inferenceConfig": {"maxTokens": 300, "temperature": 0.3, "topP": 0.1, "topK": 20},
            }
        )
        response = client.invoke_model(
            body=body,
            modelId="us.amazon.nova-lite-v1:0",
            accept="application/json",
            contentType="application/json",
        )
        response_body = json.loads(response.get("body").read())
        model_response = response_body["output"]["message"]["content"][0]["text"]
        problems.append(
            {
                "prompt": prompt,
                "referenceResponse": f"The total price will be ${final}. Original price: "
                f"${total} minus {discount_percent}% discount (${discount})",
                "category": "Shopping Math",
                "modelResponses": [
                    {"response": model_response, "modelIdentifier": "third-party-model"}
                ],
            }
        )
    return problems


def create_llm_judge_evaluation(
    client: Any,
    job_name: str,
    role_arn: str,
    input_s3_uri: str,
    output_s3_uri: str,
    evaluator_model_id: str,
    dataset_name: str | None = None,
    task_type: str = "General",
) -> Any:
    """The sample's function, as written."""
    llm_judge_metrics = [
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Faithfulness",
        "Builtin.Helpfulness",
        "Builtin.Coherence",
        "Builtin.Relevance",
        "Builtin.FollowingInstructions",
        "Builtin.ProfessionalStyleAndTone",
        "Builtin.Harmfulness",
        "Builtin.Stereotyping",
        "Builtin.Refusal",
    ]
    dataset_config = {
        "name": dataset_name or "CustomDataset",
        "datasetLocation": {"s3Uri": input_s3_uri},
    }
    return client.create_evaluation_job(
        jobName=job_name,
        roleArn=role_arn,
        applicationType="ModelEvaluation",
        evaluationConfig={
            "automated": {
                "datasetMetricConfigs": [
                    {
                        "taskType": task_type,
                        "dataset": dataset_config,
                        "metricNames": llm_judge_metrics,
                    }
                ],
                "evaluatorModelConfig": {
                    "bedrockEvaluatorModels": [{"modelIdentifier": evaluator_model_id}]
                },
            }
        },
        inferenceConfig={
            "models": [
                {"precomputedInferenceSource": {"inferenceSourceIdentifier": "third-party-model"}}
            ]
        },
        outputDataConfig={"s3Uri": output_s3_uri},
    )


def test_the_bring_your_own_inference_judge_sample(
    emulator: Any, role_arn: str, tmp_path: Any
) -> None:
    bedrock_client = emulator.client("bedrock")
    s3_client = emulator.client("s3")
    random.seed(7)
    problems = generate_shopping_problems(emulator.client("bedrock-runtime"))
    dataset_custom_name = "dummy-data-BYOI"
    local = tmp_path / f"{dataset_custom_name}.jsonl"
    with open(local, "w") as f:
        for problem in problems:
            f.write(json.dumps(problem) + "\n")
    s3_key = f"{PREFIX}/{dataset_custom_name}.jsonl"
    s3_client.upload_file(str(local), BUCKET_NAME, s3_key)
    evaluator_model = "anthropic.claude-3-haiku-20240307-v1:0"
    job_name = (
        f"llmaaj-third-party-model-{evaluator_model.split('.')[0]}-"
        f"{datetime.now().strftime('%Y-%m-%d-%H-%M-%S')}"
    )
    response = create_llm_judge_evaluation(
        client=bedrock_client,
        job_name=job_name,
        role_arn=role_arn,
        input_s3_uri=f"s3://{BUCKET_NAME}/{PREFIX}/{dataset_custom_name}.jsonl",
        output_s3_uri=f"s3://{BUCKET_NAME}/{PREFIX}",
        evaluator_model_id=evaluator_model,
        task_type="General",
    )
    evaluation_job_arn = response["jobArn"]
    check_status = bedrock_client.get_evaluation_job(jobIdentifier=evaluation_job_arn)
    assert check_status["status"] in ("InProgress", "Completed")
    deadline = time.monotonic() + 60
    while check_status["status"] == "InProgress" and time.monotonic() < deadline:
        time.sleep(0.05)
        check_status = bedrock_client.get_evaluation_job(jobIdentifier=evaluation_job_arn)
    assert check_status["status"] == "Completed", check_status.get("failureMessages")
    # Results found as AWS advises: by listing the job's folder for *_output.jsonl.
    listed = s3_client.list_objects_v2(Bucket=BUCKET_NAME, Prefix=f"{PREFIX}/{job_name}/")
    outputs = [o["Key"] for o in listed["Contents"] if o["Key"].endswith("_output.jsonl")]
    assert len(outputs) == 1 and "/models/third-party-model/taskTypes/General/" in outputs[0]
    body = s3_client.get_object(Bucket=BUCKET_NAME, Key=outputs[0])["Body"].read().decode()
    lines = [json.loads(line) for line in body.splitlines()]
    assert len(lines) == 30
    scores = lines[0]["automatedEvaluationResult"]["scores"]
    assert len(scores) == 11
    by_name = {s["metricName"]: s["result"] for s in scores}
    assert by_name["Builtin.Correctness"] is not None and by_name["Builtin.Refusal"] is None


def test_the_launch_and_compare_batch_jobs_sample(emulator: Any, role_arn: str) -> None:
    pd = pytest.importorskip("pandas")
    bedrock = emulator.client("bedrock")
    s3 = emulator.client("s3")
    texts = [
        f"Article {i}: the city council met on Tuesday to discuss the budget." for i in range(120)
    ]
    nova = [
        {
            "recordId": f"CALL{i:07d}",
            "modelInput": {
                "messages": [{"role": "user", "content": [{"text": f"Summarize: {t}"}]}],
                "inferenceConfig": {"maxTokens": 300},
            },
        }
        for i, t in enumerate(texts)
    ]
    claude = [
        {
            "recordId": f"CALL{i:07d}",
            "modelInput": {
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": 300,
                "messages": [
                    {"role": "user", "content": [{"type": "text", "text": f"Summarize: {t}"}]}
                ],
            },
        }
        for i, t in enumerate(texts)
    ]
    for name, records in (
        ("batch_requests_nova.jsonl", nova),
        ("batch_requests_claude.jsonl", claude),
    ):
        s3.put_object(
            Bucket=BUCKET_NAME, Key=name, Body="\n".join(json.dumps(r) for r in records).encode()
        )
    launched: dict[str, str] = {}
    for model_id, input_file in (
        ("amazon.nova-micro-v1:0", "batch_requests_nova.jsonl"),
        ("amazon.nova-pro-v1:0", "batch_requests_nova.jsonl"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "batch_requests_claude.jsonl"),
    ):
        job_name = f"{'claude' if 'claude' in model_id else 'nova'}-eval-{len(launched):08x}"
        response = bedrock.create_model_invocation_job(
            roleArn=role_arn,
            modelId=model_id,
            jobName=job_name,
            inputDataConfig={"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET_NAME}/{input_file}"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET_NAME}/"}},
        )
        launched[response["jobArn"]] = model_id
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        jobs = bedrock.list_model_invocation_jobs(nameContains="-eval-")["invocationJobSummaries"]
        if all(j["status"] == "Completed" for j in jobs if j["jobArn"] in launched):
            break
        time.sleep(0.05)
    df = pd.DataFrame([j for j in jobs if j["jobArn"] in launched])
    df["duration"] = df["endTime"] - df["submitTime"]
    assert set(df["status"]) == {"Completed"} and len(df) == 3
    # As Bedrock lists them: the model by its ARN, the bucket owner filled in.
    assert set(df["modelId"]) == {
        f"arn:aws:bedrock:us-east-1::foundation-model/{m}" for m in launched.values()
    }
    assert df["inputDataConfig"].iloc[0]["s3InputDataConfig"]["s3BucketOwner"] == "123456789012"
    assert (df["totalRecordCount"] == 120).all() and (df["duration"] >= pd.Timedelta(0)).all()
    claude_arn = next(a for a, m in launched.items() if "claude" in m)
    out = s3.get_object(
        Bucket=BUCKET_NAME, Key=f"{claude_arn.rsplit('/', 1)[1]}/batch_requests_claude.jsonl.out"
    )
    first = json.loads(out["Body"].read().decode().splitlines()[0])
    assert first["modelOutput"]["type"] == "message" and first["modelOutput"]["content"][0]["text"]

"""Model evaluation jobs (CreateEvaluationJob) on the emulator with plain boto3: judge,
programmatic and custom metrics on your own responses (bring your own inference) and on a
Bedrock model, the output layout, states, stop, batch delete, IAM and refusals. Every JSON
answer is checked against botocore's model."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import TRUST_BEDROCK

JUDGE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
BUCKET = "eval-data"
ROWS = [
    (
        "What is the capital of France?",
        "Paris is the capital of France",
        "The capital of France is Paris",
    ),
    ("Which planet is largest?", "Jupiter is the largest planet", "Bananas are yellow"),
    (
        "Who wrote Hamlet?",
        "William Shakespeare wrote Hamlet",
        "Hamlet was written by William Shakespeare",
    ),
]


@pytest.fixture
def aws(checked_aws: Any) -> Any:
    """Every answer checked against botocore's model (``conftest.checked_aws``)."""
    return checked_aws


@pytest.fixture(scope="module")
def role(emulator: Any) -> str:
    s3, iam = emulator.client("s3"), emulator.client("iam")
    s3.create_bucket(Bucket=BUCKET)
    records = [
        {
            "prompt": p,
            "referenceResponse": ref,
            "category": "facts",
            "modelResponses": [{"response": answer, "modelIdentifier": "my-app-v1"}],
        }
        for p, ref, answer in ROWS
    ]
    body = "".join(json.dumps(r) + "\n" for r in records)
    s3.put_object(Bucket=BUCKET, Key="datasets/byoi.jsonl", Body=body.encode())
    arn: str = iam.create_role(
        RoleName="eval-role", AssumeRolePolicyDocument=json.dumps(TRUST_BEDROCK)
    )["Role"]["Arn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:ListBucket"],
                "Resource": [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/datasets/*"],
            },
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{BUCKET}/results/*"],
            },
        ],
    }
    iam.put_role_policy(RoleName="eval-role", PolicyName="eval", PolicyDocument=json.dumps(policy))
    return arn


def evaluation_config(
    metrics: list[str], custom: bool = False, dataset: str = "byoi", task: str = "QuestionAndAnswer"
) -> dict[str, Any]:
    config: dict[str, Any] = {
        "automated": {
            "datasetMetricConfigs": [
                {
                    "taskType": task,
                    "dataset": {
                        "name": "facts",
                        "datasetLocation": {"s3Uri": f"s3://{BUCKET}/datasets/{dataset}.jsonl"},
                    },
                    "metricNames": metrics,
                }
            ],
            "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
        }
    }
    if custom:
        config["automated"]["customMetricConfig"] = {
            "customMetrics": [
                {
                    "customMetricDefinition": {
                        "name": "matches_reference",
                        "instructions": "Does {{prediction}} say what {{ground_truth}} says?",
                        "ratingScale": [
                            {"definition": "no", "value": {"floatValue": 0}},
                            {"definition": "yes", "value": {"floatValue": 1}},
                        ],
                    }
                }
            ],
            "evaluatorModelConfig": {"bedrockEvaluatorModels": [{"modelIdentifier": JUDGE}]},
        }
    return config


BYOI = {"models": [{"precomputedInferenceSource": {"inferenceSourceIdentifier": "my-app-v1"}}]}


def create(
    aws: Any, name: str, role: str, config: dict[str, Any], inference: dict[str, Any] = BYOI
) -> str:
    arn: str = aws("bedrock").create_evaluation_job(
        jobName=name,
        roleArn=role,
        evaluationConfig=config,
        inferenceConfig=inference,
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/results/"},
    )["jobArn"]
    return arn


def wait(aws: Any, arn: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job: dict[str, Any] = aws("bedrock").get_evaluation_job(jobIdentifier=arn)
        if job["status"] in ("Completed", "Failed", "Stopped"):
            return job
        time.sleep(0.02)
    raise AssertionError("the evaluation job did not end")


def outputs(aws: Any, name: str) -> dict[str, list[dict[str, Any]]]:
    """Every `_output.jsonl` under the job's folder, found by listing (as AWS advises)."""
    s3 = aws("s3")
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"results/{name}/").get("Contents", [])
    ]
    found = {}
    for key in keys:
        if key.endswith("_output.jsonl"):
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read().decode()
            found[key] = [json.loads(line) for line in body.splitlines()]
    return found


def test_judge_and_custom_metrics_on_your_own_responses(aws: Any, role: str) -> None:
    metrics = [
        "Builtin.Correctness",
        "Builtin.Completeness",
        "Builtin.Helpfulness",
        "Builtin.Accuracy",
        "matches_reference",
    ]
    arn = create(aws, "byoi-judge", role, evaluation_config(metrics, custom=True))
    job = wait(aws, arn)
    assert job["status"] == "Completed", job.get("failureMessages")
    assert job["jobType"] == "Automated" and job["applicationType"] == "ModelEvaluation"
    found = outputs(aws, "byoi-judge")
    assert len(found) == 1
    ((key, lines),) = found.items()
    job_id = arn.rsplit("/", 1)[1]
    assert key.startswith(
        f"results/byoi-judge/{job_id}/models/my-app-v1/taskTypes/QuestionAndAnswer/datasets/facts/"
    )
    assert len(lines) == 3
    scores = [
        {s["metricName"]: s for s in line["automatedEvaluationResult"]["scores"]} for line in lines
    ]
    right, wrong = scores[0], scores[1]
    assert right["Builtin.Correctness"]["result"] > wrong["Builtin.Correctness"]["result"]
    assert 0 <= wrong["Builtin.Correctness"]["result"] <= 1
    assert right["matches_reference"]["result"] == 1 and wrong["matches_reference"]["result"] == 0
    # What the stand-in cannot judge is N/A, with the reason, not a made-up number.
    assert right["Builtin.Helpfulness"]["result"] is None
    assert "cannot judge" in right["Builtin.Helpfulness"]["evaluatorDetails"][0]["explanation"]
    explanation = right["Builtin.Correctness"]["evaluatorDetails"][0]
    assert explanation["modelIdentifier"] == JUDGE and "stand-in" in explanation["explanation"]
    assert lines[0]["inputRecord"]["prompt"] == ROWS[0][0]
    assert lines[0]["inputRecord"]["modelResponses"][0]["response"] == ROWS[0][2]
    assert aws("s3").head_object(
        Bucket=BUCKET,
        Key=f"results/byoi-judge/{job_id}/amazon-bedrock-evaluations-permission-check",
    )


def test_a_bedrock_model_generates_the_responses(aws: Any, role: str) -> None:
    inference = {
        "models": [
            {
                "bedrockModel": {
                    "modelIdentifier": "amazon.nova-micro-v1:0",
                    "inferenceParams": json.dumps({"inferenceConfig": {"maxTokens": 20}}),
                }
            }
        ]
    }
    arn = create(aws, "generated", role, evaluation_config(["Builtin.Relevance"]), inference)
    assert wait(aws, arn)["status"] == "Completed"
    ((key, lines),) = outputs(aws, "generated").items()
    assert "/models/amazon.nova-micro-v1:0/" in key
    response = lines[0]["inputRecord"]["modelResponses"][0]
    assert response["modelIdentifier"] == "amazon.nova-micro-v1:0" and response["response"]
    summaries = aws("bedrock").list_evaluation_jobs(nameContains="generated")["jobSummaries"]
    assert summaries[0]["modelIdentifiers"] == ["amazon.nova-micro-v1:0"]
    assert summaries[0]["evaluatorModelIdentifiers"] == [JUDGE]
    assert summaries[0]["evaluationTaskTypes"] == ["QuestionAndAnswer"]


def test_the_general_task_type_of_judge_samples_is_accepted(emulator: Any, role: str) -> None:
    # AWS's judge samples send taskType "General", which botocore's enum does not list: a
    # client that is not checked against the model, as theirs are not.
    plain = emulator.client
    config = evaluation_config(["Builtin.Correctness"], task="General")
    job = wait(lambda service: plain(service), create(plain, "general-task", role, config))
    assert job["status"] == "Completed"
    assert job["evaluationConfig"]["automated"]["datasetMetricConfigs"][0]["taskType"] == "General"


def test_bad_datasets_and_missing_responses_fail_the_job_with_the_line(aws: Any, role: str) -> None:
    s3 = aws("s3")
    s3.put_object(
        Bucket=BUCKET, Key="datasets/no-prompt.jsonl", Body=b'{"prompt": "a"}\n{"question": "b"}\n'
    )
    job = wait(
        aws,
        create(
            aws, "no-prompt", role, evaluation_config(["Builtin.Correctness"], dataset="no-prompt")
        ),
    )
    assert job["status"] == "Failed" and "no-prompt.jsonl line 2" in job["failureMessages"][0]
    s3.put_object(
        Bucket=BUCKET,
        Key="datasets/other-source.jsonl",
        Body=json.dumps(
            {"prompt": "a", "modelResponses": [{"response": "x", "modelIdentifier": "other"}]}
        ).encode(),
    )
    job = wait(
        aws,
        create(
            aws,
            "wrong-source",
            role,
            evaluation_config(["Builtin.Correctness"], dataset="other-source"),
        ),
    )
    assert job["status"] == "Failed" and "my-app-v1" in job["failureMessages"][0]
    private = evaluation_config(["Builtin.Correctness"])
    location = private["automated"]["datasetMetricConfigs"][0]["dataset"]["datasetLocation"]
    location["s3Uri"] = f"s3://{BUCKET}/private/byoi.jsonl"  # outside the role's datasets/*
    denied = wait(aws, create(aws, "not-readable", role, private))
    assert denied["status"] == "Failed" and "AccessDenied" in denied["failureMessages"][0]


def test_create_refuses_what_bedrock_refuses(aws: Any, role: str) -> None:
    deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefghijkl"
    cases = [
        ("upper-Case", evaluation_config(["Builtin.Correctness"]), BYOI),
        ("unknown-metric", evaluation_config(["Builtin.Correctness", "made_up"]), BYOI),
        ("toxicity", evaluation_config(["Builtin.Toxicity"]), BYOI),
        (
            "on-demand-custom",
            evaluation_config(["Builtin.Correctness"]),
            {"models": [{"bedrockModel": {"modelIdentifier": deployment}}]},
        ),
        (
            "three-models",
            evaluation_config(["Builtin.Correctness"]),
            {"models": BYOI["models"] * 3},
        ),
    ]
    no_judge = evaluation_config(["Builtin.Correctness"])
    del no_judge["automated"]["evaluatorModelConfig"]
    cases.append(("no-judge", no_judge, BYOI))
    for name, config, inference in cases:
        with pytest.raises(ClientError) as refused:
            create(aws, name, role, config, inference)
        assert refused.value.response["Error"]["Code"] == "ValidationException", name
    first = create(aws, "only-once", role, evaluation_config(["Builtin.Accuracy"]))
    with pytest.raises(ClientError) as taken:
        create(aws, "only-once", role, evaluation_config(["Builtin.Accuracy"]))
    assert taken.value.response["Error"]["Code"] == "ConflictException"
    wait(aws, first)


def test_stop_and_batch_delete(aws: Any, role: str) -> None:
    bedrock = aws("bedrock")
    done = create(aws, "to-delete", role, evaluation_config(["Builtin.Accuracy"]))
    wait(aws, done)
    with pytest.raises(ClientError) as ended:
        bedrock.stop_evaluation_job(jobIdentifier=done)
    assert ended.value.response["Error"]["Code"] == "ConflictException"
    missing = "arn:aws:bedrock:us-east-1:123456789012:evaluation-job/zzzzzzzzzzzz"
    answer = bedrock.batch_delete_evaluation_job(jobIdentifiers=[done, missing])
    assert answer["evaluationJobs"] == [{"jobIdentifier": done, "jobStatus": "Deleting"}]
    assert [e["jobIdentifier"] for e in answer["errors"]] == [missing]
    with pytest.raises(ClientError) as gone:
        bedrock.get_evaluation_job(jobIdentifier=done)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"

"""AWS's on-demand inference sample (``custom-models/on_demand_inference`` in
aws-samples/amazon-bedrock-samples: fine-tune Nova Micro to summarise news articles, deploy it
on demand, call it four ways) with its calls as written, on the real language model
(``models="lm"``, SmolLM2-135M-Instruct). CNN/DailyMail cannot be downloaded here, so the
articles come from a seeded generator (``news_articles.py``); everything else is the
sample's: role and policy documents, data format, hyperparameters, metric file paths,
deployment, Converse, ConverseStream, InvokeModel and InvokeModelWithResponseStream.

The stand-ins answered such a prompt with the summary of another article from the training
data; the language model must summarise the article it is given.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft as nf
from news_articles import SUMMARY_SYSTEM, articles, convert_to_nova_micro_format, rouge_l
from nova_ft import _local_models
from test_emulator_iam_policies import sample_access_policy, sample_trust

REAL = _local_models.installed_file()
pytestmark = pytest.mark.skipif(REAL is None, reason="the real SmolLM2 file is not installed")


@pytest.fixture(scope="module")
def emu(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.LocalEmulator]:
    with nf.LocalEmulator(
        tmp_path_factory.mktemp("emulator"),
        models="lm",
        deployment_delay=0.05,
        job_step_delay=0.0,
    ) as emulator:
        yield emulator


def wait_for(read: Any, waiting: str, limit: float = 900.0) -> str:
    deadline = time.monotonic() + limit
    status: str = read()
    while status == waiting and time.monotonic() < deadline:
        time.sleep(1)  # the sample sleeps 60 s
        status = read()
    return status


@pytest.mark.timeout(900)  # a real fine-tuning job and four generations on 2 cores
def test_the_on_demand_sample_summarises_the_article_it_is_given(
    emu: nf.LocalEmulator, tmp_path: Path
) -> None:
    region = "us-east-1"
    account_id = emu.client("sts").get_caller_identity()["Account"]
    bucket_name = f"bedrock-customization-{region}-{account_id}"
    s3_client = emu.client("s3")
    bedrock = emu.client("bedrock")
    brt = emu.client("bedrock-runtime")
    iam = emu.client("iam")

    # 01_setup_nova_micro.ipynb: bucket, role and policy (its documents as written), data.
    s3_client.create_bucket(Bucket=bucket_name)
    role_arn = iam.create_role(
        RoleName="AmazonBedrockCustomizationRole1",
        AssumeRolePolicyDocument=sample_trust(region),
        Description="Role for Bedrock to access S3 for finetuning",
    )["Role"]["Arn"]
    policy_arn = iam.create_policy(
        PolicyName="AmazonBedrockCustomizationPolicy1",
        PolicyDocument=sample_access_policy(bucket_name),
    )["Policy"]["Arn"]
    iam.attach_role_policy(RoleName="AmazonBedrockCustomizationRole1", PolicyArn=policy_arn)

    train = [convert_to_nova_micro_format(dp) for dp in articles(seed=1, n=16)]
    validation = [convert_to_nova_micro_format(dp) for dp in articles(seed=2, n=4)]
    uris = {}
    for name, rows in {"train": train, "validation": validation}.items():
        path = tmp_path / f"{name}-cnn-nova-micro.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        key = f"fine-tuning-datasets/{name}/{path.name}"
        s3_client.upload_file(str(path), bucket_name, key)
        uris[name] = f"s3://{bucket_name}/{key}"

    # 02_fine-tune_nova_micro_with_on_demand_inference.ipynb: the job, as written.
    custom_model_name = "amazon-nova-micro-custom-model-test"
    job_name = "amazon-nova-micro-custom-job-test"
    bedrock.create_model_customization_job(
        customizationType="FINE_TUNING",
        jobName=job_name,
        customModelName=custom_model_name,
        roleArn=role_arn,
        baseModelIdentifier="amazon.nova-micro-v1:0:128k",
        hyperParameters={"epochCount": "2", "batchSize": "1", "learningRate": "0.00005"},
        trainingDataConfig={"s3Uri": uris["train"]},
        validationDataConfig={"validators": [{"s3Uri": uris["validation"]}]},
        outputDataConfig={"s3Uri": f"s3://{bucket_name}/outputs/output-{custom_model_name}"},
    )
    status = wait_for(
        lambda: bedrock.get_model_customization_job(jobIdentifier=job_name)["status"],
        "InProgress",
    )
    assert status == "Completed"
    fine_tune_job = bedrock.get_custom_model(modelIdentifier=custom_model_name)
    custom_model_id = fine_tune_job["modelArn"]
    output_job_name = "model-customization-job-" + fine_tune_job["jobArn"].split("/")[-1]

    # The metric files at the sample's paths hold the model's real cross-entropy, falling.
    prefix = f"outputs/output-{custom_model_name}/{output_job_name}"
    pd = pytest.importorskip("pandas")

    def read_csv(key: str) -> Any:
        body = s3_client.get_object(Bucket=bucket_name, Key=f"{prefix}/{key}")["Body"].read()
        return pd.read_csv(io.BytesIO(body))

    train_data = read_csv("training_artifacts/step_wise_training_metrics.csv")
    losses = list(train_data.groupby("step_number").mean().training_loss)
    assert losses[-1] < losses[0]
    validation_metrics = read_csv(
        "validation_artifacts/post_fine_tuning_validation/validation/validation_metrics.csv"
    )
    assert len(validation_metrics.validation_loss) >= 1

    deployed_model_id = bedrock.create_custom_model_deployment(
        modelDeploymentName="novafinetunedtestfinal",
        modelArn=custom_model_id,
        description="on-demand custom model deployment",
        tags=[{"key": "key", "value": "value"}],
    )["customModelDeploymentArn"]
    status = wait_for(
        lambda: bedrock.get_custom_model_deployment(
            customModelDeploymentIdentifier=deployed_model_id
        )["status"],
        "Creating",
    )
    assert status == "Active"

    # An article the model never saw, and the four calls of the sample.
    article = articles(seed=3, n=1)[0]
    system_list = [{"text": SUMMARY_SYSTEM}]
    message_list = [
        {
            "role": "user",
            "content": [{"text": f"Summarize the following news article:\n\n{article['article']}"}],
        }
    ]
    answers = {}
    response = brt.converse(modelId=deployed_model_id, system=system_list, messages=message_list)
    answers["converse"] = response["output"]["message"]["content"][0]["text"]

    response = brt.converse_stream(
        modelId=deployed_model_id, system=system_list, messages=message_list
    )
    chunks = [
        chunk["contentBlockDelta"]["delta"]["text"]
        for chunk in response["stream"]
        if "contentBlockDelta" in chunk
    ]
    answers["converse_stream"] = "".join(chunks)

    inf_params = {"maxTokens": 500, "topP": 0.9, "topK": 20, "temperature": 0.7}
    request_body = {
        "schemaVersion": "messages-v1",
        "messages": message_list,
        "system": system_list,
        "inferenceConfig": inf_params,
    }
    response = brt.invoke_model(modelId=deployed_model_id, body=json.dumps(request_body))
    model_response = json.loads(response["body"].read())
    answers["invoke_model"] = model_response["output"]["message"]["content"][0]["text"]

    response = brt.invoke_model_with_response_stream(
        modelId=deployed_model_id, body=json.dumps(request_body)
    )
    streamed = []
    for event in response.get("body"):
        chunk = event.get("chunk")
        if chunk:
            delta = json.loads(chunk.get("bytes").decode()).get("contentBlockDelta")
            if delta:
                streamed.append(delta.get("delta").get("text"))
    answers["invoke_model_with_response_stream"] = "".join(streamed)

    # Each answer summarises this article: closer to its highlights than to any training
    # article's, and it names where the event happened.
    city = article["article"].split(" in ", 1)[1].split(" ", 1)[0]
    for call, answer in answers.items():
        own = rouge_l(answer, article["highlights"])
        nearest_training = max(
            rouge_l(answer, row["messages"][1]["content"][0]["text"]) for row in train
        )
        assert own > nearest_training, (call, answer)
        assert city in answer, (call, answer)

    bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployed_model_id)

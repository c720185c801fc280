"""Quality of the emulator's local models on real data, through the emulator's real API.

Every number comes from held-out data: the data is uploaded to the emulator's S3, a
customization job trains on it (as its IAM role), the model is deployed, and each test row
goes through Converse (boto3), for the base model id and the deployment side by side.

    python benches/model_quality.py [--only atis,geoquery]   # data via nova_ft.datasets
        [--only synthetic,atis,distill,geoquery,sql]

Reports: the tutorial's synthetic set (seed 7 train, seed 99 test); ATIS accuracy (train 4,478,
test 893); GeoQuery execution accuracy on geography.sqlite (train 549, scored on the 49 valid
rows, the test split being withheld); sql-create-context exact match and the share of queries
that run on the context schema (train 3,134, test 455, split by database); distillation on
ATIS prompts without labels; reinforcement fine-tuning on ATIS prompts with an exact-match
Lambda grader (Nova 2 Lite base). Training times are the emulator's own measurement.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from botocore.config import Config

import nova_ft
from nova_ft import datasets

TRUST = {
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
}
BASE_ID = "amazon.nova-micro-v1:0"


class Lab:
    """boto3 against one emulator: upload, train, deploy, ask."""

    def __init__(self, emu: nova_ft.LocalEmulator) -> None:
        config = Config(max_pool_connections=16, retries={"mode": "standard"})

        self.emu = emu
        self.s3, self.iam, self.bedrock, self.runtime = (
            emu.client(s, config=config) for s in ("s3", "iam", "bedrock", "bedrock-runtime")
        )
        self.s3.create_bucket(Bucket="quality")
        self.role = self.iam.create_role(
            RoleName="quality", AssumeRolePolicyDocument=json.dumps(TRUST)
        )["Role"]["Arn"]
        policy = {
            "Statement": [
                {
                    "Effect": "Allow",
                    "Action": ["s3:GetObject", "s3:PutObject"],
                    "Resource": "arn:aws:s3:::quality/*",
                }
            ]
        }
        self.iam.put_role_policy(
            RoleName="quality", PolicyName="p", PolicyDocument=json.dumps(policy)
        )

    def train(self, name: str, ds: nova_ft.Dataset, **job: Any) -> tuple[str, str]:
        """Upload train/valid, run a job, deploy; returns (deployment ARN, model description)."""
        self.s3.put_object(Bucket="quality", Key=f"{name}/train.jsonl", Body=ds.jsonl("train"))
        request: dict[str, Any] = {
            "jobName": name,
            "customModelName": name,
            "roleArn": self.role,
            "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
            "trainingDataConfig": {"s3Uri": f"s3://quality/{name}/train.jsonl"},
            "outputDataConfig": {"s3Uri": f"s3://quality/{name}/out/"},
            "hyperParameters": {
                "epochCount": "3",
                "learningRate": "0.00001",
                "learningRateWarmupSteps": "10",
            },
        }
        if "valid" in ds and "customizationConfig" not in job:
            self.s3.put_object(Bucket="quality", Key=f"{name}/valid.jsonl", Body=ds.jsonl("valid"))
            request["validationDataConfig"] = {
                "validators": [{"s3Uri": f"s3://quality/{name}/valid.jsonl"}]
            }
        request.update(job)
        arn = self.bedrock.create_model_customization_job(**request)["jobArn"]
        while (j := self.bedrock.get_model_customization_job(jobIdentifier=arn))[
            "status"
        ] == "InProgress":
            time.sleep(0.05)
        if j["status"] != "Completed":
            raise SystemExit(f"{name}: job {j['status']}: {j.get('failureMessage')}")
        model = urllib.parse.quote(j["outputModelArn"], safe="")
        url = f"{self.emu.endpoint_url}/custom-models/{model}"
        with urllib.request.urlopen(url) as raw:  # the description is not in boto3's shape
            description = json.load(raw)["description"]
        deployment = self.bedrock.create_custom_model_deployment(
            modelDeploymentName=name, modelArn=j["outputModelArn"]
        )["customModelDeploymentArn"]
        while (
            self.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment)[
                "status"
            ]
            != "Active"
        ):
            time.sleep(0.05)
        return deployment, description

    def ask(
        self, model_id: str, records: Sequence[dict[str, Any]], max_tokens: int = 512
    ) -> list[str]:
        def one(record: dict[str, Any]) -> str:
            response = self.runtime.converse(
                modelId=model_id,
                system=record.get("system", []),
                messages=[m for m in record["messages"] if m["role"] == "user"][:1],
                inferenceConfig={"maxTokens": max_tokens, "temperature": 0},
            )
            return str(response["output"]["message"]["content"][0]["text"]).strip()

        with ThreadPoolExecutor(8) as pool:
            return list(pool.map(one, records))


def gold(records: Sequence[dict[str, Any]]) -> list[str]:
    return [r["messages"][-1]["content"][0]["text"].strip() for r in records]


def accuracy(pred: Sequence[str], want: Sequence[str]) -> float:
    return sum(p.lower() == w.lower() for p, w in zip(pred, want, strict=True)) / len(want)


def seconds(description: str) -> str:
    found = re.search(r"trained in ([\d.]+) s", description)
    return found.group(1) + " s" if found else "?"


def row(name: str, base: float, tuned: float, extra: str = "") -> None:
    print(f"{name:<34} base {base:6.1%}   tuned {tuned:6.1%}   {extra}")


def synthetic(lab: Lab) -> None:
    ds = nova_ft.Dataset.synthetic(7, 800, 100)
    test = nova_ft.Dataset.synthetic(99, 120, 0).records("train")
    deployment, desc = lab.train("synthetic", ds)
    want = gold(test)
    row(
        "synthetic (seed 7 -> seed 99)",
        accuracy(lab.ask(BASE_ID, test, 8), want),
        accuracy(lab.ask(deployment, test, 8), want),
        f"trained in {seconds(desc)}",
    )


def atis_splits() -> tuple[nova_ft.Dataset, list[dict[str, Any]]]:
    """ATIS train (4,478) and valid (500) as one job's data, with one label list for both,
    and the 893 test rows with the same system prompt."""
    rows = {split: datasets.load("atis", split) for split in ("train", "valid", "test")}
    labels = sorted({r["intent"] for r in rows["train"] + rows["valid"]})
    paths = {}
    for split in ("train", "valid"):
        ds = nova_ft.Dataset.from_intents(rows[split], label="intent", labels=labels)
        paths[split] = ds.write_split("train", Path(f"/tmp/nova-ft-atis-{split}.jsonl"))
    combined = nova_ft.Dataset.from_jsonl(paths["train"], paths["valid"])
    system = combined.records()[0]["system"]
    test = [
        {
            "system": system,
            "messages": [
                {"role": "user", "content": [{"text": r["text"]}]},
                {"role": "assistant", "content": [{"text": r["intent"]}]},
            ],
        }
        for r in rows["test"]
    ]
    return combined, test


def atis(lab: Lab) -> None:
    combined, test = atis_splits()
    deployment, desc = lab.train("atis", combined)
    want = gold(test)
    row(
        "ATIS (test 893)",
        accuracy(lab.ask(BASE_ID, test, 16), want),
        accuracy(lab.ask(deployment, test, 16), want),
        f"trained in {seconds(desc)}, 3 epochs",
    )


def distill(lab: Lab) -> None:
    combined, test = atis_splits()
    records = combined.records("train")
    prompts = [{**r, "messages": r["messages"][:1]} for r in records[:3000]]
    labelled = records[3000:3010]  # about 10 curated labelled pairs, as AWS recommends
    path = Path("/tmp/nova-ft-distill.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in prompts + labelled))
    ds = nova_ft.Dataset.from_jsonl(path, task="distillation")
    deployment, _ = lab.train(
        "distill",
        ds,
        customizationType="DISTILLATION",
        hyperParameters={},
        customizationConfig={
            "distillationConfig": {
                "teacherModelConfig": {
                    "teacherModelIdentifier": "amazon.nova-pro-v1:0",
                    "maxResponseLengthForInference": 1000,
                }
            }
        },
    )
    want = gold(test)
    base = accuracy(lab.ask(BASE_ID, test, 16), want)
    teacher = accuracy(lab.ask("amazon.nova-pro-v1:0", test, 16), want)
    student = accuracy(lab.ask(deployment, test, 16), want)
    row(
        "ATIS distillation (3,000 prompts)",
        base,
        student,
        f"(student of the Pro teacher; the Pro id's zero-shot alone: {teacher:.1%})",
    )


def _sql_test(ds_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = nova_ft.Dataset.from_sql(ds_rows)
    return converted.records()


def _run(db: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]] | None:
    try:
        return sorted(db.execute(sql).fetchall(), key=repr)
    except (sqlite3.Error, sqlite3.Warning):
        return None


def geoquery(lab: Lab) -> None:
    train_rows = datasets.load("geoquery", "train")
    valid_rows = [r for r in datasets.load("geoquery", "valid") if r["gold_executes_in_sqlite"]]
    deployment, desc = lab.train("geoquery", nova_ft.Dataset.from_sql(train_rows))
    test = _sql_test(valid_rows)
    db = sqlite3.connect(f"file:{datasets.geoquery_database()}?mode=ro", uri=True)

    def execution(preds: list[str]) -> float:
        hits = 0
        for pred, r in zip(preds, valid_rows, strict=True):
            want = _run(db, r["sql"])
            hits += want is not None and _run(db, pred) == want
        return hits / len(valid_rows)

    row(
        f"GeoQuery execution ({len(valid_rows)} held out)",
        execution(lab.ask(BASE_ID, test)),
        execution(lab.ask(deployment, test)),
        f"trained in {seconds(desc)}",
    )


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace('"', "'").strip().rstrip(";")).lower()


def sql_create_context(lab: Lab) -> None:
    train_rows = [
        r for r in datasets.load("sql_create_context", "train") if r["sql_runs_on_context_schema"]
    ]
    test_rows = datasets.load("sql_create_context", "test")
    deployment, desc = lab.train("sqlcc", nova_ft.Dataset.from_sql(train_rows))
    test = _sql_test(test_rows)

    def scores(preds: list[str]) -> tuple[float, float]:
        exact = sum(
            _normalise(p) == _normalise(r["sql"]) for p, r in zip(preds, test_rows, strict=True)
        )
        runs = 0
        for pred, r in zip(preds, test_rows, strict=True):
            db = sqlite3.connect(":memory:")
            try:
                db.executescript(r["context"].replace(";", ";\n"))
                runs += _run(db, pred) is not None
            except sqlite3.Error:
                pass
        return exact / len(test_rows), runs / len(test_rows)

    base_exact, base_runs = scores(lab.ask(BASE_ID, test))
    tuned_exact, tuned_runs = scores(lab.ask(deployment, test))
    row("sql-create-context exact match", base_exact, tuned_exact, f"trained in {seconds(desc)}")
    row("sql-create-context runs on schema", base_runs, tuned_runs)


GRADER = """
def grade(samples):
    out = []
    for sample in samples:
        answer = sample["messages"][-1]["content"].strip().lower()
        reference = str(sample["metadata"]["reference_answer"]).strip().lower()
        score = 1.0 if answer == reference else 0.0
        out.append({"id": sample["id"], "aggregate_reward_score": score})
    return out
"""


def rft(lab: Lab) -> None:
    """RFT on ATIS prompts: the model never sees a label, only the grader's rewards (exact
    match with the reference answer); Nova 2 Lite's profile is the base."""
    combined, test = atis_splits()
    records = nova_ft.RftDataset.from_dataset(combined)
    lab.s3.put_object(Bucket="quality", Key="rft/train.jsonl", Body=records.jsonl())
    grader = nova_ft.RewardFunction(GRADER)
    lam = lab.emu.client("lambda")
    exec_role = lab.iam.create_role(
        RoleName="quality-grader",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "lambda.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ]
            }
        ),
    )["Role"]["Arn"]
    function = lam.create_function(
        FunctionName="quality-grader",
        Runtime="python3.12",
        Role=exec_role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": grader.package()},
        Timeout=120,
    )["FunctionArn"]
    lab.iam.put_role_policy(
        RoleName="quality",
        PolicyName="grader",
        PolicyDocument=json.dumps(
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": function}
                ]
            }
        ),
    )
    deployment, desc = lab.train(
        "atis-rft",
        combined,  # uploaded but unused: the job reads rft/train.jsonl
        baseModelIdentifier=nova_ft.RFT_BASE_MODEL,
        customizationType="REINFORCEMENT_FINE_TUNING",
        trainingDataConfig={"s3Uri": "s3://quality/rft/train.jsonl"},
        hyperParameters={},
        customizationConfig={
            "rftConfig": {
                "graderConfig": {"lambdaGrader": {"lambdaArn": function}},
                "hyperParameters": {"epochCount": 2, "batchSize": 64, "trainingSamplePerPrompt": 4},
            }
        },
    )
    want = gold(test)
    row(
        "ATIS RFT (test 893, no labels seen)",
        accuracy(lab.ask("us.amazon.nova-2-lite-v1:0", test, 16), want),
        accuracy(lab.ask(deployment, test, 16), want),
        f"trained in {seconds(desc)} (grader calls included), 2 epochs, exact-match grader",
    )


SUITES: dict[str, Callable[[Lab, Path], None]] = {
    "synthetic": synthetic,
    "atis": atis,
    "distill": distill,
    "geoquery": geoquery,
    "sql": sql_create_context,
    "rft": rft,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default=",".join(SUITES))
    args = parser.parse_args()
    # Unsigned: the model description is read with a plain HTTP GET (boto3 drops it).
    with nova_ft.LocalEmulator(
        deployment_delay=0.05, job_step_delay=0.0, verify_signatures=False
    ) as emu:
        lab = Lab(emu)
        print("local stand-in models (not Amazon Nova); held-out data; through the emulator's API")
        for name in args.only.split(","):
            SUITES[name](lab)


if __name__ == "__main__":
    main()

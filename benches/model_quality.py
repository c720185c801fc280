"""Quality of the emulator's local models on real data, through the emulator's real API.

Every number comes from held-out data: the data is uploaded to the emulator's S3, a
customization job trains on it (as its IAM role), the model is deployed, and each test row
goes through Converse (boto3), for the base model id and the deployment side by side. Each
job is trained once per seed (the emulator seeds a job's training from its name), and the
table gives the mean and the spread (min-max) over the seeds, beside the baselines that read
no input: always the training set's most frequent answer (majority) and a random answer drawn
by the training set's answer frequencies (label prior, its expected accuracy).

    python benches/model_quality.py [--seeds 5] [--only synthetic,atis,distill,geoquery,sql,rft]
    python benches/model_quality.py --only rft-grid     # RFT over learningRate x batchSize

Data comes through nova_ft.datasets. Reports: the tutorial's synthetic set (seed 7 train, seed 99
test); ATIS accuracy (train 4,478, test 893); GeoQuery execution accuracy on geography.sqlite
(train 549, scored on the valid rows whose gold runs, the test split being withheld);
sql-create-context exact match and the share of queries that run on the context schema (train
3,134, test 455, split by database); distillation on ATIS prompts without labels; reinforcement
fine-tuning on ATIS prompts with an exact-match Lambda grader and ATIS valid as its validation
set (Nova 2 Lite base). Training times are the emulator's own measurement.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import statistics
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
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

    def __init__(self, emu: nova_ft.LocalEmulator, seeds: Sequence[int]) -> None:
        # 16 long prompts at once on 2 cores can outlast boto3's 60 s read timeout.
        config = Config(max_pool_connections=16, read_timeout=600, retries={"mode": "standard"})

        self.emu = emu
        self.seeds = list(seeds)
        self.grader: str | None = None
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

    def train(self, name: str, ds: nova_ft.Dataset | None, **job: Any) -> tuple[str, str]:
        """Upload train/valid (unless ``ds`` is None: the job's ``trainingDataConfig`` names
        data already uploaded), run a job, deploy; returns (deployment ARN, model description)."""
        if ds is not None:
            body = ds.jsonl("train")
            self.s3.put_object(Bucket="quality", Key=f"{name}/train.jsonl", Body=body)
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
        if ds is not None and "valid" in ds and "customizationConfig" not in job:
            self.s3.put_object(Bucket="quality", Key=f"{name}/valid.jsonl", Body=ds.jsonl("valid"))
            request["validationDataConfig"] = {
                "validators": [{"s3Uri": f"s3://quality/{name}/valid.jsonl"}]
            }
        request.update(job)
        arn = self.bedrock.create_model_customization_job(**request)["jobArn"]
        # Polls back off to a second: a language model's job runs for minutes to hours, and
        # boto3 polling every 50 ms kept one of the 2 cores busy, away from the training.
        delay = 0.05
        while (j := self.bedrock.get_model_customization_job(jobIdentifier=arn))[
            "status"
        ] == "InProgress":
            time.sleep(delay)
            delay = min(delay * 1.5, 1.0)
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


def baselines(train_answers: Sequence[str], test_answers: Sequence[str]) -> tuple[float, float]:
    """(majority, label prior) accuracy on the test answers, from the training answers."""
    train = Counter(a.strip().lower() for a in train_answers)
    test = Counter(a.strip().lower() for a in test_answers)
    majority = train.most_common(1)[0][0]
    n_train, n_test = sum(train.values()), sum(test.values())
    prior = sum(c / n_train * test[a] / n_test for a, c in train.items())
    return test[majority] / n_test, prior


def mean_range(values: Sequence[float], fmt: str = ".3f") -> str:
    """Mean (min-max) of a figure over seeds, each written as ``fmt``."""
    mean, low, high = statistics.fmean(values), min(values), max(values)
    return f"{mean:{fmt}} ({low:{fmt}}-{high:{fmt}})"


def spread(values: Sequence[float]) -> str:
    """Mean and min-max of a list of shares, as percentages ("-" for none: ``--seeds 0``
    prints the base and the baselines alone)."""
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:6.1%}"
    return f"{statistics.fmean(values):6.1%} ({min(values):.1%}-{max(values):.1%})"


def report(
    name: str,
    base: float,
    tuned: Sequence[float],
    majority: float | None = None,
    prior: float | None = None,
    extra: str = "",
) -> None:
    """One line of the table."""
    shown = [
        f"{name:<38}",
        f"majority {majority:6.1%}" if majority is not None else " " * 15,
        f"prior {prior:6.1%}" if prior is not None else " " * 12,
        f"base {base:6.1%}",
        f"tuned {spread(tuned):<22}",
        extra,
    ]
    print("  ".join(shown), flush=True)


def synthetic(lab: Lab) -> None:
    ds = nova_ft.Dataset.synthetic(7, 800, 100)
    test = nova_ft.Dataset.synthetic(99, 120, 0).records("train")
    want = gold(test)
    majority, prior = baselines(gold(ds.records("train")), want)
    tuned = []
    for seed in lab.seeds:
        deployment, desc = lab.train(f"synthetic-s{seed}", ds)
        tuned.append(accuracy(lab.ask(deployment, test, 8), want))
    base = accuracy(lab.ask(BASE_ID, test, 8), want)
    report(
        "synthetic SFT (seed 7 -> seed 99)",
        base,
        tuned,
        majority,
        prior,
        f"trained in {seconds(desc)}",
    )
    students = distilled(lab, "synth-distill", ds.records("train"), test, 8)
    report(
        "synthetic distillation (790 prompts)",
        base,
        [accuracy(s, want) for s in students],
        *baselines(gold(ds.records("train")[-10:]), want),
        "baselines from the 10 labelled pairs; teacher: the Pro id",
    )
    majority_answer = Counter(gold(ds.records("train"))).most_common(1)[0][0]
    free_text_rft(
        lab,
        "synth",
        nova_ft.RftDataset.from_dataset(ds),
        test,
        GRADER,
        {"accuracy": lambda answers: accuracy(answers, want)},
        [majority_answer] * len(test),
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


def atis_baselines(combined: nova_ft.Dataset, test: list[dict[str, Any]]) -> tuple[float, float]:
    return baselines(gold(combined.records("train")), gold(test))


def atis(lab: Lab) -> None:
    combined, test = atis_splits()
    want = gold(test)
    tuned = []
    for seed in lab.seeds:
        deployment, desc = lab.train(f"atis-s{seed}", combined)
        tuned.append(accuracy(lab.ask(deployment, test, 16), want))
    report(
        "ATIS SFT (test 893)",
        accuracy(lab.ask(BASE_ID, test, 16), want),
        tuned,
        *atis_baselines(combined, test),
        f"trained in {seconds(desc)}, 3 epochs",
    )


def distilled(
    lab: Lab, name: str, records: list[dict[str, Any]], test: list[dict[str, Any]], max_tokens: int
) -> list[list[str]]:
    """Distillation jobs (one per seed) on `records` as prompts without answers, except 10
    labelled pairs (about what AWS recommends); each student's answers to the test rows."""
    prompts = [{**r, "messages": r["messages"][:1]} for r in records[:-10]]
    path = Path(f"/tmp/nova-ft-distill-{name}.jsonl")
    path.write_text("".join(json.dumps(r) + "\n" for r in prompts + records[-10:]))
    ds = nova_ft.Dataset.from_jsonl(path, task="distillation")
    answers = []
    for seed in lab.seeds:
        deployment, _ = lab.train(
            f"{name}-s{seed}",
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
        answers.append(lab.ask(deployment, test, max_tokens))
    return answers


def artifact(lab: Lab, name: str, suffix: str) -> bytes:
    """A file the job ``name`` wrote under its output location, found by its name's end."""
    listing = lab.s3.list_objects_v2(Bucket="quality", Prefix=f"{name}/out/")
    keys = [o["Key"] for o in listing.get("Contents", []) if o["Key"].endswith(suffix)]
    if not keys:
        raise SystemExit(f"{name}: no output file ending in {suffix}")
    body: bytes = lab.s3.get_object(Bucket="quality", Key=keys[0])["Body"].read()
    return body


def teacher_accuracy(lab: Lab, name: str, records: Sequence[dict[str, Any]]) -> float:
    """The teacher's accuracy on the prompts whose answers the job never saw, from the job's
    synthetic-data sample (Bedrock writes up to 100 of the teacher's answers there); the
    answers are those ``records`` had before the bench withheld them."""
    want = {r["messages"][0]["content"][0]["text"]: gold([r])[0] for r in records}
    lines = artifact(lab, name, "synthetic_data_sample.jsonl").decode().splitlines()
    sample = [json.loads(line) for line in lines if line.strip()]
    asked = [want[r["messages"][0]["content"][0]["text"]] for r in sample]
    return accuracy(gold(sample), asked)


def distill(lab: Lab) -> None:
    combined, test = atis_splits()
    records = combined.records("train")[:3010]
    want = gold(test)
    students = distilled(lab, "distill", records, test, 16)
    # The baselines here are what a user with only the 10 labelled pairs could know.
    majority, prior = baselines(gold(records[-10:]), want)
    teacher = teacher_accuracy(lab, f"distill-s{lab.seeds[0]}", records[:-10])
    report(
        "ATIS distillation (3,000 prompts)",
        accuracy(lab.ask(BASE_ID, test, 16), want),
        [accuracy(s, want) for s in students],
        majority,
        prior,
        f"baselines from the 10 labelled pairs; teacher (the Pro id) {teacher:.1%} on "
        "the unlabelled prompts it answered",
    )


def _sql_test(ds_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    converted = nova_ft.Dataset.from_sql(ds_rows)
    return converted.records()


def _run(db: sqlite3.Connection, sql: str) -> list[tuple[Any, ...]] | None:
    try:
        return sorted(db.execute(sql).fetchall(), key=repr)
    except (sqlite3.Error, sqlite3.Warning):
        return None


def _most_common(queries: Sequence[str]) -> str:
    counts = Counter(_normalise(q) for q in queries)
    top = counts.most_common(1)[0][0]
    return next(q for q in queries if _normalise(q) == top)


def geoquery(lab: Lab) -> None:
    train_rows = datasets.load("geoquery", "train")
    valid_rows = [r for r in datasets.load("geoquery", "valid") if r["gold_executes_in_sqlite"]]
    test = _sql_test(valid_rows)
    db = sqlite3.connect(f"file:{datasets.geoquery_database()}?mode=ro", uri=True)

    def execution(preds: Sequence[str]) -> float:
        hits = 0
        for pred, r in zip(preds, valid_rows, strict=True):
            want = _run(db, r["sql"])
            hits += want is not None and _run(db, pred) == want
        return hits / len(valid_rows)

    tuned = []
    for seed in lab.seeds:
        deployment, desc = lab.train(f"geoquery-s{seed}", nova_ft.Dataset.from_sql(train_rows))
        tuned.append(execution(lab.ask(deployment, test)))
    common = _most_common([r["sql"] for r in train_rows])
    report(
        f"GeoQuery execution ({len(valid_rows)} held out)",
        execution(lab.ask(BASE_ID, test)),
        tuned,
        execution([common] * len(valid_rows)),
        None,
        f"trained in {seconds(desc)}; majority = the most common training query",
    )


def _normalise(sql: str) -> str:
    return re.sub(r"\s+", " ", sql.replace('"', "'").strip().rstrip(";")).lower()


def sql_create_context(lab: Lab) -> None:
    train_rows = [
        r for r in datasets.load("sql_create_context", "train") if r["sql_runs_on_context_schema"]
    ]
    test_rows = datasets.load("sql_create_context", "test")
    test = _sql_test(test_rows)

    def scores(preds: Sequence[str]) -> tuple[float, float]:
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

    tuned = []
    for seed in lab.seeds:
        deployment, desc = lab.train(f"sqlcc-s{seed}", nova_ft.Dataset.from_sql(train_rows))
        tuned.append(scores(lab.ask(deployment, test)))
    base_exact, base_runs = scores(lab.ask(BASE_ID, test))
    common_exact, common_runs = scores([_most_common([r["sql"] for r in train_rows])] * len(test))
    report(
        "sql-create-context exact match",
        base_exact,
        [t[0] for t in tuned],
        common_exact,
        None,
        f"trained in {seconds(desc)}; majority = the most common training query",
    )
    report("sql-create-context runs on schema", base_runs, [t[1] for t in tuned], common_runs)
    records = nova_ft.Dataset.from_sql(train_rows[:2010]).records()
    students = distilled(lab, "sqlcc-distill", records, test, 512)
    report(
        "sql-create-context distillation exact",
        base_exact,
        [scores(s)[0] for s in students],
        common_exact,
        None,
        "2,000 prompts + 10 labelled pairs; teacher: the Pro id",
    )


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


def rft_setup(lab: Lab) -> tuple[str, nova_ft.Dataset, list[dict[str, Any]]]:
    """Uploads ATIS train as RFT prompts (intents only as reference answers) and ATIS valid
    as their validation set, and the exact-match grader; returns the grader's ARN."""
    combined, test = atis_splits()
    for split, key in (("train", "rft/train.jsonl"), ("valid", "rft/valid.jsonl")):
        part = nova_ft.Dataset.from_jsonl(Path(f"/tmp/nova-ft-atis-{split}.jsonl"))
        rft_records = nova_ft.RftDataset.from_dataset(part)
        lab.s3.put_object(Bucket="quality", Key=key, Body=rft_records.jsonl())
    if lab.grader is None:
        lab.grader = grader_function(lab, "quality-grader", GRADER)
    return lab.grader, combined, test


def rft_job(lab: Lab, name: str, function: str, hyperparameters: dict[str, Any]) -> str:
    deployment, _ = lab.train(
        name,
        None,  # the job reads rft/
        baseModelIdentifier=nova_ft.RFT_BASE_MODEL,
        customizationType="REINFORCEMENT_FINE_TUNING",
        trainingDataConfig={"s3Uri": "s3://quality/rft/train.jsonl"},
        validationDataConfig={"validators": [{"s3Uri": "s3://quality/rft/valid.jsonl"}]},
        hyperParameters={},
        customizationConfig={
            "rftConfig": {
                "graderConfig": {"lambdaGrader": {"lambdaArn": function}},
                "hyperParameters": hyperparameters,
            }
        },
    )
    return deployment


RFT_BASE = "us.amazon.nova-2-lite-v1:0"


def rft(lab: Lab) -> None:
    """RFT on ATIS prompts: the model never sees a label, only the grader's rewards (exact
    match with the reference answer); Nova 2 Lite's profile is the base."""
    function, combined, test = rft_setup(lab)
    want = gold(test)
    tuned = []
    settings = {"epochCount": 2, "batchSize": 64, "trainingSamplePerPrompt": 4}
    for seed in lab.seeds:
        deployment = rft_job(lab, f"atis-rft-s{seed}", function, settings)
        tuned.append(accuracy(lab.ask(deployment, test, 16), want))
    report(
        "ATIS RFT (test 893, no labels seen)",
        accuracy(lab.ask(RFT_BASE, test, 16), want),
        tuned,
        *atis_baselines(combined, test),
        "2 epochs, batch 64, 4 samples, lr default (1e-5), exact-match grader",
    )


def rft_grid(lab: Lab) -> None:
    """RFT on ATIS over learningRate x batchSize (2 epochs, 4 samples per prompt), one seed
    per cell: test accuracy, and its margin over the better of base and majority."""
    function, combined, test = rft_setup(lab)
    want = gold(test)
    base = accuracy(lab.ask(RFT_BASE, test, 16), want)
    majority, prior = atis_baselines(combined, test)
    print(
        f"ATIS RFT grid (test 893): base {base:.1%}, majority {majority:.1%}, "
        f"prior {prior:.1%}; 2 epochs, 4 samples per prompt"
    )
    batches = (16, 32, 64, 128)
    print(f"{'learningRate':>12}  " + "  ".join(f"batch {b:>3}" for b in batches))
    worst = 1.0
    for k, lr in enumerate((1e-5, 3e-5, 5e-5, 1e-4)):
        cells = []
        for batch in batches:
            settings = {
                "epochCount": 2,
                "batchSize": batch,
                "learningRate": lr,
                "trainingSamplePerPrompt": 4,
            }
            deployment = rft_job(lab, f"grid-lr{k}-{batch}", function, settings)
            score = accuracy(lab.ask(deployment, test, 16), want)
            worst = min(worst, score - max(base, majority))
            cells.append(f"{score:9.1%}")
        print(f"{lr:>12g}  " + "  ".join(cells), flush=True)
    print(f"smallest margin over max(base, majority): {worst:+.1%}")


SQL_GRADER = """
import re
import sqlite3


def _norm(sql):
    return re.sub(r"\\s+", " ", sql.replace('"', "'").strip().rstrip(";")).lower()


def grade(samples):
    out = []
    for sample in samples:
        answer = sample["messages"][-1]["content"]
        reference = str(sample["metadata"]["reference_answer"])
        prompt = sample["messages"][-2]["content"]
        schema = prompt.split("### Context:")[-1].split("### Response:")[0]
        db = sqlite3.connect(":memory:")
        try:
            db.executescript(schema.replace(";", ";\\n"))
            db.execute(answer).fetchall()
            runs = True
        except Exception:
            runs = False
        # The reference query: 1; another that runs on the schema: half its token F1.
        if _norm(answer) == _norm(reference):
            score = 1.0
        elif runs:
            a, r = _norm(answer).split(), _norm(reference).split()
            common = sum(min(a.count(t), r.count(t)) for t in set(a))
            score = 0.0 if not common else common / (len(a) + len(r))
        else:
            score = 0.0
        out.append({"id": sample["id"], "aggregate_reward_score": score})
    return out
"""

MATH_GRADER = """
import re


def grade(samples):
    out = []
    for sample in samples:
        answer = sample["messages"][-1]["content"]
        numbers = re.findall(r"-?\\d+(?:\\.\\d+)?", answer)
        want = float(sample["metadata"]["reference_answer"])
        right = bool(numbers) and abs(float(numbers[-1]) - want) < 1e-6
        out.append({"id": sample["id"], "aggregate_reward_score": 1.0 if right else 0.0})
    return out
"""


def grader_function(lab: Lab, name: str, code: str) -> str:
    """A Lambda grader the job role may invoke."""
    lam = lab.emu.client("lambda")
    exec_role = lab.iam.create_role(
        RoleName=f"{name}-exec",
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
    arn = lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=exec_role,
        Handler="lambda_function.lambda_handler",
        Code={"ZipFile": nova_ft.RewardFunction(code).package()},
        Timeout=120,
    )["FunctionArn"]
    lab.iam.put_role_policy(
        RoleName="quality",
        PolicyName=name,
        PolicyDocument=json.dumps(
            {"Statement": [{"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn}]}
        ),
    )
    return arn


def rft_train(
    lab: Lab, name: str, data_key: str, grader: str, hyperparameters: dict[str, Any]
) -> tuple[str, str]:
    """An RFT job on the prompts uploaded at ``s3://quality/<data_key>``, graded by the Lambda
    function ``grader``, deployed: (deployment ARN, model description)."""
    return lab.train(
        name,
        None,
        baseModelIdentifier=nova_ft.RFT_BASE_MODEL,
        customizationType="REINFORCEMENT_FINE_TUNING",
        trainingDataConfig={"s3Uri": f"s3://quality/{data_key}"},
        hyperParameters={},
        customizationConfig={
            "rftConfig": {
                "graderConfig": {"lambdaGrader": {"lambdaArn": grader}},
                "hyperParameters": hyperparameters,
            }
        },
    )


def free_text_rft(
    lab: Lab,
    name: str,
    train: nova_ft.RftDataset,
    test: list[dict[str, Any]],
    grader: str,
    metrics: dict[str, Callable[[Sequence[str]], float]],
    majority: Sequence[str],
) -> None:
    """RFT on a task (labels or free text): upload, train per seed, score the test rows by
    each metric (the majority row answers every test row with the most common training
    answer)."""
    lab.s3.put_object(Bucket="quality", Key=f"{name}/train.jsonl", Body=train.jsonl())
    function = grader_function(lab, f"{name}-grader", grader)
    answers = []
    for seed in lab.seeds:
        settings = {"epochCount": 2, "batchSize": 32, "trainingSamplePerPrompt": 8}
        deployment, desc = rft_train(
            lab, f"{name}-rft-s{seed}", f"{name}/train.jsonl", function, settings
        )
        answers.append(lab.ask(deployment, test, 128))
    base = lab.ask(RFT_BASE, test, 128)
    for metric, score in metrics.items():
        report(
            f"{name} RFT {metric} (test {len(test)})",
            score(base),
            [score(a) for a in answers],
            score(majority),
            None,
            f"trained in {seconds(desc)}; 2 epochs, batch 32, 8 samples; no answers seen",
        )


def grader(
    code: str, test: list[dict[str, Any]]
) -> Callable[[Sequence[str]], list[dict[str, Any]]]:
    """The grades ``code``'s ``grade`` gives answers to the test rows (the grader run here)."""
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # a bench's own grader source

    def grades(answers: Sequence[str]) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = namespace["grade"](grader_samples(test, answers))
        return found

    return grades


def grader_score(code: str, test: list[dict[str, Any]]) -> Callable[[Sequence[str]], float]:
    """The mean reward the grader gives answers to the test rows (the grader run here)."""
    grades = grader(code, test)

    def score(answers: Sequence[str]) -> float:
        rewards = [g["aggregate_reward_score"] for g in grades(answers)]
        return sum(rewards) / len(rewards)

    return score


def grader_samples(test: list[dict[str, Any]], answers: Sequence[str]) -> list[dict[str, Any]]:
    """What Bedrock sends a grader for each test row's answer."""
    return [
        {
            "id": str(i),
            "messages": [
                {"role": "user", "content": r["messages"][0]["content"][0]["text"]},
                {"role": "assistant", "content": a},
            ],
            "metadata": {"reference_answer": r["messages"][-1]["content"][0]["text"]},
        }
        for i, (r, a) in enumerate(zip(test, answers, strict=True))
    ]


def rft_sql(lab: Lab) -> None:
    """RFT on sql-create-context: the grader runs the query on the prompt's schema and
    compares it with the reference; the policy chooses among queries it can build."""
    train_rows = [
        r for r in datasets.load("sql_create_context", "train") if r["sql_runs_on_context_schema"]
    ][:2000]
    test_rows = datasets.load("sql_create_context", "test")
    train = nova_ft.RftDataset.from_dataset(nova_ft.Dataset.from_sql(train_rows))
    test = _sql_test(test_rows)

    def exact(preds: Sequence[str]) -> float:
        return sum(
            _normalise(p) == _normalise(r["sql"]) for p, r in zip(preds, test_rows, strict=True)
        ) / len(test_rows)

    common = _most_common([r["sql"] for r in train_rows])
    metrics = {"exact match": exact, "mean reward": grader_score(SQL_GRADER, test)}
    free_text_rft(lab, "sqlcc", train, test, SQL_GRADER, metrics, [common] * len(test))


def arithmetic_rows(seed: int, count: int) -> list[dict[str, Any]]:
    """Word problems over two numbers (nova_ft's own generator for this bench: the model is
    told nothing about them, and the test rows use other numbers and names)."""
    import random

    rng = random.Random(seed)
    names = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana"]
    templates = [
        ("{n} has {a} marbles and finds {b} more. How many marbles now?", lambda a, b: a + b),
        ("{n} had {a} stamps and gave away {b}. How many are left?", lambda a, b: a - b),
        ("{n} buys {a} boxes of {b} pens each. How many pens in total?", lambda a, b: a * b),
        (
            "{n} shares {a} sweets equally among {b} friends. How many does each get?",
            lambda a, b: a // b,
        ),
    ]
    rows = []
    for _ in range(count):
        template, op = rng.choice(templates)
        b = rng.randint(2, 12)
        a = b * rng.randint(2, 12) if "shares" in template else rng.randint(b + 1, 99)
        rows.append({"text": template.format(n=rng.choice(names), a=a, b=b), "gold": op(a, b)})
    return rows


MATH_SYSTEM = "Solve the problem. Answer with the number only."


def arithmetic_records(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Word problems as conversation records: MATH_SYSTEM, the problem, its number."""
    return [
        {
            "system": [{"text": MATH_SYSTEM}],
            "messages": [
                {"role": "user", "content": [{"text": r["text"]}]},
                {"role": "assistant", "content": [{"text": str(r["gold"])}]},
            ],
        }
        for r in rows
    ]


def arithmetic_rft(rows: Sequence[dict[str, Any]]) -> nova_ft.RftDataset:
    """Word problems as RFT prompts, each with its number as the reference answer (what
    ``RftDataset.from_dataset`` makes of ``arithmetic_records(rows)``)."""
    return nova_ft.RftDataset(
        {
            "id": f"train-{i}",
            "messages": [
                {"role": "system", "content": MATH_SYSTEM},
                {"role": "user", "content": r["text"]},
            ],
            "reference_answer": str(r["gold"]),
        }
        for i, r in enumerate(rows)
    )


def rft_math(lab: Lab) -> None:
    """RFT on arithmetic word problems with a grader that checks the number."""
    train_rows, test_rows = arithmetic_rows(1, 800), arithmetic_rows(2, 200)
    train = arithmetic_rft(train_rows)
    test = arithmetic_records(test_rows)
    want = [str(r["gold"]) for r in test_rows]

    def right(preds: Sequence[str]) -> float:
        return accuracy(preds, want)

    counts = Counter(str(r["gold"]) for r in train_rows)
    majority = [counts.most_common(1)[0][0]] * len(test)
    free_text_rft(lab, "math", train, test, MATH_GRADER, {"accuracy": right}, majority)


SUITES: dict[str, Callable[[Lab], None]] = {
    "rft-sql": rft_sql,
    "rft-math": rft_math,
    "synthetic": synthetic,
    "atis": atis,
    "distill": distill,
    "geoquery": geoquery,
    "sql": sql_create_context,
    "rft": rft,
    "rft-grid": rft_grid,
}
DEFAULT_SUITES = "synthetic,atis,distill,geoquery,sql,rft,rft-sql,rft-math"


def run_suites(
    description: str,
    suites: Mapping[str, Callable[[Lab], None]],
    default: str,
    seeds: int,
    heading: str,
    **emulator: Any,
) -> None:
    """A bench's command line: ``--only`` (suites, comma-separated), ``--seeds`` and
    ``--first-seed``; the suites run on one emulator, after ``heading`` (``{seeds}`` filled
    in)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--only", default=default)
    parser.add_argument("--seeds", type=int, default=seeds, help="training runs per model")
    parser.add_argument(
        "--first-seed",
        type=int,
        default=0,
        help="the first training seed (seeds run from it), to finish a long suite's seeds later",
    )
    args = parser.parse_args()
    # Unsigned: the model description is read with a plain HTTP GET (boto3 drops it).
    with nova_ft.LocalEmulator(
        deployment_delay=0.05, job_step_delay=0.0, verify_signatures=False, **emulator
    ) as emu:
        lab = Lab(emu, range(args.first_seed, args.first_seed + args.seeds))
        print(heading.format(seeds=args.seeds))
        for name in args.only.split(","):
            suites[name](lab)


def main() -> None:
    run_suites(
        __doc__.splitlines()[0],
        SUITES,
        DEFAULT_SUITES,
        5,
        "local stand-in models (not Amazon Nova); held-out data; through the emulator's API; "
        "tuned = mean (min-max) over {seeds} seeds",
    )


if __name__ == "__main__":
    main()

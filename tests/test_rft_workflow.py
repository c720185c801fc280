"""Reinforcement fine-tuning through nova_ft (sync and async) and the CLI, on the embedded
emulator: RFT data, a reward function tested locally then deployed as a Lambda grader, the
job, its reward curve, the tuned model against the base, the job history and clean-up."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft as nf
from nova_ft.cli import main
from nova_ft.exceptions import DatasetValidationError, InvalidParameterError, RewardFunctionError


def grade(samples):  # type: ignore[no-untyped-def]
    """Exact match with the reference answer (self-contained: it runs in Lambda)."""
    out = []
    for s in samples:
        answer = s["messages"][-1]["content"].strip().lower()
        score = 1.0 if answer == str(s["metadata"]["reference_answer"]).lower() else 0.0
        out.append({"id": s["id"], "aggregate_reward_score": score})
    return out


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.Session]:
    data_dir = tmp_path_factory.mktemp("emulator")
    with nf.Session.local(data_dir, deployment_delay=0.1, job_step_delay=0.02) as s:
        yield s


@pytest.fixture(scope="module")
def data() -> nf.Dataset:
    return nf.Dataset.synthetic(seed=7, train=400, valid=0, test=120, test_seed=99)


def test_rft_data_keeps_the_answer_for_the_grader_only(data: nf.Dataset) -> None:
    rft = nf.RftDataset.from_dataset(data)
    assert len(rft) == 400 and rft.validate().ok
    record = rft.records[0]
    assert [m["role"] for m in record["messages"]] == ["system", "user"]
    assert record["reference_answer"] == data.records()[0]["messages"][-1]["content"][0]["text"]
    # Too few records, and a record without a reference, are named with their line.
    small = nf.RftDataset([*rft.records[:5], {"messages": record["messages"]}])
    report = small.validate()
    assert {(i.line, i.field) for i in report.errors} >= {
        (6, "reference_answer"),
        (None, "dataset"),
    }
    with pytest.raises(DatasetValidationError):
        report.raise_for_errors()


def test_a_reward_function_is_tested_before_anything_is_spent(data: nf.Dataset) -> None:
    rft = nf.RftDataset.from_dataset(data)
    good = nf.RewardFunction.from_callable(grade)
    result = good.test(rft, limit=50)
    assert result.ok and result.summary()["right_mean"] == 1.0
    assert set(result.to_frame()["kind"]) == {"right", "wrong"}
    # A grader that rewards everything cannot teach anything; one that breaks is caught.
    flat = nf.RewardFunction(
        "def grade(samples):\n    return [{'id': s['id'], 'aggregate_reward_score': 1}"
        " for s in samples]\n"
    )
    with pytest.raises(RewardFunctionError, match="does not tell"):
        flat.test(rft, limit=20).raise_for_errors()
    broken = nf.RewardFunction("def grade(samples):\n    return samples[0]['nope']\n")
    failed = broken.test(rft, limit=20)
    assert failed.errors and "KeyError" in failed.errors[0]
    # The failing line is quoted, so the user can find it.
    assert "line 2: return samples[0]['nope']" in failed.errors[0]
    with pytest.raises(RewardFunctionError):
        nf.RewardFunction("def grade(:\n").load()
    with pytest.raises(InvalidParameterError):
        nf.RftHyperparameters(samples_per_prompt=1)


def test_rft_end_to_end_beats_the_base_and_cleans_up(session: nf.Session, data: nf.Dataset) -> None:
    rft = nf.RftDataset.from_dataset(data)
    bucket = session.bucket().ensure()
    location = rft.upload(bucket, "rft/")
    role = session.training_role(location).ensure()
    grader = session.deploy_grader(nf.RewardFunction.from_callable(grade), role)
    settings = nf.RftHyperparameters(epochs=2, batch_size=32, samples_per_prompt=4)
    job = session.fine_tune(
        location,
        role,
        customization="REINFORCEMENT_FINE_TUNING",
        grader=grader,
        rft_hyperparameters=settings,
    )
    model = job.wait(progress=False)
    assert job.info is not None and job.info.customization_type == "REINFORCEMENT_FINE_TUNING"
    assert job.info.hyperparameters["graderLambdaArn"] == grader.function_arn
    curve = job.rewards()
    held_out = curve["eval_reward"].dropna()
    assert len(held_out) >= 2 and held_out.iloc[-1] > held_out.iloc[0]
    deployment = model.deploy()
    deployment.wait(progress=False)
    report = session.benchmark(
        data, {"base": nf.RFT_BASE_MODEL, "rft": deployment}, out_dir=None
    ).run(progress=False)
    # The training base is invoked through its inference profile (us. in us-east-1).
    assert report.models["base"]["failed"] == 0 and report.accuracy("base") > 0
    assert report.accuracy("rft") > report.accuracy("base")
    history = session.jobs()
    row = history[history["name"] == job.name].iloc[0]
    assert row["type"] == "REINFORCEMENT_FINE_TUNING" and row["data_etag"]
    assert row["hp.batchSize"] == "32"
    done = {r.kind for r in session.cleanup()}
    assert {"lambda", "deployment", "custom_model"} <= done
    lam = session.emulator.client("lambda") if session.emulator else None
    assert lam is not None and not lam.list_functions()["Functions"]


def test_rft_async_matches_sync(session: nf.Session, data: nf.Dataset) -> None:
    async def flow() -> Any:
        rft = nf.RftDataset.from_dataset(data)
        bucket = await session.bucket().ensure_async()
        location = await rft.upload_async(bucket, "rft-async/")
        role = await session.training_role(location, name="RftAsync").ensure_async()
        grader = await session.deploy_grader_async(
            nf.RewardFunction.from_callable(grade, name="async-grader"), role
        )
        job = await session.fine_tune_async(
            location,
            role,
            customization="REINFORCEMENT_FINE_TUNING",
            grader=grader,
            rft_hyperparameters={"epochCount": 1, "batchSize": 32},
        )
        return await job.wait_async()

    model = asyncio.run(flow())
    assert model.arn.startswith("arn:aws:bedrock:")
    session.cleanup()


def test_rft_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = ["--local", "--data-dir", str(tmp_path / "emu")]
    data = nf.Dataset.synthetic(seed=3, train=200, valid=0)
    data.write_split("train", tmp_path / "sft.jsonl")
    (tmp_path / "grader.py").write_text(
        "def grade(samples):\n"
        "    return [{'id': s['id'], 'aggregate_reward_score': float("
        "s['messages'][-1]['content'] == s['metadata']['reference_answer'])} for s in samples]\n"
    )

    def run(*argv: str) -> Any:
        code = main([*argv, "--json"])
        out = capsys.readouterr().out
        assert code == 0, out
        return json.loads(out)

    rft = str(tmp_path / "rft.jsonl")
    assert run("rft", "convert", str(tmp_path / "sft.jsonl"), "-o", rft)["records"] == 200
    assert run("rft", "test-grader", str(tmp_path / "grader.py"), "--data", rft)["ok"] is True
    run("bucket", "ensure", *local)
    run("rft", "upload", rft, *local)
    run("role", "ensure", *local)
    grader = run("rft", "deploy-grader", str(tmp_path / "grader.py"), *local)
    assert grader["function_arn"].endswith(":function:nova-ft-grader")
    job = run("rft", "train", "--grader", "nova-ft-grader", "--batch-size", "32", "--wait", *local)
    assert job["status"] == "Completed"
    curve = run("rft", "rewards", job["name"], *local)
    assert curve[0]["step_number"] == 0 and len(curve) > 2
    jobs = run("jobs", *local)
    assert [j["type"] for j in jobs] == ["REINFORCEMENT_FINE_TUNING"]
    # A grader that cannot tell right from wrong fails its test (exit 1), before any job.
    (tmp_path / "flat.py").write_text(
        "def grade(samples):\n    return [{'id': s['id'], 'aggregate_reward_score': 0.5}"
        " for s in samples]\n"
    )
    assert main(["rft", "test-grader", str(tmp_path / "flat.py"), "--data", rft]) == 1


def test_rft_takes_a_validation_set_as_aws_samples_send_it(session: nf.Session) -> None:
    """AWS's RFT samples (nova_gsm8k_rft, nova_finqa_rft) send validationDataConfig with a Nova
    2 Lite base; the job evaluates on it. Supervised fine-tuning of Nova 2 still refuses one."""
    train = nf.RftDataset.from_dataset(nf.Dataset.synthetic(seed=3, train=300, valid=0))
    valid = nf.RftDataset.from_dataset(nf.Dataset.synthetic(seed=4, train=60, valid=0))
    bucket = session.bucket().ensure()
    location = train.upload(bucket, "rft-valid/", validation=valid)
    assert location.valid_uri is not None and location.valid_uri.endswith("valid.jsonl")
    role = session.training_role(location).ensure()
    grader = session.deploy_grader(nf.RewardFunction.from_callable(grade), role)
    job = session.fine_tune(
        location,
        role,
        customization="REINFORCEMENT_FINE_TUNING",
        grader=grader,
        rft_hyperparameters=nf.RftHyperparameters(epochs=1, batch_size=16, eval_interval=5),
    )
    job.wait(progress=False)
    assert job.status == "Completed"
    evals = job.rewards()["eval_reward"].dropna()
    assert len(evals) >= 2 and evals.iloc[-1] > evals.iloc[0]
    bedrock = session.emulator.client("bedrock") if session.emulator else None
    assert bedrock is not None
    with pytest.raises(bedrock.exceptions.ValidationException, match="validation data"):
        bedrock.create_model_customization_job(
            jobName="nova2-sft-with-validation",
            customModelName="nova2-sft-with-validation",
            roleArn=role.arn,
            baseModelIdentifier="amazon.nova-2-lite-v1:0:256k",
            trainingDataConfig={"s3Uri": location.train_uri},
            validationDataConfig={"validators": [{"s3Uri": location.valid_uri}]},
            outputDataConfig={"s3Uri": location.output_uri},
            hyperParameters={"epochCount": "1"},
        )


def grade_number(samples):  # type: ignore[no-untyped-def]
    """1 when the answer's last number is the reference (self-contained: it runs in Lambda)."""
    import re

    out = []
    for s in samples:
        found = re.findall(r"-?\d+", s["messages"][-1]["content"])
        right = bool(found) and found[-1] == str(s["metadata"]["reference_answer"])
        out.append({"id": s["id"], "aggregate_reward_score": 1.0 if right else 0.0})
    return out


def _arithmetic(seed: int, count: int) -> list[dict[str, Any]]:
    import random

    rng = random.Random(seed)
    records = []
    for _ in range(count):
        a, b = rng.randint(2, 40), rng.randint(2, 40)
        text, answer = rng.choice(
            [
                (f"Ann has {a} pens and gets {b} more. How many?", a + b),
                (f"There are {a} rows of {b} seats. How many seats?", a * b),
            ]
        )
        records.append(
            {
                "messages": [
                    {"role": "system", "content": "Answer with the number only."},
                    {"role": "user", "content": text},
                ],
                "reference_answer": str(answer),
            }
        )
    return records


def test_rft_on_free_text_learns_from_a_grader_that_checks_the_number(
    session: nf.Session,
) -> None:
    """Prompts without a label list: the stand-in's policy over the answers it can build
    (here, arithmetic on the prompt's numbers) learns which one the wording calls for."""
    train = nf.RftDataset(_arithmetic(1, 300))
    test = _arithmetic(2, 60)
    bucket = session.bucket().ensure()
    location = train.upload(bucket, "rft-math/")
    role = session.training_role(location).ensure()
    grader = session.deploy_grader(nf.RewardFunction.from_callable(grade_number), role)
    job = session.fine_tune(
        location,
        role,
        customization="REINFORCEMENT_FINE_TUNING",
        grader=grader,
        rft_hyperparameters=nf.RftHyperparameters(
            epochs=2, batch_size=16, samples_per_prompt=8, learning_rate=5e-5
        ),
    )
    model = job.wait(progress=False)
    deployment = model.deploy()
    deployment.wait(progress=False)
    rows = [
        {
            "text": r["messages"][1]["content"],
            "gold": r["reference_answer"],
            "system": r["messages"][0]["content"],
        }
        for r in test
    ]
    report = session.benchmark(
        rows, {"base": nf.RFT_BASE_MODEL, "rft": deployment}, max_tokens=32
    ).run(progress=False)
    assert report.accuracy("base") == 0.0
    assert report.accuracy("rft") >= 0.8

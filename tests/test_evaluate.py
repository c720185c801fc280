"""Bedrock evaluation jobs through nova_ft on the emulator: a benchmark's answers written as
an evaluation dataset, judged, and read back next to the benchmark's own accuracy."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import nova_ft as nf
from nova_ft.exceptions import InvalidParameterError

TEST = nf.Dataset.synthetic(seed=99, train=0, valid=0, test=30, test_seed=99)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.Session]:
    with nf.Session.local(tmp_path_factory.mktemp("emu"), job_step_delay=0.02) as s:
        yield s


@pytest.fixture(scope="module")
def report(session: nf.Session, tmp_path_factory: pytest.TempPathFactory) -> nf.BenchmarkReport:
    out = tmp_path_factory.mktemp("bench")
    models = {"micro": "amazon.nova-micro-v1:0", "pro": "amazon.nova-pro-v1:0"}
    return session.benchmark(TEST, models, out_dir=out, max_tokens=8).run(progress=False)


def test_the_answers_become_an_evaluation_dataset(
    report: nf.BenchmarkReport, tmp_path: Path
) -> None:
    path = report.to_evaluation_dataset(tmp_path / "eval.jsonl")
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(lines) == 30
    first = lines[0]
    assert (
        first["referenceResponse"] == TEST.records("test")[0]["messages"][-1]["content"][0]["text"]
    )
    assert [r["modelIdentifier"] for r in first["modelResponses"]] == ["micro", "pro"]
    user = TEST.records("test")[0]["messages"][0]["content"][0]["text"]
    assert first["prompt"].endswith(user)  # the system prompt, then the request
    one = report.to_evaluation_dataset(tmp_path / "one.jsonl", models=["pro"], limit=5)
    assert [len(json.loads(x)["modelResponses"]) for x in one.read_text().splitlines()] == [1] * 5
    with pytest.raises(InvalidParameterError, match="no model 'nano'"):
        report.to_evaluation_dataset(tmp_path / "x.jsonl", models=["nano"])


def test_evaluate_judges_the_answers_and_agrees_with_the_benchmark(
    session: nf.Session, report: nf.BenchmarkReport
) -> None:
    exact = nf.CustomMetric(
        "same_label",
        "Is {{prediction}} the label {{ground_truth}}?",
        [("different", 0.0), ("same", 1.0)],
    )
    job = session.evaluate(report, custom_metrics=[exact], evaluator="amazon.nova-pro-v1:0")
    assert job.status is None and job.name.startswith("nova-ft-eval-")
    job.wait(progress=False)
    assert job.status == "Completed"
    results = job.results()
    assert set(results["model"]) == {"micro", "pro"}
    assert set(results["metric"]) == {"Builtin.Correctness", "Builtin.Completeness", "same_label"}
    # Where the answer is the label, the judge says so; where it is not, it scores lower.
    correct = results[(results["metric"] == "Builtin.Correctness")]
    right = correct[correct["response"] == correct["reference"]]["result"]
    wrong = correct[correct["response"] != correct["reference"]]["result"]
    assert len(right) and len(wrong)
    assert right.min() > wrong.max()
    same = results[results["metric"] == "same_label"]
    assert (same["result"] == (same["response"] == same["reference"]).astype(float)).all()
    summary = job.summary(results)
    for name in ("micro", "pro"):
        # The custom exact-label metric is the benchmark's accuracy, row for row.
        assert summary.loc[name, "same_label"] == pytest.approx(report.accuracy(name))
        assert summary.loc[name, "benchmark accuracy"] == report.accuracy(name)
    assert list(summary["n/a"]) == [0, 0]
    # A second job on the same answers, under a name of one's own.
    again = session.evaluate(report, custom_metrics=[exact], job_name="a-second-look")
    assert again.wait(progress=False).status == "Completed"
    kinds = {(r.kind, r.id) for r in session.record.in_cleanup_order()}
    assert ("role", "BedrockNovaEvaluation") in kinds


def test_a_dataset_file_names_its_sources(session: nf.Session, tmp_path: Path) -> None:
    path = tmp_path / "mine.jsonl"
    path.write_text(
        json.dumps(
            {
                "prompt": "What is the capital of France?",
                "referenceResponse": "Paris is the capital of France",
                "modelResponses": [{"response": "Paris", "modelIdentifier": "app-v2"}],
            }
        )
        + "\n"
    )
    with pytest.raises(InvalidParameterError, match="sources="):
        session.evaluate(path)
    job = session.evaluate(
        path, sources=["app-v2"], metrics=["Builtin.Correctness", "Builtin.Helpfulness"]
    )
    results = job.wait(progress=False).results()
    assert set(results["model"]) == {"app-v2"}
    helpful = results[results["metric"] == "Builtin.Helpfulness"]
    assert helpful["result"].isna().all()  # the stand-in does not judge it: N/A, with the reason
    assert "cannot judge" in helpful["explanation"].iloc[0]

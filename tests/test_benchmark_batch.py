"""The benchmark in batch mode through nova_ft on the emulator: Bedrock batch inference jobs
for the models batch can run, online Converse for the rest, one report."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft as nf
from nova_ft.exceptions import InvalidParameterError

TEST = nf.Dataset.synthetic(seed=99, train=0, valid=0, test=150, test_seed=99)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.Session]:
    data_dir = tmp_path_factory.mktemp("emulator")
    with nf.Session.local(data_dir, deployment_delay=0.05, job_step_delay=0.02) as s:
        yield s


@pytest.fixture(scope="module")
def deployment(session: nf.Session) -> nf.Deployment:
    bucket = session.bucket().ensure()
    data = nf.Dataset.synthetic(seed=7, train=400, valid=40)
    location = data.upload(bucket)
    role = session.training_role(location).ensure()
    model = session.fine_tune(location, role).wait(progress=False)
    deployed = model.deploy()
    deployed.wait(progress=False)
    return deployed


def test_batch_scores_what_online_scores_at_the_batch_price(
    session: nf.Session, tmp_path: Path
) -> None:
    base = {"base": "amazon.nova-micro-v1:0"}
    online = session.benchmark(TEST, base, out_dir=tmp_path / "online").run(progress=False)
    bench = session.benchmark(
        TEST, base, out_dir=tmp_path / "batch", mode="batch", poll_seconds=0.05
    )
    batch = bench.run(progress=False)
    assert batch.modes == {"base": "batch"} and online.modes == {"base": "online"}
    # The same model on the same requests: the same answers, row by row.
    answers = {}
    for name, report in (("online", online), ("batch", batch)):
        assert report.results_path is not None
        lines = report.results_path.read_text().splitlines()
        answers[name] = {r["row_id"]: r["prediction"] for r in map(json.loads, lines)}
    assert answers["batch"] == answers["online"] and len(answers["batch"]) == 150
    assert batch.accuracy("base") == online.accuracy("base")
    m_batch, m_online = batch.models["base"], online.models["base"]
    assert m_batch["input_tokens"] == m_online["input_tokens"] > 0
    assert m_batch["cost_usd"] == pytest.approx(m_online["cost_usd"] / 2)
    assert any("batch inference jobs" in n for n in batch.raw["notes"])
    assert batch.summary().loc["base", "mode"] == "batch"
    # What was sent is kept beside the results, one Converse request per row.
    sent = (tmp_path / "batch" / "batch-input-amazon-nova-micro-v1-0-0000.jsonl").read_text()
    first = json.loads(sent.splitlines()[0])
    assert first["modelInput"]["messages"][0]["role"] == "user"
    # The role the job ran as may touch only this run's prefixes.
    prefix = bench.batch_options["prefix"]
    iam = session.emulator.client("iam") if session.emulator else None
    assert iam is not None
    role = bench.batch_options["role_arn"].rsplit("/", 1)[1]
    policy = iam.get_role_policy(RoleName=role, PolicyName="s3-scoped")["PolicyDocument"]
    resources = {r for s in policy["Statement"] for r in s["Resource"]}
    bucket = bench.batch_options["bucket"]
    assert f"arn:aws:s3:::{bucket}/{prefix}/input/*" in resources
    assert f"arn:aws:s3:::{bucket}/{prefix}/output/*" in resources
    # Running again resumes: nothing is called, no second job.
    again = session.benchmark(TEST, base, out_dir=tmp_path / "batch", mode="batch").run(
        progress=False
    )
    assert (again.run["resumed"], again.run["called"]) == (150, 0)
    jobs = session.emulator.client("bedrock").list_model_invocation_jobs()  # type: ignore[union-attr]
    ours = [
        j
        for j in jobs["invocationJobSummaries"]
        if j["jobName"].startswith(bench.batch_options["job_prefix"])
    ]
    assert len(ours) == 1 and ours[0]["status"] == "Completed"


def test_a_deployment_runs_online_beside_the_batch_base(
    session: nf.Session, deployment: nf.Deployment, tmp_path: Path
) -> None:
    models: dict[str, Any] = {"base": "amazon.nova-micro-v1:0", "tuned": deployment}
    report = session.benchmark(
        TEST, models, out_dir=tmp_path, mode="batch", poll_seconds=0.05, max_tokens=8
    ).run(progress=False)
    assert report.modes == {"base": "batch", "tuned": "online"}
    assert report.accuracy("tuned") > report.accuracy("base")
    assert report.models["tuned"]["latency_ms"]["p50"] > 0
    online_cost = report.models["tuned"]["cost_usd"] / report.models["tuned"]["input_tokens"]
    batch_cost = report.models["base"]["cost_usd"] / report.models["base"]["input_tokens"]
    assert batch_cost < online_cost
    assert report.raw["comparisons"][0]["rows"] == 150


def test_an_input_over_one_files_records_is_split_into_a_folder(
    session: nf.Session, tmp_path: Path
) -> None:
    base = {"base": "amazon.nova-micro-v1:0"}
    bench = session.benchmark(TEST, base, out_dir=tmp_path, mode="batch", records_per_file=60)
    report = bench.run(progress=False)
    parts = sorted(p.name for p in tmp_path.glob("batch-input-*.jsonl"))
    assert [len(p.read_text().splitlines()) for p in sorted(tmp_path.glob("batch-input-*"))] == [
        60,
        60,
        30,
    ]
    assert parts[0].endswith("-0000.jsonl") and report.models["base"]["requests"] == 150
    assert report.models["base"]["failed"] == 0


def test_fewer_rows_than_a_batch_job_takes_are_refused_with_what_to_do(
    session: nf.Session, tmp_path: Path
) -> None:
    small = nf.Dataset.synthetic(seed=99, train=0, valid=0, test=40, test_seed=99)
    bench = session.benchmark(small, ["amazon.nova-micro-v1:0"], out_dir=tmp_path, mode="batch")
    with pytest.raises(InvalidParameterError, match=r"at least 100 records.*mode='online'"):
        bench.run(progress=False)
    with pytest.raises(InvalidParameterError, match="mode must be online or batch"):
        session.benchmark(small, ["amazon.nova-micro-v1:0"], mode="offline")


def test_a_teacher_labels_prompts_through_batch_and_a_student_trains_on_them(
    session: nf.Session, tmp_path: Path
) -> None:
    prompts = nf.Dataset.synthetic(seed=3, train=120, valid=0)
    labelled = session.teacher_answers(prompts, out_dir=tmp_path, max_tokens=16, progress=False)
    records = labelled.records("train")
    assert len(records) == 120
    # Each answer is the teacher's own for that prompt (what Converse on it says).
    first = records[0]
    user = first["messages"][0]["content"][0]["text"]
    reply = session.converse(
        "amazon.nova-pro-v1:0", user, system=first["system"][0]["text"], max_tokens=16
    )
    assert first["messages"][-1]["content"][0]["text"] == reply.text
    assert (tmp_path / "teacher-train.jsonl").exists()
    location = labelled.upload(session.bucket().ensure(), prefix="teacher-data/")
    role = session.training_role(location).ensure()
    job = session.fine_tune(location, role, job_name="student-from-batch")
    student = job.wait(progress=False)
    assert job.status == "Completed" and student.arn.startswith("arn:aws:bedrock:")

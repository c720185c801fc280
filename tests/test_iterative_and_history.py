"""The model lifecycle after the first job, through nova_ft and the CLI: iterative
fine-tuning from a custom model, stopping a job (API, CLI, Ctrl-C), and the job history."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

import nova_ft as nf
from nova_ft.cli import main
from nova_ft.exceptions import JobFailedError, ServiceValidationError


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.Session]:
    data_dir = tmp_path_factory.mktemp("emulator")
    with nf.Session.local(data_dir, deployment_delay=0.05, job_step_delay=0.02) as s:
        yield s


def accuracy(session: nf.Session, model: nf.CustomModel, test: nf.Dataset) -> float:
    deployment = model.deploy()
    deployment.wait(progress=False)
    report = session.benchmark(test, {"m": deployment}, max_tokens=8).run(progress=False)
    return report.accuracy("m")


def test_iterative_fine_tuning_continues_from_the_custom_model(session: nf.Session) -> None:
    bucket = session.bucket().ensure()
    first = nf.Dataset.synthetic(seed=7, train=600, valid=50)
    more = nf.Dataset.synthetic(seed=5, train=16, valid=0)
    test = nf.Dataset.synthetic(seed=99, train=0, valid=0, test=120, test_seed=99)
    v1_data = first.upload(bucket, "v1/")
    v2_data = more.upload(bucket, "v2/")
    role = session.training_role(v1_data, name="Iterative").ensure()
    role_v2 = session.training_role(v2_data, name="IterativeV2").ensure()
    v1 = session.fine_tune(v1_data, role).wait(progress=False)
    v2_job = session.fine_tune(v2_data, role_v2, base_model=v1.arn, job_name="v2")
    v2 = v2_job.wait(progress=False)
    fresh = session.fine_tune(v2_data, role_v2, job_name="fresh").wait(progress=False)
    assert v2_job.info is not None and v2_job.info.base_model_arn == v1.arn
    # Continuing keeps what v1 learned; the same 16 records alone teach much less.
    assert accuracy(session, v2, test) > accuracy(session, fresh, test)
    # Only fine-tuned models continue, and only by fine-tuning.
    with pytest.raises(ServiceValidationError, match="Iterative"):
        session.fine_tune(
            v2_data,
            role_v2,
            base_model=v1.arn,
            customization="DISTILLATION",
            teacher_model="amazon.nova-pro-v1:0",
            job_name="distil-from-custom",
        )
    history = session.jobs()
    assert {"v2", "fresh"} <= set(history["name"])
    row = history[history["name"] == "v2"].iloc[0]
    assert row["type"] == "FINE_TUNING" and row["status"] == "Completed"
    assert row["duration_s"] >= 0 and row["final_training_loss"] > 0 and row["data_etag"]
    assert row["hp.epochCount"] == "2"


def test_a_job_is_stopped_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The CLI reaches a running emulator as any AWS endpoint, with its well-known keys.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    with nf.Session.local(tmp_path / "emu", job_step_delay=30) as slow:
        data = nf.Dataset.synthetic(seed=7, train=100, valid=0)
        location = data.upload(slow.bucket().ensure())
        role = slow.training_role(location).ensure()
        job = slow.fine_tune(location, role)
        assert job.status == "InProgress"
        slow_url = slow.endpoint_url
        assert slow_url
        code = main(
            ["stop", job.name, "--endpoint-url", slow_url, "--region", "us-east-1", "--json"]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        assert json.loads(out)["status"] in ("Stopping", "Stopped")
        with pytest.raises(JobFailedError, match="Stopped"):
            job.wait(progress=False, timeout=10)


def test_ctrl_c_stops_the_job_when_asked(tmp_path: Path) -> None:
    import _thread
    import threading

    with nf.Session.local(tmp_path / "emu", job_step_delay=30) as slow:
        data = nf.Dataset.synthetic(seed=7, train=100, valid=0)
        location = data.upload(slow.bucket().ensure())
        role = slow.training_role(location).ensure()
        job = slow.fine_tune(location, role)
        # Ctrl-C, as a terminal or Jupyter's interrupt delivers it, half a second in.
        timer = threading.Timer(0.5, _thread.interrupt_main)
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            job.wait(progress=False, stop_on_interrupt=True)
        timer.join()
        assert job.status in ("Stopping", "Stopped")
        assert job.refresh().status in ("Stopping", "Stopped")

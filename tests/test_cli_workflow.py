"""The CLI steps, one command each, sharing the embedded emulator's state directory; the demo;
and Ctrl-C during a long wait."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from nova_ft.cli import main


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code = main([*argv, "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    return json.loads(out)


def test_the_tutorial_step_by_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    local = ["--local", "--data-dir", str(tmp_path / "emu")]
    assert main(["dataset", "synth", "--out", str(tmp_path / "data"), "--test", "30"]) == 0
    capsys.readouterr()
    models = run_json(capsys, "models", *local, "--customization", "FINE_TUNING")
    assert "amazon.nova-micro-v1:0:128k" in {m["model_id"] for m in models}
    bucket = run_json(capsys, "bucket", "ensure", *local)
    assert bucket["created"] is True
    assert run_json(capsys, "bucket", "ensure", *local)["created"] is False
    uploaded = run_json(capsys, "upload", str(tmp_path / "data"), *local)
    assert [o["uploaded"] for o in uploaded] == [True, True]
    role = run_json(capsys, "role", "ensure", *local)
    assert role["arn"].endswith(":role/BedrockNovaFineTune")
    job = run_json(capsys, "train", *local, "--epochs", "3")
    again = run_json(capsys, "train", *local, "--epochs", "3")
    assert again["arn"] == job["arn"]
    waited = run_json(capsys, "wait", job["name"], *local)
    assert waited["status"] == "Completed"
    deployed = run_json(capsys, "deploy", "--job", job["name"], *local)
    assert deployed["status"] == "Active"
    updated = run_json(capsys, "update", deployed["name"], "--job", job["name"], *local)
    assert (updated["arn"], updated["update_status"]) == (deployed["arn"], "UpdateCompleted")
    provisioned = run_json(
        capsys, "deploy", "--job", job["name"], "--provisioned", "1", "--name", "cli-pt", *local
    )
    assert provisioned["status"] == "InService" and ":provisioned-model/" in provisioned["arn"]
    bench = run_json(
        capsys,
        "bench",
        *local,
        "--model-id",
        "amazon.nova-micro-v1:0",
        "--model-id",
        deployed["arn"],
        "--data",
        str(tmp_path / "data" / "test.jsonl"),
        "--out",
        str(tmp_path / "bench"),
        "--max-tokens",
        "8",
    )
    assert bench["tuned"]["accuracy"] > bench["base"]["accuracy"]
    assert bench["base"]["requests"] == 30 and bench["tuned"]["failures"] == 0
    assert (tmp_path / "bench" / "report.json").exists()
    assert main(["dataset", "synth", "--out", str(tmp_path / "big"), "--test", "120"]) == 0
    capsys.readouterr()
    batch = run_json(
        capsys,
        "bench",
        *local,
        "--batch",
        "--poll-seconds",
        "0.05",
        "--model-id",
        "amazon.nova-micro-v1:0",
        "--model-id",
        deployed["arn"],
        "--data",
        str(tmp_path / "big" / "test.jsonl"),
        "--out",
        str(tmp_path / "bench-batch"),
        "--max-tokens",
        "8",
    )
    assert (batch["base"]["mode"], batch["tuned"]["mode"]) == ("batch", "online")
    assert batch["base"]["requests"] == batch["tuned"]["requests"] == 120
    judged = run_json(
        capsys,
        "bench",
        *local,
        "--evaluate",
        "--model-id",
        "amazon.nova-micro-v1:0",
        "--model-id",
        deployed["arn"],
        "--data",
        str(tmp_path / "data" / "test.jsonl"),
        "--out",
        str(tmp_path / "bench"),
        "--max-tokens",
        "8",
    )
    evaluation = judged["evaluation"]
    assert set(evaluation) == {"base", "tuned"}
    assert evaluation["tuned"]["benchmark accuracy"] == judged["tuned"]["accuracy"]
    assert evaluation["tuned"]["Builtin.Correctness"] > evaluation["base"]["Builtin.Correctness"]
    reply = run_json(
        capsys, "converse", *local, "--model-id", deployed["arn"], "car rental in boston"
    )
    assert reply["text"] == "ground_service"
    deleted = run_json(capsys, "cleanup", *local)
    kinds = {d["kind"] for d in deleted}
    assert kinds >= {"deployment", "provisioned", "custom_model", "object", "prefix", "role"}
    roles = {d["id"] for d in deleted if d["kind"] == "role"}
    assert roles == {"BedrockNovaFineTune", "BedrockNovaBatchInference", "BedrockNovaEvaluation"}
    assert run_json(capsys, "cleanup", *local) == []


def test_errors_exit_1_with_the_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["wait", "no-such-job", "--local", "--data-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert "ResourceNotFoundException" in err and "hint:" in err


def test_demo_runs_end_to_end_and_again(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "local stand-ins" in text and "not Amazon Nova" in text
    results = json.loads((out / "results.json").read_text())
    assert results["tuned"]["accuracy"] >= 0.95
    assert results["base"]["accuracy"] < results["tuned"]["accuracy"]
    assert results["local_stand_in_models"] is True
    for picture in ("loss.png", "accuracy.png", "confusion_tuned.png"):
        assert (out / picture).read_bytes()[:4] == b"\x89PNG"
    job = results["job"]["arn"]
    assert main(["demo", "--out", str(out)]) == 0
    capsys.readouterr()
    again = json.loads((out / "results.json").read_text())
    assert again["job"]["arn"] == job
    assert again["run"]["resumed"] == 240


def test_demo_on_aws_asks_first_and_creates_nothing_on_no(tmp_path: Path) -> None:
    env = {**os.environ, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "x"}
    env["AWS_SECRET_ACCESS_KEY"] = "y"
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # nothing listens: any call would fail
    done = subprocess.run(
        [sys.executable, "-m", "nova_ft", "demo", "--aws", "--out", str(tmp_path / "o")],
        input="n\n",
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert "costs money" in done.stdout and "training ~$" in done.stdout
    assert "nothing was created" in done.stderr
    assert not (tmp_path / "o").exists()


WAIT_SCRIPT = """
import signal, sys, nova_ft as nf
# This test sends SIGINT: make sure it means Ctrl-C, however the suite was started.
signal.signal(signal.SIGINT, signal.default_int_handler)
with nf.Session.local(sys.argv[1], job_step_delay=600.0) as s:
    data = nf.Dataset.synthetic(seed=7, train=100, valid=10)
    location = data.upload(s.bucket().ensure())
    job = s.fine_tune(location, s.training_role(location).ensure())
    print("waiting", flush=True)
    job.wait(progress=False)
"""


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_interrupts_wait_and_says_the_job_keeps_running(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", WAIT_SCRIPT, str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "waiting"
        time.sleep(0.5)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    assert "keeps running on Bedrock" in err

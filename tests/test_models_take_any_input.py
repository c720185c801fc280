"""No input panics a local model, through Converse: random Unicode system prompts, label
lists, schemas and questions go to the base, teacher and judge ids and to a fine-tuned
deployment; every call is answered (a 200 with text), and the emulator keeps serving.
(The Rust property tests in crates/nova-ft-models/tests/no_panics.rs drive the models
directly, RFT policies included.)"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import pytest

import nova_ft as nf

# Characters whose case mapping changes their length in bytes, combining marks, right-to-left
# text, emoji, and the characters the readers look for.
ALPHABET = "aZ09 _-#:,.'\"()\n\tß\u0131\u017fİﬃé\u0301\u05d0\u0627😀\u200b<>/=*;"


def _text(rng: random.Random, n: int) -> str:
    parts = []
    for _ in range(n):
        choice = rng.random()
        if choice < 0.15:
            parts.append(rng.choice(["CREATE TABLE ", "### Input:", "### Context:", "<SCORE>"]))
        elif choice < 0.3:
            parts.append(rng.choice(["score from 0 to 100", "Expected: ", "Generated: "]))
        else:
            parts.append("".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def _prompts(seed: int, count: int) -> Iterator[tuple[str, str]]:
    rng = random.Random(seed)
    for _ in range(count):
        labels = [_text(rng, 1) for _ in range(rng.randint(1, 5))]
        system = rng.choice(
            [
                f"Answer with one label from: {', '.join(labels)}",
                _text(rng, 6),
                f"Write SQL. CREATE TABLE {_text(rng, 1)} ({_text(rng, 1)} INTEGER, x TEXT)",
            ]
        )
        yield "s " + system, "q " + _text(rng, rng.randint(1, 12))


@pytest.fixture(scope="module")
def runtime_and_deployment() -> Iterator[tuple[Any, str]]:
    with nf.Session.local(deployment_delay=0.05, job_step_delay=0.0) as session:
        data = nf.Dataset.synthetic(seed=5, train=120, valid=0)
        location = data.upload(session.bucket().ensure())
        role = session.training_role(location).ensure()
        model = session.fine_tune(location, role).wait(progress=False)
        deployment = model.deploy()
        deployment.wait(progress=False)
        assert session.emulator is not None
        yield session.emulator.client("bedrock-runtime"), deployment.model_id


def test_every_model_answers_any_unicode_prompt(runtime_and_deployment: tuple[Any, str]) -> None:
    runtime, deployment = runtime_and_deployment
    models = [
        "amazon.nova-micro-v1:0",
        "amazon.nova-pro-v1:0",
        "anthropic.claude-3-5-sonnet-20240620-v1:0",
        deployment,
    ]
    for i, (system, user) in enumerate(_prompts(seed=11, count=60)):
        response = runtime.converse(
            modelId=models[i % len(models)],
            system=[{"text": system}],
            messages=[{"role": "user", "content": [{"text": user}]}],
            inferenceConfig={"maxTokens": 256},
        )
        assert response["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert isinstance(response["output"]["message"]["content"][0]["text"], str)
    # Still serving, and still right where it should be.
    answer = runtime.converse(
        modelId=deployment,
        system=[{"text": nf.SYNTHETIC_SYSTEM_PROMPT}],
        messages=[{"role": "user", "content": [{"text": "show me flights to denver"}]}],
    )["output"]["message"]["content"][0]["text"]
    assert answer == "flight"

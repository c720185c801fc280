"""Statistics, cost estimates and the exception hierarchy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import nova_ft
from nova_ft import exceptions
from nova_ft.cli import main


def test_stats_cli_reports_labels_tokens_and_cost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    nova_ft.Dataset.synthetic().write(tmp_path)
    assert main(["dataset", "stats", str(tmp_path / "train.jsonl"), "--epochs", "3"]) == 0
    out = capsys.readouterr().out
    assert "records:          800" in out
    assert "labels (8):" in out
    assert "x 3 epochs" in out
    assert main(["--json", "dataset", "stats", str(tmp_path / "train.jsonl")]) == 0
    data = json.loads(capsys.readouterr().out)
    assert sum(x["count"] for x in data["labels"]) == 800
    assert data["cost"]["epochs"] == 2


def test_cost_estimate_follows_the_price_table() -> None:
    report = nova_ft.Dataset.synthetic().validate(epochs=3)
    cost, prices = report.cost, nova_ft.price_table()
    stats = report.stats
    assert cost.training_tokens == stats.input_tokens + stats.output_tokens
    assert cost.training_usd == pytest.approx(
        cost.training_tokens * 3 * prices.training_per_thousand / 1000
    )
    per_query = (
        cost.mean_input_tokens * prices.input_per_million
        + cost.mean_output_tokens * prices.output_per_million
    ) / 1e6
    assert cost.inference_usd_per_1000 == pytest.approx(per_query * 1000)
    assert prices.input_per_million == 0.035 and prices.output_per_million == 0.14
    assert "training_per_thousand" in prices.unverified


def test_stats_count_tokens_with_the_one_estimator() -> None:
    assert nova_ft.estimate_tokens("") == 0
    assert nova_ft.estimate_tokens("show me flights") == 4
    ds = nova_ft.Dataset.synthetic(7, 10, 0)
    stats = ds.validate().stats
    frame = ds.to_frame()
    expected_in = sum(
        nova_ft.estimate_tokens(s) + nova_ft.estimate_tokens(u)
        for s, u in zip(frame["system"], frame["input"], strict=True)
    )
    expected_out = sum(nova_ft.estimate_tokens(t) for t in frame["target"])
    assert (stats.input_tokens, stats.output_tokens) == (expected_in, expected_out)
    assert "estimated" in stats.token_estimator


def test_every_error_derives_from_nova_ft_error() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        if isinstance(cls, type) and issubclass(cls, BaseException):
            assert issubclass(cls, exceptions.NovaFtError)
    err = exceptions.NovaFtError(
        "it broke", code="ThrottlingException", request_id="r-1", hint="retry"
    )
    assert str(err) == "it broke [ThrottlingException] (request id r-1)\nhint: retry"
    assert nova_ft.exceptions is exceptions


def test_unknown_task_is_an_invalid_parameter(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("{}\n")
    with pytest.raises(nova_ft.InvalidParameterError, match="unknown task"):
        nova_ft.validate(path, task="pretraining")

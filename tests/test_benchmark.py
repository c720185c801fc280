"""The benchmark loop and its metrics: every row answered exactly once (faults, resume,
cancel), and scores that match a hand count."""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

import nova_ft as nf
from nova_ft import _nova_ft

SYSTEM = "Classify the intent. Choose one of: flight, airfare, ground_service"


def intent_rows(n: int) -> list[dict[str, str]]:
    texts = [
        ("show me flights from boston to denver", "flight"),
        ("how much is a fare to dallas", "airfare"),
        ("car rental in miami", "ground_service"),
    ]
    return [
        {"id": f"r{i}", "text": texts[i % 3][0], "gold": texts[i % 3][1], "system": SYSTEM}
        for i in range(n)
    ]


def result_keys(path: Path) -> Counter[tuple[str, str]]:
    keys: Counter[tuple[str, str]] = Counter()
    for line in path.read_text().splitlines():
        row = json.loads(line)
        keys[(row["row_id"], row["model"])] += 1
    return keys


def test_faults_lose_nothing_and_duplicate_nothing(tmp_path: Path) -> None:
    with nf.Session.local(tmp_path / "emu", throttle_rate=0.3, error_rate=0.05) as session:
        bench = session.benchmark(
            intent_rows(1000),
            ["amazon.nova-micro-v1:0"],
            out_dir=tmp_path / "out",
            concurrency=32,  # default attempts: throttles are retried until a deadline
        )
        report = bench.run(progress=False)
    keys = result_keys(bench.results_path)
    assert len(keys) == 1000 and set(keys.values()) == {1}
    model = report.models["amazon.nova-micro-v1:0"]
    assert model["failed"] == 0
    assert model["retries"] > 100  # about 35% of first attempts fail
    assert report.run["throttled"] > 0
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["amazon.nova-micro-v1:0"]["requests"] == 1000


def test_a_rate_limit_is_waited_out_not_counted_as_failure(tmp_path: Path) -> None:
    """Bedrock's quota (here 1,200 calls a minute) throttles a loop that starts at 32 calls in
    flight; every row still gets its answer, within the emulator's rate."""
    with nf.Session.local(tmp_path / "emu", rate_limit=1200) as session:
        bench = session.benchmark(
            intent_rows(120), ["amazon.nova-micro-v1:0"], out_dir=tmp_path / "out", concurrency=32
        )
        report = bench.run(progress=False)
    model = report.models["amazon.nova-micro-v1:0"]
    assert model["failed"] == 0 and model["requests"] == 120
    assert report.run["throttled"] > 0


def test_a_rerun_resumes_and_calls_only_what_is_missing(tmp_path: Path) -> None:
    rows = intent_rows(60)
    with nf.Session.local(tmp_path / "emu") as session:
        models = {"base": "amazon.nova-micro-v1:0", "teacher": "amazon.nova-pro-v1:0"}
        first = session.benchmark(rows[:40], models, out_dir=tmp_path / "out").run(progress=False)
        assert first.run["called"] == 80
        second = session.benchmark(rows, models, out_dir=tmp_path / "out").run(progress=False)
    assert (second.run["resumed"], second.run["called"]) == (80, 40)
    assert set(result_keys(tmp_path / "out" / "results.jsonl").values()) == {1}
    assert list(second.models) == ["base", "teacher"]
    assert second.raw["comparisons"][0]["rows"] == 60


def test_cancel_keeps_finished_results_and_a_rerun_completes(tmp_path: Path) -> None:
    rows = intent_rows(400)
    with nf.Session.local(tmp_path / "emu", latency_ms=20.0) as session:
        bench = session.benchmark(rows, ["amazon.nova-micro-v1:0"], out_dir=tmp_path / "out")
        run = bench._phases()[0]()
        while run.progress().done < 20:
            time.sleep(0.01)
        run.cancel()
        while not run.done():
            time.sleep(0.01)
        kept = result_keys(bench.results_path)
        assert 20 <= len(kept) < 400
        report = bench.run(progress=False)
    assert report.run["resumed"] == len(kept)
    final = result_keys(bench.results_path)
    assert len(final) == 400 and set(final.values()) == {1}


def test_unretryable_errors_are_recorded_not_dropped(tmp_path: Path) -> None:
    with nf.Session.local(tmp_path / "emu") as session:
        bench = session.benchmark(
            intent_rows(5), ["amazon.nova-micro-v1:0:128k", "no-such-model"], out_dir=tmp_path
        )
        report = bench.run(progress=False)
    bad = report.models["no-such-model"]
    assert bad["failed"] == 5 and bad["accuracy"] == 0.0
    assert sum(bad["errors"].values()) == 5
    assert report.models["amazon.nova-micro-v1:0:128k"]["failed"] == 0


def write_results(path: Path, rows: Sequence[tuple[str, str, str | None, str]]) -> Path:
    with open(path, "w") as f:
        for row_id, model, prediction, gold in rows:
            f.write(
                json.dumps(
                    {
                        "row_id": row_id,
                        "model": model,
                        "prediction": prediction,
                        "gold": gold,
                        "latency_ms": 10.0 if prediction is not None else None,
                        "input_tokens": 100,
                        "output_tokens": 2,
                        "attempts": 1,
                        "stop_reason": "end_turn",
                        "error": None if prediction is not None else "boom",
                        "error_code": None if prediction is not None else "InternalServerException",
                    }
                )
                + "\n"
            )
    return path


def test_classification_metrics_match_a_hand_count(tmp_path: Path) -> None:
    gold = ["a", "a", "b", "b", "c"]
    base = ["a", "b", "b", "x", None]
    tuned = ["A\nbecause", "a", "b", "b", "c"]
    results = [(str(i), "base", p, g) for i, (p, g) in enumerate(zip(base, gold, strict=True))]
    results += [(str(i), "tuned", p, g) for i, (p, g) in enumerate(zip(tuned, gold, strict=True))]
    path = write_results(tmp_path / "r.jsonl", results)
    raw: dict[str, Any] = _nova_ft.benchmark_report(path, [], {"models": ["base", "tuned"]})
    report = nf.BenchmarkReport(raw)
    assert report.accuracy("base") == pytest.approx(2 / 5)
    assert report.accuracy("tuned") == pytest.approx(1.0)
    base_scores = report.per_class("base")
    assert base_scores.loc["a", "precision"] == 1.0 and base_scores.loc["a", "recall"] == 0.5
    assert report.confusion("base").loc["b", "<other>"] == 1
    comparison = raw["comparisons"][0]
    assert (comparison["only_candidate"], comparison["only_baseline"]) == (3, 0)
    assert comparison["mcnemar_p"] == pytest.approx(0.25)
    assert report.models["base"]["failed"] == 1
    exact: dict[str, Any] = _nova_ft.benchmark_report(
        path, [], {"normalize": {"strip": False, "lower": False, "first_line": False}}
    )
    assert exact["models"][1]["accuracy"] == pytest.approx(4 / 5)
    assert "exact text" in exact["normalization"]
    frame = report.summary()
    assert list(frame.index) == ["base", "tuned"]
    assert frame.loc["tuned", "cost_per_1000"] > 0
    # Every answer, by display name, as written to results.jsonl.
    named = nf.BenchmarkReport(raw, {"base": "B", "tuned": "T"}, results_path=path)
    answers = named.predictions()
    assert len(answers) == 10 and set(answers["model"]) == {"B", "T"}
    tuned_answers = answers[answers["model"] == "T"].set_index("row_id")
    assert tuned_answers.loc["0", "prediction"] == "A\nbecause"
    assert tuned_answers.loc["0", "gold"] == "a"
    assert nf.BenchmarkReport(raw).predictions().empty  # no results file: no rows


def test_sql_execution_accuracy_compares_results(tmp_path: Path) -> None:
    db = tmp_path / "geo.sqlite"
    with sqlite3.connect(db) as conn:
        conn.executescript(
            "CREATE TABLE city (name TEXT, pop INTEGER);"
            "INSERT INTO city VALUES ('a', 10), ('b', 20), ('c', 30);"
        )
    gold = "SELECT name FROM city WHERE pop > 15"
    results = [
        ("1", "m", "SELECT name FROM city WHERE pop >= 20", gold),  # same rows
        ("2", "m", "select name from city where pop > 15;", gold),  # exact match
        ("3", "m", "SELECT name FROM city", gold),  # wrong rows
        ("4", "m", "SELECT nonsense", gold),  # does not execute
        ("5", "m", "DELETE FROM city", gold),  # refused: read-only
    ]
    path = write_results(tmp_path / "r.jsonl", results)
    raw: dict[str, Any] = _nova_ft.benchmark_report(path, [], {"kind": "sql", "db": str(db)})
    sql = raw["models"][0]["sql"]
    assert sql["execution_accuracy"] == pytest.approx(2 / 5)
    assert sql["exact_match"] == pytest.approx(1 / 5)
    assert sql["executes"] == pytest.approx(3 / 5)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM city").fetchone()[0] == 3


def test_rows_come_from_conversation_files(tmp_path: Path) -> None:
    data = nf.Dataset.synthetic(seed=99, train=10, valid=0)
    path = data.write_split("train", tmp_path / "test.jsonl")
    rows = _nova_ft.bench_rows_from_jsonl(path)
    assert len(rows) == 10 and rows[0]["id"] == "1"
    assert rows[0]["system"] == nf.SYNTHETIC_SYSTEM_PROMPT
    assert rows[0]["gold"] == data.records("train")[0]["messages"][1]["content"][0]["text"]


def test_bad_rows_and_options_are_refused(tmp_path: Path) -> None:
    with nf.Session.local(tmp_path / "emu") as session:
        with pytest.raises(nf.InvalidParameterError, match="row 1"):
            session.benchmark([{"question": "x"}], ["m"])
        with pytest.raises(nf.InvalidParameterError, match="kind"):
            session.benchmark(intent_rows(2), ["m"], kind="regression")
        dup = [{"id": "1", "text": "a"}, {"id": "1", "text": "b"}]
        with pytest.raises(nf.InvalidParameterError, match="appears twice"):
            session.benchmark(dup, ["m"], out_dir=tmp_path / "o").run(progress=False)


def test_rows_may_be_conversations_in_converse_shape(tmp_path: Path) -> None:
    """A multi-turn row sends its whole conversation (so its model reads, and counts, more
    tokens than the last turn alone); inferenceConfig applies to every call."""
    question = "show me flights from boston to denver"
    single = {"id": "single", "text": question, "gold": "flight", "system": SYSTEM}
    turns: list[dict[str, Any]] = [
        {"role": "user", "content": [{"text": "hello there, I need some help"}]},
        {"role": "assistant", "content": [{"text": "Sure: what are you looking for?"}]},
        {"role": "user", "content": [{"text": question}]},
    ]
    conversation: dict[str, Any] = {
        "id": "multi",
        "messages": turns,
        "system": [{"text": SYSTEM}],
        "gold": "flight",
    }
    with nf.Session.local(tmp_path / "emu") as session:
        bench = session.benchmark(
            [single, conversation],
            ["amazon.nova-micro-v1:0"],
            out_dir=tmp_path / "out",
            inference_config={"maxTokens": 8, "temperature": 0.0, "topP": 0.9},
        )
        assert bench.options["max_tokens"] == 8 and bench.options["top_p"] == 0.9
        report = bench.run(progress=False)
        assert report.models["amazon.nova-micro-v1:0"]["answered"] == 2
        with pytest.raises(nf.InvalidParameterError, match="row 1: the last message"):
            session.benchmark([{**conversation, "messages": turns[:2]}], ["m"])
        with pytest.raises(nf.InvalidParameterError, match="unknown key"):
            session.benchmark([single], ["m"], inference_config={"top_p": 0.5})
    tokens = {}
    for line in bench.results_path.read_text().splitlines():
        row = json.loads(line)
        tokens[row["row_id"]] = row["input_tokens"]
    assert tokens["multi"] > tokens["single"]
    # A multi-turn record of a conversation file becomes such a row.
    record = {
        "schemaVersion": "bedrock-conversation-2024",
        "system": [{"text": SYSTEM}],
        "messages": [*turns, {"role": "assistant", "content": [{"text": "flight"}]}],
    }
    path = tmp_path / "multi.jsonl"
    path.write_text(json.dumps(record) + "\n")
    (row,) = _nova_ft.bench_rows_from_jsonl(path)
    messages: list[tuple[str, list[str]]] = row["messages"]  # type: ignore[assignment]
    assert [role for role, _ in messages] == ["user", "assistant", "user"]
    assert row["gold"] == "flight"

"""Converters from intent and text-to-SQL rows, splits, leakage, and atomic writes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

import nova_ft
import tutorial_generator as tutorial
from nova_ft.cli import main


def intent_rows(n: int = 200) -> list[dict[str, str]]:
    labels = ["flight"] * 6 + ["airfare"] * 3 + ["meal"]
    return [
        {"text": f"query number {i} about {labels[i % 10]}", "label": labels[i % 10]}
        for i in range(n)
    ]


def test_intent_rows_from_list_dataframe_jsonl_and_csv_agree(tmp_path: Path) -> None:
    rows = intent_rows()
    jsonl = tmp_path / "rows.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    csv = tmp_path / "rows.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    built = [
        nova_ft.Dataset.from_intents(source, valid=0.1, test=0.1, seed=3)
        for source in (rows, pd.DataFrame(rows), jsonl, csv)
    ]
    first = built[0]
    for other in built[1:]:
        for split in first.splits:
            assert other.jsonl(split) == first.jsonl(split)
    assert first.labels == ["airfare", "flight", "meal"]
    system = first.records()[0]["system"][0]["text"]
    assert "Choose one intent from this list: airfare, flight, meal" in system


def test_split_is_seeded_stratified_and_complete() -> None:
    ds = nova_ft.Dataset.from_intents(intent_rows(1000), valid=0.1, test=0.2, seed=11)
    assert (ds.size("train"), ds.size("valid"), ds.size("test")) == (700, 100, 200)
    for split in ds.splits:
        counts = Counter(ds.to_frame(split)["target"])
        share = counts["meal"] / sum(counts.values())
        assert share == pytest.approx(0.1)
    texts = [t for s in ds.splits for t in ds.to_frame(s)["input"]]
    assert len(set(texts)) == 1000
    again = nova_ft.Dataset.from_intents(intent_rows(1000), valid=0.1, test=0.2, seed=11)
    assert again.jsonl("test") == ds.jsonl("test")
    other = nova_ft.Dataset.from_intents(intent_rows(1000), valid=0.1, test=0.2, seed=12)
    assert other.jsonl("test") != ds.jsonl("test")


def test_tutorial_prompt_is_reproduced_from_rows() -> None:
    ds = nova_ft.Dataset.synthetic(7, 50, 0)
    frame = ds.to_frame()
    rows = [{"text": t, "label": y} for t, y in zip(frame["input"], frame["target"], strict=True)]
    again = nova_ft.Dataset.from_intents(
        rows, instruction="Classify the intent of airline queries.", labels=tutorial.INTENTS
    )
    assert again.jsonl() == ds.jsonl()


def test_drop_leaks_removes_test_rows_seen_in_training() -> None:
    rows = intent_rows(100) * 2  # every text twice
    leaky = nova_ft.Dataset.from_intents(rows, test=0.3, seed=1, stratify=False)
    assert leaky.overlap().leaked_records > 0
    clean = nova_ft.Dataset.from_intents(rows, test=0.3, seed=1, stratify=False, drop_leaks=True)
    assert clean.overlap().leaked_records == 0
    assert clean.size("test") < leaky.size("test")


def test_sql_rows_use_the_aws_prompt_layout() -> None:
    rows = [
        {
            "question": f"how many heads older than {i}?",
            "context": "CREATE TABLE head (age INTEGER)",
            "sql": f"SELECT COUNT(*) FROM head WHERE age > {i}",
        }
        for i in range(20)
    ]
    ds = nova_ft.Dataset.from_sql(rows, valid=0.25, seed=0)
    rec = ds.records("train")[0]
    assert rec["system"][0]["text"] == nova_ft.SQL_SYSTEM_PROMPT
    user = rec["messages"][0]["content"][0]["text"]
    assert user.startswith("### Input:\nhow many heads older than ")
    assert user.endswith("\n\n### Context:\nCREATE TABLE head (age INTEGER)\n\n### Response:\n")
    assert ds.labels is None
    assert (ds.size("train"), ds.size("valid")) == (15, 5)
    assert ds.validate().stats.labels is None


def test_missing_column_names_line_and_columns_present(tmp_path: Path) -> None:
    path = tmp_path / "atis.jsonl"
    path.write_text(json.dumps({"text": "hi", "intent": "greet"}) + "\n")
    with pytest.raises(nova_ft.DatasetValidationError) as caught:
        nova_ft.Dataset.from_intents(path)
    issue = caught.value.issues[0]
    assert (issue.file, issue.line, issue.field) == (str(path), 1, "label")
    assert "intent" in issue.message and "--label-field" in issue.message


def test_reserved_strings_and_empty_fields_are_caught_at_conversion() -> None:
    rows = [
        {"text": "System: do it", "label": "a"},
        {"text": "ok", "label": ""},
        {"text": "fine", "label": "a"},
    ]
    with pytest.raises(nova_ft.DatasetValidationError) as caught:
        nova_ft.Dataset.from_intents(rows)
    assert [(i.line, i.field) for i in caught.value.issues] == [(1, "text"), (2, "label")]


def test_bad_split_fractions_are_refused() -> None:
    with pytest.raises(nova_ft.InvalidParameterError):
        nova_ft.Dataset.from_intents(intent_rows(), valid=0.6, test=0.5)


def test_cli_convert_to_file_and_directory(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in intent_rows()))
    out_file = tmp_path / "train.jsonl"
    assert (
        main(
            ["dataset", "convert", "--kind", "intent", "--input", str(src), "--out", str(out_file)]
        )
        == 0
    )
    assert nova_ft.validate(out_file).ok
    out_dir = tmp_path / "splits"
    args = ["dataset", "convert", "--kind", "intent", "--input", str(src), "--out", str(out_dir)]
    assert main([*args, "--valid", "0.1", "--test", "0.1"]) == 0
    assert sorted(p.name for p in out_dir.iterdir()) == ["test.jsonl", "train.jsonl", "valid.jsonl"]
    assert main([*args[:-1], str(tmp_path / "x.jsonl"), "--valid", "0.1"]) == 1
    assert "give --out a directory" in capsys.readouterr().err
    assert not (tmp_path / "x.jsonl").exists()


def test_failed_conversion_writes_nothing(tmp_path: Path) -> None:
    src = tmp_path / "rows.jsonl"
    src.write_text(
        json.dumps({"text": "a", "label": "x"}) + "\n" + json.dumps({"text": "b"}) + "\n"
    )
    out = tmp_path / "out"
    assert (
        main(["dataset", "convert", "--kind", "intent", "--input", str(src), "--out", str(out)])
        == 1
    )
    assert not out.exists()


def test_write_is_all_or_nothing(tmp_path: Path) -> None:
    ds = nova_ft.Dataset.synthetic(1, 20, 5)
    target = tmp_path / "data"
    target.mkdir()
    (target / "valid.jsonl").mkdir()  # a directory where a file must go: the rename fails
    (target / "train.jsonl").write_text("old\n")
    with pytest.raises(nova_ft.DataFileError):
        ds.write(target)
    leftovers = [p.name for p in target.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []

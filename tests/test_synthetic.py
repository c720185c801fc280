"""The synthetic generator must write the tutorial's bytes, through the API and the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

import nova_ft
import tutorial_generator as tutorial
from nova_ft.cli import main


def test_seed_7_train_and_valid_equal_the_tutorial_bytes(tmp_path: Path) -> None:
    expected = tutorial.lines(7, 900)
    ds = nova_ft.Dataset.synthetic(seed=7, train=800, valid=100)
    assert ds.jsonl("train") == "".join(expected[:800]).encode()
    assert ds.jsonl("valid") == "".join(expected[800:]).encode()


def test_cli_synth_writes_the_tutorial_files(tmp_path: Path) -> None:
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    theirs.mkdir()
    tutorial.write_tutorial_files(theirs)
    args = ["dataset", "synth", "--seed", "7", "--train", "800", "--valid", "100", "--out"]
    assert main([*args, str(ours)]) == 0
    for name in ("train.jsonl", "valid.jsonl"):
        assert (ours / name).read_bytes() == (theirs / name).read_bytes()
    test_args = ["dataset", "synth", "--seed", "99", "--train", "120", "--valid", "0", "--out"]
    assert main([*test_args, str(tmp_path / "test")]) == 0
    assert (tmp_path / "test" / "train.jsonl").read_bytes() == (theirs / "test.jsonl").read_bytes()


@pytest.mark.parametrize("seed", [0, 1, 42, 12345, 2**40 + 3, -5])
def test_any_seed_matches_pythons_random(seed: int) -> None:
    assert (
        nova_ft.Dataset.synthetic(seed, 300, 0).jsonl("train")
        == "".join(tutorial.lines(seed, 300)).encode()
    )


def test_test_rows_continue_the_stream_or_use_their_own_seed() -> None:
    stream = tutorial.lines(7, 950)
    ds = nova_ft.Dataset.synthetic(7, 800, 100, test=50)
    assert ds.jsonl("test") == "".join(stream[900:]).encode()
    own = nova_ft.Dataset.synthetic(7, 800, 100, test=120, test_seed=99)
    assert own.jsonl("test") == "".join(tutorial.lines(99, 120)).encode()


def test_leakage_of_the_tutorial_test_set_is_reported() -> None:
    ds = nova_ft.Dataset.synthetic(7, 800, 100, test=120, test_seed=99)
    report = ds.overlap()
    test_vs_train = [o for o in report.overlaps if o["split"] == "test" and o["earlier"] == "train"]
    # 8 intents x 2 templates x 42 city pairs: most of the 120 test rows repeat training rows.
    assert test_vs_train and test_vs_train[0]["records"] > 60
    assert report.leaked_records >= test_vs_train[0]["records"]


def test_synthetic_data_is_valid_and_labelled() -> None:
    ds = nova_ft.Dataset.synthetic()
    report = ds.validate()
    assert report.ok, report.lines()
    assert report.stats.records == 900
    assert report.stats.labels is not None
    assert set(report.stats.labels) == set(ds.labels or [])
    assert report.stats.system_prompts[0]["preview"].startswith("Classify the intent")
    assert repr(ds) == "Dataset(train=800, valid=100, labels=8)"

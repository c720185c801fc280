"""The real datasets in shared/data convert to valid Nova data (skipped when absent)."""

from __future__ import annotations

from pathlib import Path

import nova_ft


def test_atis_converts_validates_and_reports_its_imbalance(shared_data: Path) -> None:
    atis = shared_data / "atis"
    ds = nova_ft.Dataset.from_intents(atis / "train.jsonl", label="intent")
    assert ds.size("train") == 4478
    assert (
        ds.labels is not None and len(ds.labels) == 21
    )  # train's distinct labels (shared/data/atis/README.md)
    report = ds.validate()
    assert report.ok, report.lines()[:5]
    assert report.stats.labels is not None
    assert max(report.stats.labels, key=lambda k: report.stats.labels[k]) == "atis_flight"  # type: ignore[index]
    assert any(w.field == "labels" and "imbalance" in w.message for w in report.warnings)


def test_sql_create_context_converts_and_validates(shared_data: Path) -> None:
    ds = nova_ft.Dataset.from_sql(
        shared_data / "sql_create_context" / "train.jsonl", valid=0.1, seed=0
    )
    assert len(ds) == 3134
    report = ds.validate()
    assert report.ok, report.lines()[:5]
    assert report.stats.labels is None
    assert report.cost.mean_output_tokens > 5

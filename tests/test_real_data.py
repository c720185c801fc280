"""The real data sets convert to valid Nova data (those that must be downloaded are skipped,
saying so, when there is no local copy and no network)."""

from __future__ import annotations

from pathlib import Path

from conftest import need_data
from nova_ft import datasets


def test_atis_converts_validates_and_reports_its_imbalance() -> None:
    need_data("atis")
    ds = datasets.dataset("atis", "train")
    assert ds.size("train") == 4478
    assert ds.labels is not None and len(ds.labels) == 21  # train's distinct labels
    report = ds.validate()
    assert report.ok, report.lines()[:5]
    assert report.stats.labels is not None
    assert max(report.stats.labels, key=lambda k: report.stats.labels[k]) == "atis_flight"  # type: ignore[index]
    assert any(w.field == "labels" and "imbalance" in w.message for w in report.warnings)


def test_sql_create_context_converts_and_validates() -> None:
    ds = datasets.dataset("sql_create_context", "train", valid=0.1, seed=0)
    assert len(ds) == 3134
    report = ds.validate()
    assert report.ok, report.lines()[:5]
    assert report.stats.labels is None
    assert report.cost.mean_output_tokens > 5


def test_geoquery_gold_sql_runs_on_its_database() -> None:
    import sqlite3

    need_data("geoquery")
    rows = datasets.load("geoquery", "valid")
    assert len(rows) == datasets.info("geoquery").splits["valid"]
    with sqlite3.connect(datasets.geoquery_database()) as db:
        runs = [r for r in rows if r["gold_executes_in_sqlite"]]
        assert all(len(db.execute(r["sql"]).fetchall()) == r["gold_num_rows"] for r in runs)
    assert datasets.geoquery_schema().count("CREATE TABLE") == 7


def test_a_text_to_sql_job_reports_losses_it_measured(tmp_path: Path) -> None:
    """A free-text job's metrics are measured on its own data: the loss falls as the model sees
    more of the training set, and validation is scored once on held-out rows."""
    import nova_ft as nf

    data = datasets.dataset("sql_create_context", "train", valid=0.1, seed=0)
    with nf.Session.local(tmp_path / "emu", job_step_delay=0.01) as session:
        location = data.upload(session.bucket().ensure())
        role = session.training_role(location).ensure()
        job = session.fine_tune(location, role, hyperparameters=nf.Hyperparameters(epochs=2))
        job.wait(progress=False)
        frame = job.metrics()
    train = frame[frame["split"] == "training"]
    # Retrieval has no epochs: one pass is measured, whatever the job asked (2 here).
    assert set(train["epoch_number"]) == {1}
    first_epoch = train["loss"].tolist()
    assert first_epoch[0] == 1.0 and first_epoch[-1] < 0.5
    assert len(set(first_epoch)) > 5  # a curve, not a constant
    valid = frame[frame["split"] == "validation"]["loss"].tolist()
    assert len(valid) == 1 and 0.0 < valid[0] < 1.0
    # Its loss is 1 - token F1, not a cross-entropy: no perplexity is made up for it.
    assert frame["perplexity"].isna().all()

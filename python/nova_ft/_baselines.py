"""Baselines shown beside every benchmark result: what answering without reading the input
scores, so that "tuned beats base" can be read against "tuned beats always the same answer".

- classification: the *majority class* (always the training data's most frequent label) and
  the *label prior* (a random label drawn by the training data's label frequencies; its
  expected accuracy is the sum over labels of the training share times the test share);
- SQL: the *most common query* of the training data, scored as the models are (execution
  accuracy on the database when one is given, else exact match after normalising spacing and
  case).

The frequencies come from the training data when the benchmark knows it (a Dataset's train
split, or ``train=``); otherwise from the benchmark's own rows, which makes the majority an
upper bound (the best constant answer for these rows), and the report says so.
"""

from __future__ import annotations

import re
import sqlite3
from collections import Counter
from collections.abc import Sequence
from typing import Any


def _norm_label(text: str) -> str:
    return text.strip().lower()


def _norm_sql(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace('"', "'").strip().rstrip(";")).lower()


def _run(db: sqlite3.Connection, sql: str) -> list[str] | None:
    try:
        return sorted(repr(row) for row in db.execute(sql).fetchall())
    except (sqlite3.Error, sqlite3.Warning, ValueError):
        return None


def classification(test_gold: Sequence[str], train_gold: Sequence[str]) -> dict[str, Any]:
    """Majority-class and label-prior accuracy on ``test_gold``."""
    train = Counter(_norm_label(g) for g in train_gold)
    test = Counter(_norm_label(g) for g in test_gold)
    n_train, n_test = sum(train.values()), sum(test.values())
    if not n_train or not n_test:
        return {}
    label, _ = train.most_common(1)[0]
    answer = next(g.strip() for g in train_gold if _norm_label(g) == label)
    prior = sum(count / n_train * test[lab] / n_test for lab, count in train.items())
    return {
        "majority": {"answer": answer, "accuracy": test[label] / n_test},
        "prior": {"accuracy": prior},
    }


def sql(test_gold: Sequence[str], train_gold: Sequence[str], db: str | None) -> dict[str, Any]:
    """The most common training query, by execution on ``db`` (else exact match)."""
    if not train_gold or not test_gold:
        return {}
    counts = Counter(_norm_sql(g) for g in train_gold)
    common, _ = counts.most_common(1)[0]
    answer = next(g.strip() for g in train_gold if _norm_sql(g) == common)
    out: dict[str, Any] = {
        "most_common_query": {
            "answer": answer,
            "exact_match": sum(_norm_sql(g) == common for g in test_gold) / len(test_gold),
        }
    }
    if db is not None:
        connection = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            got = _run(connection, answer)
            hits = sum(got is not None and _run(connection, g) == got for g in test_gold)
        finally:
            connection.close()
        out["most_common_query"]["execution_accuracy"] = hits / len(test_gold)
    return out


def baselines(
    test_gold: Sequence[str | None],
    train_gold: Sequence[str | None] | None,
    kind: str,
    db: str | None = None,
) -> dict[str, Any]:
    """The baselines of a benchmark (see the module's documentation)."""
    test = [g for g in test_gold if g is not None]
    source = "training data" if train_gold is not None else "benchmark rows (an upper bound)"
    train = [g for g in (train_gold if train_gold is not None else test) if g is not None]
    found = sql(test, train, db) if kind == "sql" else classification(test, train)
    return {"source": source, **found} if found else {}


def accuracy_lines(found: dict[str, Any]) -> list[tuple[str, float]]:
    """(name, accuracy) of each baseline, for tables and plots."""
    out = []
    if "majority" in found:
        out.append((f"majority ({found['majority']['answer']})", found["majority"]["accuracy"]))
        out.append(("label prior", found["prior"]["accuracy"]))
    if "most_common_query" in found:
        q = found["most_common_query"]
        score = q.get("execution_accuracy", q["exact_match"])
        out.append(("most common query", score))
    return out

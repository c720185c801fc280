"""Upstream files to rows: the same conversion that made the copies the project tests with
(checked row for row against them when this was written)."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from ..exceptions import DatasetUnavailableError

#: nova_ft's split names to GeoQuery's question-split names.
GEOQUERY_SPLITS = {"train": "train", "valid": "dev", "test": "test"}


def atis_rows(utterances: bytes, labels: bytes) -> list[dict[str, Any]]:
    """``seq.in`` and ``label`` (line i of one is the label of line i of the other)."""
    texts = utterances.decode().splitlines()
    intents = labels.decode().splitlines()
    if len(texts) != len(intents):
        raise DatasetUnavailableError(
            f"ATIS: {len(texts)} utterances but {len(intents)} labels; the download is damaged"
        )
    return [{"text": t, "intent": i} for t, i in zip(texts, intents, strict=True)]


def _one_line(statement: str) -> str:
    body = " ".join(part.strip() for part in statement.splitlines())
    body = re.sub(r"\(\s+", "(", body)
    return re.sub(r"\s+\)", ")", body) + ";"


def geoquery_schema(database: Path) -> str:
    """The database's ``CREATE TABLE`` statements, one per line, sorted by table."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        tables = db.execute(
            "SELECT sql FROM sqlite_master WHERE type = 'table' ORDER BY name"
        ).fetchall()
    return "\n".join(_one_line(sql) for (sql,) in tables) + "\n"


def _fill(text: str, values: dict[str, str]) -> str:
    # Longest names first, so `city_name1` is not caught by `city_name`.
    for name in sorted(values, key=len, reverse=True):
        text = text.replace(name, values[name])
    return text


def geoquery_rows(entries_json: bytes, database: Path, split: str) -> list[dict[str, Any]]:
    """One row per sentence of the question split: variables filled into the question and
    the entry's first SQL (SQL-only variables take the entry's example), ``"x"`` literals
    rewritten ``'x'``, and whether the gold query runs on the database and how many rows."""
    wanted = GEOQUERY_SPLITS[split]
    schema = geoquery_schema(database).rstrip("\n")
    entries = json.loads(entries_json)
    rows = []
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        for query_id, entry in enumerate(entries):
            for sentence in entry["sentences"]:
                if sentence["question-split"] != wanted:
                    continue
                values = {v["name"]: v["example"] for v in entry["variables"]}
                values.update(sentence["variables"])
                original = _fill(entry["sql"][0], values)
                sql = re.sub(r'"([^"]*)"', r"'\1'", original)
                try:
                    returned: int | None = len(db.execute(sql).fetchall())
                except sqlite3.Error:
                    returned = None
                rows.append(
                    {
                        "question": _fill(sentence["text"], values),
                        "context": schema,
                        "sql": sql,
                        "sql_original": original,
                        "db_id": "geography",
                        "query_split": entry["query-split"],
                        "query_id": query_id,
                        "gold_executes_in_sqlite": returned is not None,
                        "gold_num_rows": returned,
                    }
                )
    return rows


def jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)

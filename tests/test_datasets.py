"""nova_ft.datasets: shipped data loads with nothing beside the package; downloads come from
a server (here a local one on loopback, never the network), are checked against pinned
checksums, converted and cached; a local copy (NOVA_FT_DATA) wins; bad names are refused."""

from __future__ import annotations

import dataclasses
import hashlib
import http.server
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import nova_ft
from nova_ft import datasets
from nova_ft.datasets import _registry


@pytest.fixture
def no_local_copy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.delenv("NOVA_FT_DATA", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("NOVA_FT_CACHE", str(cache))
    return cache


def test_shipped_data_loads_with_nothing_beside_the_package(no_local_copy: Path) -> None:
    info = datasets.info("sql_create_context")
    assert info.shipped and "CC BY 4.0" in info.licence
    for split, size in info.splits.items():
        rows = datasets.load("sql_create_context", split)
        assert len(rows) == size
        assert set(info.fields) <= set(rows[0])
    ds = datasets.dataset("sql_create_context", "valid", valid=0.1, seed=0)
    assert ds.splits == ("train", "valid") and ds.validate().ok
    assert not no_local_copy.exists()  # nothing was downloaded or cached


class Upstream:
    """A loopback HTTP server standing in for raw.githubusercontent.com."""

    def __init__(self, root: Path) -> None:
        self.root, self.requests = root, list[str]()
        upstream = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(root), **kwargs)

            def do_GET(self) -> None:
                upstream.requests.append(self.path)
                super().do_GET()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def put(self, url: str, data: bytes) -> str:
        """Serve `data` where `url` points; returns its SHA-256."""
        path = self.root / url.removeprefix("https://raw.githubusercontent.com/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return hashlib.sha256(data).hexdigest()


@pytest.fixture
def upstream(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_local_copy: Path
) -> Iterator[Upstream]:
    server = Upstream(tmp_path / "upstream")
    monkeypatch.setenv("NOVA_FT_DATASETS_MIRROR", server.url)
    yield server
    server.server.shutdown()
    server.server.server_close()


def pin(
    monkeypatch: pytest.MonkeyPatch, upstream: Upstream, name: str, files: dict[str, bytes]
) -> None:
    """Serve small stand-ins for a data set's upstream files, pinned to their checksums."""
    info = _registry.REGISTRY[name]
    sources = {
        key: dataclasses.replace(source, sha256=upstream.put(source.url, files[key]))
        for key, source in info.sources.items()
        if key in files
    }
    monkeypatch.setitem(_registry.REGISTRY, name, dataclasses.replace(info, sources=sources))


def test_atis_is_downloaded_checked_converted_and_cached(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, no_local_copy: Path
) -> None:
    pin(
        monkeypatch,
        upstream,
        "atis",
        {
            "test/seq.in": b"flights to boston\nfares to denver\n",
            "test/label": b"atis_flight\natis_airfare\n",
        },
    )
    assert not datasets.is_local("atis", "test")
    rows = datasets.load("atis", "test")
    assert rows == [
        {"text": "flights to boston", "intent": "atis_flight"},
        {"text": "fares to denver", "intent": "atis_airfare"},
    ]
    assert datasets.is_local("atis", "test")
    assert (no_local_copy / "datasets" / "atis" / "test.jsonl").is_file()
    before = len(upstream.requests)
    assert datasets.load("atis", "test") == rows  # from the cache
    assert len(upstream.requests) == before == 2


def test_fetch_prepares_every_split_for_offline_use(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {}
    for split in ("train", "valid", "test"):
        files[f"{split}/seq.in"] = f"{split} words\n".encode()
        files[f"{split}/label"] = b"atis_flight\n"
    pin(monkeypatch, upstream, "atis", files)
    datasets.fetch("atis")
    assert all(datasets.is_local("atis", split) for split in ("train", "valid", "test"))
    assert len(upstream.requests) == 6
    monkeypatch.setenv("NOVA_FT_DATASETS_MIRROR", "http://127.0.0.1:9")  # offline now
    assert datasets.load("atis", "valid") == [{"text": "valid words", "intent": "atis_flight"}]


def test_a_download_that_does_not_match_its_checksum_is_refused_and_not_cached(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, no_local_copy: Path
) -> None:
    pin(monkeypatch, upstream, "atis", {"valid/seq.in": b"a\n", "valid/label": b"atis_flight\n"})
    info = _registry.REGISTRY["atis"]
    upstream.put(info.sources["valid/label"].url, b"tampered\n")
    with pytest.raises(nova_ft.DatasetUnavailableError, match="SHA-256"):
        datasets.load("atis", "valid")
    assert not (no_local_copy / "datasets" / "atis" / "valid.jsonl").exists()


def test_geoquery_fills_variables_and_runs_the_gold_sql(
    upstream: Upstream, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    db_path = tmp_path / "geo.sqlite"
    with sqlite3.connect(db_path) as db:
        db.execute('CREATE TABLE "state" (\n  "state_name" text,\n  "capital" text\n)')
        db.execute("INSERT INTO state VALUES ('texas', 'austin')")
    entries = [
        {
            "query-split": "train",
            "sql": [
                "SELECT STATEalias0.CAPITAL FROM STATE AS STATEalias0 "
                'WHERE STATEalias0.STATE_NAME = "state_name0" ;'
            ],
            "variables": [{"name": "state_name0", "example": "ohio", "location": "both"}],
            "sentences": [
                {
                    "question-split": "train",
                    "text": "capital of state_name0",
                    "variables": {"state_name0": "texas"},
                },
                {
                    "question-split": "dev",
                    "text": "what is the capital of state_name0",
                    "variables": {},
                },
            ],
        }
    ]
    pin(
        monkeypatch,
        upstream,
        "geoquery",
        {"geography.json": json.dumps(entries).encode(), "geography.sqlite": db_path.read_bytes()},
    )
    (train,) = datasets.load("geoquery", "train")
    assert train["question"] == "capital of texas"
    assert train["sql"].endswith("STATE_NAME = 'texas' ;") and '"texas"' in train["sql_original"]
    assert (train["gold_executes_in_sqlite"], train["gold_num_rows"]) == (True, 1)
    assert train["context"] == 'CREATE TABLE "state" ("state_name" text, "capital" text);'
    (valid,) = datasets.load("geoquery", "valid")  # SQL-only values take the entry's example
    assert valid["question"] == "what is the capital of ohio" and valid["gold_num_rows"] == 0
    assert datasets.geoquery_database().read_bytes() == db_path.read_bytes()


def test_a_local_copy_wins_and_a_missing_file_names_itself(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "atis").mkdir()
    (tmp_path / "atis" / "train.jsonl").write_text('{"text": "hi", "intent": "greet"}\n')
    monkeypatch.setenv("NOVA_FT_DATA", str(tmp_path))
    assert datasets.load("atis") == [{"text": "hi", "intent": "greet"}]
    with pytest.raises(nova_ft.DatasetUnavailableError, match=r"atis/test\.jsonl"):
        datasets.load("atis", "test")
    with pytest.raises(nova_ft.InvalidParameterError, match="choose one of"):
        datasets.load("atiss")
    with pytest.raises(nova_ft.InvalidParameterError, match="train, valid, test"):
        datasets.load("atis", "dev")


def test_hugging_face_folders_load_with_columns_renamed(tmp_path: Path) -> None:
    hf = pytest.importorskip("datasets", reason="the Hugging Face datasets package is optional")
    features = hf.Features(
        {"utterance": hf.Value("string"), "label": hf.ClassLabel(names=["flight", "airfare"])}
    )
    data = hf.DatasetDict(
        {
            "train": hf.Dataset.from_dict(
                {"utterance": ["to boston", "fares"], "label": [0, 1]}, features=features
            )
        }
    )
    data.save_to_disk(str(tmp_path / "saved"))
    rows = datasets.from_huggingface(
        tmp_path / "saved", columns={"utterance": "text", "label": "intent"}
    )
    assert rows == [
        {"text": "to boston", "intent": "flight"},
        {"text": "fares", "intent": "airfare"},
    ]
    assert nova_ft.Dataset.from_intents(rows, label="intent").labels == ["airfare", "flight"]
    with pytest.raises(nova_ft.InvalidParameterError, match="no column"):
        datasets.from_huggingface(tmp_path / "saved", columns={"words": "text"})

"""The real data sets nova_ft is measured on, one call away.

========================  ========  ==============================  =========================
name                      task      splits (rows)                   where it comes from
========================  ========  ==============================  =========================
``atis``                  intent    train 4,478 · valid 500 ·       downloaded on first use
                                    test 893                        (no licence to republish)
``geoquery``              sql       train 549 · valid 49 · test 279 downloaded on first use
                                    + the SQLite database           (no licence to republish)
``sql_create_context``    sql       train 3,134 · valid 411 ·       shipped in the wheel
                                    test 455                        (CC BY 4.0, attributed)
========================  ========  ==============================  =========================

Downloads come from each data set's public home at a pinned commit, are checked against
pinned SHA-256 sums, converted, and cached in ``~/.cache/nova_ft`` (``NOVA_FT_CACHE`` moves
it). ``NOVA_FT_DATA`` points at a local copy laid out as ``<name>/<split>.jsonl`` instead (an
offline machine, CI). :func:`info` gives each set's source, licence, citation and quirks.

>>> from nova_ft import datasets
>>> rows = datasets.load("sql_create_context", "valid")
>>> len(rows), sorted(rows[0])[:3]
(411, ['context', 'db_id_inferred', 'question'])
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._fetch import geoquery_database_path, info_of, is_local, split_text
from ._huggingface import from_huggingface
from ._registry import REGISTRY, DatasetInfo

if TYPE_CHECKING:
    import pandas as pd

    from ..dataset import Dataset

__all__ = [
    "DatasetInfo",
    "dataset",
    "fetch",
    "frame",
    "from_huggingface",
    "geoquery_database",
    "geoquery_schema",
    "info",
    "is_local",
    "load",
    "names",
]


def names() -> list[str]:
    """The data sets this module knows."""
    return sorted(REGISTRY)


def info(name: str) -> DatasetInfo:
    """A data set's task, splits and sizes, fields, source, licence, citation and quirks."""
    return info_of(name)


def load(name: str, split: str = "train") -> list[dict[str, Any]]:
    """A split's rows (dicts with the fields :func:`info` lists), downloading on first use.

    Raises:
        InvalidParameterError: an unknown name or split.
        DatasetUnavailableError: not in ``NOVA_FT_DATA``, offline, or a checksum mismatch.
    """
    return [json.loads(line) for line in split_text(name, split).splitlines() if line]


def frame(name: str, split: str = "train") -> pd.DataFrame:
    """A split as a pandas DataFrame."""
    from .._pandas import require_pandas

    return require_pandas().DataFrame(load(name, split))


def dataset(name: str, split: str = "train", **options: Any) -> Dataset:
    """A split as a :class:`nova_ft.Dataset` ready to validate, upload and fine-tune on:
    ``Dataset.from_intents`` for intent data, ``Dataset.from_sql`` for text-to-SQL; options
    (``valid=``, ``test=``, ``seed=``, ``drop_leaks=``, ...) go to that call.

    Examples:
        >>> from nova_ft import datasets
        >>> datasets.dataset("sql_create_context", "valid", valid=0.1, seed=0).splits
        ('train', 'valid')
    """
    from ..dataset import Dataset

    meta = info_of(name)
    rows = load(name, split)
    if meta.task == "intent":
        return Dataset.from_intents(rows, label="intent", **options)
    return Dataset.from_sql(rows, **options)


def fetch(*names: str) -> None:
    """Download (checked and converted) every split of these data sets now, and GeoQuery's
    database, so later calls need no network: before going offline, or to prepare a machine.
    With no names, every data set. Shipped and local-copy data are only read.

    Raises:
        DatasetUnavailableError: a download failed or did not match its checksum.
    """
    for name in names or tuple(REGISTRY):
        for split in info_of(name).splits:
            split_text(name, split)
        if name == "geoquery":
            geoquery_database_path()


def geoquery_database() -> Path:
    """The GeoQuery SQLite database (``geography.sqlite``), for execution accuracy:
    ``session.benchmark(..., kind="sql", db=datasets.geoquery_database())``."""
    return geoquery_database_path()


def geoquery_schema() -> str:
    """GeoQuery's seven ``CREATE TABLE`` statements (every row's ``context``)."""
    from ._convert import geoquery_schema as schema_of

    return schema_of(geoquery_database())

"""Rows from the Hugging Face hub or a local ``datasets`` folder (needs the ``datasets``
package: ``pip install datasets``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..exceptions import DatasetUnavailableError, InvalidParameterError


def from_huggingface(
    name_or_path: str | os.PathLike[str],
    split: str = "train",
    *,
    columns: dict[str, str] | None = None,
    **load_options: Any,
) -> list[dict[str, Any]]:
    """A split of a Hugging Face data set as rows, columns renamed by ``columns``
    (``{"utterance": "text", "label": "intent"}``) so they fit ``Dataset.from_intents`` or
    ``Dataset.from_sql``. Class-label columns come back as their names, not their numbers.

    ``name_or_path`` is a hub name (``"b-mc2/sql-create-context"``), a folder written by
    ``Dataset.save_to_disk``/``DatasetDict.save_to_disk``, or a folder of data files
    (JSON Lines, CSV, Parquet). ``load_options`` go to ``datasets.load_dataset``.
    """
    try:
        import datasets as hf
    except ImportError as error:
        raise InvalidParameterError(
            "from_huggingface needs the Hugging Face datasets package: pip install datasets"
        ) from error
    path = Path(name_or_path)
    try:
        if (path / "dataset_dict.json").is_file() or (path / "dataset_info.json").is_file():
            loaded = hf.load_from_disk(str(path))
        else:
            loaded = hf.load_dataset(str(name_or_path), **load_options)
    except (FileNotFoundError, ConnectionError, ValueError) as error:
        raise DatasetUnavailableError(f"{name_or_path}: {error}") from error
    if isinstance(loaded, hf.DatasetDict):
        if split not in loaded:
            raise InvalidParameterError(
                f"{name_or_path} has no split {split!r}; choose one of {', '.join(loaded)}"
            )
        loaded = loaded[split]
    mapping = columns or {}
    missing = [c for c in mapping if c not in loaded.column_names]
    if missing:
        raise InvalidParameterError(
            f"{name_or_path}: no column {', '.join(missing)}; it has "
            f"{', '.join(loaded.column_names)}"
        )
    label_names = {
        name: feature
        for name, feature in loaded.features.items()
        if isinstance(feature, hf.ClassLabel)
    }
    rows = []
    for row in loaded:
        out = {}
        for key, value in row.items():
            if key in label_names and isinstance(value, int):
                value = label_names[key].int2str(value)
            out[mapping.get(key, key)] = value
        rows.append(out)
    return rows

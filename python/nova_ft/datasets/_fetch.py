"""Where a data set's files come from: a local copy (``NOVA_FT_DATA``), the wheel (shipped
data), or the cache, filled on first use by a download checked against pinned checksums."""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
from pathlib import Path

from .._fsio import write_bytes_atomically, write_text_atomically
from ..exceptions import DatasetUnavailableError
from . import _convert
from ._registry import REGISTRY, DatasetInfo, Source

log = logging.getLogger("nova_ft.datasets")

#: A folder laid out as ``<name>/<split>.jsonl`` (and ``geoquery/geography.sqlite``).
LOCAL_COPY_ENV = "NOVA_FT_DATA"
#: Where downloads are kept (default ``$XDG_CACHE_HOME/nova_ft`` or ``~/.cache/nova_ft``).
CACHE_ENV = "NOVA_FT_CACHE"
#: Replaces ``https://raw.githubusercontent.com`` in source URLs (a mirror; tests).
MIRROR_ENV = "NOVA_FT_DATASETS_MIRROR"
_GITHUB_RAW = "https://raw.githubusercontent.com"
_TIMEOUT_SECONDS = 60


def cache_dir() -> Path:
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nova_ft"


def _local_copy(info: DatasetInfo, filename: str) -> Path | None:
    root = os.environ.get(LOCAL_COPY_ENV)
    if not root:
        return None
    path = Path(root) / info.name / filename
    if not path.is_file():
        raise DatasetUnavailableError(
            f"{path}: not in the local copy {LOCAL_COPY_ENV}={root}; add the file, or unset "
            f"{LOCAL_COPY_ENV} to use the {'shipped' if info.shipped else 'downloaded'} copy"
        )
    return path


def _download(source: Source) -> bytes:
    """The file's bytes, checked against its pinned SHA-256."""
    import urllib.error
    import urllib.request

    url = source.url
    mirror = os.environ.get(MIRROR_ENV)
    if mirror and url.startswith(_GITHUB_RAW):
        url = mirror.rstrip("/") + url[len(_GITHUB_RAW) :]
    log.info("downloading %s", url)
    try:
        with urllib.request.urlopen(url, timeout=_TIMEOUT_SECONDS) as response:
            data: bytes = response.read()
    except (urllib.error.URLError, OSError) as error:
        raise DatasetUnavailableError(
            f"could not download {url} ({error}); check the connection, or set "
            f"{LOCAL_COPY_ENV} to a folder holding a copy"
        ) from error
    digest = hashlib.sha256(data).hexdigest()
    if digest != source.sha256:
        raise DatasetUnavailableError(
            f"{url}: SHA-256 {digest}, expected {source.sha256}; the file changed upstream or "
            "was damaged on the way, so it was not used"
        )
    return data


def _cached(info: DatasetInfo, filename: str) -> Path:
    return cache_dir() / "datasets" / info.name / filename


def _fill_cache_atis(info: DatasetInfo, split: str) -> None:
    rows = _convert.atis_rows(
        _download(info.sources[f"{split}/seq.in"]), _download(info.sources[f"{split}/label"])
    )
    target = _cached(info, f"{split}.jsonl")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(target, _convert.jsonl(rows))


def _geoquery_database(info: DatasetInfo) -> Path:
    target = _cached(info, "geography.sqlite")
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(target, _download(info.sources["geography.sqlite"]))
    return target


def _fill_cache_geoquery(info: DatasetInfo, split: str) -> None:
    database = _geoquery_database(info)
    rows = _convert.geoquery_rows(_download(info.sources["geography.json"]), database, split)
    write_text_atomically(_cached(info, f"{split}.jsonl"), _convert.jsonl(rows))


def split_text(name: str, split: str) -> str:
    """A split's JSON Lines text, from wherever it is found first."""
    info = info_of(name)
    if split not in info.splits:
        raise _bad_split(info, split)
    local = _local_copy(info, f"{split}.jsonl")
    if local is not None:
        return local.read_text()
    if info.shipped:
        shipped = Path(__file__).parent.parent / "_data" / info.name / f"{split}.jsonl.gz"
        return gzip.decompress(shipped.read_bytes()).decode()
    cached = _cached(info, f"{split}.jsonl")
    if not cached.is_file():
        {"atis": _fill_cache_atis, "geoquery": _fill_cache_geoquery}[info.name](info, split)
    return cached.read_text()


def is_local(name: str, split: str) -> bool:
    """Whether a split can be read without the network (local copy, shipped, or cached)."""
    info = info_of(name)
    if split not in info.splits:
        raise _bad_split(info, split)
    root = os.environ.get(LOCAL_COPY_ENV)
    if root:
        return (Path(root) / info.name / f"{split}.jsonl").is_file()
    return info.shipped or _cached(info, f"{split}.jsonl").is_file()


def geoquery_database_path() -> Path:
    """The GeoQuery SQLite database, from the local copy or the cache."""
    info = info_of("geoquery")
    local = _local_copy(info, "geography.sqlite")
    return local if local is not None else _geoquery_database(info)


def info_of(name: str) -> DatasetInfo:
    try:
        return REGISTRY[name]
    except KeyError:
        from ..exceptions import InvalidParameterError

        raise InvalidParameterError(
            f"no data set {name!r}; choose one of {', '.join(sorted(REGISTRY))}"
        ) from None


def _bad_split(info: DatasetInfo, split: str) -> Exception:
    from ..exceptions import InvalidParameterError

    return InvalidParameterError(
        f"{info.name} has no split {split!r}; choose one of {', '.join(info.splits)}"
    )

"""The record of what a workflow created, kept next to the work, so clean-up deletes exactly
that (and nothing a user made by hand).

The record is a small JSON file, rewritten atomically after every change: a crash or a
Ctrl-C leaves either the old or the new record, never half of one.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ._fsio import write_text_atomically

__all__ = ["Resource", "ResourceRecord"]

#: Clean-up order: what depends on a resource goes before it.
KIND_ORDER = (
    "deployment",
    "provisioned",
    "custom_model",
    "job",
    "prefix",
    "object",
    "lambda",
    "role",
    "bucket",
)


@dataclass(frozen=True)
class Resource:
    """One created resource.

    ``kind`` is one of ``deployment``, ``provisioned`` (provisioned throughput),
    ``custom_model``, ``job`` (stopped if still running;
    Bedrock keeps job records), ``prefix`` (every object under ``bucket/id``), ``object``
    (``bucket/id``), ``lambda`` (a reward function), ``role`` or ``bucket``.
    """

    kind: str
    id: str
    bucket: str | None = None
    created: str = ""

    @property
    def label(self) -> str:
        """A short description: kind and name or S3 location."""
        where = f"s3://{self.bucket}/{self.id}" if self.bucket else self.id
        return f"{self.kind} {where}"


class ResourceRecord:
    """Resources created by nova_ft in one account and region, stored in a JSON file.

    Examples:
        >>> import tempfile, pathlib
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "record.json"
        >>> record = ResourceRecord(path)
        >>> _ = record.add("role", "BedrockNovaFineTune")
        >>> _ = record.add("deployment", "arn:aws:bedrock:us-east-1:1:custom-model-deployment/x")
        >>> [r.kind for r in ResourceRecord(path).in_cleanup_order()]
        ['deployment', 'role']
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._items: list[Resource] = []
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
                self._items = [Resource(**item) for item in data["resources"]]
            except (ValueError, KeyError, TypeError) as exc:
                from .exceptions import DataFileError

                raise DataFileError(
                    f"{self.path}: not a nova_ft resource record ({exc}); move it away and "
                    "clean up by hand with the AWS console or CLI",
                    str(self.path),
                ) from exc

    def __iter__(self) -> Any:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def add(self, kind: str, id: str, bucket: str | None = None) -> Resource:
        """Remember a resource (once) and save the record."""
        for item in self._items:
            if (item.kind, item.id, item.bucket) == (kind, id, bucket):
                return item
        created = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        item = Resource(kind, id, bucket, created)
        self._items.append(item)
        self._save()
        return item

    def remove(self, item: Resource) -> None:
        """Forget a resource (after deleting it) and save the record."""
        self._items = [i for i in self._items if i != item]
        self._save()

    def in_cleanup_order(self) -> list[Resource]:
        """Newest first within a kind, kinds in dependency order."""
        rank = {kind: i for i, kind in enumerate(KIND_ORDER)}
        newest_first = list(reversed(self._items))
        return sorted(newest_first, key=lambda r: rank.get(r.kind, len(rank)))

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps({"resources": [asdict(i) for i in self._items]}, indent=2) + "\n"
        write_text_atomically(self.path, body)

    def __repr__(self) -> str:
        return f"ResourceRecord({str(self.path)!r}, resources={len(self)})"

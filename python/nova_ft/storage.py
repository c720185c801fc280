"""Step 0-1 on S3: the private bucket, and uploading a dataset's splits to it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ._display import html_table
from ._nova_ft import BucketInfo, UploadedObject
from ._steps import Steps, async_twin, step

if TYPE_CHECKING:
    from .dataset import Dataset
    from .session import Session

__all__ = ["Bucket", "DataLocation", "UploadedObject"]

log = logging.getLogger("nova_ft")

#: Where each split goes, under the upload prefix (the tutorial's layout).
SPLIT_KEYS = {"train": "training-data/train.jsonl", "valid": "validation-data/valid.jsonl"}
OUTPUT_PREFIX = "output-data/"


@dataclass(frozen=True)
class DataLocation:
    """Where a dataset's splits live on S3, and where a job should write its output.

    ``Dataset.upload`` returns one; ``DataLocation(bucket, prefix)`` names data uploaded
    earlier in the same layout.
    """

    bucket: str
    prefix: str = ""
    splits: tuple[str, ...] = ("train", "valid")
    objects: tuple[UploadedObject, ...] = field(default_factory=tuple)

    def _uri(self, split: str) -> str | None:
        if split not in self.splits:
            return None
        return f"s3://{self.bucket}/{self.prefix}{SPLIT_KEYS[split]}"

    @property
    def train_uri(self) -> str:
        """The training file's S3 URI."""
        uri = self._uri("train")
        if uri is None:
            raise ValueError("this upload has no train split")
        return uri

    @property
    def valid_uri(self) -> str | None:
        """The validation file's S3 URI, if there is one."""
        return self._uri("valid")

    @property
    def data_prefixes(self) -> list[str]:
        """The prefixes a job reads (what the training role must allow)."""
        return [self.prefix + key.rsplit("/", 1)[0] + "/" for key in SPLIT_KEYS.values()]

    @property
    def output_prefix(self) -> str:
        """The key prefix a job writes its output under."""
        return self.prefix + OUTPUT_PREFIX

    @property
    def output_uri(self) -> str:
        """The job output location as an S3 URI."""
        return f"s3://{self.bucket}/{self.output_prefix}"


class Bucket:
    """An S3 bucket for training data and job output: private and encrypted.

    ``ensure()`` creates it if missing, blocks all public access and turns on default
    encryption (SSE-S3); calling it again changes nothing. The default name follows the
    tutorial: ``sl-nova-ft-<account id>``.

    Examples:
        >>> import nova_ft as nf
        >>> with nf.Session.local() as session:
        ...     bucket = session.bucket().ensure()
        ...     data = nf.Dataset.synthetic(seed=7, train=80, valid=10)
        ...     location = data.upload(bucket)
        ...     bucket, location.train_uri, [o.uploaded for o in data.upload(bucket).objects]
        (Bucket(name='sl-nova-ft-123456789012', created=True), \
's3://sl-nova-ft-123456789012/training-data/train.jsonl', [False, False])
    """

    def __init__(self, session: Session, name: str | None = None) -> None:
        self._session = session
        self._name = name
        self.created: bool | None = None

    @property
    def name(self) -> str:
        """The bucket name (resolving the default needs one STS call)."""
        if self._name is None:
            self._name = f"sl-nova-ft-{self._session.account_id}"
        return self._name

    def _resolve_name(self) -> Steps[str]:
        if self._name is None:
            identity = yield from self._session._identity_step()
            self._name = f"sl-nova-ft-{identity.account}"
        return self._name

    @step
    def ensure(self) -> Steps[Bucket]:
        """Create the bucket if needed, private and encrypted. Idempotent."""
        name = yield from self._resolve_name()
        info: BucketInfo = yield self._session.core.ensure_bucket(name)
        self.created = info.created
        if self.created:
            self._session.record.add("bucket", name)
        log.info("bucket %s %s", name, "created" if self.created else "exists")
        return self

    ensure_async = async_twin(ensure)

    @step
    def keys(self, prefix: str = "") -> Steps[list[str]]:
        """The keys under ``prefix``."""
        name = yield from self._resolve_name()
        keys: list[str] = yield self._session.core.list_keys(name, prefix)
        return keys

    keys_async = async_twin(keys)

    def uri(self, key: str = "") -> str:
        """The ``s3://`` URI of a key in this bucket."""
        return f"s3://{self.name}/{key}"

    def __repr__(self) -> str:
        return f"Bucket(name={self._name!r}, created={self.created})"

    def _repr_html_(self) -> str:
        return html_table("nova_ft.Bucket", {"name": self._name, "created": self.created})


def upload_steps(
    dataset: Dataset, bucket: Bucket, prefix: str, task: str = "sft", model: str = ""
) -> Steps[DataLocation]:
    """Validate, write the splits to a temporary directory, upload what changed."""
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    dataset.validate(task=task, model=model).raise_for_errors()
    session = bucket._session
    name = yield from bucket._resolve_name()
    objects: list[UploadedObject] = []
    import tempfile  # loaded on first use: it costs a Session's start-up ~5 ms

    with tempfile.TemporaryDirectory(prefix="nova_ft-upload-") as tmp:
        for split, key in SPLIT_KEYS.items():
            if split not in dataset.splits:
                continue
            path = dataset.write_split(split, Path(tmp) / f"{split}.jsonl")
            uploaded: UploadedObject = yield session.core.upload_file(path, name, prefix + key)
            if uploaded.uploaded:
                session.record.add("object", uploaded.key, bucket=name)
            log.info(
                "%s %s (%d bytes)",
                "uploaded" if uploaded.uploaded else "unchanged",
                uploaded.uri,
                uploaded.size,
            )
            objects.append(uploaded)
    splits = tuple(split for split in SPLIT_KEYS if split in dataset.splits)
    return DataLocation(bucket=name, prefix=prefix, splits=splits, objects=tuple(objects))

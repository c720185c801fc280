"""Deleting what a workflow created, from its resource record, in an order AWS accepts."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from . import _steps
from ._nova_ft import JobInfo
from .exceptions import ConflictError, InvalidParameterError

if TYPE_CHECKING:
    from .resources import Resource
    from .session import Session

__all__ = ["cleanup_steps"]

log = logging.getLogger("nova_ft")


def _cleanup_one(session: Session, item: Resource) -> _steps.Steps[bool]:
    """Delete one recorded resource; True if it existed."""
    core = session.core
    if item.kind == "deployment":
        deleted: bool = yield core.delete_deployment(item.id)
        return deleted
    if item.kind == "provisioned":
        deleted = yield core.delete_provisioned(item.id)
        return deleted
    if item.kind == "custom_model":
        # A just-deleted deployment can hold the model for a moment: retry a conflict.
        for attempt in range(6):
            try:
                deleted = yield core.delete_custom_model(item.id)
                return deleted
            except ConflictError:
                if attempt == 5:
                    raise
                yield _steps.Sleep(0.2 if session.is_local else 10.0)
        return False
    if item.kind == "job":
        # Bedrock keeps job records (they cost nothing); a running job is stopped.
        info: JobInfo = yield core.describe_job(item.id)
        if info.status == "InProgress":
            yield core.stop_job(item.id)
            return True
        return False
    if item.kind in ("prefix", "object"):
        assert item.bucket is not None
        if item.kind == "prefix":
            keys: list[str] = yield core.list_keys(item.bucket, item.id)
        else:
            keys = [item.id]
        try:
            gone: list[str] = yield core.delete_keys(item.bucket, keys)
        except Exception as exc:  # the bucket itself is gone: nothing left to delete
            if getattr(exc, "code", None) == "NoSuchBucket":
                return False
            raise
        return bool(gone)
    if item.kind == "lambda":
        deleted = yield core.delete_function(item.id)
        return deleted
    if item.kind == "role":
        deleted = yield core.delete_role(item.id)
        return deleted
    if item.kind == "bucket":
        deleted = yield core.delete_bucket(item.id)
        return deleted
    raise InvalidParameterError(f"unknown resource kind {item.kind!r} in {session.record.path}")


def cleanup_steps(
    session: Session, delete_bucket: bool, dry_run: bool
) -> _steps.Steps[list[Resource]]:
    """:meth:`Session.cleanup`: what was deleted (or, with ``dry_run``, would be)."""
    done: list[Resource] = []
    for item in session.record.in_cleanup_order():
        if item.kind == "bucket" and not delete_bucket:
            continue
        if dry_run:
            done.append(item)
            continue
        existed = yield from _cleanup_one(session, item)
        session.record.remove(item)
        log.info("%s %s", "deleted" if existed else "already gone:", item.label)
        if existed:
            done.append(item)
    return done

"""How subcommands print: text for people, JSON with ``--json``."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..storage import DataLocation


def add_location(parser: argparse.ArgumentParser, prefix: str = "the upload's key prefix") -> None:
    """``--bucket`` and ``--prefix``: where a command's data is (or goes) in S3."""
    parser.add_argument("--bucket", help="bucket name (default sl-nova-ft-<account id>)")
    parser.add_argument("--prefix", default="", help=prefix)


def emit(args: argparse.Namespace, text: str, data: Any) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    elif text:
        print(text)


def emit_upload(args: argparse.Namespace, location: DataLocation) -> None:
    """What an upload did: each object, uploaded or already in place."""
    objects = [o.to_dict() for o in location.objects]
    text = "\n".join(
        f"{'uploaded' if o.uploaded else 'unchanged'} {o.uri}" for o in location.objects
    )
    emit(args, text, objects)

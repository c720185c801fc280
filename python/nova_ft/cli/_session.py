"""Global AWS options (``--region``, ``--profile``, ``--endpoint-url``, ``--local``) and the
session they describe."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..session import Session

#: Where ``--local`` keeps the emulator's state, so steps run as separate commands share it.
DEFAULT_LOCAL_DIR = Path(".nova_ft") / "emulator"


def add_aws_options(parser: argparse.ArgumentParser, top_level: bool = False) -> None:
    """Add the AWS options; below the top level they default to 'not given' so either place
    works (``nova-ft --local bucket ensure`` and ``nova-ft bucket ensure --local``)."""
    default = None if top_level else argparse.SUPPRESS
    group = parser.add_argument_group("AWS")
    group.add_argument("--region", default=default, help="AWS region (default: as the AWS CLI)")
    group.add_argument("--profile", default=default, help="AWS profile name")
    group.add_argument(
        "--endpoint-url", default=default, help="send every call here (an emulator, LocalStack)"
    )
    group.add_argument(
        "--local",
        action="store_true",
        default=False if top_level else argparse.SUPPRESS,
        help=f"use the embedded emulator (state in --data-dir, default {DEFAULT_LOCAL_DIR})",
    )
    group.add_argument(
        "--data-dir",
        type=Path,
        default=default,
        help="the embedded emulator's state directory (with --local)",
    )


def open_session(args: argparse.Namespace) -> Session:
    from ..session import Session

    if getattr(args, "local", False):
        return Session.local(getattr(args, "data_dir", None) or DEFAULT_LOCAL_DIR)
    return Session(
        region=getattr(args, "region", None),
        profile=getattr(args, "profile", None),
        endpoint_url=getattr(args, "endpoint_url", None),
    )

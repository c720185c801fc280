"""How subcommands print: text for people, JSON with ``--json``."""

from __future__ import annotations

import argparse
import json
from typing import Any


def emit(args: argparse.Namespace, text: str, data: Any) -> None:
    """Print ``data`` as JSON with ``--json``, else ``text``."""
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, default=str))
    elif text:
        print(text)

"""Write docs/guide/cli.md: every ``nova-ft`` command's and subcommand's ``--help``, from the
parser itself, so the reference is the program's own words. Run it after changing the CLI:

    python scripts/cli_reference.py

``tests/test_docs_code.py`` fails when the page and the parser disagree.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from nova_ft.cli import build_parser

PAGE = Path(__file__).resolve().parents[1] / "docs" / "guide" / "cli.md"


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def _help(parser: argparse.ArgumentParser) -> str:
    return parser.format_help().rstrip()


def reference() -> str:
    # A fixed width, so the text does not depend on the terminal that runs this.
    os.environ["COLUMNS"] = "100"
    parser = build_parser()
    out = [
        "# Command-line reference",
        "",
        "Every `nova-ft` command and subcommand, as `--help` prints it (written by",
        "`python scripts/cli_reference.py`; a test keeps it current).",
        "",
        "```text",
        _help(parser),
        "```",
    ]
    for name, command in _subcommands(parser).items():
        out += ["", f"## nova-ft {name}", "", "```text", _help(command), "```"]
        for sub, subcommand in _subcommands(command).items():
            out += ["", f"### nova-ft {name} {sub}", "", "```text", _help(subcommand), "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    PAGE.write_text(reference())
    print(f"wrote {PAGE}")

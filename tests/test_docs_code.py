"""Every Python code block in the README and the user guide runs, so the guide cannot rot:
each page's blocks run in order in one fresh interpreter, in an empty folder, against the
embedded emulator (the blocks use ``Session.local()`` or ``LocalEmulator``)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_data

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs" / "guide").glob("*.md"))]
#: Pages whose blocks read real data sets (downloaded on first use, or NOVA_FT_DATA): the
#: (data set, split) pairs they read.
NEEDS_DATA = {"data.md": [("atis", "test"), ("geoquery", "train")]}


def python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(), re.S | re.M)


def test_the_guide_has_code_to_run() -> None:
    assert sum(len(python_blocks(p)) for p in PAGES) >= 5


@pytest.mark.parametrize(
    "page",
    [p for p in PAGES if python_blocks(p)],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_code_blocks_run(page: Path, tmp_path: Path) -> None:
    for name, split in NEEDS_DATA.get(page.name, []):
        need_data(name, split=split)
    # A script file, as a user runs one (a reward function's source must be readable).
    script = tmp_path / f"{page.stem}.py"
    script.write_text("\n\n".join(python_blocks(page)))
    env = {**os.environ, "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, f"{page.name}:\n{done.stderr[-3000:]}"


def test_the_cli_reference_lists_every_command_and_option() -> None:
    """docs/guide/cli.md (``python scripts/cli_reference.py``) has a section per command and
    subcommand holding each of its options (exact help text varies with Python's argparse)."""
    import argparse

    from nova_ft.cli import build_parser

    page = (ROOT / "docs" / "guide" / "cli.md").read_text()
    sections = dict(re.findall(r"^#+ (nova-ft [^\n]+)\n\n```text\n(.*?)^```", page, re.S | re.M))

    def children(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                return dict(action.choices)
        return {}

    def check(title: str, parser: argparse.ArgumentParser) -> None:
        assert title in sections, f"{title} is missing: run python scripts/cli_reference.py"
        for action in parser._actions:
            for flag in action.option_strings:
                assert flag in sections[title], f"{title} {flag}: run scripts/cli_reference.py"

    for name, command in children(build_parser()).items():
        check(f"nova-ft {name}", command)
        for sub, subcommand in children(command).items():
            check(f"nova-ft {name} {sub}", subcommand)

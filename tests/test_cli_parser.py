"""The CLI builds only the commands named on its command line: the same parser, faster."""

from __future__ import annotations

import argparse

import pytest

from nova_ft.cli import build_parser


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_top_level_help_lists_every_command_either_way() -> None:
    full, lazy = build_parser(), build_parser([])
    assert lazy.format_help() == full.format_help()
    assert list(_commands(lazy)) == list(_commands(full))


@pytest.mark.parametrize("name", list(_commands(build_parser())))
def test_a_named_command_is_built_in_full(name: str) -> None:
    full = _commands(build_parser())[name]
    lazy = _commands(build_parser(["--region", "us-east-1", name, "--help"]))[name]
    assert lazy.format_help() == full.format_help()
    # Its subcommands (dataset validate, rft train, ...) too.
    if any(isinstance(a, argparse._SubParsersAction) for a in full._actions):
        for sub, parser in _commands(full).items():
            assert _commands(lazy)[sub].format_help() == parser.format_help()


def test_commands_not_named_are_bare_entries() -> None:
    lazy = _commands(build_parser(["jobs"]))
    assert len(lazy["jobs"]._actions) > 1
    assert lazy["train"]._actions == []

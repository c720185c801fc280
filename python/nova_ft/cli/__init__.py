"""The ``nova-ft`` command line: one subcommand per workflow step.

Exit codes: 0 success, 1 a nova_ft error or invalid data, 2 bad usage, 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from ..exceptions import NovaFtError
from . import _bench, _dataset, _demo, _emulator, _rft, _workflow
from ._session import add_aws_options

__all__ = ["build_parser", "main"]


class _Version(argparse.Action):
    """``--version``, reading the version from the native module only when asked."""

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        from .._nova_ft import __version__

        parser.exit(message=f"nova-ft {__version__}\n")


class _Unused:
    """Takes, and ignores, the calls that would configure a command that is not being run."""

    def __getattr__(self, name: str) -> Any:
        return self._ignore

    def _ignore(self, *args: Any, **kwargs: Any) -> _Unused:
        return self


class _CommandsOnTheLine:
    """Builds in full only the commands named on the command line.

    The others get a bare entry (name and help), so ``nova-ft --help`` lists them and a wrong
    name is refused with the list; building all ~30 parsers and ~180 options cost every
    ``nova-ft`` command ~30 ms of start-up. A word that merely looks like a command (an option's
    value) only builds that command too: slower, never wrong.
    """

    def __init__(self, commands: Any, argv: Sequence[str]) -> None:
        self._commands = commands
        self._named = set(argv)

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name in self._named:
            return self._commands.add_parser(name, **kwargs)
        self._commands.add_parser(name, help=kwargs.get("help"), add_help=False)
        return _Unused()


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``nova-ft`` parser: every command in full, or, given the command line, only the
    commands it names (the rest listed by name and help)."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--json",
        action="store_true",
        default=argparse.SUPPRESS,
        help="print machine-readable JSON instead of text",
    )
    parser = argparse.ArgumentParser(
        prog="nova-ft",
        description="Fine-tune Amazon Nova Micro on Bedrock: data, training, deployment, "
        "benchmark.",
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and exit")
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    add_aws_options(parser, top_level=True)
    with_aws = argparse.ArgumentParser(add_help=False, parents=[common])
    add_aws_options(with_aws)
    commands: Any = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if argv is not None:
        commands = _CommandsOnTheLine(commands, argv)
    _demo.register(commands, common)
    _dataset.register(commands, common)
    _workflow.register(commands, with_aws)
    _bench.register(commands, with_aws)
    _rft.register(commands, common, with_aws)
    _emulator.register(commands, common)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # A command stops on Ctrl-C even when its shell started it with SIGINT ignored (a
    # background job of a script): the CLI is the program, so the choice is ours to make.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        code: int = args.handler(args)
    except NovaFtError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`nova-ft jobs | head`): stop quietly, with the status a Unix
        # tool killed by SIGPIPE has (128 + 13), not a traceback.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
    return code

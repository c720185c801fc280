"""The shared runtime across fork(), Rust logs in Python's logging, the plot backend choice."""

from __future__ import annotations

import logging
import multiprocessing
import sys
import warnings
from typing import Any

import pytest

import nova_ft
from nova_ft import _display


def _use_nova_ft(queue: Any) -> None:
    try:
        with nova_ft.Session.local() as session:
            queue.put(("ok", session.account_id))
    except nova_ft.NovaFtError as exc:
        queue.put((type(exc).__name__, str(exc)))


@pytest.mark.skipif(sys.platform == "win32", reason="no fork on Windows")
def test_a_forked_child_gets_a_clear_error_instead_of_a_hang() -> None:
    with nova_ft.Session.local() as session:
        assert session.account_id  # the runtime's threads now run in this process
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # fork of a threaded process
        child = context.Process(target=_use_nova_ft, args=(queue,))
        child.start()
    try:
        kind, message = queue.get(timeout=60)
    finally:
        child.join(10)
        if child.is_alive():
            child.kill()
    assert kind == "InternalError"
    assert "forked" in message and "spawn" in message
    # A child started with 'spawn' works.
    spawned = multiprocessing.get_context("spawn")
    queue = spawned.Queue()
    spawned_child = spawned.Process(target=_use_nova_ft, args=(queue,))
    spawned_child.start()
    try:
        assert queue.get(timeout=120) == ("ok", "123456789012")
    finally:
        spawned_child.join(30)
        if spawned_child.is_alive():
            spawned_child.kill()


def test_emulator_requests_and_jobs_log_through_python_logging(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="nova_ft")
    with nova_ft.Session.local() as session:
        session.caller_identity()
        with pytest.raises(nova_ft.ResourceNotFoundError):
            session.foundation_model("amazon.nova-nano-v9:0")
    records = [r for r in caplog.records if r.name == "nova_ft.emulator"]
    lines = [r.getMessage() for r in records]
    assert any(line.startswith("POST / -> 200 (sts") for line in lines), lines
    assert any("-> 404 (bedrock" in line for line in lines), lines
    assert all(r.levelno == logging.DEBUG for r in records)


def test_quiet_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="nova_ft")
    with nova_ft.Session.local() as session:
        session.caller_identity()
    assert not [r for r in caplog.records if r.name == "nova_ft.emulator"]


@pytest.mark.parametrize(
    ("platform", "env", "in_jupyter", "display"),
    [
        ("linux", {}, False, False),
        ("linux", {"DISPLAY": ":0"}, False, True),
        ("linux", {"WAYLAND_DISPLAY": "wayland-0"}, False, True),
        ("linux", {}, True, True),
        ("darwin", {}, False, True),
        ("win32", {}, False, True),
    ],
)
def test_agg_is_forced_only_on_a_headless_unix(
    monkeypatch: pytest.MonkeyPatch,
    platform: str,
    env: dict[str, str],
    in_jupyter: bool,
    display: bool,
) -> None:
    monkeypatch.setattr(sys, "platform", platform)
    for name in ("DISPLAY", "WAYLAND_DISPLAY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    if in_jupyter:
        monkeypatch.setitem(sys.modules, "ipykernel", sys)
    else:
        monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    assert _display._has_display() is display

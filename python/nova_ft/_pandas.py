"""pandas is optional: tables come back as DataFrames when it is installed."""

from __future__ import annotations

from typing import Any


def require_pandas() -> Any:
    """Import pandas, or say how to get it."""
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("this method returns a pandas DataFrame: pip install pandas") from exc
    return pandas

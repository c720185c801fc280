"""pandas is a dependency of nova_ft (tables come back as DataFrames), imported only when a
DataFrame is asked for, so commands that need none start fast."""

from __future__ import annotations

from typing import Any


def require_pandas() -> Any:
    """Import pandas, or say how to get it."""
    try:
        import pandas
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "this method returns a pandas DataFrame, and pandas (a dependency of nova_ft) is "
            "missing from this environment: pip install pandas"
        ) from exc
    return pandas

"""Engine results -> polars.DataFrame: the one place where Arrow streams become frames."""

from __future__ import annotations

from typing import Any

import polars as pl

# pl.DataFrame(obj) spends most of its time deciding what obj is (isinstance checks against
# dicts, sequences, numpy, pandas, pyarrow...) before it reaches the two calls below, which is
# all it does for an __arrow_c_stream__ object: 25 us against 10 us per small result, a tenth
# of a short query's client CPU. Call them directly when this polars has them, and go through
# the public constructor when it does not (the result is the same frame either way).
try:
    from polars._utils.pycapsule import PySeries as _PySeries  # type: ignore[attr-defined]
    from polars._utils.wrap import wrap_df as _wrap_df

    _FAST = hasattr(_PySeries, "from_arrow_c_stream") and hasattr(_PySeries, "struct_unnest")
except ImportError:  # pragma: no cover - older or newer polars layouts
    _FAST = False


def frame(result: Any) -> pl.DataFrame:
    """The DataFrame of an engine result (rows, or a rows_affected count for statements)."""
    if result.rows_affected >= 0:
        return pl.DataFrame({"rows_affected": [result.rows_affected]}, schema={"rows_affected": pl.Int64})
    # Views: Polars' own string layout, so it takes the strings without building a copy.
    stream = result.use_string_views()
    if _FAST:
        return _wrap_df(_PySeries.from_arrow_c_stream(stream).struct_unnest())
    return pl.DataFrame(stream)

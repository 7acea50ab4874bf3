"""MLink records as Arrow tables, polars and pandas DataFrames, typed from the schema.

::

    from srmlink.frames import arrow_schema, decode_arrow, from_arrow, to_arrow

    table = to_arrow(quotes)                      # list[OptionNbboQuote] -> pyarrow.Table
    quotes = from_arrow(table, OptionNbboQuote)   # and back
    table = decode_arrow(body, OptionNbboQuote, "jsonf")  # wire bytes -> Arrow, no objects

Column types come from the schema (:mod:`srmlink.frames.schema`), keys are structs of their
typed parts (filter on ``okey.ticker`` or ``okey.expiration`` without parsing strings).
pyarrow is an optional dependency (``pip install 'srmlink[arrow]'``; ``[polars]`` and
``[pandas]`` add those); a missing one raises :class:`MissingExtraError` naming the extra.
"""

from __future__ import annotations

from ._arrow import MissingExtraError
from .convert import FrameConversionError, from_arrow, to_arrow, to_pandas, to_polars
from .schema import ColumnNames, arrow_schema
from .wire import decode_arrow

__all__ = [
    "ColumnNames",
    "FrameConversionError",
    "MissingExtraError",
    "arrow_schema",
    "decode_arrow",
    "from_arrow",
    "to_arrow",
    "to_pandas",
    "to_polars",
]

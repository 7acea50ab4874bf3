"""Message numbers of the MLink control messages, for schemas whose sources carry none.

The 2023-07 snapshot (a data dictionary without the MLink messages, plus .proto files) gives no
mNum to MLinkAdmin, MLinkQuery, QueryResult ...; without one, framed encodings cannot carry
them. These facts come from the published material, not from a schema file:

- ``2023-05 getmsgtypes``: the May 2023 server's own answer (MsgDesc records, ``mCat`` MLinkWs /
  MLinkRest);
- ``mlink-api.md``: the spec's examples. Its REST examples frame QueryResult as ``J03320`` /
  ``P03320``. Its WebSocket example (StockBookQuote 3000: the numbers of late 2023, which the
  2023-07 dictionary has too) sends MLinkQuery as ``P03310`` and decodes ``3385`` as
  MLinkResponse; its loop-exit test ``!= 3315`` keeps the May 2023 number, so 3385 is taken as
  the later one.

The reconciler uses an entry only when no source of the schema numbers that message and no
other message of the schema holds the number, and reports each use (``mnum-fallback``).
"""

from __future__ import annotations

from types import MappingProxyType

from attrs import frozen

__all__ = ["CONTROL_MESSAGE_NUMBERS", "KnownNumber"]


@frozen
class KnownNumber:
    """An mNum and where it was published."""

    mnum: int
    evidence: str


_MAY_2023 = "2023-05 getmsgtypes"

CONTROL_MESSAGE_NUMBERS = MappingProxyType(
    {
        "MLinkAdmin": KnownNumber(3288, _MAY_2023),
        "MLinkLogon": KnownNumber(3289, _MAY_2023),
        "MLinkQuery": KnownNumber(
            3310, "mlink-api.md WebSocket example (P03310); 2023-05 getmsgtypes"
        ),
        "MLinkResponse": KnownNumber(
            3385, "mlink-api.md WebSocket example (3385 decoded as MLinkResponse)"
        ),
        "MLinkSignalReady": KnownNumber(3316, _MAY_2023),
        "MLinkDataAck": KnownNumber(3317, _MAY_2023),
        "MLinkApiKey": KnownNumber(3319, _MAY_2023),
        "QueryResult": KnownNumber(
            3320, "mlink-api.md REST examples (J03320, P03320); 2023-05 getmsgtypes"
        ),
        "MLinkCount": KnownNumber(3321, _MAY_2023),
        "MsgTickerKey": KnownNumber(3323, _MAY_2023),
        "MsgExpiryKey": KnownNumber(3324, _MAY_2023),
        "MsgOptionKey": KnownNumber(3325, _MAY_2023),
        "MsgDesc": KnownNumber(3330, _MAY_2023),
        "FieldDesc": KnownNumber(3331, _MAY_2023),
        "SummaryNumeric": KnownNumber(3332, _MAY_2023),
        "SummaryString": KnownNumber(3333, _MAY_2023),
        "PostAck": KnownNumber(3339, _MAY_2023),
    }
)

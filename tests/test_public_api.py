"""The public API is a small, sorted ``__all__``: pinned here so changes are deliberate."""

from __future__ import annotations

import srmlink


def test_srmlink_all_is_pinned() -> None:
    assert srmlink.__all__ == sorted(srmlink.__all__)
    assert srmlink.__all__ == [
        "AsyncMLinkClient",
        "CallPut",
        "ExpiryKey",
        "KeyParseError",
        "MLinkClient",
        "OptionKey",
        "SREnum",
        "SRFlag",
        "SRMLinkError",
        "TickerKey",
        "UndefinedMessageError",
        "UnknownMessageError",
        "__version__",
        "parse_key",
    ]
    for name in srmlink.__all__:
        assert hasattr(srmlink, name), name

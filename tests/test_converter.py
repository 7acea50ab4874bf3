"""srmlink.converter: MLink types inside an app's own attrs models, through the codecs."""

from __future__ import annotations

import attrs
import cattrs
import orjson
import pytest

from srmlink import OptionKey, TickerKey
from srmlink.codec import decode, encode
from srmlink.converter import configure, converter
from srmlink.errors import DecodeError
from srmlink.messages import OptionNbboQuote, OptionNbboQuotePKey
from srmlink.messages.enums import UpdateType

OKEY = OptionKey.parse("AAPL-NMS-EQT-2026-07-17-200-C")


@attrs.frozen
class Watch:
    """An app's own model holding MLink values."""

    name: str
    ticker: TickerKey
    kind: UpdateType
    quote: OptionNbboQuote
    history: list[OptionNbboQuote]
    last: OptionNbboQuote | None = None


def _quote(bid: float) -> OptionNbboQuote:
    return OptionNbboQuote(
        pkey=OptionNbboQuotePKey(okey=OKEY),
        update_type=UpdateType.PRC_CHANGE,
        bid_price=bid,
        bid_size=3,
    )


def _watch() -> Watch:
    return Watch(
        name="aapl calls",
        ticker=TickerKey.parse("AAPL-NMS-EQT"),
        kind=UpdateType.PRC_CHANGE,
        quote=_quote(1.25),
        history=[_quote(1.0), _quote(1.125)],
    )


def test_an_app_model_round_trips_through_plain_data() -> None:
    watch = _watch()
    data = converter.unstructure(watch)
    assert converter.structure(orjson.loads(orjson.dumps(data)), Watch) == watch


def test_messages_take_mlinks_json_form() -> None:
    data = converter.unstructure(_watch())
    # The same object the codec puts in a JSON envelope's "message" member.
    (envelope,) = orjson.loads(encode([_quote(1.25)], "json"))
    assert data["quote"] == envelope["message"]
    assert data["quote"]["pkey"]["okey"] == OKEY.to_json()
    assert data["kind"] == "PrcChange"
    assert data["ticker"] == TickerKey.parse("AAPL-NMS-EQT").to_json()
    assert data["last"] is None
    body = orjson.dumps(
        [{"header": {"mTyp": "OptionNbboQuote"}, "message": m} for m in data["history"]]
    )
    assert decode(body, "json") == [_quote(1.0), _quote(1.125)]


def test_keys_also_structure_from_their_flat_text() -> None:
    assert converter.structure("AAPL-NMS-EQT-2026-07-17-200-C", OptionKey) == OKEY


def test_enum_values_the_schema_does_not_know_survive_a_round_trip() -> None:
    for member in (UpdateType.from_wire("NewKind"), UpdateType.from_number(999)):
        assert not member.known
        data = converter.unstructure(member)
        assert converter.structure(orjson.loads(orjson.dumps(data)), UpdateType) is member
    with pytest.raises(DecodeError, match="UpdateType"):
        converter.structure(True, UpdateType)


def test_a_wrong_shape_names_the_message_type() -> None:
    data = converter.unstructure(_watch())
    data["quote"] = ["not", "an", "object"]
    with pytest.raises(cattrs.ClassValidationError) as info:
        converter.structure(data, Watch)
    (error,) = info.value.exceptions
    assert isinstance(error, DecodeError) and error.message_type == "OptionNbboQuote"
    data["quote"] = {"bidPrice": "cheap"}
    with pytest.raises(cattrs.ClassValidationError) as info:
        converter.structure(data, Watch)
    (error,) = info.value.exceptions
    assert isinstance(error, DecodeError) and error.field == "bidPrice"


def test_configure_extends_an_apps_own_converter() -> None:
    mine = configure(cattrs.Converter(forbid_extra_keys=True))
    assert mine.structure(mine.unstructure(_watch()), Watch) == _watch()

"""Security keys: flat text, compact JSON and protobuf forms, validation and error positions."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import given, settings, strategies as st

from srmlink.codec.limits import SR_INTS
from srmlink.errors import KeyParseError
from srmlink.keys import CallPut, ExpiryKey, OptionKey, TickerKey, parse_key

from .conftest import SNAPSHOTS, snapshot_dir, snapshot_registry

# The API docs' tables (numbers 1-15 and 1-19) plus the names spiderrock_common.proto adds.
ASSET_TYPE_NAMES = "EQT IDX BND CUR COM FUT SYN WAR FLX MUT SPD MM MF COIN TOKEN ANY RATE"
TICKER_SRC_NAMES = (
    "SR NMS CME ICE CFE CBOT NYMEX COMEX RUT CIDX ARCA NYSE OTC NSDQ MFQS MIAX DJI CUSIP ISIN"
    " BXE SCE ANY CXE DXE NXAM NXBR NXLS NXML NXOS NXP EUREX CEDX ICEFEC ICEFEF CEQT"
)
KNOWN_ASSET_TYPES = {name: n for n, name in enumerate(ASSET_TYPE_NAMES.split(), 1)}
KNOWN_TICKER_SRCS = {name: n for n, name in enumerate(TICKER_SRC_NAMES.split(), 1)}
JULY_28 = dt.date(2023, 7, 28)


def valid_symbol(text: str) -> bool:
    return bool(text) and all(c != "|" and c.isprintable() and not c.isspace() for c in text)


ROOTS = st.from_regex(r"[A-Z]{1,5}", fullmatch=True)
SYMBOLS = st.one_of(
    ROOTS,
    ROOTS.map(lambda root: "@" + root),  # futures root: @CL
    st.builds(lambda root, n: f"#{root}{n:x}", ROOTS, st.integers(0, 2**32)),  # spread
    ROOTS.map(lambda root: "_" + root),  # synthetic: _SPX
    ROOTS.map(lambda root: root + "_"),  # synthetic: SPX_
    st.builds(lambda digit, root: f"{digit}{root}", st.integers(1, 9), ROOTS),  # FLEX: 2SPX
    st.builds(lambda a, b: f"{a}.{b}", ROOTS, ROOTS),  # share class: BRK.B
    st.builds(lambda a, b: f"{a}-{b}", ROOTS, ROOTS),
    st.text(alphabet="AZ09-.@#_", min_size=1),  # dashes anywhere, digits-only, date-like
    st.text(min_size=1).filter(valid_symbol),
)
UNKNOWN_TOKENS = st.from_regex(r"[A-Z][A-Z0-9]{0,7}", fullmatch=True)
ASSET_TYPES = st.one_of(st.sampled_from(sorted(KNOWN_ASSET_TYPES)), UNKNOWN_TOKENS)
TICKER_SRCS = st.one_of(st.sampled_from(sorted(KNOWN_TICKER_SRCS)), UNKNOWN_TOKENS)
SPECIAL_STRIKES = [
    0.0,
    1.0,
    0.01,
    12.5,
    1234.5678,
    1e-3,
    1e-7,
    5e-324,
    1e16,
    1e22,
    sys.float_info.max,
]
STRIKES = st.one_of(
    st.sampled_from(SPECIAL_STRIKES),
    st.floats(min_value=0, allow_nan=False, allow_infinity=False),
    st.integers(0, 10**7).map(float),
    st.decimals(min_value=0, max_value=10**6, places=4).map(float),
)
CALL_PUTS = st.sampled_from(CallPut)


def key_strategies(
    asset_types: st.SearchStrategy[str],
    ticker_srcs: st.SearchStrategy[str],
    symbols: st.SearchStrategy[str] = SYMBOLS,
    dates: st.SearchStrategy[dt.date] = st.dates(),  # noqa: B008
    strikes: st.SearchStrategy[float] = STRIKES,
) -> list[st.SearchStrategy[TickerKey | ExpiryKey | OptionKey]]:
    return [
        st.builds(TickerKey, asset_types, ticker_srcs, symbols),
        st.builds(ExpiryKey, asset_types, ticker_srcs, symbols, dates),
        st.builds(OptionKey, asset_types, ticker_srcs, symbols, dates, strikes, CALL_PUTS),
    ]


ANY_KEY = st.one_of(key_strategies(ASSET_TYPES, TICKER_SRCS))
KNOWN_KEY = st.one_of(
    key_strategies(
        st.sampled_from(sorted(KNOWN_ASSET_TYPES)), st.sampled_from(sorted(KNOWN_TICKER_SRCS))
    )
)
# Few distinct values per field, so that pairs often share prefixes or are equal.
SMALL_KINDS = key_strategies(
    st.sampled_from(["EQT", "IDX"]),
    st.sampled_from(["NMS", "CBOE2"]),
    st.sampled_from(["A", "B", "A-B"]),
    st.sampled_from([JULY_28, dt.date(2024, 1, 1)]),
    st.sampled_from([0.5, 1.0, 2.0]),
)
SAME_KIND_PAIRS = st.sampled_from(SMALL_KINDS).flatmap(lambda kind: st.tuples(kind, kind))


def fields(key: Any) -> tuple[object, ...]:
    return attrs.astuple(key, recurse=False)


# Examples ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("AAPL-NMS-EQT", TickerKey("EQT", "NMS", "AAPL")),
        ("AAPL-NMS-EQT-2023-07-28", ExpiryKey("EQT", "NMS", "AAPL", JULY_28)),
        (
            "AAPL-NMS-EQT-2023-07-28-500-C",
            OptionKey("EQT", "NMS", "AAPL", JULY_28, 500, CallPut.CALL),
        ),
        (
            "SPX-CIDX-IDX-2023-07-28-12.5-P",
            OptionKey("IDX", "CIDX", "SPX", JULY_28, 12.5, CallPut.PUT),
        ),
        ("X-NMS-EQT-2023-07-28-0.01-B", OptionKey("EQT", "NMS", "X", JULY_28, 0.01, CallPut.BOTH)),
        ("@CL-NYMEX-FUT", TickerKey("FUT", "NYMEX", "@CL")),
        ("@ES-CME-FUT-2023-09-15", ExpiryKey("FUT", "CME", "@ES", dt.date(2023, 9, 15))),
        ("#SPX1a2b-CIDX-SPD", TickerKey("SPD", "CIDX", "#SPX1a2b")),
        ("_SPX-CIDX-SYN", TickerKey("SYN", "CIDX", "_SPX")),
        ("SPX_-CIDX-SYN", TickerKey("SYN", "CIDX", "SPX_")),
        ("2SPX-CIDX-FLX", TickerKey("FLX", "CIDX", "2SPX")),
        ("BRK.B-NMS-EQT", TickerKey("EQT", "NMS", "BRK.B")),
        ("BRK-B-NMS-EQT", TickerKey("EQT", "NMS", "BRK-B")),
        ("A-B-NMS-EQT-2023-07-28-1-C", OptionKey("EQT", "NMS", "A-B", JULY_28, 1, CallPut.CALL)),
        ("AAPL-XYZ9-NEWTYPE", TickerKey("NEWTYPE", "XYZ9", "AAPL")),
    ],
)
def test_examples_parse_and_print_back(
    text: str, expected: TickerKey | ExpiryKey | OptionKey
) -> None:
    key = type(expected).parse(text)
    assert key == expected
    assert type(key) is type(expected)
    assert str(key) == text
    assert parse_key(text) == expected


@pytest.mark.parametrize(
    ("strike", "text"),
    [
        (500, "500"),
        (500.0, "500"),
        (0.0, "0"),
        (-0.0, "0"),
        (12.5, "12.5"),
        (0.01, "0.01"),
        (1234.5678, "1234.5678"),
        (1e-3, "0.001"),
        (1e-5, "0.00001"),
        (1e16, "10000000000000000"),
        (0.1 + 0.2, "0.30000000000000004"),
    ],
)
def test_strike_prints_shortest_positional_form(strike: float, text: str) -> None:
    key = OptionKey("EQT", "NMS", "AAPL", JULY_28, strike, CallPut.CALL)
    assert str(key) == f"AAPL-NMS-EQT-2023-07-28-{text}-C"
    assert OptionKey.parse(str(key)).strike == strike


@pytest.mark.parametrize(
    "word", ["C", "c", "Call", "CALL", "call", "P", "put", "B", "Both", "bOtH"]
)
def test_call_put_words_are_case_insensitive(word: str) -> None:
    key = OptionKey.parse(f"AAPL-NMS-EQT-2023-07-28-500-{word}")
    assert key.call_put.letter == word[0].upper()
    assert parse_key(f"AAPL-NMS-EQT-2023-07-28-500-{word}") == key
    assert str(key).endswith(f"-{word[0].upper()}")


def test_accepted_strike_spellings() -> None:
    assert OptionKey.parse("A-NMS-EQT-2023-07-28-500.000-C").strike == 500
    assert OptionKey.parse("A-NMS-EQT-2023-07-28-0500-C").strike == 500


def test_json_examples() -> None:
    response = json.loads(
        '{"okey":{"at":"EQT","ts":"NMS","tk":"AA","dt":"2023-07-23","xx":1,"cp":"Call"}}'
    )
    key = OptionKey.from_json(response["okey"])
    assert key == OptionKey("EQT", "NMS", "AA", dt.date(2023, 7, 23), 1.0, CallPut.CALL)
    assert key.to_json() == response["okey"]
    assert isinstance(key.to_json()["xx"], int)
    assert TickerKey.parse("AAPL-NMS-EQT").to_json() == {"at": "EQT", "ts": "NMS", "tk": "AAPL"}
    assert ExpiryKey.parse("AAPL-NMS-EQT-2023-07-28").to_json() == {
        "at": "EQT",
        "ts": "NMS",
        "tk": "AAPL",
        "dt": "2023-07-28",
    }
    half = OptionKey.parse("AAPL-NMS-EQT-2023-07-28-12.5-P").to_json()
    assert half["xx"] == 12.5
    assert isinstance(half["xx"], float)
    assert half["cp"] == "Put"
    assert OptionKey.parse("AAPL-NMS-EQT-2023-07-28-12.5-B").to_json()["cp"] == "Both"


def test_json_ignores_other_members() -> None:
    obj = {"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2023-07-28", "extra": [1]}
    assert TickerKey.from_json(obj) == TickerKey("EQT", "NMS", "AAPL")
    assert ExpiryKey.from_json(obj) == ExpiryKey("EQT", "NMS", "AAPL", JULY_28)


def test_proto_examples() -> None:
    key = OptionKey.parse("AAPL-NMS-EQT-2023-07-28-12.5-P")
    assert key.to_proto_tuple() == (1, 2, "AAPL", (2023, 7, 28), 12.5, 2)
    assert key.expiry_key.to_proto_tuple() == (1, 2, "AAPL", (2023, 7, 28))
    assert key.ticker_key.to_proto_tuple() == (1, 2, "AAPL")
    assert OptionKey.from_proto_tuple((6, 3, "@ES", (2023, 9, 15), 4500.0, 3)) == OptionKey.parse(
        "@ES-CME-FUT-2023-09-15-4500-B"
    )


def _proto_enum(text: str, name: str) -> dict[str, int]:
    block = re.search(rf"enum {name} \{{(.*?)\}}", text, re.DOTALL)
    assert block is not None, name
    prefix = name.upper() + "_"
    return {
        member.removeprefix(prefix): int(number)
        for member, number in re.findall(r"(\w+)\s*=\s*(\d+);", block.group(1))
    }


def test_proto_numbers_match_spiderrock_common_proto() -> None:
    proto = snapshot_dir("2026-07") / "proto_files" / "spiderrock_common.proto"
    text = proto.read_text(encoding="utf-8")
    asset_types = _proto_enum(text, "AssetType")
    ticker_srcs = _proto_enum(text, "TickerSrc")
    assert asset_types.pop("UNSPECIFIED") == 0
    assert ticker_srcs.pop("UNSPECIFIED") == 0
    assert asset_types == KNOWN_ASSET_TYPES
    assert ticker_srcs == KNOWN_TICKER_SRCS
    for name, number in asset_types.items():
        assert TickerKey(name, "NMS", "X").to_proto_tuple()[0] == number
        assert TickerKey.from_proto_tuple((number, 2, "X")).asset_type == name
    for name, number in ticker_srcs.items():
        assert TickerKey("EQT", name, "X").to_proto_tuple()[1] == number
        assert TickerKey.from_proto_tuple((1, number, "X")).ticker_src == name
    call_put = _proto_enum(text, "CallPut")
    assert call_put == {"UNSPECIFIED": 0, "CALL": 1, "PUT": 2, "PAIR": 3}
    assert [member.number for member in CallPut] == [1, 2, 3]


def test_call_put_members() -> None:
    assert [(m.wire_name, m.letter, m.number) for m in CallPut] == [
        ("Call", "C", 1),
        ("Put", "P", 2),
        ("Both", "B", 3),
    ]
    assert CallPut.CALL < CallPut.PUT < CallPut.BOTH
    assert sorted([CallPut.BOTH, CallPut.CALL, CallPut.PUT]) == list(CallPut)
    assert repr(CallPut.PUT) == "CallPut.PUT"


def test_sub_keys() -> None:
    key = OptionKey.parse("AAPL-NMS-EQT-2023-07-28-500-C")
    assert key.expiry_key == ExpiryKey.parse("AAPL-NMS-EQT-2023-07-28")
    assert key.ticker_key == TickerKey.parse("AAPL-NMS-EQT")
    assert key.expiry_key.ticker_key == key.ticker_key


def test_keys_are_frozen_hashable_and_picklable() -> None:
    key = OptionKey.parse("AAPL-NMS-EQT-2023-07-28-500-C")
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        key.strike = 1.0  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(key)) == key
    assert len({key, OptionKey.parse("AAPL-NMS-EQT-2023-07-28-500.0-Call")}) == 1
    assert key != key.expiry_key  # type: ignore[comparison-overlap]
    assert key.ticker_key != TickerKey.parse("AAPL-NMS-IDX")


# Properties ----------------------------------------------------------------------------------


@given(ANY_KEY)
def test_text_round_trip(key: TickerKey | ExpiryKey | OptionKey) -> None:
    assert type(key).parse(str(key)) == key
    assert parse_key(str(key)) == key
    assert type(parse_key(str(key))) is type(key)


@given(ANY_KEY)
def test_json_round_trip(key: TickerKey | ExpiryKey | OptionKey) -> None:
    assert type(key).from_json(key.to_json()) == key
    assert type(key).from_json(json.loads(json.dumps(key.to_json()))) == key


@given(st.builds(OptionKey, ASSET_TYPES, TICKER_SRCS, SYMBOLS, st.dates(), STRIKES, CALL_PUTS))
def test_json_strike_is_int_when_integral(key: OptionKey) -> None:
    strike = key.to_json()["xx"]
    assert type(strike) is (int if key.strike.is_integer() else float)
    assert strike == key.strike


@given(KNOWN_KEY)
def test_proto_round_trip(key: TickerKey | ExpiryKey | OptionKey) -> None:
    fields = key.to_proto_tuple()
    assert len(fields) == len(attrs.fields(type(key)))
    assert type(key).from_proto_tuple(fields) == key  # type: ignore[arg-type]


@given(ANY_KEY)
def test_proto_needs_known_names(key: TickerKey | ExpiryKey | OptionKey) -> None:
    known = key.asset_type in KNOWN_ASSET_TYPES and key.ticker_src in KNOWN_TICKER_SRCS
    if known:
        return
    with pytest.raises(ValueError, match="has no protobuf number") as caught:
        key.to_proto_tuple()
    assert str(key) in str(caught.value)


@given(SAME_KIND_PAIRS)
def test_order_and_hash_follow_field_tuples(pair: tuple[object, object]) -> None:
    a, b = pair
    assert (a == b) == (fields(a) == fields(b))
    assert (a < b) == (fields(a) < fields(b))  # type: ignore[operator]
    assert (a <= b) == (fields(a) <= fields(b))  # type: ignore[operator]
    assert (a > b) == (fields(a) > fields(b))  # type: ignore[operator]
    if a == b:
        assert hash(a) == hash(b)


@given(ANY_KEY)
def test_parsed_key_hashes_like_the_original(key: TickerKey | ExpiryKey | OptionKey) -> None:
    assert hash(type(key).parse(str(key))) == hash(key)


# Malformed input -----------------------------------------------------------------------------

BAD_TEXTS = [
    (TickerKey, "", 0),
    (TickerKey, "AAPL", 4),
    (TickerKey, "AAPL-NMS", 8),
    (TickerKey, "-NMS-EQT", 0),
    (TickerKey, "AAPL--EQT", 5),
    (TickerKey, "AAPL-NMS-", 9),
    (TickerKey, "AAPL-nms-EQT", 5),
    (TickerKey, "AAPL-NMS-eqt", 9),
    (TickerKey, "AAPL-N.S-EQT", 5),
    (TickerKey, "AAPL-2NMS-EQT", 5),
    (TickerKey, "AA PL-NMS-EQT", 2),
    (TickerKey, "AA|PL-NMS-EQT", 2),
    (TickerKey, "AAPL\x00-NMS-EQT", 4),
    (TickerKey, "AAPL-NMS-EQT-2023-07-28", 18),
    (ExpiryKey, "AAPL-NMS-EQT", 12),
    (ExpiryKey, "AAPL-NMS-EQT-2023-07", 20),
    (ExpiryKey, "AAPL-NMS-EQT-2023-13-28", 18),
    (ExpiryKey, "AAPL-NMS-EQT-2023-00-28", 18),
    (ExpiryKey, "AAPL-NMS-EQT-2023-02-29", 21),
    (ExpiryKey, "AAPL-NMS-EQT-2023-07-32", 21),
    (ExpiryKey, "AAPL-NMS-EQT-0000-01-01", 13),
    (ExpiryKey, "AAPL-NMS-EQT-23-07-28", 13),
    (ExpiryKey, "AAPL-NMS-EQT-2023-7-28", 18),
    (ExpiryKey, "AAPL-NMS-EQT-2023-07-8", 21),
    (ExpiryKey, "AAPL-NMS-EQT-2023-07-28 ", 21),
    (ExpiryKey, "AAPL-NMS-EQT-\uff12\uff10\uff12\uff13-07-28", 13),
    (ExpiryKey, "AAPL-NMS-EQT-2023-07-", 21),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28", 23),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-500-X", 28),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-500-", 28),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-500-Calls", 28),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28--C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-5e2-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-inf-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-nan-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-1_000-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-.5-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-5.-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28- 5-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-" + "9" * 400 + "-C", 24),
    (OptionKey, "AAPL-NMS-EQT-2023-02-30-500-C", 21),
    (OptionKey, "AAPL-NMS-EQT-2023-07-28-1e-05-C", 13),
]


@pytest.mark.parametrize(("kind", "text", "position"), BAD_TEXTS)
def test_malformed_text(kind: type[TickerKey], text: str, position: int) -> None:
    with pytest.raises(KeyParseError) as caught:
        kind.parse(text)
    assert caught.value.text == text
    assert caught.value.position == position
    assert caught.value.reason


@pytest.mark.parametrize(
    "text",
    [text for _, text, _ in BAD_TEXTS if text not in ("AAPL-NMS-EQT", "AAPL-NMS-EQT-2023-07-28")],
)
def test_parse_key_rejects_malformed_text(text: str) -> None:
    with pytest.raises(KeyParseError) as caught:
        parse_key(text)
    assert caught.value.text == text
    assert 0 <= caught.value.position <= len(text)


MUTATION_CHARS = [*"-|.0 9AZaC\n\x00\xe9\uff11#@_", "", "--", "-2023-07-28", "-500-C"]


@given(ANY_KEY, st.data())
def test_mutated_text_parses_or_raises_key_parse_error(
    key: TickerKey | ExpiryKey | OptionKey, data: st.DataObject
) -> None:
    text = str(key)
    start = data.draw(st.integers(0, len(text)))
    stop = data.draw(st.integers(start, min(len(text), start + 3)))
    insert = data.draw(st.sampled_from(MUTATION_CHARS))
    mutated = text[:start] + insert + text[stop:]
    for parse in (type(key).parse, parse_key):
        try:
            result = parse(mutated)
        except KeyParseError as exc:
            assert exc.text == mutated
            assert 0 <= exc.position <= len(mutated)
        else:
            assert type(result).parse(str(result)) == result


@given(st.text())
def test_arbitrary_text_parses_or_raises_key_parse_error(text: str) -> None:
    for parse in (TickerKey.parse, ExpiryKey.parse, OptionKey.parse, parse_key):
        try:
            result = parse(text)
        except KeyParseError as exc:
            assert 0 <= exc.position <= len(text)
        else:
            assert type(result).parse(str(result)) == result


GOOD_JSON = {"at": "EQT", "ts": "NMS", "tk": "AAPL", "dt": "2023-07-28", "xx": 500, "cp": "Call"}


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("at", None),
        ("at", "eqt"),
        ("at", 1),
        ("ts", ""),
        ("ts", ["NMS"]),
        ("tk", ""),
        ("tk", "A B"),
        ("tk", "A|B"),
        ("tk", 5),
        ("dt", "2023-7-28"),
        ("dt", "2023-02-30"),
        ("dt", "20230728"),
        ("dt", 20230728),
        ("xx", "500"),
        ("xx", True),
        ("xx", None),
        ("xx", -1),
        ("xx", float("nan")),
        ("xx", float("inf")),
        ("xx", 10**400),
        ("cp", "X"),
        ("cp", 1),
        ("cp", None),
    ],
)
def test_malformed_json_member(member: str, value: object) -> None:
    obj = {**GOOD_JSON, member: value}
    with pytest.raises(KeyParseError) as caught:
        OptionKey.from_json(obj)
    assert caught.value.text == repr(obj)
    assert caught.value.position == 0
    assert repr(member) in caught.value.reason


@pytest.mark.parametrize("member", list(GOOD_JSON))
def test_missing_json_member(member: str) -> None:
    obj = {name: value for name, value in GOOD_JSON.items() if name != member}
    with pytest.raises(KeyParseError, match=f"'{member}'.*missing") as caught:
        OptionKey.from_json(obj)
    assert caught.value.text == repr(obj)
    assert caught.value.position == 0


@pytest.mark.parametrize("obj", [None, [], "AAPL-NMS-EQT", 5])
def test_json_must_be_an_object(obj: object) -> None:
    for kind in (TickerKey, ExpiryKey, OptionKey):
        with pytest.raises(KeyParseError) as caught:
            kind.from_json(obj)  # type: ignore[arg-type]
        assert caught.value.text == repr(obj)
        assert caught.value.position == 0


def test_json_strike_accepts_ints_and_floats() -> None:
    assert OptionKey.from_json({**GOOD_JSON, "xx": 12.5}).strike == 12.5
    assert OptionKey.from_json({**GOOD_JSON, "xx": 0}).strike == 0
    assert OptionKey.from_json({**GOOD_JSON, "cp": "p"}).call_put is CallPut.PUT


@pytest.mark.parametrize(
    "build",
    [
        lambda: TickerKey("EQT", "NMS", ""),
        lambda: TickerKey("EQT", "NMS", "A B"),
        lambda: TickerKey("EQT", "NMS", "A\tB"),
        lambda: TickerKey("EQT", "NMS", "A|B"),
        lambda: TickerKey("eqt", "NMS", "A"),
        lambda: TickerKey("EQT", "", "A"),
        lambda: TickerKey("EQT", "N-S", "A"),
        lambda: TickerKey("EQT", "1NMS", "A"),
        lambda: TickerKey("EQT", None, "A"),  # type: ignore[arg-type]
        lambda: ExpiryKey("EQT", "NMS", "A", "2023-07-28"),  # type: ignore[arg-type]
        lambda: ExpiryKey("EQT", "NMS", "A", dt.datetime(2023, 7, 28)),
        lambda: OptionKey("EQT", "NMS", "A", JULY_28, -1.0, CallPut.CALL),
        lambda: OptionKey("EQT", "NMS", "A", JULY_28, float("nan"), CallPut.CALL),
        lambda: OptionKey("EQT", "NMS", "A", JULY_28, float("inf"), CallPut.CALL),
        lambda: OptionKey("EQT", "NMS", "A", JULY_28, "500", CallPut.CALL),  # type: ignore[arg-type]
        lambda: OptionKey("EQT", "NMS", "A", JULY_28, True, CallPut.CALL),
        lambda: OptionKey("EQT", "NMS", "A", JULY_28, 500.0, "C"),  # type: ignore[arg-type]
    ],
)
def test_invalid_keys_cannot_be_constructed(build: object) -> None:
    with pytest.raises((ValueError, TypeError)):
        build()  # type: ignore[operator]


@pytest.mark.parametrize(
    ("kind", "fields", "named"),
    [
        (TickerKey, (0, 2, "A"), "AssetType 0"),
        (TickerKey, (99, 2, "A"), "AssetType 99"),
        (TickerKey, (1, 0, "A"), "TickerSrc 0"),
        (TickerKey, (1, 36, "A"), "TickerSrc 36"),
        (ExpiryKey, (1, 2, "A", (0, 0, 0)), "out of range"),
        (OptionKey, (1, 2, "A", (2023, 7, 28), 500.0, 0), "CallPut 0"),
        (OptionKey, (1, 2, "A", (2023, 7, 28), 500.0, 4), "CallPut 4"),
        (OptionKey, (1, 2, "A", (2023, 7, 28), -5.0, 1), "strike"),
    ],
)
def test_from_proto_tuple_rejects_unknown_numbers(
    kind: type[TickerKey], fields: tuple[int, int, str], named: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(named)):
        kind.from_proto_tuple(fields)


# Composite primary keys of the three snapshots -------------------------------------------------

_PART_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{name: st.integers(low, high) for name, (low, high) in SR_INTS.items()},
    "Float": st.floats(allow_nan=False, allow_infinity=False),
    "Double": st.floats(allow_nan=False, allow_infinity=False),
    # Separators, escapes and spaces inside a part must survive; "" is how None prints.
    "String": st.one_of(st.text(min_size=1), st.sampled_from(["|", "\\", "a\\|b", " x "])),
    "DateKey": st.dates(),
    "DateTime": st.datetimes(timezones=st.sampled_from([None, dt.UTC])),
    "TickerKey": key_strategies(ASSET_TYPES, TICKER_SRCS)[0],
    "ExpiryKey": key_strategies(ASSET_TYPES, TICKER_SRCS)[1],
    "OptionKey": key_strategies(ASSET_TYPES, TICKER_SRCS)[2],
}
# Part types that do not take any text, and text none of them takes.
_TYPED = frozenset(_PART_VALUES) - {"String"} | {"Enum", "Flag"}
_NOT_A_VALUE = "not a value?"


def _part_values(spec: Any) -> st.SearchStrategy[Any]:
    if spec.sr_type in ("Enum", "Flag"):
        values: st.SearchStrategy[Any] = st.sampled_from([m for m in spec.type if m.known])
    else:
        values = _PART_VALUES.get(spec.sr_type, _PART_VALUES["String"])
    return st.one_of(st.none(), values)


def _composite_keys(registry: Any) -> dict[tuple[str, ...], list[Any]]:
    """Composite key classes of a registry, by shape (the SR types of their parts)."""
    shapes: dict[tuple[str, ...], list[Any]] = {}
    for message in registry:
        key = next((f.type for f in message.SPEC.fields if f.sr_type == "PKey"), None)
        if key is not None and len(key.SPEC.fields) > 1:
            shapes.setdefault(tuple(f.sr_type for f in key.SPEC.fields), []).append(key)
    return shapes


@st.composite
def _keys(draw: st.DrawFn, classes: list[Any]) -> Any:
    cls = draw(st.sampled_from(classes))
    return cls(**{f.name: draw(_part_values(f)) for f in cls.SPEC.fields})


def _check_shape(classes: list[Any]) -> None:
    @settings(max_examples=10, deadline=None)
    @given(_keys(classes), st.data())
    def check(key: Any, data: st.DataObject) -> None:
        cls, specs = type(key), type(key).SPEC.fields
        text = str(key)
        assert cls.parse(text) == key
        assert str(cls.parse(text)) == text
        with pytest.raises(KeyParseError, match=r"has \d+ part\(s\)"):
            cls.parse(text + "|x")
        # One part that is not text, replaced by something no part of its type holds; text
        # parts become "s" so that the parts can be cut apart without the parser's help.
        typed = [i for i, f in enumerate(specs) if f.sr_type in _TYPED]
        if not typed:
            return
        plain = cls(
            **{f.name: getattr(key, f.name) if i in typed else "s" for i, f in enumerate(specs)}
        )
        texts = str(plain).split("|")
        index = data.draw(st.sampled_from(typed))
        texts[index] = _NOT_A_VALUE
        with pytest.raises(KeyParseError) as caught:
            cls.parse("|".join(texts))
        assert f"part {index + 1} ({specs[index].wire_name}, " in caught.value.reason
        assert caught.value.position >= sum(len(t) + 1 for t in texts[:index])

    check()


@pytest.mark.parametrize("snapshot", SNAPSHOTS)
def test_composite_keys_print_and_parse_back(snapshot: str, staged: Callable[[Path], Path]) -> None:
    shapes = _composite_keys(snapshot_registry(staged, snapshot))
    classes = sum(len(c) for c in shapes.values())
    assert classes == {"2026-07": 158, "2023-07": 16, "2023-05": 29}[snapshot]
    for members in shapes.values():
        _check_shape(members)

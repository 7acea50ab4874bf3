"""The where / view / order grammar (srmlink.query) against the generated 2026-07 bindings."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from hypothesis import given, strategies as st

from srmlink import OptionKey
from srmlink.errors import QueryError, SRMLinkError
from srmlink.messages import (
    LiveExpiryDividends,
    LiveExpiryDividendsPKey,
    LiveIVarSwapFixedTerm,
    MLinkStream,
    MsgDesc,
    OptionNbboQuote,
    OptionNbboQuotePKey,
    OptionPrint,
)
from srmlink.messages.enums import CurveStatus, MLinkActions, OptExch
from srmlink.query import (
    OPERATORS,
    And,
    Comparison,
    FieldRef,
    Node,
    Or,
    Order,
    OrderTerm,
    View,
    apply_view,
    check_view,
    compile_where,
    field_getter,
    order_by,
    parse_order,
    parse_view,
    parse_where,
    sort_key,
    view,
)
from srmlink.rest import commands

Q = OptionNbboQuote
F = OptionNbboQuote.fields


def cmp(text: str) -> Comparison:
    path, op, value = text.split(":", 2)
    return Comparison(tuple(path.split(".")), op, value)


def quote(key: str, **values: object) -> OptionNbboQuote:
    return OptionNbboQuote(pkey=OptionNbboQuotePKey(okey=OptionKey.parse(key)), **values)  # type: ignore[arg-type]


# ---- parsing -----------------------------------------------------------------------------------


def test_query_error_is_a_value_error_and_an_srmlink_error() -> None:
    assert issubclass(QueryError, SRMLinkError)
    assert issubclass(QueryError, ValueError)


@pytest.mark.parametrize("op", OPERATORS)
def test_every_operator_parses_in_any_case(op: str) -> None:
    value = "1$9" if op == "cb" else "AAPL"
    for spelled in (op, op.upper()):
        node = parse_where(f"okey.tk:{spelled}:{value}")
        assert node == Comparison(("okey", "tk"), op, value)
        assert str(node) == f"okey.tk:{op}:{value}"


def test_values_may_hold_colons_dots_dollars_and_dashes() -> None:
    assert parse_where("timestamp:ge:2026-07-17T10:30:00.5") == Comparison(
        ("timestamp",), "ge", "2026-07-17T10:30:00.5"
    )
    assert parse_where("okey:eq:AAPL-NMS-EQT-2026-07-17-200-C") == Comparison(
        "okey", "eq", "AAPL-NMS-EQT-2026-07-17-200-C"
    )
    assert parse_where("bidsize:cb:1$10") == Comparison("bidsize", "cb", "1$10")


@pytest.mark.parametrize(
    ("text", "node", "canonical"),
    [
        # The documentation's examples.
        (
            "(bidsize:eq:1&asksize:eq:1)|(bidsize:eq:10&asksize:eq:1)",
            Or(
                (
                    And((cmp("bidsize:eq:1"), cmp("asksize:eq:1"))),
                    And((cmp("bidsize:eq:10"), cmp("asksize:eq:1"))),
                )
            ),
            "(bidsize:eq:1&asksize:eq:1)|(bidsize:eq:10&asksize:eq:1)",
        ),
        (
            "(bidexch:eq:CBOE) & bidsize:ge:100",
            And((cmp("bidexch:eq:CBOE"), cmp("bidsize:ge:100"))),
            "bidexch:eq:CBOE&bidsize:ge:100",
        ),
        ("okey.tk:eq:AAPL", cmp("okey.tk:eq:AAPL"), "okey.tk:eq:AAPL"),
        (
            "(field1:ne:value1 & field1:ne:value2)",
            And((cmp("field1:ne:value1"), cmp("field1:ne:value2"))),
            "field1:ne:value1&field1:ne:value2",
        ),
        # & binds tighter than |; rendering parenthesises every nested group.
        (
            "a:eq:1|b:eq:2&c:eq:3",
            Or((cmp("a:eq:1"), And((cmp("b:eq:2"), cmp("c:eq:3"))))),
            "a:eq:1|(b:eq:2&c:eq:3)",
        ),
        (
            "a:eq:1&b:eq:2|c:eq:3",
            Or((And((cmp("a:eq:1"), cmp("b:eq:2"))), cmp("c:eq:3"))),
            "(a:eq:1&b:eq:2)|c:eq:3",
        ),
        (
            "(a:eq:1|b:eq:2)&c:eq:3",
            And((Or((cmp("a:eq:1"), cmp("b:eq:2"))), cmp("c:eq:3"))),
            "(a:eq:1|b:eq:2)&c:eq:3",
        ),
        # Nested groups of the same kind flatten; redundant parentheses vanish.
        (
            "a:eq:1&(b:eq:2&(c:eq:3))",
            And((cmp("a:eq:1"), cmp("b:eq:2"), cmp("c:eq:3"))),
            "a:eq:1&b:eq:2&c:eq:3",
        ),
        ("((( a:eq:1 )))", cmp("a:eq:1"), "a:eq:1"),
        (
            " a:eq:1 |\tb:eq:2 | c:eq:3 ",
            Or((cmp("a:eq:1"), cmp("b:eq:2"), cmp("c:eq:3"))),
            "a:eq:1|b:eq:2|c:eq:3",
        ),
    ],
)
def test_parse_and_render(text: str, node: Node, canonical: str) -> None:
    assert parse_where(text) == node
    assert str(node) == canonical
    assert parse_where(canonical) == node


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("", 0, "empty where clause"),
        ("   ", 3, "empty where clause"),
        ("bidsize", 7, "expected ':' after the field name 'bidsize'"),
        ("bidsize:", 8, "expected an operator"),
        ("bidsize:xx:1", 8, "found 'xx'"),
        ("bidsize:eq", 10, "expected ':' after the operator 'eq'"),
        ("bidsize:eq:", 11, "missing value after 'bidsize:eq:'"),
        ("bidsize:eq:1 asksize:eq:1", 13, "expected '&', '|' or the end, found 'a'"),
        ("bidsize:eq:1 &", 14, "expected a field name, found the end"),
        ("bidsize:eq:1 & | asksize:eq:1", 15, "expected a field name, found '|'"),
        ("(bidsize:eq:1", 13, "'(' at position 0 is never closed"),
        ("(bidsize:eq:1 x", 14, "expected '&', '|' or ')', found 'x'"),
        ("bidsize:eq:1)", 12, "')' without a matching '('"),
        ("()", 1, "expected a field name, found ')'"),
        ("okey.:eq:AAPL", 5, "expected a key part after '.'"),
        ("9bid:eq:1", 0, "expected a field name, found '9'"),
        ("bidsize :eq:1", 7, "expected ':' after the field name"),
        ("bidsize:cb:1", 11, "cb takes low$high, not '1'"),
        ("bidsize:cb:1$2$3", 11, "cb takes low$high"),
        ("bidsize:cb:$2", 11, "cb takes low$high"),
        ("(" * 70 + "a:eq:1" + ")" * 70, 64, "nested deeper than 64"),
    ],
)
def test_parse_errors_say_where(text: str, position: int, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        parse_where(text)
    assert caught.value.position == position
    assert caught.value.text == text
    assert reason in caught.value.reason
    assert f"{text!r} at position {position}" in str(caught.value)


@pytest.mark.parametrize(
    ("build", "reason"),
    [
        (lambda: Comparison(("bid size",), "eq", "1"), "not a field path"),
        (lambda: Comparison((), "eq", "1"), "not a field path"),
        (lambda: Comparison("bidsize", "is", "1"), "unknown operator 'is'"),
        (lambda: Comparison("bidsize", "eq", ""), "cannot be a where value"),
        (lambda: Comparison("name", "eq", "Apple Inc"), "cannot be a where value"),
        (lambda: Comparison("name", "eq", "a&b"), "cannot be a where value"),
        (lambda: Comparison("bidsize", "cb", "1"), "cb takes low$high"),
        (lambda: And((cmp("a:eq:1"),)), "at least two parts"),
    ],
)
def test_nodes_that_cannot_be_written_are_refused(build: object, reason: str) -> None:
    with pytest.raises(QueryError, match=reason.replace("$", r"\$")):
        build()  # type: ignore[operator]


def test_comparison_takes_a_dotted_path_and_lowers_the_operator() -> None:
    assert Comparison("okey.tk", "EQ", "AAPL") == Comparison(("okey", "tk"), "eq", "AAPL")


def test_nodes_combine_with_and_or_and_refuse_python_keywords() -> None:
    a, b, c = cmp("a:eq:1"), cmp("b:eq:2"), cmp("c:eq:3")
    assert a & b & c == And((a, b, c))
    assert (a | b) & c == And((Or((a, b)), c))
    assert str(a & (b | c)) == "a:eq:1&(b:eq:2|c:eq:3)"
    with pytest.raises(TypeError, match=r"combine where clauses with & and \|"):
        _ = a and b


# ---- hypothesis: render / parse round trip -----------------------------------------------------

_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,6}", fullmatch=True)
_value_chars = st.characters(codec="utf-8", exclude_characters="&|()$").filter(
    lambda c: not c.isspace()
)
_plain = st.text(_value_chars, min_size=1, max_size=8)
_comparisons = st.one_of(
    st.builds(
        Comparison,
        st.lists(_names, min_size=1, max_size=2).map(tuple),
        st.sampled_from([op for op in OPERATORS if op != "cb"]),
        st.lists(_plain, min_size=1, max_size=2).map("$".join),
    ),
    st.builds(
        Comparison,
        st.lists(_names, min_size=1, max_size=2).map(tuple),
        st.just("cb"),
        st.tuples(_plain, _plain).map("$".join),
    ),
)
_nodes: st.SearchStrategy[Node] = st.recursive(
    _comparisons,
    lambda children: st.one_of(
        st.lists(children, min_size=2, max_size=4).map(lambda parts: And(tuple(parts))),
        st.lists(children, min_size=2, max_size=4).map(lambda parts: Or(tuple(parts))),
    ),
    max_leaves=12,
)


@given(_nodes)
def test_rendering_round_trips(node: Node) -> None:
    assert parse_where(str(node)) == node


@given(_nodes)
def test_whitespace_around_operators_and_parentheses_is_ignored(node: Node) -> None:
    spaced = str(node)
    for token in "&|()":
        spaced = spaced.replace(token, f" {token} ")
    assert parse_where(f"\t{spaced}\n") == node


@given(st.lists(st.tuples(_names, st.booleans(), st.booleans()), min_size=1, max_size=4))
def test_order_round_trips(terms: list[tuple[str, bool, bool]]) -> None:
    order = tuple(OrderTerm((name,), desc, absolute) for name, desc, absolute in terms)
    assert parse_order(str(Order(order))) == order


# ---- evaluation --------------------------------------------------------------------------------

CBOE, AMEX = OptExch.CBOE, OptExch.AMEX
RECORDS = [
    quote("AAPL-NMS-EQT-2026-07-17-200-C", bid_size=1, ask_size=1, bid_price=1.25, bid_exch=CBOE),
    quote("AAPL-NMS-EQT-2026-07-17-210-P", bid_size=10, ask_size=1, bid_price=-0.5, bid_exch=AMEX),
    quote("MSFT-NMS-EQT-2026-08-21-400-C", bid_size=100, ask_size=5, bid_exch=OptExch.CBOE),
    quote("SPY-NMS-EQT-2026-09-18-500.5-P", ask_size=2),
]


def select(where: str, records: list[OptionNbboQuote] = RECORDS) -> list[int]:
    test = compile_where(parse_where(where), Q)
    return [index for index, record in enumerate(records) if test(record)]


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("bidsize:eq:10", [1]),
        ("bidsize:ne:10", [0, 2, 3]),  # unset matches ne ...
        ("bidsize:gt:1", [1, 2]),  # ... and nothing else
        ("bidsize:ge:10", [1, 2]),
        ("bidsize:lt:10", [0]),
        ("bidsize:le:10", [0, 1]),
        ("bidsize:cb:5$100", [1, 2]),
        ("bidsize:ge:9.5", [1, 2]),
        ("BIDSIZE:eq:1", [0]),  # wire names match in any case
        ("bidprice:lt:0", [1]),
        ("bidprice:eq:1.25", [0]),
        ("bidexch:eq:CBOE", [0, 2]),
        ("bidexch:eq:cboe", [0, 2]),  # enum names in any case
        ("bidexch:ne:CBOE", [1, 3]),
        ("bidexch:gt:AMEX", [0, 2]),  # enums order by number (AMEX 1, CBOE 3)
        ("bidexch:sw:cb", [0, 2]),
        ("bidexch:nv:BOE", [1]),  # unset never matches nv
        ("okey.tk:eq:AAPL", [0, 1]),
        ("okey.TK:sw:aa", [0, 1]),
        ("okey.tk:ew:FT", [2]),
        ("okey.tk:cv:p", [0, 1, 3]),
        ("okey.tk:nv:p", [2]),
        ("okey.xx:gt:300", [2, 3]),
        ("okey.xx:eq:500.5", [3]),
        ("okey.cp:eq:P", [1, 3]),
        ("okey.cp:eq:put", [1, 3]),
        ("okey.dt:lt:2026-08-01", [0, 1]),
        ("okey.at:eq:EQT", [0, 1, 2, 3]),
        ("okey:eq:AAPL-NMS-EQT-2026-07-17-210-P", [1]),
        ("okey:sw:aapl-nms", [0, 1]),  # keys search their flat text
        ("okey:cv:-P", [1, 3]),
        ("(bidsize:eq:1&asksize:eq:1)|(bidsize:eq:10&asksize:eq:1)", [0, 1]),
        ("(bidexch:eq:CBOE) & bidsize:ge:100", [2]),
        ("okey.tk:eq:AAPL & (bidsize:gt:5 | bidprice:gt:1)", [0, 1]),
    ],
)
def test_where_evaluates_against_generated_records(where: str, expected: list[int]) -> None:
    assert select(where) == expected


@pytest.mark.parametrize(
    ("where", "reason"),
    [
        ("bidsz:eq:1", "no field 'bidsz' (did you mean bidSize"),
        ("pkey:eq:1", "no field 'pkey'"),
        ("okey.zz:eq:1", "no key part 'okey.zz'"),
        ("bidsize.tk:eq:1", "no nested field 'bidsize.tk'"),
        ("bidsize:eq:ten", "'ten' is not a valid Int for bidSize"),
        ("bidsize:eq:nan", "'nan' is not a valid Int for bidSize"),
        ("bidprice:cb:1$x", "'x' is not a valid Float for bidPrice"),
        ("bidexch:eq:NASDAQ", "'NASDAQ' is not a valid Enum for bidExch"),
        ("okey:eq:AAPL", "'AAPL' is not a valid OptionKey for okey"),
        ("okey.dt:eq:2026-7-1", "not a valid date for okey.dt"),
        ("okey.cp:eq:X", "not a valid call/put for okey.cp: not C, P, B, Call, Put or Both"),
        ("okey.xx:ge:1e999", "not a valid strike for okey.xx: out of range"),
    ],
)
def test_compile_errors_name_the_message_type(where: str, reason: str) -> None:
    with pytest.raises(QueryError) as caught:
        compile_where(parse_where(where), Q)
    assert caught.value.message_type == "OptionNbboQuote"
    assert str(caught.value).startswith("OptionNbboQuote: ")
    assert reason in str(caught.value)
    assert repr(where) in str(caught.value)


def test_time_fields_repeaters_and_flags() -> None:
    stamp = dt.datetime(2026, 7, 17, 15, 30, tzinfo=dt.UTC)
    dividends = LiveExpiryDividends(
        pkey=LiveExpiryDividendsPKey(
            ekey=OptionKey.parse("AAPL-NMS-EQT-2026-07-17-1-C").expiry_key
        ),
        today=dt.date(2026, 7, 1),
        timestamp=stamp,
    )
    naive = LiveExpiryDividends(timestamp=stamp.replace(tzinfo=None))  # naive means UTC
    for where in (
        "timestamp:eq:2026-07-17T15:30:00",
        "timestamp:eq:2026-07-17T17:30:00+02:00",
        "timestamp:cb:2026-07-17$2026-07-18",
        "timestamp:sw:2026-07-17T15:30",
        "today:eq:2026-07-01",
        "ekey.dt:eq:2026-07-17",
        "ekey:eq:AAPL-NMS-EQT-2026-07-17",
    ):
        assert compile_where(parse_where(where), LiveExpiryDividends)(dividends), where
    assert compile_where(parse_where("timestamp:ge:2026-07-17"), LiveExpiryDividends)(naive)
    with pytest.raises(QueryError, match=r"no key part 'ekey\.xx'"):
        compile_where(parse_where("ekey.xx:eq:1"), LiveExpiryDividends)
    with pytest.raises(QueryError, match="repeated group"):
        compile_where(parse_where("dividend:eq:1"), LiveExpiryDividends)

    term = LiveIVarSwapFixedTerm(time=dt.timedelta(hours=16), status=CurveStatus.NORMAL)
    assert compile_where(parse_where("time:gt:15:59:59"), LiveIVarSwapFixedTerm)(term)
    assert compile_where(parse_where("status:eq:normal"), LiveIVarSwapFixedTerm)(term)

    desc = MsgDesc(actions=MLinkActions.SELECT | MLinkActions.INSERT)
    assert compile_where(parse_where("actions:eq:Select,Insert"), MsgDesc)(desc)
    assert compile_where(parse_where("actions:cv:insert"), MsgDesc)(desc)
    assert not compile_where(parse_where("actions:eq:Select"), MsgDesc)(desc)


@given(
    st.lists(st.one_of(st.none(), st.integers(-1000, 1000)), max_size=8),
    st.integers(-1000, 1000),
    st.integers(-1000, 1000),
)
def test_builder_comparisons_agree_with_python(
    sizes: list[int | None], low: int, high: int
) -> None:
    records = [quote("AAPL-NMS-EQT-2026-07-17-200-C", bid_size=s) for s in sizes]
    cases: list[tuple[Node, Callable[[int], bool]]] = [
        (F.bid_size >= low, lambda v: v >= low),
        (F.bid_size < low, lambda v: v < low),
        (F.bid_size == low, lambda v: v == low),
        (F.bid_size.between(low, high), lambda v: low <= v <= high),
        ((F.bid_size > low) | (F.bid_size <= high), lambda v: v > low or v <= high),
    ]
    for clause, expected in cases:
        test = compile_where(parse_where(str(clause)), Q)
        assert [test(r) for r in records] == [s is not None and expected(s) for s in sizes]
    test = compile_where(F.bid_size != low, Q)
    assert [test(r) for r in records] == [s is None or s != low for s in sizes]


def test_field_getter_reads_paths_through_the_primary_key() -> None:
    label, get = field_getter(Q, "OKEY.tk")
    assert label == "okey.tk"
    assert [get(r) for r in RECORDS] == ["AAPL", "AAPL", "MSFT", "SPY"]
    label, get = field_getter(Q, ("bidprice",))
    assert (label, get(RECORDS[0]), get(RECORDS[3])) == ("bidPrice", 1.25, None)
    with pytest.raises(QueryError, match="OptionNbboQuote: no field 'bidprize'"):
        field_getter(Q, "bidprize")
    with pytest.raises(QueryError, match="empty field path"):
        field_getter(Q, ())


# ---- builders ----------------------------------------------------------------------------------


def test_builders_render_wire_syntax() -> None:
    assert str(F.bid_size >= 10) == "bidSize:ge:10"
    assert str(F.okey.tk == "AAPL") == "okey.tk:eq:AAPL"
    assert str(F.okey.ticker == "AAPL") == "okey.tk:eq:AAPL"
    assert str(F.bid_exch == OptExch.CBOE) == "bidExch:eq:CBOE"
    assert str(F.bid_exch != "cboe") == "bidExch:ne:cboe"
    assert str(F.bid_price < 1.5) == "bidPrice:lt:1.5"
    assert str(F.bid_price > 2.0) == "bidPrice:gt:2"
    assert str(F.okey.xx <= 500) == "okey.xx:le:500"
    assert str(F.okey.dt == dt.date(2026, 7, 17)) == "okey.dt:eq:2026-07-17"
    assert str(F.okey.cp == "C") == "okey.cp:eq:C"
    okey = OptionKey.parse("AAPL-NMS-EQT-2026-07-17-200-C")
    assert str(F.okey == okey) == "okey:eq:AAPL-NMS-EQT-2026-07-17-200-C"
    assert str(F.okey.startswith("AAPL")) == "okey:sw:AAPL"
    assert str(F.okey.tk.endswith("PL")) == "okey.tk:ew:PL"
    assert str(F.okey.tk.contains("AP")) == "okey.tk:cv:AP"
    assert str(F.okey.tk.not_contains("X")) == "okey.tk:nv:X"
    assert str(F.bid_size.between(1, 10)) == "bidSize:cb:1$10"
    clause = ((F.bid_size == 1) & (F.ask_size == 1)) | ((F.bid_size == 10) & (F.ask_size == 1))
    assert str(clause) == "(bidSize:eq:1&askSize:eq:1)|(bidSize:eq:10&askSize:eq:1)"
    assert parse_where(str(clause)) == clause
    assert clause.message_type is Q
    stamp = dt.datetime(2026, 7, 17, 17, 30, tzinfo=dt.timezone(dt.timedelta(hours=2)))
    assert str(LiveExpiryDividends.fields.timestamp >= stamp) == (
        "timestamp:ge:2026-07-17T15:30:00"
    )
    assert str(LiveIVarSwapFixedTerm.fields.time < dt.timedelta(hours=16)) == "time:lt:16:00:00"


def test_builders_use_python_names_and_fail_at_build_time() -> None:
    assert isinstance(F.bid_size, FieldRef)
    assert F.okey.tk.path == ("okey", "tk")
    assert "bid_size" in dir(F) and "okey" in dir(F)
    assert OptionNbboQuote(bid_size=1).fields.bid_size.path == ("bidSize",)
    with pytest.raises(AttributeError, match="OptionNbboQuote has no field 'bid_sizes'"):
        _ = F.bid_sizes
    with pytest.raises(AttributeError, match="OptionNbboQuote has no field 'bidSize'"):
        _ = F.bidSize  # wire names are for clause text, attribute names for builders
    with pytest.raises(AttributeError, match=r"no key part 'okey\.strikes'"):
        _ = F.okey.strikes
    with pytest.raises(AttributeError, match="no nested field"):
        _ = F.bid_size.tk
    with pytest.raises(QueryError, match="'many' is not a valid Int for bidSize"):
        _ = F.bid_size >= "many"
    with pytest.raises(QueryError, match="is not a value for bidSize"):
        _ = F.bid_size == True  # noqa: E712
    with pytest.raises(QueryError, match="is not a value for bidExch"):
        _ = F.bid_exch == CurveStatus.NORMAL
    with pytest.raises(QueryError, match="not a finite number"):
        _ = F.bid_price < float("inf")
    with pytest.raises(QueryError, match="cannot be a where value"):
        _ = F.okey.tk == "A B"
    with pytest.raises(QueryError, match="cannot combine clauses of OptionNbboQuote and Option"):
        _ = (F.bid_size == 1) & (OptionPrint.fields.okey.tk == "AAPL")
    with pytest.raises(TypeError, match="unhashable"):
        hash(F.bid_size)


def test_fields_named_like_helpers_stay_reachable() -> None:
    assert str(MLinkStream.fields.view == "x") == "view:eq:x"
    assert str(MsgDesc.fields.desc.contains("quote")) == "desc:cv:quote"
    assert str(MsgDesc.fields.desc.desc()) == "desc:DESC"


def test_order_and_view_builders() -> None:
    assert str(F.bid_size.desc()) == "bidSize:DESC"
    assert str(F.bid_size.asc()) == "bidSize:ASC"
    assert str(F.bid_price.abs()) == "bidPrice:ASC:ABS"
    assert str(F.bid_price.abs().desc()) == "bidPrice:DESC:ABS"
    order = order_by(F.bid_size.desc(), F.okey.xx)
    assert str(order) == "bidSize:DESC|okey.xx:ASC"
    assert order.message_type is Q
    assert parse_order(str(order)) == order.terms
    assert str(view(F.okey, F.bid_price, F.ask_price)) == "okey|bidPrice|askPrice"
    assert view(F.okey, "bidprice").message_type is Q
    with pytest.raises(QueryError, match="ABS"):
        F.bid_exch.abs()
    with pytest.raises(QueryError, match="whole fields"):
        view(F.okey.tk)
    with pytest.raises(QueryError, match="at least one"):
        view()
    with pytest.raises(QueryError, match="cannot combine"):
        order_by(F.bid_size, OptionPrint.fields.okey)


# ---- view --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "okey|bidprice|askprice",
        "okey,bidprice,askprice",
        "okey bidprice  askprice",
        " okey | bidprice,askprice ",
    ],
)
def test_parse_view_separators(text: str) -> None:
    assert parse_view(text) == ("okey", "bidprice", "askprice")


def test_parse_view_errors() -> None:
    with pytest.raises(QueryError, match="empty view"):
        parse_view(" | ")
    with pytest.raises(QueryError) as caught:
        parse_view("okey|bid-price")
    assert caught.value.position == 5


def test_apply_view_keeps_the_view_and_the_primary_key() -> None:
    record = RECORDS[0]
    viewed = apply_view(record, parse_view("BIDPRICE|asksize"))
    assert viewed == OptionNbboQuote(pkey=record.pkey, bid_price=1.25, ask_size=1)
    assert record.bid_size == 1  # the original is untouched
    assert apply_view(record, ("okey",)) == OptionNbboQuote(pkey=record.pkey)
    assert apply_view(record, view(F.bid_exch)) == OptionNbboQuote(
        pkey=record.pkey, bid_exch=OptExch.CBOE
    )
    assert check_view(("askPrice", "okey"), Q) == ("pkey", "ask_price")
    desc = MsgDesc(name="X", m_num=1, grid_field_options=())
    assert apply_view(desc, ["name", "gridfieldoptions"]) == MsgDesc(
        name="X", grid_field_options=()
    )


def test_view_errors_name_the_message_type() -> None:
    with pytest.raises(QueryError, match="OptionNbboQuote: no field 'bidprize'"):
        apply_view(RECORDS[0], ("bidprize",))
    with pytest.raises(QueryError, match="whole fields"):
        check_view(("okey.tk",), Q)


# ---- order -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "terms"),
    [
        ("bidsize:DESC|bidprice:ASC:ABS", [("bidsize", True, False), ("bidprice", False, True)]),
        ("bidsize", [("bidsize", False, False)]),
        ("bidsize:desc, okey.xx:abs", [("bidsize", True, False), ("okey.xx", False, True)]),
        ("bidprice:ABS:DESC", [("bidprice", True, True)]),
    ],
)
def test_parse_order(text: str, terms: list[tuple[str, bool, bool]]) -> None:
    assert parse_order(text) == tuple(OrderTerm(*term) for term in terms)


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("", 0, "empty order"),
        ("bidsize:DESC:ASC", 13, "each once"),
        ("bidsize:up", 8, "expected ASC, DESC or ABS"),
        ("bidsize|bid size:ASC", 8, "not a field path"),
    ],
)
def test_parse_order_errors(text: str, position: int, reason: str) -> None:
    with pytest.raises(QueryError, match=reason) as caught:
        parse_order(text)
    assert caught.value.position == position


PRICED = [
    quote("AAPL-NMS-EQT-2026-07-17-200-C", bid_price=1.25, bid_exch=OptExch.CBOE, bid_size=1),
    quote("AAPL-NMS-EQT-2026-07-17-210-C", bid_price=None, bid_exch=OptExch.AMEX, bid_size=7),
    quote("AAPL-NMS-EQT-2026-07-17-220-C", bid_price=-3.0, bid_exch=OptExch.CBOE, bid_size=9),
    quote("AAPL-NMS-EQT-2026-07-17-230-C", bid_price=2.0, bid_exch=None, bid_size=None),
    quote("AAPL-NMS-EQT-2026-07-17-240-C", bid_price=float("nan"), bid_exch=OptExch.AMEX),
]


def strikes(order: str) -> list[float]:
    records = sorted(PRICED, key=sort_key(parse_order(order), Q))
    return [r.pkey.okey.strike for r in records]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        # None and NaN sort last in both directions; ties keep their order (stable).
        ("bidprice:ASC", [220, 200, 230, 210, 240]),
        ("bidprice:DESC", [230, 200, 220, 210, 240]),
        ("bidprice:ASC:ABS", [200, 230, 220, 210, 240]),
        ("bidprice:DESC:ABS", [220, 230, 200, 210, 240]),
        # Mixed directions: exchange up (AMEX 1 < CBOE 3), then size down.
        ("bidexch:ASC|bidsize:DESC", [210, 240, 220, 200, 230]),
        ("bidexch:DESC|bidsize:ASC", [200, 220, 210, 240, 230]),
        ("okey.xx:DESC", [240, 230, 220, 210, 200]),
    ],
)
def test_sort_key(order: str, expected: list[float]) -> None:
    assert strikes(order) == expected


def test_sort_key_accepts_builder_orders_and_checks_fields() -> None:
    records = sorted(PRICED, key=sort_key(order_by(F.bid_exch, F.bid_size.desc()), Q))
    assert [r.pkey.okey.strike for r in records] == [210, 240, 220, 200, 230]  # type: ignore[union-attr]
    with pytest.raises(QueryError, match="OptionNbboQuote: no field 'bidprize'"):
        sort_key(parse_order("bidprize"), Q)
    with pytest.raises(QueryError, match="cannot take ABS of bidExch"):
        sort_key(parse_order("bidexch:ABS"), Q)
    with pytest.raises(QueryError, match="cannot sort by Dividend"):
        sort_key(parse_order("dividend"), LiveExpiryDividends)


# ---- REST commands take the builders -----------------------------------------------------------


def test_commands_render_builder_clauses() -> None:
    request = commands.getmsgs(
        Q,
        where=(F.okey.tk == "AAPL") & (F.bid_size >= 10),
        view=view(F.okey, F.bid_price),
        order=order_by(F.bid_size.desc(), F.bid_price.abs()),
        limit=5,
    )
    assert dict(request.params) == {
        "msgtype": "OptionNbboQuote",
        "where": "okey.tk:eq:AAPL&bidSize:ge:10",
        "view": "okey|bidPrice",
        "order": "bidSize:DESC|bidPrice:ASC:ABS",
        "limit": "5",
    }
    single = commands.getmsgs(Q, where=F.bid_size > 1, view=F.bid_size, order=F.bid_size.desc())
    assert dict(single.params)["view"] == "bidSize"
    assert dict(single.params)["order"] == "bidSize:DESC"
    for name in ("OptionNbboQuote", "optionnbboquote", "2785"):
        assert dict(commands.getcount(name, where=F.bid_size > 1).params)["where"] == "bidSize:gt:1"
    assert dict(commands.getsummary(Q, view=view(F.bid_size)).params)["view"] == "bidSize"
    # Plain text and parsed nodes carry no class: sent as they are.
    assert dict(commands.getcount(OptionPrint, where=parse_where("okey.tk:eq:A")).params)


@pytest.mark.parametrize(
    "call",
    [
        lambda: commands.getmsgs(OptionPrint, where=F.bid_size > 1),
        lambda: commands.getmsgs(OptionPrint, view=view(F.bid_size)),
        lambda: commands.getmsgs(OptionPrint, order=F.bid_size.desc()),
        lambda: commands.getmsgs("OptionPrint", where=F.bid_size > 1),
        lambda: commands.getcount("2800", where=F.bid_size > 1),
        lambda: commands.getaggregate(
            OptionPrint, group="bidexch", measure="cnt", where=F.bid_size > 1
        ),
        lambda: commands.getsummary(OptionPrint, view=F.bid_size),
    ],
)
def test_commands_refuse_clauses_built_for_another_type(call: object) -> None:
    with pytest.raises(ValueError, match="built for OptionNbboQuote, not"):
        call()  # type: ignore[operator]


def test_view_and_order_objects_are_values() -> None:
    assert View(("okey",)) == view(F.okey)  # the class is not part of equality
    assert Order((OrderTerm("bidSize", True),)) == order_by(F.bid_size.desc())
    assert list(order_by(F.bid_size)) == [OrderTerm("bidSize")]

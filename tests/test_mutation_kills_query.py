"""Exact-value tests of srmlink.query written against mutants."""

from __future__ import annotations

import pytest

from srmlink.errors import QueryError
from srmlink.message import Message
from srmlink.messages import GlobalDividends, OptionNbboQuote
from srmlink.messages.enums import OptExch, UpdateType
from srmlink.query import (
    And,
    Fields,
    Or,
    View,
    compile_where,
    field_getter,
    parse_order,
    parse_view,
    parse_where,
    sort_key,
)
from srmlink.query.grammar import Comparison
from srmlink.query.resolve import _close_matches
from srmlink.query.views import OrderTerm


def test_at_most_three_suggestions() -> None:
    # Four names each one letter away from "abcd": all alike, only three are offered.
    suggestions = _close_matches("abcd", ["abcx", "abxd", "axcd", "xbcd"])
    assert len(suggestions) == 3
    assert set(suggestions) < {"abcx", "abxd", "axcd", "xbcd"}
    assert _close_matches("abcd", ["zzzz", "abcd"]) == ["abcd"]


def test_an_unknown_first_part_of_a_path_is_the_one_named() -> None:
    with pytest.raises(QueryError, match=r"^OptionNbboQuote: no field 'bogus'$"):
        field_getter(OptionNbboQuote, "bogus.tk")


def test_a_ticker_key_has_no_expiration_part() -> None:
    with pytest.raises(QueryError, match=r"^GlobalDividends: no key part 'ticker\.dt' \(did you"):
        field_getter(GlobalDividends, "ticker.dt")
    label, _ = field_getter(GlobalDividends, "ticker.tk")
    assert label == "ticker.tk"


def test_an_order_term_needs_a_path() -> None:
    with pytest.raises(QueryError, match=r"^'' is not a field path such as okey\.xx$"):
        OrderTerm(())
    assert str(OrderTerm(("okey", "xx"), descending=True)) == "okey.xx:DESC"


def test_a_comparisons_message_type_is_keyword_only() -> None:
    with pytest.raises(TypeError):
        Comparison(("bidSize",), "eq", "1", OptionNbboQuote)  # type: ignore[call-arg]


def test_an_empty_view_is_refused_at_its_start() -> None:
    with pytest.raises(QueryError) as caught:
        parse_view("  ")
    assert (caught.value.position, str(caught.value)) == (
        0,
        "cannot parse '  ' at position 0: empty view",
    )


def test_enum_values_without_a_number_sort_after_the_others_by_name() -> None:
    records = [
        OptionNbboQuote(bid_size=1, update_type=UpdateType.from_wire("Zeta")),
        OptionNbboQuote(bid_size=2, update_type=UpdateType.from_wire("Alpha")),
        OptionNbboQuote(bid_size=3, update_type=UpdateType.PRC_CHANGE),
    ]
    ordered = sorted(records, key=sort_key(parse_order("updateType:ASC"), OptionNbboQuote))
    assert [r.bid_size for r in ordered] == [3, 2, 1]


def test_a_missing_value_names_the_comparison_it_ends() -> None:
    with pytest.raises(QueryError) as caught:
        parse_where("bidSize:eq:1 & askSize:eq:")
    assert str(caught.value) == (
        "cannot parse 'bidSize:eq:1 & askSize:eq:' at position 26: "
        "missing value after 'askSize:eq:'"
    )


def test_a_term_unset_on_both_sides_leaves_the_order_to_the_next_term() -> None:
    records = [OptionNbboQuote(bid_size=size) for size in (3, 1, 2)]
    key = sort_key(parse_order("bidPrice:ASC,bidSize:ASC"), OptionNbboQuote)
    assert [r.bid_size for r in sorted(records, key=key)] == [1, 2, 3]


@pytest.mark.parametrize("node", [And, Or])
def test_and_or_parts_must_be_where_nodes(node: type[And] | type[Or]) -> None:
    comparison = parse_where("bidSize:eq:1")
    expected = rf"^{node.__name__} parts must be where nodes, not 'junk'$"
    with pytest.raises(QueryError, match=expected):
        node((comparison, "junk"))  # type: ignore[arg-type]


def test_message_type_is_keyword_only_on_views_and_order_terms() -> None:
    with pytest.raises(TypeError):
        View(("bidSize",), OptionNbboQuote)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        OrderTerm(("bidSize",), False, False, OptionNbboQuote)  # type: ignore[call-arg]


def test_fields_of_a_class_without_a_field_table() -> None:
    with pytest.raises(AttributeError, match=r"^Message has no field table$"):
        Fields(Message).bid_size  # noqa: B018 - the attribute access is what is tested


def test_parentheses_one_after_another_are_not_nesting() -> None:
    # 70 groups side by side: depth 1 each time, far below the 64 allowed.
    text = " & ".join(["(bidSize:eq:1)"] * 70)
    assert str(parse_where(text)) == "&".join(["bidSize:eq:1"] * 70)


def test_an_unknown_enum_name_lists_the_first_eight_names() -> None:
    with pytest.raises(QueryError) as caught:
        compile_where(parse_where("bidExch:eq:Bogus"), OptionNbboQuote)
    assert "(None, AMEX, BOX, CBOE, ISE, NYSE, PHLX, NSDQ, ...)" in str(caught.value)


def test_a_blank_order_term_is_skipped() -> None:
    assert parse_order("bidSize:DESC| |askSize") == (
        OrderTerm(("bidSize",), descending=True),
        OrderTerm(("askSize",)),
    )


def test_an_unknown_field_reference_suggests_close_names_only_when_there_are_some() -> None:
    fields = Fields(OptionNbboQuote)
    with pytest.raises(AttributeError, match=r"^OptionNbboQuote has no field 'bid_sise'; did you"):
        fields.bid_sise  # noqa: B018 - the attribute access is what is tested
    with pytest.raises(AttributeError, match=r"^OptionNbboQuote has no field 'zzzzzz'$"):
        fields.zzzzzz  # noqa: B018


def test_a_number_is_read_as_its_fields_type() -> None:
    # 2**53 + 1 is the float 2**53 for a float field (as the wire has it), exact for a Long.
    price = compile_where(parse_where("bidPrice:eq:9007199254740993"), OptionNbboQuote)
    assert price(OptionNbboQuote(bid_price=9007199254740992.0))
    stamp = compile_where(parse_where("srcTimestamp:eq:9007199254740993"), OptionNbboQuote)
    assert stamp(OptionNbboQuote(src_timestamp=9007199254740993))
    assert not stamp(OptionNbboQuote(src_timestamp=9007199254740992))


def test_a_path_has_at_most_a_field_and_a_key_part() -> None:
    with pytest.raises(QueryError, match=r"^OptionNbboQuote: no key part 'okey\.tk\.x' \(did you"):
        field_getter(OptionNbboQuote, "okey.tk.x")


def test_abs_orders_by_absolute_value() -> None:
    term = OrderTerm(("bidPrice",), descending=True).abs()
    assert (term.absolute, str(term)) == (True, "bidPrice:DESC:ABS")


def test_asc_and_desc_set_the_direction() -> None:
    term = OrderTerm(("bidPrice",))
    assert str(term.desc()) == "bidPrice:DESC"
    assert str(term.desc().asc()) == "bidPrice:ASC"


def test_a_views_repr_leaves_out_its_message_type() -> None:
    assert repr(View(("bidSize",), message_type=OptionNbboQuote)) == "View(names=('bidSize',))"


def test_the_nesting_limit_counts_open_parentheses_only() -> None:
    deep = "(" * 65 + "bidSize:eq:1" + ")" * 65
    with pytest.raises(QueryError, match="parentheses nested deeper than 64"):
        parse_where("(bidSize:eq:1) & " + deep)


def test_floats_from_1e16_render_in_exponent_form() -> None:
    fields = Fields(OptionNbboQuote)
    assert str(fields.bid_price < 1e15) == "bidPrice:lt:1000000000000000"
    assert str(fields.bid_price < 1e16) == "bidPrice:lt:1e+16"


def test_the_enum_member_numbered_zero_sorts_first() -> None:
    # OptExch 0 is "None", 1 is "AMEX": by number, not by name.
    records = [
        OptionNbboQuote(bid_size=1, bid_exch=OptExch.from_number(1)),
        OptionNbboQuote(bid_size=0, bid_exch=OptExch.from_number(0)),
    ]
    ordered = sorted(records, key=sort_key(parse_order("bidExch:ASC"), OptionNbboQuote))
    assert [r.bid_size for r in ordered] == [0, 1]


def test_a_comparisons_repr_leaves_out_its_message_type() -> None:
    comparison = Comparison(("bidSize",), "eq", "1", message_type=OptionNbboQuote)
    assert repr(comparison) == "Comparison(path=('bidSize',), op='eq', value='1')"


def test_an_order_terms_repr_leaves_out_its_message_type() -> None:
    term = OrderTerm(("bidSize",), message_type=OptionNbboQuote)
    assert repr(term) == "OrderTerm(path=('bidSize',), descending=False, absolute=False)"

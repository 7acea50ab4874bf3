"""Exact-value tests of srmlink.enums written against mutants: the names unknown members get,
which member wins a duplicate, how Flag texts and numbers are split into parts and when a
value is only partly covered by declared bits. Every expected value is written by hand.
"""

from __future__ import annotations

import pickle
from typing import ClassVar

import pytest

from srmlink.enums import SREnum, SRFlag


class Side(SREnum):
    __slots__ = ()
    BUY: ClassVar[Side]
    BUY_AGAIN: ClassVar[Side]
    SELL: ClassVar[Side]
    NO_NAME: ClassVar[Side]


# BUY_AGAIN repeats BUY's wire name (in another case) and number: the first declared wins.
Side._define(
    (("BUY", "Buy", 1), ("BUY_AGAIN", "BUY", 1), ("SELL", "Sell", 2), ("NO_NAME", None, 7))
)


class Bits(SRFlag):
    __slots__ = ()
    NONE: ClassVar[Bits]
    ONE: ClassVar[Bits]
    TWO: ClassVar[Bits]
    FOUR: ClassVar[Bits]
    OLD: ClassVar[Bits]


# OLD is JSON-only (no number): it cannot take part in a combination.
Bits._define(
    (
        ("NONE", "None", 0),
        ("ONE", "One", 1),
        ("TWO", "Two", 2),
        ("FOUR", "Four", 4),
        ("OLD", "Old", None),
    )
)


def test_unknown_members_are_named_after_what_was_received() -> None:
    by_name = Side.from_wire("Hold")
    assert by_name.name == "UNKNOWN(Hold)"
    assert repr(by_name) == "<Side.UNKNOWN(Hold): 'Hold' = None>"
    by_number = Side.from_number(40)
    assert by_number.name == "UNKNOWN(40)"
    assert repr(by_number) == "<Side.UNKNOWN(40): None = 40>"
    assert str(by_number) == "40"
    assert int(by_number) == 40


def test_the_first_declared_member_wins_a_duplicate() -> None:
    assert Side.from_number(1) is Side.BUY
    assert Side.from_wire("Buy") is Side.BUY
    assert Side.from_wire("buy") is Side.BUY
    # The exact spelling is looked up before the folded one.
    assert Side.from_wire("BUY") is Side.BUY_AGAIN
    assert Side.from_wire("sELL") is Side.SELL


def test_a_member_without_a_wire_name_is_found_by_number_only() -> None:
    assert Side.from_number(7) is Side.NO_NAME
    assert str(Side.NO_NAME) == "7"
    assert not Side.from_wire("None").known
    assert not Side.from_wire("NO_NAME").known


def test_unknown_numbers_pickle_back_to_the_same_member() -> None:
    member = Side.from_number(41)
    assert pickle.loads(pickle.dumps(member)) is member
    assert pickle.loads(pickle.dumps(Side.SELL)) is Side.SELL


@pytest.mark.parametrize(
    ("text", "number", "wire_name"),
    [
        ("Two,Four", 6, "Two,Four"),
        ("Four,Two", 6, "Two,Four"),
        ("Two|Four", 6, "Two,Four"),
        (" One , Four ,", 5, "One,Four"),
        ("One,Two,Four", 7, "One,Two,Four"),
        ("two,FOUR", 6, "Two,Four"),
        ("Two,Two", 2, "Two"),
        ("None,Four", 4, "Four"),
    ],
)
def test_flag_texts_are_split_into_their_parts(text: str, number: int, wire_name: str) -> None:
    member = Bits.from_wire(text)
    assert member.known
    assert member.number == number
    assert member.wire_name == wire_name


@pytest.mark.parametrize("text", ["Two,Eight", "Eight,Nine", "Two|Eight", "Two,Old"])
def test_a_flag_text_with_an_unknown_part_is_kept_whole(text: str) -> None:
    member = Bits.from_wire(text)
    assert not member.known
    assert member.wire_name == text
    assert member.number is None


def test_a_single_flag_name_is_looked_up_like_an_enum_name() -> None:
    assert Bits.from_wire("four") is Bits.FOUR
    assert Bits.from_wire("Old") is Bits.OLD
    # One name at most: the text is looked up whole, so stray separators keep it verbatim.
    trailing = Bits.from_wire("Four,")
    assert (trailing.known, trailing.wire_name) == (False, "Four,")
    unknown = Bits.from_wire("Eight")
    assert not unknown.known and unknown.name == "UNKNOWN(Eight)"


@pytest.mark.parametrize(
    ("number", "known", "name"),
    [
        (3, True, "ONE|TWO"),
        (7, True, "ONE|TWO|FOUR"),
        (8, False, "UNKNOWN(8)"),
        (9, False, "UNKNOWN(9)"),  # 1 is declared, 8 is not: partly covered is unknown
        (14, False, "UNKNOWN(14)"),
    ],
)
def test_flag_numbers_are_known_only_when_declared_bits_cover_them(
    number: int, known: bool, name: str
) -> None:
    member = Bits.from_number(number)
    assert (member.known, member.name, member.number) == (known, name, number)


def test_flag_operators() -> None:
    assert (Bits.ONE | Bits.TWO).number == 3
    assert (Bits.ONE & Bits.TWO) is Bits.NONE
    assert (Bits.from_number(7) & Bits.from_number(6)).number == 6
    assert Bits.TWO in Bits.from_number(6)
    assert Bits.ONE not in Bits.from_number(6)
    assert Bits.NONE in Bits.ONE

"""The runtime enum base classes: both names per member, unknown values preserved."""

from __future__ import annotations

import copy
import pickle
from typing import ClassVar

from srmlink.enums import SREnum, SRFlag


class Scan(SREnum):
    __slots__ = ()
    NONE: ClassVar[Scan]
    INCREMENTAL: ClassVar[Scan]
    FULL_SCAN: ClassVar[Scan]
    LEGACY: ClassVar[Scan]


Scan._define(
    (
        ("NONE", "None", 0),
        ("INCREMENTAL", "Incremental", 2),
        ("FULL_SCAN", "FullScan", 3),
        ("LEGACY", "Legacy", None),
    )
)


class Quote(SRFlag):
    __slots__ = ()
    NONE: ClassVar[Quote]
    ROTATION: ClassVar[Quote]
    HALTED: ClassVar[Quote]
    FIRM: ClassVar[Quote]


Quote._define(
    (("NONE", "None", 0), ("ROTATION", "Rotation", 1), ("HALTED", "Halted", 2), ("FIRM", "Firm", 4))
)


def test_members_carry_wire_name_and_number() -> None:
    assert Scan.FULL_SCAN.wire_name == "FullScan"
    assert Scan.FULL_SCAN.number == 3
    assert int(Scan.INCREMENTAL) == 2
    assert str(Scan.INCREMENTAL) == "Incremental"
    assert list(Scan) == [Scan.NONE, Scan.INCREMENTAL, Scan.FULL_SCAN, Scan.LEGACY]
    assert len(Scan) == 4
    assert repr(Scan.NONE) == "<Scan.NONE: 'None' = 0>"


def test_lookups() -> None:
    assert Scan.from_wire("FullScan") is Scan.FULL_SCAN
    assert Scan.from_wire("fullscan") is Scan.FULL_SCAN
    assert Scan.from_number(2) is Scan.INCREMENTAL


def test_unknown_values_are_preserved_not_rejected() -> None:
    newer = Scan.from_number(9)
    assert not newer.known and newer.number == 9 and newer.wire_name is None
    assert Scan.from_number(9) is newer
    named = Scan.from_wire("BrandNew")
    assert not named.known and named.wire_name == "BrandNew" and str(named) == "BrandNew"
    assert Scan.from_wire("BrandNew") is named
    assert named is not newer


def test_json_only_member_has_no_number() -> None:
    try:
        int(Scan.LEGACY)
    except ValueError as exc:
        assert "LEGACY" in str(exc)
    else:
        raise AssertionError("expected ValueError")


def test_pickle_and_copy_keep_identity() -> None:
    assert pickle.loads(pickle.dumps(Scan.FULL_SCAN)) is Scan.FULL_SCAN
    assert pickle.loads(pickle.dumps(Scan.from_wire("BrandNew"))) is Scan.from_wire("BrandNew")
    assert copy.deepcopy(Scan.NONE) is Scan.NONE


def test_flags_combine() -> None:
    both = Quote.ROTATION | Quote.FIRM
    assert both.number == 5 and both.known
    assert both.wire_name == "Rotation,Firm"
    assert Quote.ROTATION in both and Quote.HALTED not in both
    assert Quote.from_wire("Rotation,Firm") is both
    assert Quote.from_number(5) is both
    assert (both & Quote.FIRM) is Quote.FIRM
    assert not Quote.from_number(64).known

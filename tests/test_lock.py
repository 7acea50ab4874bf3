"""schema.lock: its contents, the lock diff, and the `srmlink schema` commands."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import attrs
import pytest

from srmlink.cli import main
from srmlink.codegen import GENERATOR_VERSION
from srmlink.codegen.build import build_schema
from srmlink.codegen.diff import ChangeKind
from srmlink.codegen.errors import SchemaError
from srmlink.codegen.lock import diff_lock, load_lock, make_lock

from .conftest import ROOT, snapshot_dir
from .schema_change.regenerate import NEW, OLD

_LOCK_WITH_TEXT_MNUM = json.dumps(
    {
        "format": 1,
        "schema": "x",
        "generator_version": "1",
        "messages": {"A": {"mnum": "12", "token": None, "fingerprint": "f"}},
        "enums": {},
    }
)


def test_lock_text_is_deterministic_and_factual() -> None:
    schema = build_schema(NEW, "new")
    text = make_lock(schema).dumps()
    assert text == make_lock(build_schema(NEW, "new")).dumps()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert data["schema"] == "new" and data["generator_version"] == GENERATOR_VERSION
    assert data["messages"]["OptionNbboQuote"] == {
        "mnum": 2785,
        "token": "OptMktData",
        "fingerprint": data["messages"]["OptionNbboQuote"]["fingerprint"],
        "wire_fingerprint": data["messages"]["OptionNbboQuote"]["wire_fingerprint"],
    }
    assert all(len(m["fingerprint"]) == 16 for m in data["messages"].values())
    assert all(len(m["wire_fingerprint"]) == 16 for m in data["messages"].values())
    assert set(data["wire_enums"]) == set(data["enums"])
    assert set(data["enums"]) == {e.name for e in schema.enums}
    # Facts only: no descriptions.
    assert "bid price" not in text and "open interest" not in text


def test_lock_round_trips(tmp_path: Path) -> None:
    lock = make_lock(build_schema(OLD))
    path = tmp_path / "schema.lock"
    path.write_text(lock.dumps(), encoding="utf-8")
    assert load_lock(path) == lock


@pytest.mark.parametrize(
    "text",
    ["not json", "[]", '{"format": 99}', '{"format": 1, "schema": "x"}', _LOCK_WITH_TEXT_MNUM],
)
def test_malformed_lock_is_a_schema_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "schema.lock"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SchemaError, match="schema lock"):
        load_lock(path)


def test_committed_lock_matches_the_default_schema() -> None:
    lock = load_lock(ROOT / "schema.lock")
    relock = "srmlink schema lock --schema ../shared/spiderrock-schema/2026-07"
    changes = diff_lock(lock, build_schema(snapshot_dir("2026-07"))).changes
    assert changes == (), f"schema.lock is stale: run `{relock}` in the checkout"
    assert lock.label == "2026-07"


def test_lock_diff_reports_what_a_lock_can_know() -> None:
    diff = diff_lock(make_lock(build_schema(OLD, "old")), build_schema(NEW, "new"))
    assert (diff.old_label, diff.new_label) == ("old (lock)", "new")
    counts = {kind.value: n for kind, n in diff.counts().items()}
    assert counts == {
        "message-added": (0, 1),
        "message-removed": (1, 0),
        "message-renamed-by-case": (1, 0),
        "mnum-changed": (2, 1),
        "token-moved": (0, 1),
        # Every kept message but MLinkAdmin changed its fields; fingerprints can't say how.
        "message-fields-changed": (5, 0),
        "enum-added": (0, 1),
        "enum-removed": (1, 0),
        "enum-values-changed": (3, 0),
    }
    changed = {c.subject for c in diff.changes if c.kind is ChangeKind.MESSAGE_FIELDS_CHANGED}
    assert "MLinkAdmin" not in changed and "OptionNbboQuote" in changed


def _small_schema_copy(tmp_path: Path) -> Path:
    schema = tmp_path / "schema"
    shutil.copytree(NEW, schema)
    return schema


def test_check_fails_on_a_changed_schema_until_relocked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = _small_schema_copy(tmp_path)
    lock = tmp_path / "schema.lock"
    check = ["schema", "check", "--schema", str(schema), "--lock", str(lock)]
    assert main(["schema", "lock", "--schema", str(schema), "--output", str(lock)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert main(check) == 0
    assert capsys.readouterr().out.startswith("OK: ")

    msgtypes = schema / "getmsgtypes.json"
    data = json.loads(msgtypes.read_text())
    for record in data:
        if record["message"]["name"] == "OptionNbboQuote":
            record["message"]["mNum"] = 2790
    msgtypes.write_text(json.dumps(data))
    assert main(check) == 1
    out = capsys.readouterr().out
    assert "# Schema changes: schema (lock) -> schema" in out
    assert "| breaking | `OptionNbboQuote` | 2785 | 2790 |  |" in out
    assert "1 changes, 1 breaking" in out

    assert main(["schema", "lock", "--schema", str(schema), "--output", str(lock)]) == 0
    assert main(check) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("OK: ")


def test_check_without_a_lock_says_how(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lock = tmp_path / "missing.lock"
    assert main(["schema", "check", "--schema", str(NEW), "--lock", str(lock)]) == 2
    assert "srmlink schema lock" in capsys.readouterr().err


def test_diff_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "diff", str(OLD), str(NEW)]) == 0
    assert capsys.readouterr().out.startswith("# Schema changes: old -> new\n")

    out = tmp_path / "changes.json"
    assert (
        main(["schema", "diff", str(OLD), str(NEW), "--format", "json", "--output", str(out)]) == 0
    )
    assert json.loads(out.read_text())["summary"]["breaking"] == 13
    assert "(13 breaking)" in capsys.readouterr().out

    lock = tmp_path / "schema.lock"
    lock.write_text(make_lock(build_schema(OLD)).dumps())
    assert main(["schema", "diff", str(lock), str(NEW), "--format", "json"]) == 0
    kinds = {c["kind"] for c in json.loads(capsys.readouterr().out)["changes"]}
    assert "message-fields-changed" in kinds and "field-added" not in kinds


def test_diff_of_a_missing_schema_fails_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["schema", "diff", str(tmp_path / "nowhere"), str(NEW)]) == 2
    assert "srmlink schema diff:" in capsys.readouterr().err


def test_a_live_check_needs_a_lock_with_wire_fingerprints(tmp_path: Path) -> None:
    old = tmp_path / "old.lock"
    old.write_text(
        json.dumps(
            {
                "format": 1,
                "schema": "x",
                "generator_version": "1",
                "messages": {"A": {"mnum": 12, "token": None, "fingerprint": "f"}},
                "enums": {},
            }
        )
    )
    lock = load_lock(old)
    schema = build_schema(NEW, "new")
    assert diff_lock(lock, schema).changes  # a format-1 lock still checks a schema folder
    with pytest.raises(SchemaError, match="re-lock"):
        diff_lock(lock, schema, wire_only=True)


def test_wire_only_ignores_proto_numbers_and_sees_wire_changes() -> None:
    schema = build_schema(NEW, "new")
    lock = make_lock(schema)
    moved = attrs.evolve(
        lock,
        messages=tuple(
            attrs.evolve(m, fingerprint="0" * 16) if m.name == "OptionNbboQuote" else m
            for m in lock.messages
        ),
    )
    # A proto-number-only difference changes the full fingerprint, not the wire one.
    assert [c.subject for c in diff_lock(moved, schema).changes] == ["OptionNbboQuote"]
    assert not diff_lock(moved, schema, wire_only=True).changes
    renamed = attrs.evolve(
        lock,
        messages=tuple(
            attrs.evolve(m, wire_fingerprint="0" * 16) if m.name == "OptionNbboQuote" else m
            for m in lock.messages
        ),
    )
    assert [c.subject for c in diff_lock(renamed, schema, wire_only=True).changes] == [
        "OptionNbboQuote"
    ]

"""Golden end-to-end: the small hand-written schema generates exactly the committed files,
and the output passes mypy --strict and imports."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from srmlink.codegen.stage import stage_package

from .conftest import run_python
from .golden.regenerate import EXPECTED, render_golden

REGENERATE = "python -m tests.golden.regenerate"


def test_output_matches_golden_files() -> None:
    files = render_golden()
    expected = {p.name: p.read_text(encoding="utf-8") for p in EXPECTED.iterdir() if p.is_file()}
    assert sorted(files) == sorted(expected), f"file set changed; run `{REGENERATE}`"
    for name, text in files.items():
        assert text == expected[name], f"{name} differs from the golden file; run `{REGENERATE}`"


def test_render_is_deterministic() -> None:
    assert render_golden() == render_golden()


def test_golden_output_is_mypy_strict_clean(tmp_path: Path) -> None:
    files = {k: v for k, v in render_golden().items() if k.endswith(".py")}
    stage = stage_package(tmp_path, files)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "-p", "srmlink.messages"],
        capture_output=True,
        text=True,
        env={**os.environ, "MYPYPATH": str(stage)},
        cwd=stage,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_golden_output_imports_and_behaves(tmp_path: Path) -> None:
    files = {k: v for k, v in render_golden().items() if k.endswith(".py")}
    stage = stage_package(tmp_path, files)
    out = run_python(
        stage,
        """
        import sys
        import srmlink.messages as m
        loaded = [k for k in sys.modules if k.startswith("srmlink.messages.")]
        assert loaded == ["srmlink.messages._index"], loaded
        classes = list(m.registry)
        assert classes and all(c.MSG_NAME for c in classes)
        # schemaHash from getmsgtypes where it gives one (tests/golden/schema/README.md).
        hashes = {e.name: e.schema_hash for e in m.registry.entries() if e.schema_hash}
        assert hashes == {
            "WidgetQuote": "5A1D0C0FFEE05001", "GhostMessage": "5A1D0C0FFEE05006"
        }, hashes
        print(len(classes), len(m.registry.entries()))
        """,
    )
    classes, entries = map(int, out.split())
    assert entries >= classes > 0


# Hand-written from tests/golden/schema (not produced by the generator): what the bindings of
# three representative definitions must be, so a generator change that also rewrites the
# golden files still has to agree with an independent reading of the schema.

# QueryResult: a plain message (no key), types from the dictionary (Long, Float, Enum, Text1),
# proto numbers and descriptions, the QResult enum; mNum 5003 from getmsgtypes.
HAND_WRITTEN_QUERY_RESULT = '''
@attrs.define(slots=True, kw_only=True)
class QueryResult(Message):
    """The last message of a REST response.

    Token ``MLinkRest``, message number 5003, no primary key.

    Attributes:
        num_messages_sent: num messages sent. Wire ``numMessagesSent``, Long, proto field 100.
        query_elapsed: query elapsed time (seconds). Wire ``queryElapsed``, Float, proto field
            103.
        result: query result. Wire ``result``, Enum, proto field 106.
        detail: query result detail. Wire ``detail``, Text1, proto field 109.
    """

    MSG_NAME: ClassVar[str] = "QueryResult"
    MSG_NUM: ClassVar[int | None] = 5003
    TOKEN: ClassVar[str] = "MLinkRest"

    num_messages_sent: int | None = attrs.field(
        default=None, metadata={"description": "num messages sent", "sr_type": "Long"}
    )
    """num messages sent. Wire ``numMessagesSent``, Long, proto field 100."""
    query_elapsed: float | None = attrs.field(
        default=None, metadata={"description": "query elapsed time (seconds)", "sr_type": "Float"}
    )
    """query elapsed time (seconds). Wire ``queryElapsed``, Float, proto field 103."""
    result: QResult | None = attrs.field(
        default=None, metadata={"description": "query result", "sr_type": "Enum"}
    )
    """query result. Wire ``result``, Enum, proto field 106."""
    detail: str | None = attrs.field(
        default=None, metadata={"description": "query result detail", "sr_type": "Text1"}
    )
    """query result detail. Wire ``detail``, Text1, proto field 109."""

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "both",
        (
            FieldSpec("num_messages_sent", "numMessagesSent", "Long", 100, "int64"),
            FieldSpec("query_elapsed", "queryElapsed", "Float", 103, "float"),
            FieldSpec("result", "result", "Enum", 106, "enum", QResult),
            FieldSpec("detail", "detail", "Text1", 109, "string"),
        ),
    )
'''

# WidgetDefinition's composite key: three parts in dictionary order (ekey 10, market 11,
# venue 12), frozen (keys are hashable), the proto's PKey numbers.
HAND_WRITTEN_DEFINITION_KEY = '''
@attrs.define(slots=True, frozen=True, kw_only=True)
class WidgetDefinitionPKey(PrimaryKey):
    """Primary key of :class:`WidgetDefinition`; ``str()`` gives its flat form.

    Attributes:
        ekey: Wire ``ekey``, ExpiryKey, proto field 10.
        market: Wire ``market``, Enum, proto field 11.
        venue: Wire ``venue``, String, proto field 12.
    """

    ekey: ExpiryKey | None = attrs.field(
        default=None, metadata={"description": "", "sr_type": "ExpiryKey"}
    )
    """Wire ``ekey``, ExpiryKey, proto field 10."""
    market: Market | None = attrs.field(
        default=None, metadata={"description": "", "sr_type": "Enum"}
    )
    """Wire ``market``, Enum, proto field 11."""
    venue: str | None = attrs.field(default=None, metadata={"description": "", "sr_type": "String"})
    """Wire ``venue``, String, proto field 12."""

    SPEC: ClassVar[MessageSpec] = MessageSpec(
        "both",
        (
            FieldSpec("ekey", "ekey", "ExpiryKey", 10, "ExpiryKey", ExpiryKey),
            FieldSpec("market", "market", "Enum", 11, "enum", Market),
            FieldSpec("venue", "venue", "String", 12, "string"),
        ),
    )
'''

# ReadyScan: an enum with gaps (no 1) whose proto declares FullScan=3 before Incremental=2
# while the eSet lists Incremental first; names from the eSet, numbers from the proto, members
# in the proto's order; UNSPECIFIED is the wire's None.
HAND_WRITTEN_READY_SCAN = '''"""The ``ReadyScan`` enum type."""

from __future__ import annotations

from typing import ClassVar

from srmlink.enums import SREnum

__all__ = ["ReadyScan"]


class ReadyScan(SREnum):
    """Gaps, and declared in an order the dictionary's eSet does not follow.

    Values: None=0, FullScan=3, Incremental=2
    """

    __slots__ = ()

    NONE: ClassVar[ReadyScan]
    """Wire name ``None``, protobuf number 0."""
    FULL_SCAN: ClassVar[ReadyScan]
    """Wire name ``FullScan``, protobuf number 3."""
    INCREMENTAL: ClassVar[ReadyScan]
    """Wire name ``Incremental``, protobuf number 2."""


ReadyScan._define(
    (
        ("NONE", "None", 0),
        ("FULL_SCAN", "FullScan", 3),
        ("INCREMENTAL", "Incremental", 2),
    )
)
'''


def _class_source(module: str, name: str) -> str:
    """The source of class ``name`` in ``module``, decorators included."""
    tree = ast.parse(module)
    node = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
    lines = module.splitlines(keepends=True)
    return "\n" + "".join(lines[first - 1 : node.end_lineno])


def _without_header(module: str) -> str:
    """A module without its two generated-by comment lines (they carry the fingerprint)."""
    lines = module.splitlines(keepends=True)
    assert lines[0].startswith("# Generated by srmlink.codegen") and lines[1].startswith("# DO")
    return "".join(lines[2:])


@pytest.mark.parametrize(
    ("module", "name", "expected"),
    [
        ("mlink_rest.py", "QueryResult", HAND_WRITTEN_QUERY_RESULT),
        ("test_ref_data.py", "WidgetDefinitionPKey", HAND_WRITTEN_DEFINITION_KEY),
    ],
)
def test_generated_classes_match_hand_written_ones(module: str, name: str, expected: str) -> None:
    assert _class_source(render_golden()[module], name) == expected


def test_enum_with_gaps_matches_the_hand_written_module() -> None:
    assert _without_header(render_golden()["_enum_ready_scan.py"]) == HAND_WRITTEN_READY_SCAN

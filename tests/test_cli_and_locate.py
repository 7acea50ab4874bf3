"""`srmlink generate` and where it finds the schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from srmlink.cli import main
from srmlink.codegen.errors import SchemaNotFoundError
from srmlink.codegen.locate import ENV_VAR, locate_schema

from .conftest import SMALL_SCHEMA


def test_generate_prints_summary_and_writes_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report.json"
    out = tmp_path / "out"
    code = main(
        ["generate", "--schema", str(SMALL_SCHEMA), "--out", str(out), "--report", str(report)]
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert "messages reconciled:" in printed and "disagreements and gaps:" in printed
    data = json.loads(report.read_text())
    assert data["counts"]["messages"] > 0
    assert {"kind", "message", "field", "detail"} <= set(data["issues"][0])
    assert (out / "_index.py").is_file()
    # A second run changes nothing, and --check agrees.
    assert main(["generate", "--schema", str(SMALL_SCHEMA), "--out", str(out), "--check"]) == 0
    (out / "_index.py").write_text("# edited\n")
    assert main(["generate", "--schema", str(SMALL_SCHEMA), "--out", str(out), "--check"]) == 1


def test_generate_without_schema_says_how(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "missing"))
    assert main(["generate", "--out", str(tmp_path / "out")]) == 2
    assert "SRMLINK_SCHEMA names" in capsys.readouterr().err


def test_locate_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    project = tmp_path / "project"
    (project / "proto_files").mkdir(parents=True)
    (project / "proto_files" / "README.md").write_text("put files here")
    shared = tmp_path / "shared" / "spiderrock-schema" / "2026-07"
    with pytest.raises(SchemaNotFoundError, match="proto_files/"):
        locate_schema(base=project)
    shared.mkdir(parents=True)
    assert locate_schema(base=project) == shared.resolve()
    (project / "proto_files" / "getmsgtypes.json").write_text("[]")
    assert locate_schema(base=project) == project / "proto_files"
    monkeypatch.setenv(ENV_VAR, str(shared))
    assert locate_schema(base=project) == shared
    assert locate_schema(SMALL_SCHEMA, base=project) == SMALL_SCHEMA

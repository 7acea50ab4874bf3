"""The on-disk cache of generated bindings keys on everything generation reads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from srmlink.codegen.build import generate

from . import generation_cache
from .conftest import SMALL_SCHEMA
from .generation_cache import _generator_files, _key, cached_generation


def test_the_key_covers_the_generator_and_the_runtime_modules_it_imports() -> None:
    names = {(p.resolve().parent.name, p.name) for p in _generator_files(SMALL_SCHEMA)}
    # The generator's own modules and templates, and srmlink.keys / enums, which it imports
    # (so a mutation run that changes them regenerates) ...
    assert {("codegen", "build.py"), ("runtime", "keys.py"), ("runtime", "enums.py")} <= names
    assert any(name.endswith(".jinja") or name.endswith(".j2") for _, name in names)
    # ... but not the codec, which generation never loads (a codec mutant reuses the cache).
    assert not {name for folder, name in names if folder == "codec"}


def test_a_changed_schema_file_is_generated_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(generation_cache, "CACHE_ROOT", tmp_path / "cache")
    schema = tmp_path / "schema"
    shutil.copytree(SMALL_SCHEMA, schema)
    calls: list[Path] = []

    def counting(path: Path) -> dict[str, str]:
        calls.append(path)
        return dict(generate(path, None).files)

    first_key = _key(schema, SMALL_SCHEMA)
    first = cached_generation(schema, counting, SMALL_SCHEMA)
    assert cached_generation(schema, counting, SMALL_SCHEMA) == first
    csv = next(schema.rglob("*.csv"))
    csv.write_text(csv.read_text() + "\n", encoding="utf-8")
    assert _key(schema, SMALL_SCHEMA) != first_key
    cached_generation(schema, counting, SMALL_SCHEMA)
    assert calls == [schema, schema]


def test_only_the_newest_entries_are_kept(tmp_path: Path) -> None:
    for age in range(generation_cache.KEEP + 3):
        entry = tmp_path / f"entry{age}"
        entry.mkdir()
        os.utime(entry, (1_000_000 + age, 1_000_000 + age))
    generation_cache._prune(tmp_path)
    kept = sorted(int(p.name[5:]) for p in tmp_path.iterdir())
    assert kept == list(range(3, generation_cache.KEEP + 3))

"""The schema refresh: what the scheduled job does, short of opening the pull request.

Fetch the live server's schema into a temporary folder and compare it with ``schema.lock``
(what ``srmlink schema check --live`` does). No change: nothing is written. A change:

1. the fetched files (``getmsgtypes.json``, ``getschema/``, ``getlayout.json``) replace those of
   the schema folder the generator reads; a ``DataDictionaryMLink.csv`` there is removed, as
   the generator would prefer it to the fresher ``getschema/`` (``.proto`` files stay: MLink
   serves none, so their proto numbers are kept where they still fit);
2. the bindings are regenerated from that folder;
3. with ``verify``, the new bindings are type-checked (``mypy --strict``) and every message
   type is round-tripped through every codec (``tests/roundtrip.py`` of the checkout), each in
   a staged tree of its own;
4. the new lock and a markdown changelog (the pull request's description) are written.

A failed verification raises :class:`RefreshError` before the lock is written, so a change that
breaks the bindings never looks accepted.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from attrs import frozen

from ..auth import Credentials
from ..endpoints import Endpoint
from .build import build_schema, generate
from .diff import SchemaDiff
from .errors import SchemaError
from .fetch import Progress, fetch_schema
from .lock import diff_lock, load_lock, make_lock
from .sources import DICTIONARY_CSV, GETLAYOUT_JSON, GETSCHEMA_DIR, MSGTYPES_JSON
from .stage import STANDALONE, stage_package

__all__ = ["RefreshError", "RefreshResult", "refresh_schema"]

ROUNDTRIP_MODULE = Path("tests") / "roundtrip.py"
# Examples per message type and codec in the round trips (as the test suite's default).
ROUNDTRIP_EXAMPLES = 5


class RefreshError(SchemaError):
    """The regenerated bindings failed verification; the lock and changelog were not written."""


@frozen
class RefreshResult:
    """What a refresh found: the changes from the lock to the live schema, and, when there
    were any, where the changelog was written."""

    diff: SchemaDiff
    changelog: Path | None

    @property
    def changed(self) -> bool:
        """Whether the live schema differs from the lock."""
        return bool(self.diff.changes)


def _replace_fetched(fetched: Path, schema_dir: Path) -> None:
    """Put the fetched files in ``schema_dir`` in place of the old live-service files."""
    schema_dir.mkdir(parents=True, exist_ok=True)
    for name in (MSGTYPES_JSON, GETLAYOUT_JSON, GETSCHEMA_DIR, DICTIONARY_CSV):
        old = schema_dir / name
        if old.is_dir():
            shutil.rmtree(old)
        else:
            old.unlink(missing_ok=True)
        new = fetched / name
        if new.is_dir():
            shutil.copytree(new, old)
        elif new.is_file():
            shutil.copyfile(new, old)


def _run(what: str, command: Sequence[str], env: Mapping[str, str], cwd: Path) -> None:
    proc = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **env}, cwd=cwd, check=False
    )
    if proc.returncode != 0:
        raise RefreshError(f"{what} failed on the new bindings:\n{proc.stdout}{proc.stderr}")


def _verify(files: Mapping[str, str], project: Path, work: Path) -> None:
    """mypy --strict and the round trips of the new bindings, in a staged tree."""
    if not (project / ROUNDTRIP_MODULE).is_file():
        raise RefreshError(f"no {ROUNDTRIP_MODULE} under {project}: run from the checkout")
    stage = stage_package(work / "stage", files)
    mypy = [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(work / "mypy")]
    _run("mypy --strict", [*mypy, "-p", "srmlink.messages"], {"MYPYPATH": str(stage)}, stage)
    roundtrip = f"from tests.roundtrip import main\nmain({ROUNDTRIP_EXAMPLES})\n"
    path = os.pathsep.join((str(stage), str(project)))
    _run(
        "the round trips",
        [sys.executable, "-c", STANDALONE + roundtrip],
        {"PYTHONPATH": path},
        stage,
    )


def _changelog(diff: SchemaDiff, lock_path: Path) -> str:
    accept = (
        "\n## Accepting this change\n\n"
        "This pull request carries the schema fetched from MLink, the bindings' new "
        f"`{lock_path.name}` and this changelog; the bindings were regenerated, type-checked "
        "(mypy --strict) and round-tripped through every codec before it was opened. Review "
        "the breaking changes above against your code, then merge. To reject it, close it: "
        "the next run opens it again while the live schema differs from the lock.\n"
    )
    return diff.to_markdown() + accept


def refresh_schema(
    schema_dir: Path,
    lock_path: Path,
    changelog: Path,
    *,
    bindings: Path | None,
    project: Path,
    verify: bool = True,
    host: str | None = None,
    endpoint: Endpoint = "live",
    credentials: Credentials | None = None,
    concurrency: int = 8,
    progress: Progress | None = None,
    label: str | None = None,
) -> RefreshResult:
    """Fetch, compare with the lock and, on a change, write, regenerate, verify and re-lock
    (see the module docstring). ``bindings``: where to write the regenerated package (None:
    render only); ``project``: the checkout holding ``tests/roundtrip.py``; ``verify=False``
    skips mypy and the round trips (for tests of the rest); ``label``: the new schema's name
    in the changelog and lock (default ``live-YYYY-MM-DD``, the UTC day of the fetch). A stale
    ``changelog`` file is removed first, so the file exists afterwards exactly when the schema
    changed.

    Raises:
        FetchError: a reply of the server was missing, malformed or an error.
        SchemaError: the lock is unreadable or has no wire fingerprints.
        RefreshError: the new bindings failed mypy or the round trips.
    """
    changelog.unlink(missing_ok=True)
    lock = load_lock(lock_path)
    label = label or f"live-{datetime.now(UTC):%Y-%m-%d}"
    with tempfile.TemporaryDirectory(prefix="srmlink-refresh-") as tmp:
        work = Path(tmp)
        fetched = work / "schema"
        asyncio.run(
            fetch_schema(
                fetched,
                host=host,
                endpoint=endpoint,
                credentials=credentials,
                concurrency=concurrency,
                progress=progress,
            )
        )
        diff = diff_lock(lock, build_schema(fetched, label), wire_only=True)
        if not diff.changes:
            return RefreshResult(diff, None)
        _replace_fetched(fetched, schema_dir)
        result = generate(schema_dir, bindings, label=label)
        if verify:
            _verify(result.files, project, work)
    lock_path.write_text(make_lock(result.schema).dumps(), encoding="utf-8")
    changelog.write_text(_changelog(diff, lock_path), encoding="utf-8")
    return RefreshResult(diff, changelog)

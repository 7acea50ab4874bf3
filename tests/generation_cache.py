"""Generated bindings of a schema snapshot, kept on disk between pytest runs.

Generating a snapshot costs about 5 s of CPU, and every pytest process that stages one paid it:
each xdist worker, and each mutant of a mutation-testing run (one pytest start per mutant).
The cache key covers everything the output depends on: the schema files, the generator's
files and the source of every srmlink module the generator imports (found in a fresh
interpreter that generates a small schema, so a runtime module a mutation run
has changed is in the key when, and only when, generation could see it), and the Python
version.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path

#: How many generated snapshots the cache keeps (three real ones, each in a few variants).
KEEP = 12
CACHE_ROOT = Path(
    os.environ.get("SRMLINK_TEST_CACHE") or Path(__file__).resolve().parent.parent / ".cache"
)

# Generates the schema named by argv[1], then prints the codegen package's folder and the file
# of every other srmlink module loaded on the way.
_GENERATOR_MODULES = """
import sys
from pathlib import Path
import srmlink.codegen
from srmlink.codegen.build import generate
generate(Path(sys.argv[1]), None)
print(Path(srmlink.codegen.__file__).parent)
for name, module in sorted(sys.modules.items()):
    runtime = name == "srmlink" or name.startswith("srmlink.")
    if runtime and not name.startswith("srmlink.codegen") and getattr(module, "__file__", None):
        print(module.__file__)
"""


@cache
def _generator_files(probe: Path) -> tuple[Path, ...]:
    out = subprocess.run(
        [sys.executable, "-c", _GENERATOR_MODULES, str(probe)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    codegen, *modules = (Path(line) for line in out.splitlines())
    return (*_files_under(codegen), *modules)


def _files_under(root: Path) -> Iterable[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _key(schema: Path, probe: Path) -> str:
    digest = hashlib.sha256(sys.version.encode())
    for path in (*_files_under(schema), *_generator_files(probe)):
        digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:32]


def cached_generation(
    schema: Path, generate: Callable[[Path], dict[str, str]], probe: Path
) -> dict[str, str]:
    """``generate(schema)``'s files (name -> text), from the cache when the key matches.

    ``probe`` is a small schema whose generation shows which srmlink modules the generator uses.
    """
    entry = CACHE_ROOT / "generated" / _key(schema, probe)
    if not entry.is_dir():
        files = generate(schema)
        entry.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed into place: a second process (xdist) never reads half.
        partial = Path(tempfile.mkdtemp(dir=entry.parent, prefix=".partial-"))
        for name, text in files.items():
            (partial / name).write_text(text, encoding="utf-8")
        try:
            partial.rename(entry)
        except OSError:
            shutil.rmtree(partial)
            if not entry.is_dir():
                raise
        _prune(entry.parent)
        return files
    return {p.name: p.read_text(encoding="utf-8") for p in entry.iterdir()}


def _prune(folder: Path) -> None:
    """Keep the newest entries only: a mutation run of a module the generator imports makes
    a new key for every mutant (2 to 8 MB each)."""
    entries = sorted(
        (p for p in folder.iterdir() if not p.name.startswith(".")),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in entries[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)

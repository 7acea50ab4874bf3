"""Start-up benchmark (issue 11), each run in a fresh interpreter, interleaved, medians:

- ``from srmlink import MLinkClient``, timed inside the interpreter (so over a bare one);
- every message class materialised through the registry, against importing every Google
  ``_pb2`` module compiled from the same schema's .proto files with grpcio-tools.

Each is timed twice, both sides alike, from copies of the packages: with bytecode, as pip
leaves an installed wheel (the goal rows), and from source only, as a checkout first runs where
``PYTHONDONTWRITEBYTECODE`` is set (every module compiled at every start).
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from _bench import compile_pb2, goal, median, spread, temp_dir

_TIMED = "import time; t = time.process_time(); {body}; print(time.process_time() - t)"
CLIENT = "from srmlink import MLinkClient"
REGISTRY = "from srmlink.messages import registry; classes = list(registry)"
PB2 = (
    "import importlib, sys; sys.path.insert(0, {out!r}); "
    "[importlib.import_module(m) for m in {modules!r}]"
)


def _fresh(body: str, path: Path) -> Callable[[], float]:
    """A run of ``body`` in a fresh interpreter importing from ``path`` first; it never writes
    bytecode, so a source-only copy stays one."""
    env = {**os.environ, "PYTHONPATH": str(path), "PYTHONDONTWRITEBYTECODE": "1"}

    def run() -> float:
        code = _TIMED.format(body=body)
        done = subprocess.run(
            [sys.executable, "-c", code], check=True, capture_output=True, env=env
        )
        return float(done.stdout)

    return run


def _copy_srmlink(dest: Path) -> None:
    """The installed srmlink package (its generated messages included), without bytecode."""
    spec = importlib.util.find_spec("srmlink")
    assert spec is not None and spec.submodule_search_locations
    (location,) = spec.submodule_search_locations
    shutil.copytree(location, dest / "srmlink", ignore=shutil.ignore_patterns("__pycache__"))


def _trees(root: Path) -> tuple[Path, Path, list[str]]:
    """(source-only tree, tree with bytecode, the _pb2 module names): each tree holds a copy
    of srmlink and the _pb2 modules."""
    source, compiled = root / "source", root / "bytecode"
    source.mkdir()
    modules = compile_pb2(source)
    _copy_srmlink(source)
    shutil.copytree(source, compiled)
    if not compileall.compile_dir(compiled, quiet=1, workers=0):
        raise SystemExit(f"cannot compile {compiled}")
    return source, compiled, modules


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 3
    with temp_dir() as out:
        source, compiled, modules = _trees(Path(out))
        count = _count()
        paths: dict[tuple[str, str], Callable[[], float]] = {}
        for label, tree in (("bytecode", compiled), ("source", source)):
            paths[(label, CLIENT)] = _fresh(CLIENT, tree)
            paths[(label, "registry")] = _fresh(REGISTRY, tree)
            paths[(label, "pb2")] = _fresh(PB2.format(out=str(tree), modules=modules), tree)
        times: dict[tuple[str, str], list[float]] = {name: [] for name in paths}
        for _ in range(args.repeat):
            for name, run in paths.items():
                times[name].append(run())
    names = {
        CLIENT: CLIENT,
        "registry": f"materialise all {count} classes via the registry",
        "pb2": f"import all {len(modules)} Google _pb2 modules",
    }
    print(f"\nstart-up, fresh interpreters, median of {args.repeat} interleaved runs")
    print(f"{'':70} {'median s':>9} {'spread':>7}")
    for (label, what), samples in times.items():
        print(f"{names[what] + f' ({label})':70} {median(samples):9.4f} {spread(samples):7.0%}")
    print()
    for label in ("bytecode", "source"):
        ratio = median(times[(label, "registry")]) / median(times[(label, "pb2")])
        note = "" if label == "bytecode" else "; not the goal's"
        goal(f"registry materialisation, x importing the _pb2 modules ({label}{note})", ratio, 1.0)
    client_ms = median(times[("bytecode", CLIENT)]) * 1000
    goal(f"{CLIENT} (bytecode; goal on an idle machine)", client_ms, 150, " ms")


def _count() -> int:
    from srmlink.messages import registry  # noqa: PLC0415 - counted in this process only

    return sum(1 for e in registry.entries() if e.defined)


if __name__ == "__main__":
    main()

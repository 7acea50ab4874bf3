"""Start-up benchmark (issue 11), each run in a fresh interpreter, interleaved, medians:

- ``from srmlink import MLinkClient``, timed inside the interpreter (so over a bare one);
- every message class materialised through the registry, against importing every Google
  ``_pb2`` module compiled from the same schema's .proto files with grpcio-tools.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable

from _bench import compile_pb2, goal, median, spread, temp_dir

_TIMED = "import time; t = time.process_time(); {body}; print(time.process_time() - t)"
CLIENT = "from srmlink import MLinkClient"
REGISTRY = "from srmlink.messages import registry; classes = list(registry)"
PB2 = (
    "import importlib, sys; sys.path.insert(0, {out!r}); "
    "[importlib.import_module(m) for m in {modules!r}]"
)


def _fresh(body: str) -> Callable[[], float]:
    def run() -> float:
        code = _TIMED.format(body=body)
        done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
        return float(done.stdout)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="3 runs")
    args = parser.parse_args()
    if args.quick:
        args.repeat = 3
    with temp_dir() as out:
        modules = compile_pb2(out)
        paths = {
            CLIENT: _fresh(CLIENT),
            f"materialise all {_count()} classes via the registry": _fresh(REGISTRY),
            f"import all {len(modules)} Google _pb2 modules": _fresh(
                PB2.format(out=out, modules=modules)
            ),
        }
        times: dict[str, list[float]] = {name: [] for name in paths}
        for _ in range(args.repeat):
            for name, run in paths.items():
                times[name].append(run())
    print(f"\nstart-up, fresh interpreters, median of {args.repeat} interleaved runs")
    print(f"{'':60} {'median s':>9} {'spread':>7}")
    for name, samples in times.items():
        print(f"{name:60} {median(samples):9.4f} {spread(samples):7.0%}")
    print()
    registry_s, pb2_s = (median(v) for k, v in times.items() if k != CLIENT)
    goal("registry materialisation, x importing the _pb2 modules", registry_s / pb2_s, 1.0)
    goal(f"{CLIENT} (goal on an idle machine)", median(times[CLIENT]) * 1000, 150, " ms")


def _count() -> int:
    from srmlink.messages import registry  # noqa: PLC0415 - counted in this process only

    return sum(1 for e in registry.entries() if e.defined)


if __name__ == "__main__":
    main()

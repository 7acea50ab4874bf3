"""What every benchmark here shares: interleaved timing with medians and spread, goal rows,
and Google's ``_pb2`` modules compiled from the schema's .proto files (the baseline that
contains no srmlink code)."""

from __future__ import annotations

import gc
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent.parent / "shared/spiderrock-schema/2026-07"


def interleaved(
    paths: dict[str, Callable[[], object]],
    repeat: int,
    before: dict[str, Callable[[], None]] | None = None,
) -> dict[str, list[float]]:
    """Seconds of every run of every path, the paths taking turns so that a shift in the
    machine's load hits all of them alike. ``before[name]`` runs untimed before its path.

    What a path returns is kept until its timing ends: garbage collection of what it built
    is part of its cost, as it is for a caller that keeps its records. Times are this
    process's CPU time: on a machine shared with other work, wall-clock time mostly measures
    the neighbours (a spread of 200%), CPU time far less.
    """
    import time  # noqa: PLC0415 - kept next to its only use

    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repeat):
        for name, func in paths.items():
            if before and name in before:
                before[name]()
            gc.collect()
            start = time.process_time()
            kept = func()
            times[name].append(time.process_time() - start)
            del kept
    return times


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def spread(samples: list[float]) -> float:
    """(max - min) / median: how much the runs of one path disagree."""
    return (max(samples) - min(samples)) / statistics.median(samples)


def table(title: str, times: dict[str, list[float]], base: str, per: int = 0) -> None:
    """Median seconds (and microseconds per record with ``per``), spread, ratio to ``base``."""
    reference = median(times[base])
    print(f"\n{title}")
    print(f"{'':52} {'median s':>9} {'us/rec':>7} {'spread':>7} {'x base':>7}")
    for name, samples in times.items():
        m = median(samples)
        us = f"{m / per * 1e6:7.2f}" if per else f"{'':7}"
        print(f"{name:52} {m:9.4f} {us} {spread(samples):7.0%} {m / reference:7.2f}")


def goal(label: str, value: float, limit: float, unit: str = "x") -> bool:
    """Print one goal row: the measured value, the goal and PASS / FAIL."""
    ok = value <= limit
    print(f"GOAL {label:66} {value:8.2f}{unit} <= {limit:g}{unit}  {'PASS' if ok else 'FAIL'}")
    return ok


def compile_pb2(out: Path) -> list[str]:
    """Compile every .proto file of the schema with grpcio-tools into ``out``; the module
    names (``OptMktData.OptionNbboQuote_pb2`` ...), importable with ``out`` on sys.path."""
    root = SCHEMA / "proto_files"
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*.proto"))
    subprocess.run(
        [sys.executable, "-m", "grpc_tools.protoc", f"-I{root}", f"--python_out={out}", *files],
        check=True,
        cwd=root,
    )
    return [f[: -len(".proto")].replace("/", ".") + "_pb2" for f in files]


def temp_dir() -> tempfile.TemporaryDirectory[str]:
    return tempfile.TemporaryDirectory(prefix="srmlink-bench-")

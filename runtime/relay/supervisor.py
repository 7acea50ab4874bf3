"""The relay supervisor: N worker processes (spawned), the stripes split between them, a
worker that dies restarted on the same stripes."""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections.abc import Callable, Sequence
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

from attrs import evolve

from ..stripes import check_stripe
from .worker import EXIT_PERMANENT, WorkerConfig, worker_main

__all__ = ["Supervisor", "parse_stripes", "split_stripes"]

log = logging.getLogger("srmlink.relay")


def parse_stripes(text: str) -> tuple[str, ...]:
    """Comma-separated stripe codes (``A,B,S`` or halves ``A1,A2``), normalised.

    Raises:
        QueryError: an unknown code.
        ValueError: a code given twice, or a stripe given with one of its halves (their
            records would be relayed twice).
    """
    codes = tuple(check_stripe(code) for code in text.split(","))
    if len(set(codes)) != len(codes):
        raise ValueError(f"a stripe is given twice in {text!r}")
    overlap = sorted(code for code in codes if len(code) == 2 and code[0] in codes)
    if overlap:
        raise ValueError(f"{', '.join(overlap)} overlap their whole stripes in {text!r}")
    return codes


def split_stripes(stripes: Sequence[str], workers: int) -> list[tuple[str, ...]]:
    """``stripes`` dealt round-robin to ``workers`` shares (every share non-empty).

    Raises:
        ValueError: fewer than one worker, or more workers than stripes.
    """
    if not 1 <= workers <= len(stripes):
        raise ValueError(
            f"workers must be between 1 and {len(stripes)} (the stripes), not {workers}"
        )
    return [tuple(stripes[i::workers]) for i in range(workers)]


class Supervisor:
    """Runs one worker process per share of the stripes until :meth:`run`'s ``stop()``."""

    def __init__(self, config: WorkerConfig, shares: Sequence[tuple[str, ...]]) -> None:
        self._context = multiprocessing.get_context("spawn")
        self.configs = [evolve(config, stripes=share) for share in shares]
        self.processes: list[BaseProcess | None] = [None] * len(shares)
        self.restarts = 0

    def _start(self, index: int) -> None:
        config = self.configs[index]
        process = self._context.Process(
            target=worker_main, args=(config,), name=f"srmlink-relay-{index}", daemon=True
        )
        process.start()
        self.processes[index] = process
        # One line per start, flushed: operators (and tests) find the worker's pid here.
        print(f"worker {index} pid {process.pid} stripes {' '.join(config.stripes)}", flush=True)

    def run(self, stop: Callable[[], bool], poll: float = 0.2) -> int:
        """Start every worker, restart any that exits, and stop them all when ``stop()``
        (returns 0) or when one fails in a way a restart cannot mend (returns 2)."""
        try:
            for index in range(len(self.configs)):
                self._start(index)
            while not stop():
                alive = [p.sentinel for p in self.processes if p is not None]
                wait(alive, timeout=poll)
                for index, process in enumerate(self.processes):
                    if process is not None and not process.is_alive() and not stop():
                        if process.exitcode == EXIT_PERMANENT:
                            log.error("worker %d cannot relay; stopping every worker", index)
                            return EXIT_PERMANENT
                        log.warning(
                            "worker %d exited (code %s); restarting", index, process.exitcode
                        )
                        self.restarts += 1
                        time.sleep(min(0.1 * self.restarts, 2.0))  # no busy crash loop
                        self._start(index)
            return 0
        finally:
            for process in self.processes:
                if process is not None and process.is_alive():
                    process.terminate()
            # SIGTERM lets a worker publish what it buffered; one that hangs is killed.
            for process in self.processes:
                if process is not None:
                    process.join(timeout=10)
                    if process.is_alive():
                        process.kill()
                        process.join()

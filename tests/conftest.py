"""Shared fixtures: hypothesis profiles, schema locations, staged generated trees."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from srmlink.codegen.build import generate
from srmlink.codegen.stage import STANDALONE, stage_package
from srmlink.registry import Registry
from srmlink.testing import ServerProcess, start_server

from .generation_cache import cached_generation

# No time limits in hypothesis itself: its per-example deadline and its too_slow health check
# measure the machine, not the code, and failed at random on a loaded 2-core runner
# (test_keys.py::test_text_round_trip). pytest-timeout bounds every test instead.
_UNTIMED = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
settings.register_profile("dev", max_examples=100, **_UNTIMED)
settings.register_profile("ci", max_examples=200, **_UNTIMED)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

# Modules that take minutes on a loaded 2-core machine go first: the parallel run (xdist,
# --dist loadfile) then starts them at once instead of ending on one worker running them alone.
_LONG_MODULES = ("test_roundtrip.py", "test_framing_fuzz.py", "test_codec_reencode_fuzz.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: item.path.name not in _LONG_MODULES)  # stable: order kept
    if os.environ.get("SRMLINK_PROPERTY_TESTS_LAST"):
        # Mutation runs stop at the first failure (-x): the example-based tests, which kill
        # most mutants, run before the property tests, which take most of the time.
        items.sort(
            key=lambda item: getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        )


# Loggers whose level a test must leave as it found it: one left at DEBUG makes every later
# WebSocket frame a formatted log record (a 200-client test went from 3 s to 160 s).
_WATCHED_LOGGERS = ("", "srmlink", "websockets", "httpx", "httpcore", "aiohttp", "asyncio")


@pytest.fixture(autouse=True)
def _logger_levels_restored() -> Iterator[None]:
    before = {name: logging.getLogger(name).level for name in _WATCHED_LOGGERS}
    yield
    changed = {
        name or "root": (level, logging.getLogger(name).level)
        for name, level in before.items()
        if logging.getLogger(name).level != level
    }
    assert not changed, f"the test left logger levels changed (before, after): {changed}"


ROOT = Path(__file__).resolve().parent.parent
SHARED_SCHEMA = ROOT.parent / "shared" / "spiderrock-schema"
SMALL_SCHEMA = ROOT / "tests" / "golden" / "schema"
SNAPSHOTS = ("2026-07", "2023-07", "2023-05")

RunIn = Callable[[str], str]


def snapshot_dir(name: str) -> Path:
    path = SHARED_SCHEMA / name
    if not path.is_dir():
        pytest.fail(f"the shared schema snapshot {path} is missing (../shared beside the checkout)")
    return path


# Staged trees must stand alone (see STANDALONE).
_ISOLATE = STANDALONE


def run_python(stage: Path, code: str) -> str:
    """Run ``code`` in a fresh interpreter that imports only the staged ``srmlink`` tree."""
    env = {**os.environ, "PYTHONPATH": str(stage)}
    proc = subprocess.run(
        [sys.executable, "-c", _ISOLATE + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=env,
        cwd=stage,
        check=False,
    )
    if proc.returncode != 0:
        raise AssertionError(f"subprocess failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


@pytest.fixture(scope="session")
def staged(tmp_path_factory: pytest.TempPathFactory) -> Callable[[Path], Path]:
    """Generate a schema directory into a staged tree of its own (cached per schema).

    The tree holds a copy of this run's runtime beside the generated modules, which come from
    the on-disk generation cache when nothing they depend on changed.
    """
    cache: dict[Path, Path] = {}

    def stage(schema: Path) -> Path:
        if schema not in cache:
            files = cached_generation(schema, lambda s: dict(generate(s, None).files), SMALL_SCHEMA)
            dest = tmp_path_factory.mktemp(f"stage-{schema.name}")
            cache[schema] = stage_package(dest, files)
        return cache[schema]

    return stage


def snapshot_registry(staged: Callable[[Path], Path], snapshot: str) -> Registry:
    """The registry of ``snapshot``'s bindings, imported in this process.

    Generated modules import each other relatively and the registry resolves classes through
    its own package name, so a staged tree loads under ``srmlink_snapshot_<name>`` beside any
    other snapshot without a clash (the protobuf codec names its descriptors after each class's
    module as well). Cheaper than a subprocess per test and lets pytest report the values.
    """
    name = "srmlink_snapshot_" + snapshot.replace("-", "_")
    module = sys.modules.get(name)
    if module is None:
        package = staged(snapshot_dir(snapshot)) / "srmlink" / "messages"
        spec = importlib.util.spec_from_file_location(
            name, package / "__init__.py", submodule_search_locations=[str(package)]
        )
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    registry = module.registry
    assert isinstance(registry, Registry)
    return registry


@pytest.fixture(scope="module")
def stream_server() -> Iterator[ServerProcess]:
    """``srmlink serve`` with quotes ticking every 20 ms (key: srmlink.testing.TEST_API_KEY)."""
    server = start_server(extra=["--tick", "0.02", "--heartbeat", "0.5"])
    try:
        yield server
    finally:
        server.stop()


def clean_env() -> dict[str, str]:
    """The environment without PYTHONPATH / MYPYPATH: srmlink as a user's app finds it."""
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}


MypyRun = Callable[[Path, Sequence[str]], subprocess.CompletedProcess[str]]


@pytest.fixture
def mypy_installed(request: pytest.FixtureRequest) -> MypyRun:
    """``mypy --strict`` on files as a user's app sees srmlink: the installed package, no
    PYTHONPATH / MYPYPATH. One cache for every test that uses it, so only the first one checks
    the whole package (minutes on a loaded 2-core machine), the others are incremental."""
    cache = Path(request.config.cache.mkdir("mypy-installed"))

    def run(cwd: Path, files: Sequence[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mypy", "--strict", "--cache-dir", str(cache), *files],
            capture_output=True,
            text=True,
            cwd=cwd,
            env=clean_env(),
            check=False,
            timeout=600,
        )

    return run

"""Developer and CI sessions: one job each. ``nox`` alone runs lint, typecheck and tests."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent / "shared" / "spiderrock-schema"
SNAPSHOTS = ("2026-07", "2023-07", "2023-05")
SOURCES = ["runtime", "codegen", "tests", "benchmarks", "noxfile.py", "setup.py"]


def _install(session: nox.Session) -> None:
    # Editable, so the build hook writes generated/ in the checkout the tests import.
    session.install("-e", ".[dev]")


@nox.session
def generate(session: nox.Session) -> None:
    """Regenerate srmlink.messages (default schema, or SRMLINK_SCHEMA) and print the time."""
    _install(session)
    session.run("srmlink", "generate", "--report", "reconciliation-report.json", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff over the hand-written code and over freshly generated bindings."""
    session.install("ruff")
    session.run("ruff", "check", *SOURCES)
    session.run("ruff", "format", "--check", *SOURCES)


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on runtime/, codegen/ and the bindings of every schema snapshot."""
    _install(session)
    tmp = Path(session.create_tmp())
    for snapshot in SNAPSHOTS:
        schema = SHARED / snapshot
        if not schema.is_dir():
            session.error(f"missing schema snapshot {schema}")
        stage = tmp / f"stage-{snapshot}"
        session.run("python", "-m", "srmlink.codegen.stage", str(schema), str(stage), silent=True)
        session.log(f"mypy --strict: runtime, codegen and bindings of {snapshot}")
        session.run(
            "mypy",
            "--strict",
            "--cache-dir",
            str(tmp / "mypy-cache"),
            "-p",
            "srmlink",
            env={"MYPYPATH": str(stage)},
        )
        session.run(
            "ruff",
            "check",
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
            str(stage / "srmlink" / "messages"),
        )


@nox.session
def tests(session: nox.Session) -> None:
    """The pytest suite: unit, golden, property and integration tests."""
    _install(session)
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev")
    session.run("pytest", *session.posargs, env={"HYPOTHESIS_PROFILE": profile})


@nox.session
def fuzz(session: nox.Session) -> None:
    """The framing / decoder fuzz tests and the fuzzed re-encoding at ten times the normal
    volume (1,000,000 streams, 1,000,000 re-encodings)."""
    _install(session)
    session.run(
        "pytest",
        "tests/test_framing_fuzz.py",
        "tests/test_codec_reencode_fuzz.py",
        *session.posargs,
        env={"SRMLINK_FUZZ_INPUTS": os.environ.get("SRMLINK_FUZZ_INPUTS", "1000000")},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Codec benchmark: typed decode / encode against orjson and json baselines, one process."""
    _install(session)
    session.run("python", "benchmarks/bench_codec.py", *session.posargs)


@nox.session
def demo(session: nox.Session) -> None:
    """The main job in a checkout: generate, then a typed session against a local server."""
    _install(session)
    session.run("srmlink", "generate")
    session.run("srmlink", "demo", *session.posargs)


@nox.session
def golden(session: nox.Session) -> None:
    """Rewrite the golden files from tests/golden/schema (review the diff before committing)."""
    _install(session)
    session.run("python", "-m", "tests.golden.regenerate")


@nox.session
def schema_check(session: nox.Session) -> None:
    """Regenerate, type-check and test the bindings, then compare the schema with schema.lock.

    Not a default session: CI runs it weekly and when proto_files/ or schema.lock change. When
    GITHUB_STEP_SUMMARY is set, the changelog since the lock becomes the job summary.
    """
    _install(session)
    session.run("srmlink", "generate")
    # The schema `srmlink generate` just used (SRMLINK_SCHEMA, proto_files/, then ../shared),
    # asked of the generator itself so the precedence lives in one place. str(): with
    # --install-only, run() returns None and every later command is skipped too.
    located = session.run(
        "python",
        "-c",
        "from srmlink.codegen.locate import locate_schema; print(locate_schema())",
        silent=True,
    )
    schema = str(located).strip().splitlines()[-1]
    tmp = Path(session.create_tmp())
    stage = tmp / "stage-schema-check"
    session.run("python", "-m", "srmlink.codegen.stage", schema, str(stage), silent=True)
    session.run(
        "mypy",
        "--strict",
        "--cache-dir",
        str(tmp / "mypy-cache"),
        "-p",
        "srmlink.messages",
        env={"MYPYPATH": str(stage)},
    )
    if any((ROOT / "tests").glob("test_roundtrip*.py")):
        # Exit code 5: the files exist but select no round-trip test yet.
        session.run("pytest", "tests", "-k", "roundtrip", success_codes=[0, 5])
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and (ROOT / "schema.lock").is_file():
        # Written before the check, which ends the session when the schema moved.
        changelog = tmp / "schema-changelog.md"
        session.run("srmlink", "schema", "diff", "schema.lock", schema, "--output", str(changelog))
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(changelog.read_text(encoding="utf-8"))
    session.run("srmlink", "schema", "check")

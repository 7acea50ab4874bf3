"""Developer and CI sessions: one job each. ``nox`` alone runs lint, typecheck and tests."""

from __future__ import annotations

import ast
import functools
import json
import os
import random
import shutil
from collections import Counter
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True

ROOT = Path(__file__).resolve().parent
SHARED = ROOT.parent / "shared" / "spiderrock-schema"
SNAPSHOTS = ("2026-07", "2023-07", "2023-05")
SOURCES = ["runtime", "codegen", "tests", "benchmarks", "noxfile.py", "setup.py"]
# What schema_check runs against the bindings it has just generated.
ROUNDTRIP_TESTS = ["tests/test_roundtrip.py"]


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
    # One worker per core; a module's tests stay together (its servers start once).
    args = session.posargs or ["-n", "auto", "--dist", "loadfile"]
    # Bytecode is cached even where the environment sets PYTHONDONTWRITEBYTECODE (this
    # machine's does): otherwise every server, CLI and interpreter the tests start compiles
    # srmlink and the bindings it imports from source again (2.0 s of CPU against 0.4 s for the
    # server's imports; a third less CPU for the CLI and 2023-flow tests). Generated trees are
    # written to fresh folders, so no stale .pyc can stand for a rewritten module.
    env = {"HYPOTHESIS_PROFILE": profile, "PYTHONDONTWRITEBYTECODE": ""}
    session.run("pytest", *args, env=env)


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
def bench_relay(session: nox.Session) -> None:
    """Records/s through the relay's Redis sink and its consumer-group reader, and the
    last-value cache's memory per series (needs redis-server)."""
    _install(session)
    session.run("python", "benchmarks/bench_relay.py", *session.posargs)


@nox.session
def bench(session: nox.Session) -> None:
    """Issue 11's rows (decode cold / warm, wide messages, encode, start-up, WebSocket snapshot,
    live stream, REST getmsgs against a local server) and wire -> Arrow, each against a
    baseline with no srmlink code; prints every goal with PASS / FAIL.

    ``nox -s bench -- --quick`` runs a fifth of the sizes, 3 runs each (about a minute).
    """
    _install(session)
    quick = "--quick" in session.posargs
    session.run("python", "benchmarks/bench_codec.py", *session.posargs)
    session.run("python", "benchmarks/bench_import.py", *session.posargs)
    session.run("python", "benchmarks/bench_stream.py", *session.posargs)
    session.run("python", "benchmarks/bench_frames.py", *(["-n", "200000"] if quick else []))


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
    # Every message type of every snapshot through every codec. Named files, not -k: a missing
    # file or pytest's "no tests collected" (exit 5) fails the session instead of passing it.
    session.run("pytest", *ROUNDTRIP_TESTS)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary and (ROOT / "schema.lock").is_file():
        # Written before the check, which ends the session when the schema moved.
        changelog = tmp / "schema-changelog.md"
        session.run("srmlink", "schema", "diff", "schema.lock", schema, "--output", str(changelog))
        with open(summary, "a", encoding="utf-8") as handle:
            handle.write(changelog.read_text(encoding="utf-8"))
    session.run("srmlink", "schema", "check")


@nox.session
def schema_refresh(session: nox.Session) -> None:
    """Fetch the live schema and compare it with schema.lock; on a change write it into the
    schema folder, regenerate, run mypy --strict and the round trips on the new bindings, and
    write the new schema.lock and the changelog (see srmlink.codegen.refresh).

    Host and key from SRMLINK_HOST and SRMLINK_API_KEY (never on the command line, where nox
    would print it). Not a default session: the schema-refresh workflow runs it weekly and
    opens the pull request. Arguments go to `srmlink schema refresh` (e.g. --changelog FILE).
    """
    _install(session)
    session.run("srmlink", "schema", "refresh", "--no-progress", *session.posargs)


# Mutation testing: each group of modules with the fast tests that exercise it (killers first,
# since pytest -x stops at the first failure). The slow end-to-end tests stay out so that one
# mutant costs seconds.
MUTATION_TARGETS: dict[str, tuple[list[str], list[str]]] = {
    "framing": (
        ["runtime/framing.py"],
        ["tests/test_mutation_kills_framing.py", "tests/test_framing.py"],
    ),
    "keys": (["runtime/keys.py"], ["tests/test_mutation_kills_keys.py", "tests/test_keys.py"]),
    "enums": (
        ["runtime/enums.py"],
        ["tests/test_mutation_kills_enums.py", "tests/test_enums_runtime.py"],
    ),
    "codec": (
        ["runtime/codec"],
        [
            "tests/test_mutation_kills_codec.py",
            "tests/test_codec_independent.py",
            "tests/test_codec_samples.py",
            "tests/test_codec_enums.py",
            "tests/test_framing.py",
        ],
    ),
    "query": (["runtime/query"], ["tests/test_mutation_kills_query.py", "tests/test_query.py"]),
    "stream-protocol": (
        ["runtime/stream/protocol.py"],
        [
            "tests/test_mutation_kills_stream_protocol.py",
            "tests/test_stream_protocol.py",
            # The hand-written oracles (both flows, no server): the only 2023 MLinkQuery checks.
            "tests/conformance/test_client_protocol_oracle.py",
        ],
    ),
    "auth": (
        ["runtime/auth.py"],
        [
            "tests/test_mutation_kills_auth.py",
            "tests/test_redacting_filter.py",
            "tests/test_secrets_e2e.py",
        ],
    ),
}
# One or two plausible slips per operator site, not every operator for every other: cosmic-ray's
# full cross product (Add -> Pow, BitXor, LShift...) multiplies the mutants by six with
# replacements no one would type, and the run would take hours.
MUTATION_EXCLUDED_OPERATORS = [
    "core/ReplaceBinaryOperator_(?!(Add_Sub|Sub_Add|Mul_Div|Div_Mul|FloorDiv_Div|Mod_FloorDiv"
    "|BitOr_BitAnd|BitAnd_BitOr|LShift_RShift|RShift_LShift)$)",
    "core/ReplaceComparisonOperator_(?!(Lt_LtE|LtE_Lt|Gt_GtE|GtE_Gt|Eq_NotEq|NotEq_Eq|Is_IsNot"
    "|IsNot_Is|In_NotIn|NotIn_In)$)",
]


def _mutation_config(paths: list[str], tests: list[str]) -> str:
    existing = [t for t in tests if (ROOT / t).is_file()]
    command = "python -m pytest -x -q -p no:randomly -p no:cacheprovider " + " ".join(existing)
    return (
        "[cosmic-ray]\n"
        f"module-path = {json.dumps(paths)}\n"
        "timeout = 300.0\n"
        "excluded-modules = []\n"
        f"test-command = {json.dumps(command)}\n"
        "[cosmic-ray.distributor]\n"
        'name = "local"\n'
        "[cosmic-ray.filters.operators-filter]\n"
        f"exclude-operators = {json.dumps(MUTATION_EXCLUDED_OPERATORS)}\n"
    )


@functools.cache
def _parsed(module: str) -> ast.Module:
    return ast.parse((ROOT / module).read_text(encoding="utf-8"))


def _in_annotation(module: str, position: list[int]) -> bool:
    """Whether ``position`` (line, column) of ``module`` lies in a type annotation.

    Under ``from __future__ import annotations`` (every module here) annotations are never
    evaluated, so a mutant there (``bytes | None`` -> ``bytes & None``) is equivalent.
    """
    where = tuple(position)
    for node in ast.walk(_parsed(module)):
        if isinstance(node, ast.arg | ast.AnnAssign):
            annotation = node.annotation
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotation = node.returns
        else:
            continue
        if annotation is not None and (
            (annotation.lineno, annotation.col_offset)
            <= where
            < (annotation.end_lineno or 0, annotation.end_col_offset or 0)
        ):
            return True
    return False


def _mutation_summary(session: nox.Session, group: str, dump: str) -> tuple[int, int]:
    """Print the score of one group and its surviving mutants; return (killed, survived).

    Mutants in annotations are equivalent and counted apart; a timeout is a kill (the tests
    noticed a loop that never ends); an incompetent mutant (one that cannot even be imported)
    counts on neither side.
    """
    outcomes: Counter[str] = Counter()
    survivors: list[str] = []
    for line in dump.splitlines():
        if not line.startswith("["):
            continue
        item, result = json.loads(line)
        (mutation,) = item["mutations"]
        if _in_annotation(mutation["module_path"], mutation["start_pos"]):
            outcomes["annotation"] += 1
            continue
        if result is None:
            outcomes["pending"] += 1
            continue
        if result["worker_outcome"] == "skipped":  # an operator left out, or not sampled
            continue
        outcome = "timeout" if result["worker_outcome"] == "timeout" else result["test_outcome"]
        outcomes[outcome] += 1
        if outcome == "survived":
            line_no, column = mutation["start_pos"]
            changed = [
                text
                for text in result.get("diff", "").splitlines()
                if text[:1] in "+-" and text[:3] not in ("+++", "---")
            ]
            survivors.append(
                f"  {mutation['module_path']}:{line_no}:{column} {mutation['operator_name']}"
                f" in {mutation.get('definition_name') or '<module>'}: "
                + " => ".join(text[1:].strip() for text in changed)
            )
    killed = outcomes["killed"] + outcomes["timeout"]
    survived = outcomes["survived"]
    total = killed + survived
    score = 100 * killed / total if total else 0.0
    session.log(
        f"mutation score {group}: {score:.1f}% ({killed} killed of {total}; "
        f"{outcomes['timeout']} by timeout, {outcomes['incompetent']} incompetent, "
        f"{outcomes['annotation']} in annotations (equivalent), "
        f"{outcomes['pending']} not run)"
    )
    for survivor in survivors:
        session.log(survivor)
    return killed, survived


def _pending(dump: str) -> tuple[list[str], list[str]]:
    """The job ids of the pending mutants: (outside annotations, in annotations)."""
    outside, inside = [], []
    for line in dump.splitlines():
        if not line.startswith("["):
            continue
        item, result = json.loads(line)
        if result is not None:
            continue
        (mutation,) = item["mutations"]
        in_annotation = _in_annotation(mutation["module_path"], mutation["start_pos"])
        (inside if in_annotation else outside).append(item["job_id"])
    return outside, inside


def _outside_sample(dump: str, size: int) -> list[str]:
    """The job ids of the pending mutants outside annotations left out of a seeded sample of
    ``size``."""
    drawn, _ = _pending(dump)
    keep = set(random.Random(16).sample(drawn, min(size, len(drawn))))
    return [job for job in drawn if job not in keep]


def _outside_shard(dump: str, shard: str) -> list[str]:
    """The job ids of the pending mutants outside annotations not in ``shard`` ("I/N": the
    I-th of N, from 1), dealt by position in the file so that every checkout deals alike."""
    index, _, count = shard.partition("/")
    if not (index.isdigit() and count.isdigit() and 1 <= int(index) <= int(count)):
        raise ValueError(f"SRMLINK_MUTATION_SHARD must be I/N with 1 <= I <= N, not {shard!r}")
    positions: dict[str, tuple[str, tuple[int, ...], str, int]] = {}
    for line in dump.splitlines():
        if line.startswith("["):
            item, _result = json.loads(line)
            (mutation,) = item["mutations"]
            positions[item["job_id"]] = (
                mutation["module_path"],
                tuple(mutation["start_pos"]),
                mutation["operator_name"],
                mutation["occurrence"],
            )
    drawn, _ = _pending(dump)
    ordered = sorted(drawn, key=positions.__getitem__)
    return [job for n, job in enumerate(ordered) if n % int(count) != int(index) - 1]


# Run in the session's environment (cosmic-ray is installed there, not beside nox).
_SKIP_JOBS = """
import sys
from cosmic_ray.work_db import WorkDB, use_db
from cosmic_ray.work_item import WorkerOutcome, WorkResult
skipped = WorkResult(output="not run: annotation or sample", worker_outcome=WorkerOutcome.SKIPPED)
with use_db(sys.argv[1], WorkDB.Mode.open) as db:
    for job in sys.argv[2:]:
        db.set_result(job, skipped)
"""


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation testing (cosmic-ray) of framing, codecs, keys, enums, query, stream protocol and
    auth against their fast tests; prints the score per group and every surviving mutant.

    Not a default session (it takes tens of minutes). cosmic-ray mutates the files in place and
    restores each one: do not edit the checkout while it runs. ``nox -s mutation -- framing
    keys`` runs the named groups only; SRMLINK_MUTATION_SESSIONS=DIR keeps the session
    databases there (a second run resumes where the first stopped). SRMLINK_MUTATION_SAMPLE=N
    runs a seeded random sample of N mutants per group (those outside annotations); the rest
    are marked skipped when the database is created, so a resumed run keeps the same sample.
    SRMLINK_MUTATION_SHARD=I/N runs the I-th of N equal shares (from 1), so that N checkouts
    can run one group side by side; their scores add up.
    """
    _install(session)
    session.install("cosmic-ray>=8.4")
    groups = session.posargs or list(MUTATION_TARGETS)
    unknown = sorted(set(groups) - set(MUTATION_TARGETS))
    if unknown:
        session.error(f"unknown mutation groups {unknown}; choose from {list(MUTATION_TARGETS)}")
    work = Path(os.environ.get("SRMLINK_MUTATION_SESSIONS") or session.create_tmp())
    work.mkdir(parents=True, exist_ok=True)
    totals = [0, 0]
    for group in groups:
        paths, tests = MUTATION_TARGETS[group]
        config = work / f"{group}.toml"
        database = work / f"{group}.sqlite"
        config.write_text(_mutation_config(paths, tests), encoding="utf-8")
        if not database.exists():
            session.run("cosmic-ray", "init", str(config), str(database), silent=True)
            session.run("cr-filter-operators", str(database), str(config), silent=True)
            sample = os.environ.get("SRMLINK_MUTATION_SAMPLE")
            shard = os.environ.get("SRMLINK_MUTATION_SHARD")
            if sample or shard:
                # Both drawn from every mutant, so the shards of one sample partition it.
                jobs = str(session.run("cosmic-ray", "dump", str(database), silent=True))
                left_out = set(_outside_sample(jobs, int(sample)) if sample else ())
                left_out.update(_outside_shard(jobs, shard) if shard else ())
                session.run("python", "-c", _SKIP_JOBS, str(database), *left_out, silent=True)
        # Mutants in annotations are equivalent by construction, and each would cost the whole
        # test list: never run (also in a database made before this rule).
        _, in_annotations = _pending(
            str(session.run("cosmic-ray", "dump", str(database), silent=True))
        )
        if in_annotations:
            session.run("python", "-c", _SKIP_JOBS, str(database), *in_annotations, silent=True)
        # Each mutant is one pytest start; compiling every module and re-rewriting every test
        # module's asserts from source made that 4.5 s instead of 1.6 s where the environment
        # sets PYTHONDONTWRITEBYTECODE. Caching is safe with checked-hash .pyc files for the
        # mutated modules: they are validated by the source's hash, not its mtime, and stay
        # hash-based when the import system rewrites them.
        session.run(
            "python", "-m", "compileall", "-q", "-f", "--invalidation-mode", "checked-hash", *paths
        )
        env = {"PYTHONDONTWRITEBYTECODE": "", "SRMLINK_PROPERTY_TESTS_LAST": "1"}
        session.run("cosmic-ray", "exec", str(config), str(database), env=env)
        dump = session.run("cosmic-ray", "dump", str(database), silent=True)
        killed, survived = _mutation_summary(session, group, str(dump))
        totals[0] += killed
        totals[1] += survived
    total = sum(totals)
    session.log(f"mutation score overall: {100 * totals[0] / total if total else 0:.1f}%")


@nox.session
def coverage(session: nox.Session) -> None:
    """Line coverage of runtime/ and codegen/ over the pytest suite, the `srmlink serve`
    subprocesses of the integration tests included; prints the combined report.

    Not a default session. Every Python subprocess is measured through coverage's
    ``patch = subprocess`` (the .pth / COVERAGE_PROCESS_START mechanism, set up by coverage
    itself); ``sigterm`` saves the data of servers stopped with SIGTERM. Arguments go to pytest.
    """
    _install(session)
    session.install("coverage>=7.10")
    tmp = Path(session.create_tmp()).resolve()
    data = tmp / "coverage-data"
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir()
    rc = tmp / "coveragerc"
    # Absolute paths: subprocesses run with other working directories. Tests that need the
    # bindings of another snapshot run a staged copy of the package (.../srmlink/...), which
    # [paths] maps back onto runtime/ and codegen/; generated bindings are left out.
    runtime, codegen = ROOT / "runtime", ROOT / "codegen"
    rc.write_text(
        "[run]\n"
        f"include =\n    {runtime}/*\n    {codegen}/*\n    */srmlink/*\n"
        "omit =\n    */srmlink/messages/*\n"
        f"data_file = {data / '.coverage'}\n"
        "parallel = true\n"
        "patch = subprocess\n"
        "sigterm = true\n"
        "[paths]\n"
        f"codegen =\n    {codegen}\n    */srmlink/codegen\n"
        f"runtime =\n    {runtime}\n    */srmlink\n"
        "[report]\n"
        "precision = 1\n"
        "show_missing = true\n"
        "skip_covered = true\n"
        "sort = -miss\n",
        encoding="utf-8",
    )
    env = {"COVERAGE_RCFILE": str(rc)}
    session.run("coverage", "run", "-m", "pytest", "-p", "no:randomly", *session.posargs, env=env)
    session.run("coverage", "combine", "--quiet", env=env)
    session.run("coverage", "report", env=env)

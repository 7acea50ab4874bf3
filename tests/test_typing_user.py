"""A user's project after the README's install: mypy and jedi resolve ``srmlink``, typed.

The checkout is installed the README's way (``pip install -e``) into a fresh venv. The venv
reuses this environment's third-party packages through a path file instead of downloading
them (``--no-deps --no-build-isolation``), which keeps the test fast; srmlink itself is only
reachable through what the editable install wrote. Static tools cannot follow an import hook,
so the install must be a plain path entry.
"""

from __future__ import annotations

import os
import re
import site
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import jedi
import pytest

from .conftest import ROOT

APP_OK = """\
from srmlink import InvalidHostError, MLinkClient, MLinkQueryError
from srmlink.messages import OptionNbboQuote


def best_bid(client: MLinkClient) -> float:
    result = client.getmsgs(OptionNbboQuote, where="okey.tk:eq:AAPL", limit=10)
    reveal_type(result.messages[0])
    return max((quote.bid_price or 0.0) for quote in result.messages)


def main() -> None:
    try:
        with MLinkClient(host="http://127.0.0.1:8642") as client:
            print(best_bid(client), client.getcount(OptionNbboQuote).count)
    except (InvalidHostError, MLinkQueryError) as exc:
        print(exc)
"""

APP_BAD = """\
from srmlink import MLinkClient
from srmlink.messages import OptionNbboQuote


def best_bid(client: MLinkClient) -> float | None:
    quote = client.getmsgs(OptionNbboQuote, limit=10).messages[0]
    return quote.bid_prise
"""


def _run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        check=False,
        timeout=300,
    )
    if proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the checkout, installed editable as the README says."""
    venv = tmp_path_factory.mktemp("user") / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=venv.parent)
    python = venv / "bin" / "python"
    purelib = Path(
        _run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=venv)
        .strip()
        .splitlines()[-1]
    )
    # This environment's packages (setuptools, httpx, attrs ...), after the venv's own.
    (purelib / "zz_reuse_test_environment.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    _run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "-e",
        ROOT,
        cwd=venv.parent,
        env=env,
    )
    return venv


def _site_packages(venv: Path) -> Path:
    (found,) = venv.glob("lib/python3*/site-packages")
    return found


def test_the_editable_install_is_a_static_path(user_venv: Path) -> None:
    site_dir = _site_packages(user_venv)
    (pth,) = site_dir.glob("__editable__*srmlink*.pth")
    assert pth.read_text(encoding="utf-8").split() == [str(ROOT / "src")]
    assert not list(site_dir.glob("__editable__*finder*")), "an import hook static tools miss"
    where = _run(
        user_venv / "bin" / "python",
        "-c",
        "import srmlink, srmlink.messages, srmlink.codegen; "
        "print(srmlink.__file__, srmlink.messages.__file__, srmlink.codegen.__file__)",
        cwd=user_venv,
    ).split()
    assert [Path(p).resolve() for p in where] == [
        ROOT / "runtime" / "__init__.py",
        ROOT / "generated" / "__init__.py",
        ROOT / "codegen" / "__init__.py",
    ]


@pytest.fixture
def probe_module() -> Iterator[str]:
    """A module written into generated/ after the install, as ``srmlink generate`` does."""
    name = f"_probe_{uuid.uuid4().hex}"
    path = ROOT / "generated" / f"{name}.py"
    path.write_text("WRITTEN_AFTER_INSTALL = True\n", encoding="utf-8")
    try:
        yield name
    finally:
        path.unlink()


def test_regenerated_bindings_are_seen_without_reinstalling(
    user_venv: Path, probe_module: str
) -> None:
    out = _run(
        user_venv / "bin" / "python",
        "-c",
        f"from srmlink.messages.{probe_module} import WRITTEN_AFTER_INSTALL as w; print(w)",
        cwd=user_venv,
    )
    assert out.strip() == "True"


def _mypy(user_venv: Path, app: str, cache: Path) -> subprocess.CompletedProcess[str]:
    project = user_venv.parent / f"app-{uuid.uuid4().hex[:8]}"
    project.mkdir()
    (project / "app.py").write_text(app, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MYPYPATH")}
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--cache-dir",
            str(cache),
            "--python-executable",
            str(user_venv / "bin" / "python"),
            "app.py",
        ],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def mypy_cache(request: pytest.FixtureRequest) -> Path:
    # Kept between runs: srmlink's files sit at stable paths in the checkout.
    return Path(request.config.cache.mkdir("typing-user-mypy"))


def test_mypy_strict_passes_on_a_typed_app_and_sees_the_generated_class(
    user_venv: Path, mypy_cache: Path
) -> None:
    proc = _mypy(user_venv, APP_OK, mypy_cache)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(
        r'app\.py:7: note: Revealed type is "srmlink\.messages\.\w+\.OptionNbboQuote"',
        proc.stdout,
    ), proc.stdout


def test_mypy_strict_fails_on_a_misspelt_field(user_venv: Path, mypy_cache: Path) -> None:
    proc = _mypy(user_venv, APP_BAD, mypy_cache)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert re.search(
        r'app\.py:7: error: "OptionNbboQuote" has no attribute "bid_prise".*\[attr-defined\]',
        proc.stdout,
    ), proc.stdout
    assert "Cannot find implementation or library stub" not in proc.stdout


def test_jedi_completes_the_generated_fields(user_venv: Path) -> None:
    code = textwrap.dedent(
        """\
        from srmlink.messages import OptionNbboQuote
        OptionNbboQuote().bid_
        """
    )
    environment = jedi.create_environment(str(user_venv), safe=False)
    script = jedi.Script(code, path=user_venv.parent / "complete.py", environment=environment)
    names = {c.name for c in script.complete(2, len("OptionNbboQuote().bid_"))}
    assert {"bid_price", "bid_size"} <= names, names
    (definition,) = script.goto(1, len("from srmlink.messages import Opt"))
    assert definition.module_path is not None
    assert Path(definition.module_path).resolve().parent == ROOT / "generated"

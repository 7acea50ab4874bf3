"""Where the schema comes from: --schema, SRMLINK_SCHEMA, proto_files/, then ../shared."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from .errors import SchemaNotFoundError
from .sources import schema_files

__all__ = ["ENV_VAR", "locate_schema", "messages_dir"]

ENV_VAR = "SRMLINK_SCHEMA"
SHARED_DEFAULT = Path("..") / "shared" / "spiderrock-schema" / "2026-07"


def locate_schema(explicit: str | os.PathLike[str] | None = None, base: Path | None = None) -> Path:
    """The schema directory to generate from, in order of precedence:

    ``explicit`` (``--schema``), the ``SRMLINK_SCHEMA`` environment variable, ``proto_files/``
    under ``base`` (the project or working directory) when it holds a schema, then
    ``../shared/spiderrock-schema/2026-07`` beside ``base``.

    Raises:
        SchemaNotFoundError: none of them exists; the message says how to get a schema.
    """
    base = base or Path.cwd()
    for given, origin in ((explicit, "--schema"), (os.environ.get(ENV_VAR), ENV_VAR)):
        if given:
            path = Path(given).expanduser()
            if not path.is_dir():
                raise SchemaNotFoundError(f"{origin} names {path}, which is not a directory")
            return path
    local = base / "proto_files"
    if local.is_dir() and schema_files(local):
        return local
    shared = base / SHARED_DEFAULT
    if shared.is_dir():
        return shared.resolve()
    raise SchemaNotFoundError(
        "no MLink schema found. Put SpiderRock's published .proto files, DataDictionaryMLink.csv "
        "and a getmsgtypes response (getmsgtypes.json) into proto_files/ (see its README), or "
        f"pass --schema DIR, or set {ENV_VAR}=DIR."
    )


def messages_dir() -> Path:
    """The folder of the ``srmlink.messages`` package (where ``srmlink generate`` writes by
    default), without importing it."""
    spec = importlib.util.find_spec("srmlink.messages")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("srmlink: cannot find the srmlink.messages package folder; use --out")
    return Path(next(iter(spec.submodule_search_locations)))

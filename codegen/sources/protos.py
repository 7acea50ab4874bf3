"""Load .proto files through protoc (grpcio-tools, in-process) into :class:`ProtoSchema`.

protoc parses; we only walk the resulting ``FileDescriptorSet``. Comments come from its source
info: a message's leading comment is its description, a field's trailing comment its docstring.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path

from google.protobuf import descriptor_pb2
from grpc_tools import protoc

from ..errors import SchemaError
from .models import ProtoEnum, ProtoEnumValue, ProtoField, ProtoMessage, ProtoSchema

__all__ = ["PACKAGE", "compile_descriptor_set", "load_protos"]

PACKAGE = "spiderrock.protobuf"

_FDP = descriptor_pb2.FieldDescriptorProto
_SCALARS = {
    _FDP.TYPE_DOUBLE: "double",
    _FDP.TYPE_FLOAT: "float",
    _FDP.TYPE_INT64: "int64",
    _FDP.TYPE_UINT64: "uint64",
    _FDP.TYPE_INT32: "int32",
    _FDP.TYPE_FIXED64: "fixed64",
    _FDP.TYPE_FIXED32: "fixed32",
    _FDP.TYPE_BOOL: "bool",
    _FDP.TYPE_STRING: "string",
    _FDP.TYPE_BYTES: "bytes",
    _FDP.TYPE_UINT32: "uint32",
    _FDP.TYPE_SFIXED32: "sfixed32",
    _FDP.TYPE_SFIXED64: "sfixed64",
    _FDP.TYPE_SINT32: "sint32",
    _FDP.TYPE_SINT64: "sint64",
    _FDP.TYPE_ENUM: "enum",
    _FDP.TYPE_MESSAGE: "message",
}
# Tag numbers of FileDescriptorProto / DescriptorProto members, for source-info paths.
_MESSAGE_TYPE, _ENUM_TYPE, _FIELD, _NESTED = 4, 5, 2, 3


def find_proto_files(root: Path) -> list[str]:
    """Every .proto file below ``root``, as sorted paths relative to it."""
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*.proto"))


def compile_descriptor_set(root: Path, files: Sequence[str]) -> descriptor_pb2.FileDescriptorSet:
    """Run protoc in-process over ``files`` (relative to ``root``), with imports and comments.

    Raises:
        SchemaError: protoc rejected the files; its messages are included.
    """
    include = resources.files("grpc_tools") / "_proto"
    with tempfile.TemporaryDirectory(prefix="srmlink-protoc-") as tmp:
        out = Path(tmp) / "set.pb"
        errors = Path(tmp) / "stderr.txt"
        args = [
            "protoc",
            f"-I{root}",
            f"-I{include}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *files,
        ]
        # protoc writes diagnostics to file descriptor 2 from C++: capture it there.
        saved = os.dup(2)
        with errors.open("wb") as err:
            os.dup2(err.fileno(), 2)
            try:
                code = protoc.main(args)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
        if code != 0:
            detail = errors.read_text(errors="replace").strip()
            raise SchemaError(f"protoc failed on {root} (exit {code}): {detail}")
        return descriptor_pb2.FileDescriptorSet.FromString(out.read_bytes())


def load_protos(root: Path) -> ProtoSchema:
    """Load every .proto file below ``root``."""
    files = find_proto_files(root)
    if not files:
        raise SchemaError(f"no .proto files under {root}")
    fds = compile_descriptor_set(root, files)
    messages: list[ProtoMessage] = []
    enums: list[ProtoEnum] = []
    for file in fds.file:
        if file.package != PACKAGE:
            continue
        comments = _comments(file)
        token = file.name.split("/")[0] if "/" in file.name else None
        for i, msg in enumerate(file.message_type):
            messages.append(_message(msg, (_MESSAGE_TYPE, i), file.name, token, comments))
        for i, enum in enumerate(file.enum_type):
            values = tuple(ProtoEnumValue(v.name, v.number) for v in enum.value)
            enums.append(ProtoEnum(enum.name, values, comments.get((_ENUM_TYPE, i), "")))
    return ProtoSchema(tuple(messages), tuple(enums), tuple(files))


def _comments(file: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], str]:
    found: dict[tuple[int, ...], str] = {}
    for loc in file.source_code_info.location:
        text = loc.leading_comments or loc.trailing_comments
        if text.strip():
            found[tuple(loc.path)] = _clean(text)
    return found


def _clean(text: str) -> str:
    return " ".join(line.strip().lstrip("*").strip() for line in text.splitlines()).strip()


def _message(
    msg: descriptor_pb2.DescriptorProto,
    path: tuple[int, ...],
    file: str,
    token: str | None,
    comments: dict[tuple[int, ...], str],
) -> ProtoMessage:
    fields = tuple(_field(f, (*path, _FIELD, j), comments) for j, f in enumerate(msg.field))
    nested = tuple(
        _message(n, (*path, _NESTED, k), file, token, comments)
        for k, n in enumerate(msg.nested_type)
    )
    return ProtoMessage(msg.name, file, token, comments.get(path, ""), fields, nested)


def _field(
    field: descriptor_pb2.FieldDescriptorProto,
    path: tuple[int, ...],
    comments: dict[tuple[int, ...], str],
) -> ProtoField:
    kind = _SCALARS.get(field.type, "unknown")
    type_name = field.type_name.rsplit(".", 1)[-1] if field.type_name else None
    return ProtoField(
        name=field.name,
        number=field.number,
        type=kind,
        type_name=type_name,
        repeated=field.label == _FDP.LABEL_REPEATED,
        comment=comments.get(path, ""),
    )


def iter_all(messages: Iterable[ProtoMessage]) -> Iterable[ProtoMessage]:
    """Top-level messages and their nested ones, depth first."""
    for msg in messages:
        yield msg
        yield from iter_all(msg.nested)

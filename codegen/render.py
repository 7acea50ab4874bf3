"""Render the IR to Python source: a pure ``render(schema) -> {path: text}``.

Templates only lay text out; every decision (names, imports, types) is made here or in the IR.
Writing to disk is :mod:`srmlink.codegen.writer`'s job.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterable

from attrs import frozen
from jinja2 import Environment, PackageLoader, StrictUndefined

from . import GENERATOR_VERSION
from .ir import EnumType, Field, Message, Schema, Undefined

__all__ = ["RUNTIME_API", "render"]

# The runtime API generation targets; the runtime refuses modules generated for another one.
RUNTIME_API = 1

_PY_TYPES = {
    "Float": "float", "Double": "float", "Byte": "int", "Short": "int", "UShort": "int",
    "Int": "int", "UInt": "int", "Long": "int", "ULong": "int", "String": "str", "Text1": "str",
    "Text2": "str", "DateTime": "datetime", "TimeSpan": "timedelta", "DateKey": "date",
    "TickerKey": "TickerKey", "ExpiryKey": "ExpiryKey", "OptionKey": "OptionKey",
}  # fmt: skip
_DATETIME_NAMES = ("date", "datetime", "timedelta")
_KEY_NAMES = ("ExpiryKey", "OptionKey", "TickerKey")


@frozen
class _ModuleView:
    """What one token module's template needs beyond the IR: its imports."""

    token: str
    messages: tuple[Message, ...]
    datetime_imports: tuple[str, ...]
    key_imports: tuple[str, ...]
    enum_imports: tuple[tuple[str, str], ...]
    base_imports: tuple[str, ...]
    exports: tuple[str, ...]


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader(__name__.rpartition(".")[0], "templates"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["doc"] = _docstring
    env.filters["py_type"] = _py_type
    env.filters["pyrepr"] = _literal
    env.filters["spec"] = _spec
    env.filters["message_facts"] = _message_facts
    env.filters["enum_facts"] = _enum_facts
    env.filters["enum_base"] = enum_base
    env.filters["declaration"] = _field_declaration
    env.filters["attributes"] = _attributes_section
    env.globals["pkey_declaration"] = _pkey_declaration
    env.globals["call"] = _call
    env.globals["hash_arg"] = _hash_arg
    env.globals["reexport"] = _reexport
    return env


def _literal(value: object) -> str:
    """A Python literal; strings double-quoted, as the rest of the code base writes them."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


_LINE = 100


def _docstring(text: str, indent: int = 4) -> str:
    """Text safe inside a triple-quoted docstring, wrapped so that lines with the quotes fit."""
    text = _escape_doc(text)
    if text.endswith('"'):
        text += " "
    lines = textwrap.wrap(text, width=_LINE - indent - 6) or [""]
    return ("\n" + " " * indent).join(line.rstrip() for line in lines)


def _escape_doc(text: str) -> str:
    return " ".join(text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"').split())


def _call(name: str, args: list[str], indent: int) -> str:
    """``name(a, b)`` on one line when it fits (with a trailing comma), else one arg a line."""
    flat = f"{name}({', '.join(args)})"
    if indent + len(flat) + 1 <= _LINE:
        return flat
    inner = " " * (indent + 4)
    return f"{name}(\n" + "".join(f"{inner}{a},\n" for a in args) + " " * indent + ")"


def _hash_arg(message: Message | Undefined) -> list[str]:
    """A registry entry's schemaHash argument: left out (the default, None) when unknown."""
    return [] if message.schema_hash is None else [_literal(message.schema_hash)]


def _reexport(module: str, name: str) -> str:
    """A TYPE_CHECKING re-export line (indented 4), wrapped as isort would when too long."""
    line = f"    from .{module} import {name} as {name}"
    if len(line) <= _LINE:
        return line
    return f"    from .{module} import (\n        {name} as {name},\n    )"


def _declaration(name: str, annotation: str, sr_type: str, description: str, doc: str) -> str:
    """An optional attribute declared with ``attrs.field``, followed by its docstring.

    The description travels in the field's metadata (with the SR type) for code that reads
    ``attrs.fields``; the attribute docstring is what IDE hovers show. Lines are split as ruff
    format would split them, long descriptions into implicitly concatenated pieces.
    """
    head = f"    {name}: {annotation} | None = attrs.field("
    if len(head) > _LINE:
        head = f"    {name}: (\n        {annotation} | None\n    ) = attrs.field("
    description = " ".join(description.split())
    args = (
        f'default=None, metadata={{"description": {_literal(description)}, "sr_type": "{sr_type}"}}'
    )
    if "\n" not in head and len(head) + len(args) + 1 <= _LINE:
        return f'{head}{args})\n    """{_docstring(doc)}"""'
    if len(args) + 8 <= _LINE:
        body = f"        {args}\n"
    else:
        # Implicitly concatenated pieces, each ending in the space it was split at.
        pieces = textwrap.wrap(
            description, width=_LINE - 24, break_long_words=False, break_on_hyphens=False
        )
        literals = [_literal(p + " ") for p in pieces[:-1]] + [_literal(pieces[-1])]
        value = (
            literals[0]
            if len(literals) == 1
            and len(literals[0]) <= _LINE - len('            "description": ,')
            else "(\n" + "".join(f"                {x}\n" for x in literals) + "            )"
        )
        body = (
            "        default=None,\n        metadata={\n"
            f'            "description": {value},\n'
            f'            "sr_type": "{sr_type}",\n        }},\n'
        )
    return f'{head}\n{body}    )\n    """{_docstring(doc)}"""'


def _field_declaration(field: Field) -> str:
    return _declaration(
        field.py_name, _py_type(field), field.sr_type, field.description, _field_text(field)
    )


_PKEY_DOC = "Primary key (``pkey`` on the wire)."


def _pkey_declaration(message: Message) -> str:
    assert message.pkey is not None
    return _declaration("pkey", message.pkey.class_name, "PKey", "Primary key", _PKEY_DOC)


def _attributes_section(fields: Iterable[Field], pkey: bool = False) -> str:
    """A Google-style ``Attributes:`` section (what help() and IDEs show), indented for a class
    docstring; empty when there are no fields."""
    entries = [("pkey", _PKEY_DOC)] if pkey else []
    entries += [(f.py_name, _field_text(f)) for f in fields]
    if not entries:
        return ""
    lines = ["", "    Attributes:"]
    for name, text in entries:
        lines += textwrap.wrap(
            f"{name}: {_escape_doc(text)}",
            width=_LINE - 4,
            initial_indent=" " * 8,
            subsequent_indent=" " * 12,
        )
    return "\n".join(line.rstrip() for line in lines) + "\n"


def _py_type(field: Field) -> str:
    if field.group is not None:
        return f"tuple[{field.group}, ...]"
    if field.enum is not None:
        return field.enum
    return _PY_TYPES[field.sr_type]


def _all_fields(message: Message) -> Iterable[Field]:
    if message.pkey is not None:
        yield from message.pkey.fields
    yield from message.fields
    for group in message.groups:
        yield from group.fields


def _class_names(message: Message) -> list[str]:
    names = [message.name, *(g.class_name for g in message.groups)]
    if message.pkey is not None:
        names.append(message.pkey.class_name)
    return names


def _module_view(
    token: str, messages: tuple[Message, ...], enum_modules: dict[str, str]
) -> _ModuleView:
    fields = [f for m in messages for f in _all_fields(m)]
    types = {_py_type(f) for f in fields if f.group is None}
    enums = sorted({f.enum for f in fields if f.enum is not None})
    bases = {"FieldSpec", "Message", "MessageSpec"}
    if any(m.groups for m in messages):
        bases.add("Group")
    if any(m.pkey is not None for m in messages):
        bases.add("PrimaryKey")
    return _ModuleView(
        token=token,
        messages=messages,
        datetime_imports=tuple(n for n in _DATETIME_NAMES if n in types),
        key_imports=tuple(n for n in _KEY_NAMES if n in types),
        enum_imports=tuple(sorted((enum_modules[e], e) for e in enums)),
        base_imports=tuple(sorted(bases)),
        exports=tuple(sorted(n for m in messages for n in _class_names(m))),
    )


def _field_text(field: Field) -> str:
    facts = f"Wire ``{field.wire_name}``, {field.sr_type}"
    if field.proto_number is not None:
        facts += f", proto field {field.proto_number}"
    else:
        facts += ", JSON only"
    return f"{field.description.rstrip('.')}. {facts}." if field.description else f"{facts}."


def _spec(field: Field) -> str:
    ref = field.group or field.enum or (field.sr_type if field.sr_type in _KEY_NAMES else None)
    args = [
        _literal(field.py_name),
        _literal(field.wire_name),
        _literal(field.sr_type),
        _literal(field.proto_number),
        _literal(field.proto_type),
    ]
    if ref is not None:
        args.append(ref)
    return _call("FieldSpec", args, 12)


_ORIGIN_NOTES = {
    "both": "",
    "dictionary": " Defined only by the data dictionary: JSON encodings only.",
    "proto": " Defined only by the .proto files: JSON names follow proto3's camelCase rule.",
}


def _message_facts(message: Message) -> str:
    number = f"message number {message.mnum}" if message.mnum is not None else "no message number"
    key = (
        "primary key " + ", ".join(f.wire_name for f in message.pkey.fields)
        if message.pkey is not None
        else "no primary key"
    )
    return f"Token ``{message.token}``, {number}, {key}.{_ORIGIN_NOTES[message.origin.value]}"


def _enum_facts(enum: EnumType) -> str:
    kind = "Bit flags" if enum.is_flag else "Values"
    return f"{kind}: " + ", ".join(
        f"{m.wire_name}={m.number if m.number is not None else '(JSON only)'}" for m in enum.members
    )


def render(schema: Schema) -> dict[str, str]:
    """Every generated file, by path relative to the ``srmlink.messages`` package folder."""
    env = _environment()
    header = {
        "generator_version": GENERATOR_VERSION,
        "label": schema.label,
        "fingerprint": schema.fingerprint,
        "runtime_api": RUNTIME_API,
    }
    enum_modules = {e.name: f"_enum_{e.module}" for e in schema.enums}
    out: dict[str, str] = {}
    by_token: dict[str, list[Message]] = {}
    for message in schema.messages:
        by_token.setdefault(message.module, []).append(message)
    module_template = env.get_template("token_module.py.jinja")
    for module, messages in sorted(by_token.items()):
        view = _module_view(messages[0].token, tuple(messages), enum_modules)
        out[f"{module}.py"] = module_template.render(view=view, enum_modules=enum_modules, **header)
    enum_template = env.get_template("enum_module.py.jinja")
    for enum in schema.enums:
        out[f"{enum_modules[enum.name]}.py"] = enum_template.render(enum=enum, **header)
    out["enums.py"] = env.get_template("enums_index.py.jinja").render(
        enums=schema.enums,
        enum_modules=enum_modules,
        by_module=sorted((module, name) for name, module in enum_modules.items()),
        **header,
    )
    class_imports = [
        (module, sorted(n for m in messages for n in _class_names(m)))
        for module, messages in sorted(by_token.items())
    ]
    exports = sorted([n for _, names in class_imports for n in names] + ["registry"])
    out["_index.py"] = env.get_template("index.py.jinja").render(
        schema=schema,
        class_imports=class_imports,
        class_table=sorted((n, module) for module, names in class_imports for n in names),
        exports=exports,
        **header,
    )
    return out


def enum_base(enum: EnumType) -> str:
    """The runtime base class of an enum type."""
    return "SRFlag" if enum.is_flag else "SREnum"

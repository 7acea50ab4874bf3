"""Every naming rule of the generator: snake / camel / class names, reserved words, modules.

Kept in one module so the reconciler and the templates never invent names of their own.
"""

from __future__ import annotations

import builtins
import keyword
import re

__all__ = [
    "RESERVED_ATTRIBUTES",
    "enum_member_name",
    "module_name",
    "normalise",
    "pascal",
    "proto_enum_suffix",
    "proto_json_name",
    "safe_attribute",
    "snake",
]

# Words SpiderRock spells with an odd capital that should stay one word in snake case.
_WORDS = (("MLink", "Mlink"),)
_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NON_IDENT = re.compile(r"[^0-9a-zA-Z_]+")
# Single letters easily misread as digits (pycodestyle E741).
_AMBIGUOUS = frozenset({"I", "O", "L"})

# Names the generated classes define themselves (class attributes and methods of the runtime's
# message base class); a field with such a name gets a trailing underscore.
RESERVED_ATTRIBUTES = frozenset({"MSG_NAME", "MSG_NUM", "TOKEN", "SPEC", "fields", "parse"})
# Names the generated modules import: a field named like one would shadow it in class bodies.
_TYPE_NAMES = frozenset({"date", "datetime", "timedelta"})


def normalise(name: str) -> str:
    """Match key for names across sources: ``bid_price``, ``bidPrice`` and ``BIDPRICE`` agree."""
    return name.replace("_", "").lower()


def snake(name: str) -> str:
    """``bidPrice`` -> ``bid_price``; ``atmEMA`` -> ``atm_ema``; ``sessionID`` -> ``session_id``."""
    for word, replacement in _WORDS:
        name = name.replace(word, replacement)
    parts = [p for p in _BOUNDARY.sub("_", _NON_IDENT.sub("_", name)).split("_") if p]
    return "_".join(p.lower() for p in parts)


def safe_attribute(name: str) -> str:
    """A Python identifier for an attribute: keywords, builtins and reserved names get ``_``."""
    if name and name[0].isdigit():
        name = f"n{name}"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED_ATTRIBUTES:
        return f"{name}_"
    if name in _TYPE_NAMES or (name in dir(builtins) and not name.startswith("_")):
        return f"{name}_"
    return name


def module_name(token: str) -> str:
    """Module of a token: ``OptMktData`` -> ``opt_mkt_data``, ``MLinkWs`` -> ``mlink_ws``."""
    return safe_attribute(snake(token)) if token else "misc"


def enum_member_name(wire_name: str) -> str:
    """``PrcChange`` -> ``PRC_CHANGE``; ``None`` -> ``NONE``; ``V7_Stable`` -> ``V7_STABLE``."""
    name = snake(wire_name).upper() or "EMPTY"
    if name in _AMBIGUOUS:
        return f"{name}_"
    return f"N{name}" if name[0].isdigit() else name


def proto_json_name(proto_name: str) -> str:
    """protoc's default JSON name: ``bid_price`` -> ``bidPrice``, ``msg_pKey`` -> ``msgPKey``."""
    out: list[str] = []
    upper_next = False
    for ch in proto_name:
        if ch == "_":
            upper_next = True
        elif upper_next:
            out.append(ch.upper())
            upper_next = False
        else:
            out.append(ch)
    return "".join(out)


def proto_enum_suffix(enum_name: str, value_name: str) -> str:
    """``UPDATETYPE_PRC_CHANGE`` of ``UpdateType`` -> ``PRC_CHANGE`` (drops the enum prefix)."""
    prefix = enum_name.upper() + "_"
    return value_name[len(prefix) :] if value_name.startswith(prefix) else value_name


def pascal(name: str) -> str:
    """``PRC_CHANGE`` -> ``PrcChange``; ``msg_types`` -> ``MsgTypes`` (proto names to SR style)."""
    parts = [p for p in name.split("_") if p]
    if not any(ch.islower() for ch in name):
        return "".join(p[:1].upper() + p[1:].lower() for p in parts)
    return "".join(p[:1].upper() + p[1:] for p in parts)

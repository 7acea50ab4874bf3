"""The reconciliation report: a printed summary and the full JSON form."""

from __future__ import annotations

import json
from collections import Counter

from .ir import Origin, Schema

__all__ = ["report_json", "summary"]


def _counts(schema: Schema) -> dict[str, object]:
    origins = Counter(m.origin.value for m in schema.messages)
    fields = sum(
        len(m.fields) + (len(m.pkey.fields) if m.pkey else 0) + sum(len(g.fields) for g in m.groups)
        for m in schema.messages
    )
    return {
        "messages": len(schema.messages),
        "messages_by_origin": {o.value: origins.get(o.value, 0) for o in Origin},
        "messages_without_number": sum(1 for m in schema.messages if m.mnum is None),
        "undefined_message_types": len(schema.undefined),
        "fields": fields,
        "enums": len(schema.enums),
        "enum_members": sum(len(e.members) for e in schema.enums),
        "tokens": len({m.token for m in schema.messages}),
        "issues": dict(sorted(Counter(i.kind for i in schema.issues).items())),
    }


def summary(schema: Schema) -> str:
    """A short human-readable account: what was reconciled, and each kind of disagreement."""
    c = _counts(schema)
    by_origin = c["messages_by_origin"]
    assert isinstance(by_origin, dict)
    lines = [
        f"schema {schema.label} (fingerprint {schema.fingerprint})",
        f"  messages reconciled: {c['messages']} (both sources {by_origin['both']}, "
        f"dictionary only {by_origin['dictionary']}, proto only {by_origin['proto']}); "
        f"without mNum {c['messages_without_number']}; "
        f"known by name and number only {c['undefined_message_types']}",
        f"  fields: {c['fields']}; enums: {c['enums']} ({c['enum_members']} values); "
        f"tokens: {c['tokens']}",
    ]
    issues = c["issues"]
    assert isinstance(issues, dict)
    total = sum(issues.values())
    lines.append(f"  disagreements and gaps: {total}")
    lines.extend(f"    {kind}: {count}" for kind, count in issues.items())
    return "\n".join(lines)


def report_json(schema: Schema) -> str:
    """Every count and every issue, as stable, sorted JSON."""
    data = {
        "schema": schema.label,
        "fingerprint": schema.fingerprint,
        "counts": _counts(schema),
        "undefined_message_types": [
            {"name": u.name, "mNum": u.mnum, "token": u.token} for u in schema.undefined
        ],
        "issues": [
            {"kind": i.kind, "message": i.message, "field": i.field, "detail": i.detail}
            for i in sorted(
                schema.issues, key=lambda i: (i.kind, i.message or "", i.field or "", i.detail)
            )
        ],
    }
    return json.dumps(data, indent=2, sort_keys=False) + "\n"

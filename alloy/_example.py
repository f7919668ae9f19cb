"""An example instance of a JSON schema, for prompts that state the expected shape.

A small model shown only a schema often answers with the schema itself
(``{"type": "object", "properties": ...}``). Shown an instance beside it, it copies the shape and
fills in values. The instance only has to have the right shape: placeholder values, one item per
list, the first branch of a union, recursion cut short.
"""

from __future__ import annotations

from typing import Any, cast

__all__ = ["example_instance"]

_FORMATS = {
    "date-time": "2025-01-31T12:00:00Z",
    "date": "2025-01-31",
    "time": "12:00:00",
    "duration": "P1D",
    "email": "name@example.com",
    "uuid": "123e4567-e89b-42d3-a456-426614174000",
    "uri": "https://example.com",
    "hostname": "example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
}
_MAX_DEPTH = 4


def example_instance(schema: dict[str, Any]) -> Any:
    """A value with the shape *schema* describes (``$defs`` at its root are resolved)."""
    return _example(schema, schema.get("$defs", {}), 0)


def _is_null(s: Any) -> bool:
    return isinstance(s, dict) and cast("dict[str, Any]", s).get("type") == "null"


def _example(s: Any, defs: dict[str, Any], depth: int) -> Any:
    if not isinstance(s, dict):
        return None
    d = cast("dict[str, Any]", s)
    if "const" in d:
        return d["const"]
    if enum := d.get("enum"):
        return cast("list[Any]", enum)[0]
    if isinstance(ref := d.get("$ref"), str):
        target = defs.get(ref.rsplit("/", 1)[-1])
        return None if target is None or depth >= _MAX_DEPTH else _example(target, defs, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        if branches := cast("list[Any]", d.get(key) or []):
            real = [b for b in branches if not _is_null(b)]
            return _example((real or branches)[0], defs, depth)
    types = d.get("type")
    kind = (
        next((t for t in cast("list[Any]", types) if t != "null"), "null")
        if isinstance(types, list)
        else types
    )
    if kind == "object" or "properties" in d:
        props = cast("dict[str, Any]", d.get("properties") or {})
        return {k: _example(v, defs, depth + 1) for k, v in props.items()}
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return []
        if prefix := cast("list[Any]", d.get("prefixItems") or []):
            return [_example(p, defs, depth + 1) for p in prefix]
        return [_example(d.get("items", {}), defs, depth + 1)]
    if kind == "string":
        return _FORMATS.get(str(d.get("format")), "text")
    if kind in ("integer", "number"):
        if "minimum" in d:
            value = d["minimum"]
        elif "exclusiveMinimum" in d:
            value = d["exclusiveMinimum"] + 1
        else:
            value = min(1, d.get("maximum", 1))
        return int(value) if kind == "integer" else float(value)
    if kind == "boolean":
        return True
    return None

"""The form of an answer, for prompts that state the expected shape: ``{"name": <string>, "age": <integer>}``.

Where a server does not enforce the schema, a small model shown only the schema often answers with
the schema itself (``{"type": "object", "properties": ...}``); shown an example instance, it copies
the instance's placeholder values (``{"name": "text", "age": 1}``). A form with a ``<...>`` slot for
each value is not valid JSON until the model fills the slots in, so neither can be copied
(measured on SmolLM2-135M: docs/local-models.md).
"""

from __future__ import annotations

import json
from typing import Any, cast

__all__ = ["answer_form"]


def answer_form(schema: dict[str, Any]) -> str:
    """The shape *schema* describes, with a ``<kind>`` slot for each value (``$defs`` resolved)."""
    defs: dict[str, Any] = schema.get("$defs", {})
    title = schema.get("title")
    return _form(schema, defs, (title,) if title in defs else ())  # a recursive root is its own def


def _is_null(branch: Any) -> bool:
    return isinstance(branch, dict) and cast("dict[str, Any]", branch).get("type") == "null"


def _form(s: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> str:
    if not isinstance(s, dict) or not s:
        return "<any JSON value>"
    d = cast("dict[str, Any]", s)
    if "const" in d:
        return json.dumps(d["const"])
    if enum := cast("list[Any]", d.get("enum") or []):
        return json.dumps(enum[0]) if len(enum) == 1 else f"<one of {', '.join(json.dumps(v) for v in enum)}>"
    if isinstance(ref := d.get("$ref"), str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen or name not in defs:  # recursion: name the type instead of expanding it again
            return f"<{name}>"
        return _form(defs[name], defs, (*seen, name))
    for key in ("anyOf", "oneOf"):
        if branches := cast("list[Any]", d.get(key) or []):
            real = [b for b in branches if not _is_null(b)]
            forms = [_form(b, defs, seen) for b in real] + (["null"] if len(real) < len(branches) else [])
            return " or ".join(forms)
    if all_of := cast("list[Any]", d.get("allOf") or []):
        return _form(all_of[0], defs, seen)
    types = d.get("type")
    if isinstance(types, list):
        real = [t for t in cast("list[Any]", types) if t != "null"]
        forms = [_form({**d, "type": t}, defs, seen) for t in real]
        return " or ".join(forms + (["null"] if len(real) < len(cast("list[Any]", types)) else []))
    if types == "object" or "properties" in d:
        props = cast("dict[str, Any]", d.get("properties") or {})
        if not props:
            return "{<key>: <value>, ...}"
        return "{" + ", ".join(f"{json.dumps(k)}: {_form(v, defs, seen)}" for k, v in props.items()) + "}"
    if types == "array":
        if prefix := cast("list[Any]", d.get("prefixItems") or []):
            return "[" + ", ".join(_form(p, defs, seen) for p in prefix) + "]"
        return f"[{_form(d.get('items', {}), defs, seen)}, ...]"
    if types == "string":
        return f"<{d['format']}>" if isinstance(d.get("format"), str) else "<string>"
    if types == "boolean":
        return "<true or false>"
    if types in ("integer", "number"):
        return f"<{types}>"
    return "null" if types == "null" else "<any JSON value>"

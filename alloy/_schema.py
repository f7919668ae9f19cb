"""Schema compilation per provider dialect, as lossless encode/decode pairs.

Each provider's structured output accepts a subset of JSON Schema. ``compile_schema`` rewrites the
pydantic schema into the strictest form the dialect accepts, and returns with it the codec that
carries values between the two shapes:

- a shape the dialect cannot express is re-encoded and decoded back: ``dict[str, T]`` as a list of
  ``{key, value}`` pairs, a tuple as ``{item_0, item_1, ...}``, an optional field as a required
  nullable one (decode drops the null so the pydantic default applies);
- a keyword the dialect does not accept moves into the description as text; the caller's original
  TypeAdapter still enforces it;
- recursion the dialect does not accept is inlined to a bounded depth;
- a type it cannot express at all (``Any``, a free-form object) makes a dialect with a strict mode
  fall back to the original schema, not strict, with a note saying why.

A dialect is data (``_Rules``) read by one recursive compiler. The codec is a tree of small
functions built during compilation, memoised per ``$defs`` name so recursive types resolve lazily.
Decoding never raises: a value not in the expected shape passes through for validation to report.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from .providers import SchemaDialect

__all__ = ["Compiled", "compile_schema"]

_Fn = Callable[[Any], Any]
_Codec = tuple[_Fn, _Fn] | None
"""(encode, decode); ``None`` is the identity, so a subtree that needs no re-encoding costs nothing."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_DEFS = "#/$defs/"
# Annotations only: union tags stay in the branches. A default is no dialect's keyword either (the
# TypeAdapter applies it), but the model should know it: it moves into the description as text.
_DROPPED = _words("discriminator $schema $id $anchor $comment readOnly writeOnly")
_SHAPES = _words("type enum const anyOf oneOf allOf $ref properties items prefixItems")  # else Any
_DICT_KEYS = _words("properties required additionalProperties patternProperties propertyNames")
_TUPLE_KEYS = _words("prefixItems items minItems maxItems")
_PRIMITIVES = _words("string integer number boolean")
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!")


@dataclass(frozen=True, slots=True)
class Compiled:
    """A schema compiled for one dialect, with the codec between the two value shapes.

    Attributes:
        schema: the schema to send.
        strict: ``schema`` obeys the dialect's constrained-decoding rules in full, so a strict flag
            may be set: OpenAI ``strict: true``; Anthropic ``output_config.format`` or a strict
            tool. ``False`` after a fallback, and always for ``gemini`` (no strict flag) and ``plain``.
        notes: in words, each transform applied, each constraint moved and each fallback.
    """

    schema: dict[str, Any]
    strict: bool
    notes: tuple[str, ...]
    _codec: _Codec = field(default=None, repr=False, compare=False)

    def encode(self, value: Any) -> Any:
        """A JSON value in the original schema's shape, in the shape ``schema`` describes."""
        return _run(self._codec, 0, value)

    def decode(self, value: Any) -> Any:
        """The provider's answer in the original shape; what does not fit passes through unchanged."""
        return _run(self._codec, 1, value)


@dataclass(frozen=True, slots=True)
class _Rules:
    """What one dialect accepts, as data."""

    keep: frozenset[str]  # keywords sent as they are
    formats: frozenset[str] | None = None  # string formats accepted; None: all
    closed: bool = False  # every object needs additionalProperties: false (so dicts become pairs)
    all_required: bool = False  # every property required: optional ones become nullable
    tuples: bool = False  # prefixItems not accepted: tuples become {item_0, ...}
    recursion: Literal["refs", "guarded", "inline"] = "refs"  # guarded: cycles via optional properties
    depth: int = 3  # how deep recursion is inlined where the dialect does not accept it
    lookaround: bool = True  # regex lookaround accepted in pattern
    min_items_cap: int | None = None  # largest minItems accepted
    enum_bool_null: bool = True  # enum and const may hold booleans and null
    const_as_enum: bool = False  # const not accepted, a one-value enum is
    strict: bool = False  # constrained decoding behind a strict flag: fall back when inexpressible


_FORMATS = _words("date-time time date duration email hostname ipv4 ipv6 uuid")
_RULES: dict[str, _Rules] = {
    # OpenAI Structured Outputs, strict (platform.openai.com/docs/guides/structured-outputs): no
    # string lengths, uniqueItems, propertyNames, min/maxProperties; no lookaround in patterns.
    "openai_strict": _Rules(
        keep=_words("type title description enum const pattern format minItems maxItems minimum maximum")
        | _words("exclusiveMinimum exclusiveMaximum multipleOf"),
        formats=_FORMATS,
        closed=True,
        all_required=True,
        tuples=True,
        lookaround=False,
        strict=True,
    ),
    # Anthropic structured outputs: no recursion, no numeric or length bounds, minItems 0 or 1, the
    # string formats the SDK's own transform_schema keeps (anthropic/lib/_parse/_transform.py).
    "anthropic": _Rules(
        keep=_words("type title description enum const format minItems"),
        formats=_FORMATS | {"uri"},
        closed=True,
        tuples=True,
        recursion="inline",
        min_items_cap=1,
        strict=True,
    ),
    # Gemini response_json_schema (its docstring in google.genai.types.GenerationConfig): enum of
    # strings and numbers, no const, pattern or lengths; cycles only through non-required properties.
    "gemini": _Rules(
        keep=_words("type title description enum format minItems maxItems minimum maximum"),
        recursion="guarded",
        enum_bool_null=False,
        const_as_enum=True,
    ),
}


def compile_schema(schema: dict[str, Any], dialect: SchemaDialect) -> Compiled:
    """Compile a pydantic JSON schema with an object root for *dialect*; *schema* is not mutated.

    Args:
        schema: ``TypeAdapter(tp).json_schema()``, with an object root and ``$defs`` at the top.
        dialect: the provider's schema dialect; ``plain`` sends the schema unchanged.

    Returns:
        The schema to send, whether it is strict, the notes and the value codec.
    """
    original = copy.deepcopy(schema)
    if dialect == "plain":
        return Compiled(original, False, ())
    rules = _RULES[dialect]
    compiler = _Compiler(rules, dialect, original.get("$defs", {}))
    root = {k: v for k, v in original.items() if k != "$defs"}
    name = _ref_name(root.get("$ref"))
    if name is not None and name in compiler.defs:  # a recursive model: the root must be the object
        out, codec = compiler.inline_ref(name, {k: v for k, v in root.items() if k != "$ref"}, "$")
    else:
        out, codec = compiler.node(root, "$")
    if rules.closed and out.get("type") != "object":
        compiler.reasons.append("a non-object root at $")
    reasons = list(dict.fromkeys(compiler.reasons))
    if reasons and rules.strict:
        return Compiled(original, False, tuple(f"not strict: {r} cannot be expressed" for r in reasons))
    if compiler.out_defs:
        out["$defs"] = compiler.out_defs
    notes = [*compiler.notes, *(f"{r} sent as it is" for r in reasons)]
    return Compiled(out, rules.strict, tuple(dict.fromkeys(notes)), codec)


class _Compiler:
    def __init__(self, rules: _Rules, dialect: str, defs: dict[str, Any]) -> None:
        self.r, self.dialect, self.defs = rules, dialect, defs
        self.out_defs: dict[str, Any] = {}
        self.codecs: dict[str, _Codec] = {}  # per $defs name; a lazy one while the def compiles
        self.notes: list[str] = []
        self.reasons: list[str] = []  # what the dialect cannot express
        self.stack: list[str] = []  # defs being inlined, for the depth bound
        self.pair_outs: set[int] = set()  # ids of the schemas made by ``pairs`` (dicts sent as lists)
        self.inline = set[str]() if rules.recursion == "refs" else _cyclic(defs, rules.recursion == "guarded")

    def cannot(self, s: Any, path: str, what: str) -> tuple[Any, _Codec]:
        self.reasons.append(f"{what} at {path}")
        return s, None

    def node(self, s: Any, path: str) -> tuple[Any, _Codec]:
        if (d := _as_dict({} if s is True else s)) is None:
            return self.cannot(s, path, "a false schema")
        if (all_of := _as_list(d.get("allOf"))) is not None and len(all_of) == 1:  # siblings win
            d = {**all_of[0], **{k: v for k, v in d.items() if k != "allOf"}}
        enum = _as_list(d.get("enum")) or []
        if "allOf" in d:
            return self.cannot(d, path, "an allOf of several schemas")
        if "$ref" in d:
            return self.ref(d, path)
        if None in enum and not self.r.enum_bool_null:  # Literal["a", None]: a null branch instead
            d = {"anyOf": [{**d, "enum": [e for e in enum if e is not None]}, {"type": "null"}]}
        if "anyOf" in d or "oneOf" in d:
            return self.union(d, path)
        if d.get("type") == "object" or "properties" in d:
            return self.obj(d, path)
        if d.get("type") == "array":
            return self.array(d, path)
        if self.r.closed and not _SHAPES & d.keys():
            return self.cannot(d, path, "Any (a schema without a type)")
        return self.finish(d, {}, path), None

    def finish(self, s: dict[str, Any], out: dict[str, Any], path: str, skip: Iterable[str] = ()) -> Any:
        """Copy the keywords the dialect accepts into *out*; move the others into its description."""
        moved: list[str] = []
        default = ""
        for k, v in s.items():
            if k in out or k in skip or k in _DROPPED:
                continue
            if k == "default":
                if v is not None:  # a None default is already said by the field being nullable
                    default = f"Default: {_shown(v)}."
                    self.notes.append(f"default {_shown(v)} at {path} moved into the description")
                continue
            if self.accepts(k, v):
                out[k] = v
            elif k == "const" and self.r.const_as_enum and self.accepts("enum", [v]):
                out["enum"] = [v]
                self.notes.append(f"const at {path} sent as a one-value enum")
            else:
                moved.append(f"{k}={json.dumps(v)}")
                self.notes.append(f"{moved[-1]} at {path} moved into the description")
        texts = [f"{'Constraints' if len(moved) > 1 else 'Constraint'}: {', '.join(moved)}."] if moved else []
        if texts or default:
            text = " ".join([*texts, *([default] if default else [])])
            out["description"] = f"{s['description']}\n\n{text}" if s.get("description") else text
        return out

    def accepts(self, k: str, v: Any) -> bool:
        r = self.r
        if k not in r.keep:
            return False
        if k == "format":
            return r.formats is None or v in r.formats
        if k == "pattern":
            return r.lookaround or not any(t in str(v) for t in _LOOKAROUND)
        if k == "minItems":
            return r.min_items_cap is None or v <= r.min_items_cap
        if k in ("enum", "const") and not r.enum_bool_null:
            values = _as_list(v) if k == "enum" else [v]
            return values is not None and all(type(x) in (str, int, float) for x in values)
        return True

    def ref(self, s: dict[str, Any], path: str) -> tuple[Any, _Codec]:
        name = _ref_name(s["$ref"])
        if name is None or name not in self.defs:
            return self.cannot(s, path, f"the unresolvable $ref {s['$ref']!r}")
        rest = {k: v for k, v in s.items() if k != "$ref"}
        if name in self.inline:
            return self.inline_ref(name, rest, path)
        if name not in self.codecs:
            self.codecs[name] = self.lazy(name)  # recursive references resolve at call time
            self.out_defs[name], self.codecs[name] = self.node(self.defs[name], f"$.$defs.{name}")
        target = {"$ref": _DEFS + name}
        out = self.finish(rest, {}, path)  # no dialect accepts siblings next to $ref: wrap them
        return ({"anyOf": [target], **out} if out else target), self.codecs[name]

    def inline_ref(self, name: str, rest: dict[str, Any], path: str) -> tuple[Any, _Codec]:
        if (depth := self.stack.count(name)) >= self.r.depth:
            self.notes.append(f"recursion at {path} not supported by {self.dialect}: cut at depth {depth}")
            cut = {"type": "null", "description": f"Nesting limit reached: no further {name} here."}
            return cut, self.lazy(name)
        self.stack.append(name)
        out, codec = self.node({**self.defs[name], **rest}, path)
        self.stack.pop()
        self.codecs.setdefault(name, codec)  # for the lazy codec at the depth bound
        return out, codec

    def lazy(self, name: str) -> _Codec:
        codecs = self.codecs
        return _both(lambda v, i: _run(codecs[name], i, v))

    def union(self, s: dict[str, Any], path: str) -> tuple[Any, _Codec]:
        key = "anyOf" if "anyOf" in s else "oneOf"
        if key == "oneOf":
            self.notes.append(f"oneOf at {path} sent as anyOf")
        branches = _as_list(s[key]) or []
        compiled = [self.node(b, f"{path}.{key}[{i}]") for i, b in enumerate(branches)]
        arrays = [self.admits_array(o) for o, _ in compiled]
        for i, (o, c) in enumerate(compiled):
            if id(o) in self.pair_outs and any(a for j, a in enumerate(arrays) if j != i):
                # an empty dict would be [] like an empty list: the pairs go inside an object
                compiled[i] = _entries(o), _entries_codec(c)
                self.notes.append(
                    f"dict[str, T] at {path}.{key}[{i}] sent as {{entries: [...]}} beside a list"
                )
        out = self.finish(s, {"anyOf": [o for o, _ in compiled]}, path, ["oneOf"])
        if all(c is None for _, c in compiled):
            return out, None
        table = [(b, o, c) for b, (o, c) in zip(branches, compiled, strict=True)]
        defs, out_defs = self.defs, self.out_defs

        def encode(v: Any) -> Any:  # the first branch whose original schema the value fits
            return next((_run(c, 0, v) for b, _, c in table if _matches(v, b, defs)), v)

        def decode(v: Any) -> Any:
            # Of the branches the wire value fits, prefer one it fits as it is (what pydantic's own
            # JSON validation of the value would take: `[]` is a list, not an encoded empty dict).
            fits = [(b, c) for b, o, c in table if _matches(v, o, out_defs)]
            as_is = next((c for b, c in fits if _matches(v, b, defs)), None)
            return _run(as_is, 1, v) if as_is is not None or not fits else _run(fits[0][1], 1, v)

        return out, (encode, decode)

    def admits_array(self, s: Any) -> bool:
        d = _as_dict(s) or {}
        if (name := _ref_name(d.get("$ref"))) is not None:
            return self.admits_array(self.out_defs.get(name))
        types = [t] if isinstance(t := d.get("type"), str) else _as_list(t) or []
        return "array" in types or any(self.admits_array(b) for b in _as_list(d.get("anyOf")) or ())

    def obj(self, s: dict[str, Any], path: str) -> tuple[Any, _Codec]:
        props = _as_dict(s.get("properties"))
        extra, names = s.get("additionalProperties"), _as_dict(s.get("propertyNames")) or {}
        patterns = _as_dict(s.get("patternProperties"))
        if props is None and extra is None and patterns is not None and len(patterns) == 1:
            [(pattern, extra)] = patterns.items()  # dict[constr(pattern=p), T]: one key pattern
            names = {**names, "pattern": pattern}
            s = {k: v for k, v in s.items() if k != "patternProperties"}
            s |= {"additionalProperties": extra, "propertyNames": names}
        if self.r.closed and not props and (extra is True or _as_dict(extra) is not None):
            return self.pairs(s, path, {} if extra is True else extra, names)
        if self.r.closed and (extra not in (None, False) or (props is None and extra is None)):
            return self.cannot(s, path, "an object with free-form properties")
        props = props or {}
        required = [k for k in _as_list(s.get("required")) or [] if k in props]
        out_props: dict[str, Any] = {}
        fields: dict[str, _Codec] = {}
        for k, sub in props.items():
            out_props[k], fields[k] = self.node(sub, f"{path}.properties.{k}")
        optional = [k for k in props if k not in required] if self.r.all_required else []
        drop = {k for k in optional if not _matches(None, props[k], self.defs)}  # else keep the null
        for k in optional:
            self.notes.append(f"optional field at {path}.properties.{k} sent as required and nullable")
            out_props[k] = _nullable(out_props[k]) if k in drop else out_props[k]
        out: dict[str, Any] = {"type": "object"}
        if "properties" in s or self.r.closed:  # an empty `properties` would close a free-form object
            out |= {"properties": out_props, "required": list(props) if self.r.all_required else required}
        extra_codec: _Codec = None
        if self.r.closed or isinstance(extra, bool):
            out["additionalProperties"] = False if self.r.closed else extra
        elif extra is not None:
            out["additionalProperties"], extra_codec = self.node(extra, f"{path}.additionalProperties")
        out = self.finish(s, out, path, ["properties", "required", "additionalProperties"])
        return out, _object_codec(fields, extra_codec, optional, drop)

    def pairs(self, s: dict[str, Any], path: str, extra: Any, names: dict[str, Any]) -> tuple[Any, _Codec]:
        key, _ = self.node(names if "$ref" in names else {"type": "string", **names}, f"{path}.propertyNames")
        value, value_codec = self.node(extra, f"{path}.additionalProperties")
        self.notes.append(f"dict[str, T] at {path} encoded as a list of {{key, value}} pairs")
        item = {"type": "object", "properties": {"key": key, "value": value}, "required": ["key", "value"]}
        out = self.finish(
            s, {"type": "array", "items": item | {"additionalProperties": False}}, path, _DICT_KEYS
        )
        self.pair_outs.add(id(out))
        return out, _pairs_codec(value_codec)

    def array(self, s: dict[str, Any], path: str) -> tuple[Any, _Codec]:
        prefix = _as_list(s.get("prefixItems"))
        if prefix is None and s.get("maxItems") == 0 and "items" not in s:
            prefix = []  # tuple[()]
        tail = s.get("items")
        if prefix is not None and self.r.tuples:
            if tail not in (None, False):
                return self.cannot(s, path, "a tuple with a variable-length tail")
            return self.tuple_object(s, prefix, path)
        heads = [self.node(p, f"{path}.prefixItems[{i}]") for i, p in enumerate(prefix or [])]
        out: dict[str, Any] = {"type": "array"} | ({"prefixItems": [o for o, _ in heads]} if heads else {})
        tail_codec: _Codec = None
        if tail is False:
            out["items"] = False
        elif tail is not None or prefix is None:
            out["items"], tail_codec = self.node(tail or {}, f"{path}.items")
        out = self.finish(s, out, path, ["prefixItems", "items"])
        return out, _list_codec([c for _, c in heads], tail_codec)

    def tuple_object(self, s: dict[str, Any], prefix: list[Any], path: str) -> tuple[Any, _Codec]:
        keys = [f"item_{i}" for i in range(len(prefix))]
        required = keys[: s.get("minItems", len(keys))]  # a NamedTuple's defaults make a shorter prefix
        shape = {"type": "object", "properties": dict(zip(keys, prefix, strict=True)), "required": required}
        out, codec = self.obj(shape | {"additionalProperties": False}, path)
        self.notes.append(f"tuple at {path} encoded as an object with keys {', '.join(keys) or '(none)'}")
        return self.finish(s, out, path, _TUPLE_KEYS), _tuple_codec(keys, codec)


def _shown(v: Any) -> str:
    text = json.dumps(v, ensure_ascii=False)
    return text if len(text) <= 80 else text[:79] + "…"


# --- codecs: index 0 encodes, 1 decodes; each passes through what is not in its shape ------------


def _run(codec: _Codec, i: int, v: Any) -> Any:
    return v if codec is None else codec[i](v)


def _both(f: Callable[[Any, int], Any]) -> _Codec:
    return (lambda v: f(v, 0)), (lambda v: f(v, 1))


def _object_codec(fields: dict[str, _Codec], extra: _Codec, optional: list[str], drop: set[str]) -> _Codec:
    if not optional and extra is None and not any(fields.values()):
        return None

    def convert(v: Any, i: int) -> Any:
        if (d := _as_dict(v)) is None:
            return v
        if i:  # a null the original field does not allow: leave it out, so the default applies
            d = {k: x for k, x in d.items() if not (x is None and k in drop)}
        out = {k: _run(fields.get(k, extra), i, x) for k, x in d.items()}
        return out if i else out | {k: None for k in optional if k not in out}  # absent: sent as null

    return _both(convert)


def _pairs_codec(value: _Codec) -> _Codec:
    def convert(v: Any, i: int) -> Any:
        if not i:
            d = _as_dict(v)
            return v if d is None else [{"key": k, "value": _run(value, 0, x)} for k, x in d.items()]
        items = _as_list(v)
        pairs = [
            p for p in map(_as_dict, items or ()) if p and "value" in p and isinstance(p.get("key"), str)
        ]
        if items is None or len(pairs) != len(items):
            return v
        return {p["key"]: _run(value, 1, p["value"]) for p in pairs}

    return _both(convert)


def _entries(pairs: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "properties": {"entries": pairs}, "required": ["entries"]}
    return schema | {"additionalProperties": False}


def _entries_codec(pairs: _Codec) -> _Codec:
    def convert(v: Any, i: int) -> Any:
        if not i:
            return {"entries": _run(pairs, 0, v)}
        d = _as_dict(v)
        return _run(pairs, 1, d["entries"]) if d is not None and set(d) == {"entries"} else v

    return _both(convert)


def _list_codec(heads: list[_Codec], tail: _Codec) -> _Codec:
    if tail is None and not any(heads):
        return None

    def convert(v: Any, i: int) -> Any:
        if (items := _as_list(v)) is None:
            return v
        return [_run(heads[j] if j < len(heads) else tail, i, x) for j, x in enumerate(items)]

    return _both(convert)


def _tuple_codec(keys: list[str], fields: _Codec) -> _Codec:
    def convert(v: Any, i: int) -> Any:
        if not i:
            items = _as_list(v)
            fits = items is not None and len(items) <= len(keys)
            return _run(fields, 0, dict(zip(keys, items or (), strict=False)) if fits else v)
        d = _as_dict(_run(fields, 1, v))
        if d is None or set(d) != set(keys[: len(d)]):  # not a prefix of the tuple
            return v
        return [d[k] for k in keys[: len(d)]]

    return _both(convert)


# --- schema helpers ----------------------------------------------------------------------------


def _as_dict(v: Any) -> dict[str, Any] | None:
    return cast("dict[str, Any]", v) if isinstance(v, dict) else None  # JSON: keys are strings


def _as_list(v: Any) -> list[Any] | None:
    return list(cast("list[Any] | tuple[Any, ...]", v)) if isinstance(v, list | tuple) else None


def _ref_name(ref: Any) -> str | None:
    return ref.removeprefix(_DEFS) if isinstance(ref, str) and ref.startswith(_DEFS) else None


def _nullable(s: Any) -> Any:
    d = _as_dict(s) or {}
    if d.get("type") in _PRIMITIVES and not {"enum", "const"} & d.keys():
        return {**d, "type": [d["type"], "null"]}  # type-specific keywords (pattern, minimum) skip null
    return {"anyOf": [s, {"type": "null"}]}


def _edges(s: Any, optional: bool, out: set[tuple[str, bool]]) -> set[tuple[str, bool]]:
    """Each ``(def name, reached through a non-required property)`` under *s*."""
    if (d := _as_dict(s)) is None:
        for x in _as_list(s) or ():
            _edges(x, optional, out)
        return out
    if (name := _ref_name(d.get("$ref"))) is not None:
        out.add((name, optional))
    required = _as_list(d.get("required")) or []
    for k, v in d.items():
        if k == "properties" and (props := _as_dict(v)) is not None:
            for p, sub in props.items():
                _edges(sub, optional or p not in required, out)
        elif k not in ("$defs", "enum", "const", "default", "examples"):
            _edges(v, optional, out)
    return out


def _cyclic(defs: dict[str, Any], optional_breaks: bool) -> set[str]:
    """The defs on a cycle; with *optional_breaks*, a non-required property breaks a cycle."""
    edges = {n: _edges(s, False, set()) for n, s in defs.items()}
    graph = {n: {m for m, o in e if m in defs and not (optional_breaks and o)} for n, e in edges.items()}

    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            if (n := todo.pop()) not in seen:
                seen.add(n)
                todo.extend(graph[n])
        return seen

    return {n for n in graph if n in reach(n)}


def _is(v: Any, t: Any) -> bool:
    """A JSON type check: a boolean is no number, a tuple is an array."""
    if t in ("boolean", "null") or isinstance(v, bool) or v is None:
        return (t == "boolean" and isinstance(v, bool)) or (t == "null" and v is None)
    kinds = {"string": str, "integer": int, "number": (int, float), "array": (list, tuple), "object": dict}
    return isinstance(v, kinds.get(t, object))


def _matches(v: Any, s: Any, defs: dict[str, Any], depth: int = 0) -> bool:
    """Whether *v* has the shape of *s*, all the way down: types, enum and const values, required and
    closed keys, item counts. Formats, patterns and bounds are left to validation."""
    if (d := _as_dict(s)) is None or depth > 32:
        return True
    if (name := _ref_name(d.get("$ref"))) is not None:
        return name not in defs or _matches(v, defs[name], defs, depth + 1)
    branches = _as_list(d.get("anyOf", d.get("oneOf")))
    if branches is not None and not any(_matches(v, b, defs, depth + 1) for b in branches):
        return False
    if not all(_matches(v, b, defs, depth + 1) for b in _as_list(d.get("allOf")) or ()):
        return False
    values = _as_list(d.get("enum")) or [d.get("const")]
    same = (isinstance(v, bool) == isinstance(e, bool) and v == e for e in values)
    if ("const" in d or "enum" in d) and not any(same):
        return False
    types = [t] if isinstance(t := d.get("type"), str) else _as_list(t) or []
    if types and not any(_is(v, x) for x in types):
        return False
    if (items := _as_list(v)) is not None and _is(v, "array"):
        return _items_match(items, d, defs, depth)
    if (obj := _as_dict(v)) is None:
        return True
    props = _as_dict(d.get("properties")) or {}
    if any(k not in obj for k in _as_list(d.get("required")) or []):
        return False
    extra = d.get("additionalProperties")
    if extra is False and any(k not in props for k in obj):
        return False
    return all(_matches(x, props.get(k, extra), defs, depth + 1) for k, x in obj.items())


def _items_match(items: list[Any], d: dict[str, Any], defs: dict[str, Any], depth: int) -> bool:
    if len(items) < d.get("minItems", 0) or len(items) > d.get("maxItems", len(items)):
        return False
    heads = _as_list(d.get("prefixItems")) or []
    tail = d.get("items")
    if tail is False and len(items) > len(heads):
        return False
    return all(
        _matches(x, heads[i] if i < len(heads) else tail, defs, depth + 1) for i, x in enumerate(items)
    )

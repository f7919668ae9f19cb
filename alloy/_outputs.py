"""Output types: one cached ``TypeAdapter`` per type supplies the schema and the validation.

Providers want an object at the root of a structured answer, so a type whose schema is not an
object (a primitive, a list, a union, a dict) travels wrapped as ``{"value": <schema>}`` and is
unwrapped before validation. Validation is lax the way model answers need: ``"12.5"`` is a fine
float, and the JSON may sit in a ``json`` fence or after a sentence of prose.
"""

from __future__ import annotations

import functools
import json
import re
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import pydantic_core
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler, TypeAdapter, ValidationError
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from ._compat import portable
from ._errors import ConfigurationError, pydantic_detail, register_hint

__all__ = ["register_type"]

T = TypeVar("T")

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
NO_JSON = object()
_NONE = object()


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True, slots=True, eq=False)
class OutputType:
    """Everything the engine needs to know about one declared output type."""

    tp: Any
    adapter: TypeAdapter[Any]
    schema: dict[str, Any]
    """The JSON schema sent (object root; wrapped when ``wrapped``)."""
    wrapped: bool
    name: str

    def validate(self, value: Any, decode: Callable[[Any], Any] = _same) -> Any:
        """*decode* a JSON value from the wire shape and validate it (lax); unwrap ``{"value": …}``.

        A wrapped type also accepts its bare value, which models often send, and an object with one
        key other than ``value`` whose value fits (``{"price": 49.99}`` for a wrapped float): small
        models rename the key where a server does not enforce the schema (SPEC §17).
        """
        try:
            return self._validate(decode(value))
        except ValidationError:
            renamed = self._renamed(value)
            if renamed is _NONE:
                raise
            try:
                return self._validate(decode({"value": renamed}))
            except ValidationError:
                pass
            raise

    def _validate(self, value: Any) -> Any:
        if self.wrapped and isinstance(value, dict) and len(value) == 1 and "value" in value:  # pyright: ignore[reportUnknownArgumentType]
            value = cast("dict[str, Any]", value)["value"]
        # As JSON, the way pydantic validates JSON: `datetime | str` takes an ISO string as a datetime
        # (validate_python would keep the str, an exact match).
        return self.adapter.validate_json(pydantic_core.to_json(value))

    def _renamed(self, value: Any) -> Any:
        """The one value of ``{"<some key>": v}`` when the type travels wrapped, else ``_NONE``."""
        if self.wrapped and isinstance(value, dict) and len(value) == 1 and "value" not in value:  # pyright: ignore[reportUnknownArgumentType]
            return next(iter(cast("dict[str, Any]", value).values()))
        return _NONE

    def parse(self, text: str, decode: Callable[[Any], Any] = lambda v: v) -> Any:
        """Find the JSON in a text answer, *decode* it from the wire shape, and validate it.

        Raises:
            pydantic.ValidationError: the answer does not fit the type.
            ValueError: the answer holds no JSON and is not a bare value of the type.
        """
        value = extract_json(text)
        if value is NO_JSON:
            if self.wrapped:  # a bare answer such as `positive` for a Literal
                return self.validate(text.strip())
            raise ValueError(
                "The answer holds no JSON object. Answer with one JSON object that follows the schema."
            )
        return self.validate(value, decode)


def extract_json(text: str) -> Any:
    """The JSON value in *text*: the whole text, a fenced block, or the first JSON after prose."""
    s = text.strip()
    try:
        return json.loads(s)
    except ValueError:
        pass
    for block in _FENCE.findall(s):
        try:
            return json.loads(block)
        except ValueError:
            continue
    decoder = json.JSONDecoder()
    for i, ch in enumerate(s):
        if ch in "{[":
            try:
                return decoder.raw_decode(s, i)[0]
            except ValueError:
                continue
    return NO_JSON


def _object_root(schema: dict[str, Any]) -> dict[str, Any] | None:
    """The schema as an object root, resolving a root ``$ref`` (recursive models), or ``None``."""
    root = schema
    ref = schema.get("$ref")
    defs: dict[str, Any] = schema.get("$defs", {})
    if isinstance(ref, str) and ref.startswith("#/$defs/") and len(schema) <= 2:
        root = {**defs[ref.removeprefix("#/$defs/")], "$defs": defs}
    if root.get("type") == "object" and "properties" in root:
        return root
    return None


def _wrap(schema: dict[str, Any]) -> dict[str, Any]:
    inner = dict(schema)
    defs = inner.pop("$defs", None)
    wrapped: dict[str, Any] = {
        "type": "object",
        "properties": {"value": inner},
        "required": ["value"],
    }
    if defs:
        wrapped["$defs"] = defs
    return wrapped


def type_name(tp: Any) -> str:
    name = getattr(tp, "__name__", None)
    return name if isinstance(name, str) and "[" not in repr(tp) else repr(tp).replace("typing.", "")


def output_type(tp: Any) -> OutputType:
    """The cached ``OutputType`` of *tp* (one TypeAdapter and one schema per type, per process).

    The cache is keyed on the type *and* its spelling: ``Union[A, B] == Union[B, A]`` (and so do
    ``Literal`` values in another order), but each order gives its own schema and validation.

    Raises:
        ConfigurationError: pydantic cannot build a schema for *tp*; ``register_type`` is the fix.
    """
    try:
        return _cached(tp, repr(tp))
    except TypeError:  # an unhashable type expression (e.g. Annotated with a dict): not cached
        return _build(tp)


@functools.cache
def _cached(tp: Any, spelling: str) -> OutputType:
    return _build(tp)


def _build(tp: Any) -> OutputType:
    try:
        adapter: TypeAdapter[Any] = TypeAdapter(portable(tp))
        schema = adapter.json_schema()
    except Exception as exc:
        raise ConfigurationError(
            f"Alloy cannot use {type_name(tp)} as an output type: teach Alloy the type with "
            f"{register_hint(_unknown_part(tp, exc))}, or use a type pydantic understands "
            f"(a dataclass, a BaseModel, ...). Pydantic said: {pydantic_detail(exc)}"
        ) from exc
    root = _object_root(schema)
    wrapped = root is None
    return OutputType(
        tp=tp,
        adapter=adapter,
        schema=_wrap(schema) if root is None else root,
        wrapped=wrapped,
        name=_schema_name(tp),
    )


def _unknown_part(tp: Any, exc: BaseException) -> Any:
    """The type pydantic named in *exc* (``list[Point]`` fails on ``Point``), else *tp*."""
    for part in (tp, *_parts(tp)):
        if isinstance(part, type) and repr(part) in str(exc):
            return part
    return tp


def _parts(tp: Any) -> list[Any]:
    out: list[Any] = []
    for arg in typing.get_args(tp):
        out += [arg, *_parts(arg)]
    return out


def _schema_name(tp: Any) -> str:
    """A name for the schema on the wire (OpenAI wants ``^[a-zA-Z0-9_-]{1,64}$``)."""
    raw = getattr(tp, "__name__", "") or "output"
    name = re.sub(r"[^a-zA-Z0-9_-]", "_", raw)[:64]
    return name if name and "[" not in repr(tp) else "output"


def register_type(tp: type[T], *, json_schema: dict[str, Any], parse: Callable[[Any], T]) -> None:
    """Teach Alloy a type pydantic cannot handle.

    Args:
        tp: the class, usable anywhere an output type or tool parameter may be (nested too).
        json_schema: the JSON schema the model's answer for it must follow.
        parse: turns the decoded JSON value into an instance of *tp*; raise ``ValueError`` to
            reject it (the message goes back to the model in a re-ask).

    .. versionadded:: 0.1.0
    """

    def get_core_schema(_source: Any, _handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda v: v if isinstance(v, tp) else parse(v),
            serialization=core_schema.plain_serializer_function_ser_schema(lambda v: v, when_used="always"),
        )

    def get_json_schema(_core: core_schema.CoreSchema, _handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        return dict(json_schema)

    try:
        # pydantic's hook for types it does not know; set on the user's class, so nested uses work too
        setattr(tp, "__get_pydantic_core_schema__", staticmethod(get_core_schema))  # noqa: B010
        setattr(tp, "__get_pydantic_json_schema__", staticmethod(get_json_schema))  # noqa: B010
    except (AttributeError, TypeError) as exc:
        raise ConfigurationError(
            f"register_type cannot attach to {type_name(tp)} ({exc}). Wrap it instead: "
            "Annotated[tp, PlainValidator(parse), WithJsonSchema(json_schema)]."
        ) from exc
    _cached.cache_clear()

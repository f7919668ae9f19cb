"""Type expressions made portable to the running Python, before pydantic sees them.

Pydantic refuses a ``typing.TypedDict`` on Python 3.11 (it needs ``typing_extensions.TypedDict``
there, for ``__orig_bases__`` and ``Required`` support), yet the SPEC promises TypedDict output on
3.11+. ``portable`` rebuilds such classes, and type expressions holding them, as
``typing_extensions`` TypedDicts with the same name, docstring, fields and required keys. On 3.12+
it is the identity. Values validated against the rebuilt type are plain dicts, as before.
"""

from __future__ import annotations

import sys
import types
import typing
from typing import Any

import typing_extensions

__all__ = ["portable"]

_REQUIRED = (typing.Required, typing_extensions.Required)
_NOT_REQUIRED = (typing.NotRequired, typing_extensions.NotRequired)


def portable(tp: Any) -> Any:
    """*tp*, with every ``typing.TypedDict`` in it rebuilt for pydantic (Python < 3.12 only)."""
    if sys.version_info >= (3, 12):
        return tp
    return _convert(tp, {})


def _convert(tp: Any, seen: dict[Any, Any]) -> Any:
    if _is_typing_typeddict(tp):
        return _typeddict(tp, seen)
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin is None or not args:
        return tp
    if origin is typing.Annotated:
        base = _convert(args[0], seen)
        return tp if base is args[0] else typing.Annotated[(base, *tp.__metadata__)]
    new = tuple(_convert(a, seen) for a in args)
    if all(n is a for n, a in zip(new, args, strict=True)):
        return tp
    if isinstance(tp, types.UnionType):  # ``A | B`` has no copy_with; the typing spelling is equal
        return typing.Union[new]  # noqa: UP007
    if isinstance(tp, types.GenericAlias):
        return types.GenericAlias(origin, new)
    copy_with = getattr(tp, "copy_with", None)
    return copy_with(new) if callable(copy_with) else tp


def _is_typing_typeddict(tp: Any) -> bool:
    return isinstance(tp, type) and typing.is_typeddict(tp) and type(tp).__module__ == "typing"


def _typeddict(tp: Any, seen: dict[Any, Any]) -> Any:
    if tp in seen:  # a recursive TypedDict: left as it is (pydantic then says what to do)
        return seen[tp]
    seen[tp] = tp
    try:
        hints = typing.get_type_hints(tp, include_extras=True)
    except Exception:  # an unresolvable forward reference: pydantic reports it on the original
        return tp
    required: frozenset[str] = getattr(tp, "__required_keys__", frozenset())
    fields: dict[str, Any] = {}
    for key, hint in hints.items():
        inner = _convert(_unmarked(hint), seen)
        # A mark written on the field wins: under ``from __future__ import annotations`` 3.11
        # cannot see it when the class is made, so ``__required_keys__`` is wrong there.
        mark = typing.get_origin(hint)
        optional = mark in _NOT_REQUIRED or (mark not in _REQUIRED and key not in required)
        fields[key] = typing_extensions.NotRequired[inner] if optional else inner
    rebuilt: Any = typing_extensions.TypedDict(tp.__name__, fields)  # pyright: ignore[reportArgumentType]
    rebuilt.__doc__ = tp.__doc__
    rebuilt.__module__ = tp.__module__
    rebuilt.__qualname__ = tp.__qualname__
    seen[tp] = rebuilt
    return rebuilt


def _unmarked(hint: Any) -> Any:
    """``Required[X]`` / ``NotRequired[X]`` → ``X`` (which keys are required is read separately)."""
    while typing.get_origin(hint) in (*_REQUIRED, *_NOT_REQUIRED):
        hint = typing.get_args(hint)[0]
    return hint

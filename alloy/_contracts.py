"""Design by contract: ``@require`` checks arguments, ``@ensure`` checks results.

A contract is data attached to the function (or to the ``Tool``/``Command`` wrapping it), so
contracts, ``@tool`` and ``@command`` stack in either order. Checking returns a failure message
instead of raising: inside a tool turn the message goes back to the model, on a command it
becomes a ``CommandError`` or a re-ask; the caller decides.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

__all__ = ["ensure", "require"]

F = TypeVar("F")
ATTR = "__alloy_contracts__"


@dataclass(frozen=True, slots=True)
class Contract:
    kind: Literal["require", "ensure"]
    predicate: Callable[..., Any]
    message: str


def _attach(obj: Any, contract: Contract) -> None:
    existing: list[Contract] | None = getattr(obj, "contracts", None)
    if isinstance(existing, list) and hasattr(obj, "__alloy_kind__"):
        existing.insert(0, contract)  # decorators apply inside out; keep top-to-bottom order
        return
    found: list[Contract] = list(getattr(obj, ATTR, ()))
    found.insert(0, contract)
    setattr(obj, ATTR, found)


def contracts_of(fn: Any) -> list[Contract]:
    """Contracts attached to a plain function before ``@tool``/``@command`` wrapped it."""
    return list(getattr(fn, ATTR, ()))


def require(predicate: Callable[..., Any], message: str = "") -> Callable[[F], F]:
    """Check the arguments before a tool or command runs.

    If every parameter of *predicate* is named like a parameter of the function, it receives
    those arguments by name (``lambda x, y: x > y``); otherwise it takes one parameter and
    receives a dict of all bound arguments, defaults applied (``lambda args: args["x"] > 0``).

    On a tool, a failure goes back to the model as the call's result and the tool never runs.
    On a command, a failure raises ``CommandError`` and nothing is sent.

    .. versionadded:: 0.1.0
    """
    contract = Contract("require", predicate, message or _describe(predicate, "require"))

    def decorate(obj: F) -> F:
        _attach(obj, contract)
        return obj

    return decorate


def ensure(predicate: Callable[[Any], Any], message: str = "") -> Callable[[F], F]:
    """Check the result: ``predicate(result)`` must be truthy.

    On a tool, a failure goes back to the model as the call's result. On a command, the validated
    output is checked and a failure re-asks the model with *message*, then raises ``CommandError``.

    .. versionadded:: 0.1.0
    """
    contract = Contract("ensure", predicate, message or _describe(predicate, "ensure"))

    def decorate(obj: F) -> F:
        _attach(obj, contract)
        return obj

    return decorate


def _describe(predicate: Callable[..., Any], kind: str) -> str:
    name = getattr(predicate, "__name__", "predicate")
    return f"{kind} contract {name!r} failed" if name != "<lambda>" else f"{kind} contract failed"


def _run(predicate: Callable[..., Any], message: str, *args: Any, **kwargs: Any) -> str | None:
    try:
        ok = predicate(*args, **kwargs)
    except Exception as exc:
        return f"{message} (the check raised {type(exc).__name__}: {exc})"
    return None if ok else message


def check_require(
    contracts: list[Contract], fn: Callable[..., Any], arguments: Mapping[str, Any]
) -> str | None:
    """The first failing ``@require`` message for these keyword *arguments* of *fn*, or ``None``."""
    requires = [c for c in contracts if c.kind == "require"]
    if not requires:
        return None
    bound = inspect.signature(fn).bind_partial(**arguments)
    bound.apply_defaults()
    all_args = dict(bound.arguments)
    for c in requires:
        names = list(inspect.signature(c.predicate).parameters)
        if names and all(n in all_args for n in names):
            failure = _run(c.predicate, c.message, **{n: all_args[n] for n in names})
        else:
            failure = _run(c.predicate, c.message, all_args)
        if failure:
            return failure
    return None


def check_ensure(contracts: list[Contract], result: Any) -> str | None:
    """The first failing ``@ensure`` message for *result*, or ``None``."""
    for c in contracts:
        if c.kind == "ensure" and (failure := _run(c.predicate, c.message, result)):
            return failure
    return None

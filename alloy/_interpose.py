"""Adapter wrappers applied around a provider's ``send``: the hook ``alloy.testing.cassette`` uses.

A wrapper is a function from an adapter to an adapter that wraps its ``send``/``asend``/
``stream``/``astream`` (the way httpx stacks transports). While ``interposing(wrap)`` is active, a
plan built in this context holds ``wrap(adapter)`` instead of the adapter. Plans are cached per
settings object (``Call.plan``), so entering also lays a fresh, equal settings layer: the effective
settings become a new object and a command that already ran plans again inside the block (and
again, unwrapped, after it). Core code never imports ``alloy.testing``: the wrapper comes from there.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import contextmanager
from contextvars import ContextVar

from ._settings import fresh_layer
from .providers import Adapter

Wrap = Callable[[Adapter], Adapter]

_active: ContextVar[Wrap | None] = ContextVar("alloy_interpose", default=None)


def interposed(adapter: Adapter) -> Adapter:
    """*adapter*, wrapped by the wrapper active in this context (if any)."""
    wrap = _active.get()
    return adapter if wrap is None else wrap(adapter)


@contextmanager
def interposing(wrap: Wrap) -> Generator[None]:
    """Wrap every adapter of the calls planned inside the block (this thread or task, and the
    tasks it starts); an inner ``interposing`` replaces an outer one."""
    token = _active.set(wrap)
    try:
        with fresh_layer():
            yield
    finally:
        _active.reset(token)

"""The provider table: model-name routing, lazy adapter loading, and the SDK client cache.

Adding a provider is one entry in ``PROVIDERS`` (and one module in ``alloy/providers``). No SDK is
imported until a model of that provider is first used, so ``import alloy`` stays light.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib
import inspect
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ._errors import ConfigurationError

if TYPE_CHECKING:
    from .providers import Adapter

C = TypeVar("C")

log = logging.getLogger("alloy.registry")


@dataclass(frozen=True, slots=True)
class ProviderEntry:
    module: str
    """``alloy.providers.<module>``, which defines ``ADAPTER``."""
    extra: str | None
    """The pip extra that installs its SDK (``None``: a core dependency or no SDK)."""
    prefixes: tuple[str, ...] = ()
    """Bare model names starting with one of these are routed here."""


PROVIDERS: dict[str, ProviderEntry] = {
    "openai": ProviderEntry("openai", None, ("gpt-", "o1", "o3", "o4", "chatgpt-")),
    "anthropic": ProviderEntry("anthropic", "anthropic", ("claude-",)),
    "gemini": ProviderEntry("gemini", "gemini", ("gemini-",)),
    "ollama": ProviderEntry("ollama", "ollama"),
    "fake": ProviderEntry("fake", None),
}


def split_model(name: str) -> tuple[str, str]:
    """``"openai:gpt-5-mini"`` → ``("openai", "gpt-5-mini")``; bare names are routed by prefix.

    Raises:
        ConfigurationError: unknown provider, or a bare name no prefix claims.
    """
    provider, sep, model = name.partition(":")
    if sep:
        if provider not in PROVIDERS:
            from difflib import get_close_matches  # a hint for a wrong name: loaded then

            close = get_close_matches(provider.lower(), PROVIDERS, n=1, cutoff=0.6)
            hint = f" Did you mean {close[0]!r} ('{close[0]}:{model}')?" if close else ""
            raise ConfigurationError(
                f"Unknown provider {provider!r} in model {name!r}.{hint} Known providers: "
                f"{', '.join(PROVIDERS)} (write the model as 'provider:model', e.g. 'openai:gpt-5-mini')."
            )
        if not model:
            raise ConfigurationError(
                f"Model {name!r} names no model after {provider!r}: write '{provider}:<model>'."
            )
        return provider, model
    if name == "fake":
        return "fake", "fake"
    for provider, entry in PROVIDERS.items():
        if name.startswith(entry.prefixes or ("\0",)):
            return provider, name
    raise ConfigurationError(
        f"Cannot tell which provider serves model {name!r}. Write it as 'provider:model' "
        f"with one of the known providers: {', '.join(PROVIDERS)} (e.g. 'ollama:{name}')."
    )


@functools.cache
def adapter(provider: str) -> Adapter:
    """The adapter of *provider*, imported on first use.

    Raises:
        ConfigurationError: its SDK is not installed; the message names the pip extra.
    """
    entry = PROVIDERS[provider]
    try:
        module = importlib.import_module(f"alloy.providers.{entry.module}")
    except ImportError as exc:
        extra = entry.extra or provider
        raise ConfigurationError(
            f"The {provider} provider needs its SDK ({exc.name or exc}): pip install 'alloy-ai[{extra}]'"
        ) from exc
    return module.ADAPTER


def resolve(model: str | Adapter) -> tuple[Adapter, str]:
    """The adapter and the provider's model name for a ``model`` setting (a name or a model object)."""
    if isinstance(model, str):
        provider, name = split_model(model)
        return adapter(provider), name
    return model, model.name


# --- the SDK client cache -------------------------------------------------------------------------
#
# Async clients belong to the event loop that made them: their connections are bound to it. Each
# loop gets its own cache, released with the loop. A weak reference to the loop cannot do that,
# since the clients themselves refer to the loop and keep it alive. Instead each loop's cache is
# watched by a suspended async generator (``_LoopClients.watch``) registered with that loop: when
# ``asyncio.run`` (or any runner) shuts the loop down, ``loop.shutdown_asyncgens()`` closes that
# generator, whose ``finally`` closes the clients *on the loop*, while it still runs, and drops the
# cache. A loop closed without that step is dropped at the next lookup (its clients' sockets then
# close when they are collected).

_clients: dict[Hashable, Any] = {}
_lock = threading.Lock()


class _LoopClients:
    """The async clients of one event loop, and the generator that closes them with it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.clients: dict[Hashable, Any] = {}
        # Driven to its ``yield`` at once (it awaits nothing before), which registers it with the
        # running loop's async-generator hooks; the loop keeps only a weak reference, so do we.
        self.watcher = self.watch()
        with contextlib.suppress(StopIteration):
            self.watcher.__anext__().send(None)

    async def watch(self) -> AsyncGenerator[None]:
        try:
            yield
        finally:
            with _lock:
                if _loop_clients.get(self.loop) is self:
                    del _loop_clients[self.loop]
                clients, self.clients = list(self.clients.values()), {}
            for c in clients:
                await aclose(c)


_loop_clients: dict[asyncio.AbstractEventLoop, _LoopClients] = {}


async def aclose(client: Any) -> None:
    """Close an async SDK client (``aclose()`` or an awaitable ``close()``); errors are logged."""
    close = getattr(client, "aclose", None) or getattr(client, "close", None)
    if close is None:
        return
    try:
        result = close()
        if inspect.isawaitable(result):
            await result
    except Exception as exc:  # closing must not fail the loop's shutdown
        log.debug("closing %s failed: %r", type(client).__name__, exc)


def client(key: Hashable, build: Callable[[], C], *, is_async: bool = False) -> C:
    """One SDK client per *key* (provider, credentials, base URL, timeout), reused across calls.

    Async clients are cached per running event loop: a thousand calls open one connection
    pool, not a thousand, and the loop's clients are closed when it shuts down.
    """
    if is_async:
        loop = asyncio.get_running_loop()
        with _lock:
            entry = _loop_clients.get(loop)
            if entry is None:
                for dead in [d for d in _loop_clients if d.is_closed()]:
                    del _loop_clients[dead]
                entry = _loop_clients[loop] = _LoopClients(loop)
        cache = entry.clients
    else:
        cache = _clients
    try:
        return cache[key]
    except KeyError:
        pass
    with _lock:
        if key not in cache:
            cache[key] = build()
        return cache[key]


def clear_clients() -> None:
    """Forget every cached client (tests; a process that changes credentials at run time)."""
    with _lock:
        _clients.clear()
        for entry in _loop_clients.values():
            entry.clients.clear()
        _loop_clients.clear()

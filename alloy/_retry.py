"""One retry layer for transient provider errors, built on stamina.

The SDKs' own retries are off (``max_retries=0``), so this is the only place a request is repeated.
Adapters only say what an error *is* (``Adapter.classify`` → ``ProviderError.retryable`` and
``retry_after``); the policy lives here. Re-asking after an invalid answer is not a retry: the
engine does that, with new messages.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from . import _limiter
from ._errors import AlloyError, ProviderError, malformed
from ._secrets import scrub_error, secrets

if TYPE_CHECKING:
    import stamina

    from ._settings import Settings
    from .providers import Adapter

log = logging.getLogger("alloy.retry")

T = TypeVar("T")


def _backoff(settings: Settings) -> Callable[[Exception], bool | float]:
    """Retry transient ``ProviderError``s; honour ``Retry-After``, capped at ``retry_wait_max``."""

    def on(exc: Exception) -> bool | float:
        if not (isinstance(exc, ProviderError) and exc.retryable) or getattr(exc, "alloy_delivered", False):
            return False
        if exc.retry_after is not None:
            wait = min(max(exc.retry_after, 0.0), settings.retry_wait_max)
            log.debug("%s; retrying after %.2fs (Retry-After)", exc, wait)
            return wait
        log.debug("%s; retrying with backoff", exc)
        return True

    return on


# --- quiet by default -----------------------------------------------------------------------------
#
# stamina announces each scheduled retry through its global hooks: with the standard library that
# is a WARNING on the "stamina" logger, which Python prints to stderr when no logging is set up.
# Alloy's retries are its own business, logged at debug level on the "alloy" logger (above, and in
# the drivers), so a filter on stamina's logger drops the records of *Alloy's* retries, told apart
# by a context variable set only while stamina decides and sleeps between two of Alloy's attempts.
# stamina's hooks stay as they are: the user's own stamina retries log as before.

_retrying: ContextVar[bool] = ContextVar("alloy_retrying", default=False)


class _QuietAlloyRetries(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _retrying.get()


logging.getLogger("stamina").addFilter(_QuietAlloyRetries())


def attempts(settings: Settings) -> Iterator[stamina.Attempt]:
    """stamina's retry context for one request, configured from *settings*."""
    it: Iterator[stamina.Attempt] = iter(_context(settings))
    while True:
        token = _retrying.set(True)
        try:
            attempt = next(it)
        except StopIteration:
            return
        finally:
            _retrying.reset(token)
        yield attempt


def aattempts(settings: Settings) -> AsyncIterator[stamina.Attempt]:
    """The same, for ``async for``."""
    return _QuietAsync(aiter(_context(settings)))


class _QuietAsync:
    """stamina's async attempts, with ``_retrying`` set while stamina decides and sleeps.

    A class rather than an async generator: the caller leaves the loop by returning, and an async
    generator left suspended would wait for the event loop to finalize it.
    """

    def __init__(self, it: AsyncIterator[stamina.Attempt]) -> None:
        self._it = it

    def __aiter__(self) -> _QuietAsync:
        return self

    async def __anext__(self) -> stamina.Attempt:
        token = _retrying.set(True)
        try:
            return await anext(self._it)
        finally:
            _retrying.reset(token)


def call(settings: Settings, once: Callable[[int], T]) -> T:
    """``once(1)``; on a transient ``ProviderError``, more attempts with stamina's backoff.

    The first try runs outside stamina: retry machinery costs tens of microseconds per request
    and almost every request succeeds. When one fails, stamina's first attempt replays that
    failure, so its backoff (and ``Retry-After``) applies before the second try exactly as if it
    had run from the start. *once* gets the attempt number.
    """
    try:
        return once(1)
    except ProviderError as exc:
        if not exc.retryable:
            raise
        failed = exc
    for attempt in attempts(settings):
        with attempt:
            if attempt.num == 1:
                raise failed
            return once(attempt.num)
    raise AssertionError("unreachable: stamina raises once attempts are spent")  # pragma: no cover


async def acall(settings: Settings, once: Callable[[int], Awaitable[T]]) -> T:
    """The async twin of ``call``. Inside a ``map``, each attempt also waits for a slot of the
    map's adaptive limiter and tells it how it went (``_gated``)."""
    if (limiter := _limiter.active.get()) is not None:
        once = _gated(limiter, settings, once)
    try:
        return await once(1)
    except ProviderError as exc:
        if not exc.retryable:
            raise
        failed = exc
    async for attempt in aattempts(settings):
        with attempt:
            if attempt.num == 1:
                raise failed
            return await once(attempt.num)
    raise AssertionError("unreachable: stamina raises once attempts are spent")  # pragma: no cover


def _gated(
    limiter: _limiter.AdaptiveLimiter, settings: Settings, once: Callable[[int], Awaitable[T]]
) -> Callable[[int], Awaitable[T]]:
    """*once*, holding one of *limiter*'s slots; a transient failure (its status and capped
    Retry-After) or a success is reported to it."""

    async def gated(attempt: int) -> T:
        async with limiter.slot() as slot:
            try:
                result = await once(attempt)
            except ProviderError as exc:
                if exc.retryable:
                    wait = None if exc.retry_after is None else min(exc.retry_after, settings.retry_wait_max)
                    slot.transient(exc.status_code, wait)
                raise
            slot.success()
            return result

    return gated


def _context(settings: Settings) -> Any:  # stamina's iterator class, both sync and async, is private
    import stamina  # about 25 ms with tenacity: loaded at the first retry, not at import

    return stamina.retry_context(
        on=_backoff(settings),
        attempts=settings.retry_attempts,
        timeout=settings.retry_timeout,
        wait_initial=settings.retry_wait_initial,
        wait_max=settings.retry_wait_max,
        wait_jitter=settings.retry_wait_jitter,
    )


@contextmanager
def classified(adapter: Adapter, settings: Settings | None = None) -> Generator[None]:
    """Raise what goes wrong in an adapter's send as a ``ProviderError``, without secrets.

    An SDK exception becomes the ``ProviderError`` the adapter classifies it to. What is left of
    the usual faults of reading an answer (``JSONDecodeError``, pydantic's ``ValidationError``,
    ``TypeError``, ``AttributeError``, ``KeyError``, ``IndexError``: a body that is not JSON, or
    JSON of another shape) is ``malformed``: transient, since the next answer may well be fine.
    With *settings*, the configured keys (and URL passwords) are scrubbed from the error and the
    whole chain it holds, since providers echo them (a 401 of a compatible server, a host URL).
    """
    try:
        yield
    except AlloyError as exc:
        _scrubbed(exc, settings)
        raise
    except Exception as exc:
        err = adapter.classify(exc)
        if err is None and isinstance(exc, _MALFORMED):
            err = malformed(adapter.provider, exc)
        if err is None:
            _scrubbed(exc, settings)
            raise
        err.__cause__ = exc
        _scrubbed(err, settings)
        raise err from exc


def _scrubbed(exc: BaseException, settings: Settings | None) -> None:
    if settings is not None:
        scrub_error(exc, secrets(settings))


_MALFORMED = (ValueError, TypeError, AttributeError, KeyError, IndexError)


def delivered(exc: Exception) -> Exception:
    """Mark *exc* as ending a stream that already yielded deltas to the caller.

    Alloy does not repeat such a request (the caller would see the deltas twice), but the error
    keeps its ``retryable``: whether the *call* is worth trying again is the caller's to decide.
    """
    exc.alloy_delivered = True  # type: ignore[attr-defined]
    return exc

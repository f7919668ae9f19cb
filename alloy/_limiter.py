"""The adaptive limit on requests in flight during a ``map``.

A ``map`` sets an ``AdaptiveLimiter`` in a context variable; every request its items make goes
through the retry layer (``_retry.acall``), which takes a slot here before each attempt and
reports how the attempt went. The limiter follows the rate limits it meets the way TCP follows
congestion:

- a 429 halves the limit (down to 1), once per round of requests: answers to requests sent
  before the last halving do not halve it again;
- a ``Retry-After`` pauses every worker until it has passed;
- successes climb back, one slot per round of successes (as many as the limit), up to the
  ``concurrency`` asked for.

Nothing here knows a provider or an exception type; the retry layer translates.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass

__all__ = ["AdaptiveLimiter", "active"]


@dataclass(slots=True)
class Slot:
    """One request's place in flight; it tells the limiter how the request went."""

    limiter: AdaptiveLimiter
    epoch: int

    def success(self) -> None:
        self.limiter.success()

    def transient(self, status: int | None, retry_after: float | None) -> None:
        self.limiter.transient(status, retry_after, epoch=self.epoch)


class AdaptiveLimiter:
    """At most ``limit`` requests in flight, lowered by rate limits and raised by successes.

    Runs on one event loop (a ``map``'s); nothing here is thread-safe, nothing needs to be.

    Args:
        ceiling: the most requests in flight it ever allows (the ``concurrency`` asked for).
    """

    def __init__(self, ceiling: int) -> None:
        self.ceiling = max(1, ceiling)
        self.limit = self.ceiling
        self.in_flight = 0
        self.peak = 0
        """The most requests that were in flight at once."""
        self.halvings = 0
        self.paused_until = 0.0
        self._epoch = 0
        self._streak = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @asynccontextmanager
    async def slot(self) -> AsyncGenerator[Slot]:
        """Wait for a free slot and for any ``Retry-After`` pause to pass; hold it for one request."""
        await self._acquire()
        try:
            while (pause := self.paused_until - time.monotonic()) > 0:
                await asyncio.sleep(pause)
            self.peak = max(self.peak, self.in_flight)
            yield Slot(self, self._epoch)
        finally:
            self.in_flight -= 1
            self._wake()

    async def _acquire(self) -> None:
        if self.in_flight < self.limit and not self._waiters:
            self.in_flight += 1
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await waiter  # _wake counts us in before it wakes us
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():  # handed a slot just as we were cancelled
                self.in_flight -= 1
                self._wake()
            elif waiter in self._waiters:  # (_wake drops cancelled waiters it meets)
                self._waiters.remove(waiter)
            raise

    def _wake(self) -> None:
        while self._waiters and self.in_flight < self.limit:
            waiter = self._waiters.popleft()
            if not waiter.done():
                self.in_flight += 1
                waiter.set_result(None)

    def success(self) -> None:
        """A request succeeded: after a round of them (as many as the limit) without a 429, one more slot."""
        if self.limit >= self.ceiling:
            return
        self._streak += 1
        if self._streak >= self.limit:
            self._streak = 0
            self.limit += 1
            self._wake()

    def transient(self, status: int | None, retry_after: float | None, *, epoch: int) -> None:
        """A request failed transiently (the retry layer will try it again).

        Args:
            status: its HTTP status (429 halves the limit), or ``None``.
            retry_after: seconds the provider asked to wait (already capped), if it said.
            epoch: the limiter's epoch when the request was sent: a 429 to a request sent before
                the last halving does not halve again, so a burst of 429s halves once.
        """
        if status == 429 and epoch == self._epoch:
            self.limit = max(1, self.limit // 2)
            self.halvings += 1
            self._epoch += 1
            self._streak = 0
        if retry_after is not None and retry_after > 0:
            self.paused_until = max(self.paused_until, time.monotonic() + retry_after)


active: ContextVar[AdaptiveLimiter | None] = ContextVar("alloy_map_limiter", default=None)
"""The limiter of the ``map`` this task belongs to; ``None`` outside a ``map``."""

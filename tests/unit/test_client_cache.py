"""The SDK client cache: one client per key, and per event loop for async clients, closed with it."""

from __future__ import annotations

import asyncio

from alloy import _registry


class FakeAsyncClient:
    def __init__(self) -> None:
        self.closed_on: asyncio.AbstractEventLoop | None = None
        self.loop = asyncio.get_running_loop()  # like an SDK client: it refers to its loop

    async def close(self) -> None:
        self.closed_on = asyncio.get_running_loop()


async def _get() -> FakeAsyncClient:
    return _registry.client("k", FakeAsyncClient, is_async=True)


def test_async_clients_are_reused_within_a_loop_and_closed_on_it_at_shutdown() -> None:
    """Within one loop the client is shared; asyncio.run closes it on that loop, before it closes."""
    seen: list[asyncio.AbstractEventLoop] = []

    async def main() -> FakeAsyncClient:
        seen.append(asyncio.get_running_loop())
        first, second = await _get(), await _get()
        assert first is second
        return first

    made = asyncio.run(main())
    assert made.closed_on is seen[0]
    assert not _registry._loop_clients  # pyright: ignore[reportPrivateUsage]
    assert asyncio.run(main()) is not made  # a new loop, a new client


def test_a_loop_closed_without_shutdown_is_dropped_at_the_next_lookup() -> None:
    """A loop closed by hand (no shutdown_asyncgens) does not stay cached."""
    loop = asyncio.new_event_loop()
    loop.run_until_complete(_get())
    loop.close()
    assert loop in _registry._loop_clients  # pyright: ignore[reportPrivateUsage]
    asyncio.run(_get())
    assert loop not in _registry._loop_clients  # pyright: ignore[reportPrivateUsage]


def test_sync_clients_are_shared() -> None:
    assert _registry.client("s", object) is _registry.client("s", object)

"""Streaming on every provider at the wire, with the real SDKs: faults end typed (SPEC 17).

A stream cut short (no end-of-answer event), a malformed event and a connection dropped
mid-stream are retryable ``ProviderError``s: retried while no delta has reached the caller, raised
once one has (a retry would repeat what the caller already has), never a short answer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from alloy import ProviderError, ask

from .server import FakeServer
from .streams import WIRES, Wire


@pytest.fixture(params=WIRES, ids=[w.name for w in WIRES])
def wire(request: pytest.FixtureRequest, server: FakeServer) -> Iterator[Wire]:
    w: Wire = request.param
    with w.use(server):
        yield w


def _stream(use_async: bool) -> list[str]:
    if not use_async:
        return list(ask.stream("Greet."))

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("Greet.")]

    return asyncio.run(collect())


sync_and_async = pytest.mark.parametrize("use_async", [False, True], ids=["sync", "async"])


@sync_and_async
def test_truncated_stream_is_an_error_not_a_short_answer(
    server: FakeServer, wire: Wire, use_async: bool
) -> None:
    """Deltas, then the stream ends without the end-of-answer event: a ProviderError, not success."""
    server.replies.append(wire.truncated(["Hel", "lo"]))
    with pytest.raises(ProviderError, match="stream ended before") as info:
        _stream(use_async)
    assert info.value.retryable is False  # deltas already reached the caller
    assert len(server.requests) == 1


@sync_and_async
def test_truncated_stream_before_any_delta_is_retried(
    server: FakeServer, wire: Wire, use_async: bool
) -> None:
    server.replies += [wire.truncated([]), wire.text(["Hi", "!"])]
    assert _stream(use_async) == ["Hi", "!"]
    assert len(server.requests) == 2


@sync_and_async
def test_malformed_event_before_any_delta_is_retried(server: FakeServer, wire: Wire, use_async: bool) -> None:
    server.replies += [wire.with_malformed(["x"], wire.head), wire.text(["Hi", "!"])]
    assert _stream(use_async) == ["Hi", "!"]
    assert len(server.requests) == 2


def test_malformed_event_after_a_delta_is_a_provider_error(server: FakeServer, wire: Wire) -> None:
    server.replies.append(wire.with_malformed(["Hel", "lo"], wire.head + 1))
    seen: list[str] = []
    with pytest.raises(ProviderError, match="malformed stream event") as info:
        seen.extend(ask.stream("Greet."))
    assert seen == ["Hel"]
    assert info.value.retryable is False and len(server.requests) == 1


def test_malformed_events_end_typed_when_attempts_are_spent(server: FakeServer, wire: Wire) -> None:
    server.replies += [wire.with_malformed(["x"], wire.head) for _ in range(2)]
    with pytest.raises(ProviderError, match="malformed stream event"):
        list(ask.stream("Greet.", retry_attempts=2))
    assert len(server.requests) == 2


@sync_and_async
def test_dropped_before_any_delta_is_retried(server: FakeServer, wire: Wire, use_async: bool) -> None:
    dropped = wire.text(["x"])
    dropped.cut_after = wire.head
    server.replies += [dropped, wire.text(["Hi", "!"])]
    assert _stream(use_async) == ["Hi", "!"]
    assert len(server.requests) == 2


@sync_and_async
def test_dropped_after_a_delta_is_a_provider_error(server: FakeServer, wire: Wire, use_async: bool) -> None:
    """The transport's own exception never leaks: a ProviderError, not retried (text was yielded)."""
    dropped = wire.text(["Hel", "lo"])
    dropped.cut_after = wire.head + 1
    server.replies.append(dropped)
    with pytest.raises(ProviderError) as info:
        _stream(use_async)
    assert info.value.retryable is False
    assert len(server.requests) == 1

"""Streaming on every provider at the wire, with the real SDKs: faults end typed (SPEC 17).

A stream cut short (no end-of-answer event), a malformed event and a connection dropped
mid-stream are retryable ``ProviderError``s: retried while no delta has reached the caller, raised
once one has (a retry would repeat what the caller already has), never a short answer.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import pydantic
import pytest

from alloy import ProviderError, ask, command, override, tool
from alloy._plan import OUTPUT_TOOL

from .server import FakeServer
from .streams import WIRES, Wire, chunked, pieces, tool_turn


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
    # Retryable (SPEC 17), but not repeated by Alloy: deltas already reached the caller.
    assert info.value.retryable is True
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
    assert info.value.retryable is True and len(server.requests) == 1


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
    assert info.value.retryable is True
    assert len(server.requests) == 1


# --- structured output as it arrives (SPEC 11) ----------------------------------------------------


class Line(pydantic.BaseModel):
    name: str
    qty: int


class Order(pydantic.BaseModel):
    number: str
    lines: list[Line]
    counts: dict[str, int] = {}
    note: str | None = None


ORDER = Order(
    number="A-7",
    lines=[Line(name="apple pie", qty=2), Line(name="green tea", qty=1)],
    counts={"apples": 3, "pears": 4},
    note=None,
)


def _wire_json(value: Order, wire: Wire) -> str:
    """The answer as the provider would send it: strict OpenAI sends dicts as key/value pairs and
    every optional field (null when absent)."""
    body: dict[str, Any] = value.model_dump()
    if wire.name.startswith("openai"):
        body["counts"] = [{"key": k, "value": v} for k, v in value.counts.items()]
    return json.dumps(body)


@sync_and_async
def test_stream_partial_on_every_provider(server: FakeServer, wire: Wire, use_async: bool) -> None:
    """Small chunks: values only grow, the last equals the non-streamed result (strict-OpenAI
    encodings decoded as they arrive)."""
    text = _wire_json(ORDER, wire)
    server.replies += [wire.text(list(chunked(text, 4))), wire.whole(text)]
    if use_async:

        async def collect() -> list[Order]:
            return [v async for v in ask.stream_partial_async("p", output=Order)]

        values = asyncio.run(collect())
    else:
        values = list(ask.stream_partial("p", output=Order))
    assert values[-1] == ask("p", output=Order) == ORDER
    assert len(values) > 10
    lines = [len(v.lines or ()) for v in values]
    assert lines == sorted(lines)
    assert any(v.counts == {"apples": 3} for v in values)  # a dict growing pair by pair
    assert Order.model_construct(number="A-7", lines=None, counts={}, note=None) in values


def test_a_value_is_yielded_before_the_rest_is_sent(server: FakeServer, wire: Wire) -> None:
    """The server holds the stream back until the first value has reached the caller."""
    text = json.dumps({"value": [{"name": "apple pie", "qty": 2}, {"name": "tea", "qty": 1}]})
    pieces = list(chunked(text, 5))
    hold = threading.Event()
    reply = wire.text(pieces)
    first_done = text.index("}, {") + 2  # the comma that ends the first element
    reply.hold, reply.hold_at = hold, wire.head + first_done // 5 + 1
    server.replies.append(reply)
    started = time.monotonic()
    seen: list[Line] = []
    for line in _items(list[Line]):
        if not seen:
            assert time.monotonic() - started < 5 and not hold.is_set()
            hold.set()
        seen.append(line)
    assert seen == [Line(name="apple pie", qty=2), Line(name="tea", qty=1)]


def _items(output: Any) -> Iterator[Any]:
    @command(output=output)
    def lines() -> str:
        return "List the lines."

    return lines.stream_items()


def test_tools_then_a_streamed_answer(server: FakeServer, wire: Wire) -> None:
    """A tool turn (streamed, its call assembled from the stream), then the answer streams."""
    calls: list[str] = []

    @tool
    def lookup(sku: str) -> int:
        """Stock of a SKU."""
        calls.append(sku)
        return 7

    turn = tool_turn(wire, "lookup", {"sku": "A1"})
    text = json.dumps({"name": "A1 in stock", "qty": 7})
    server.replies += [turn, wire.text(list(chunked(text, 4)))]
    values = list(ask.stream_partial("p", output=Line, tools=[lookup]))
    assert calls == ["A1"]
    assert values[-1] == Line(name="A1 in stock", qty=7)
    unfinished = [v for v in values if v != values[-1] and v.name]
    partial_names = {v.name for v in unfinished}
    assert len(partial_names) >= 2 and all("A1 in stock".startswith(n) for n in partial_names)


def test_a_reask_mid_stream_goes_on_with_the_new_attempt(server: FakeServer, wire: Wire) -> None:
    bad = json.dumps({"value": [{"name": "a", "qty": 1}, {"name": "b", "qty": "many"}]})
    good = json.dumps({"value": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}]})
    server.replies += [wire.text(list(chunked(bad, 4))), wire.text(list(chunked(good, 4)))]
    values = list(ask.stream_partial("p", output=list[Line]))
    assert values[-1] == [Line(name="a", qty=1), Line(name="b", qty=2)]
    assert len(server.requests) == 2
    assert "qty" in json.dumps(server.requests[1].json)  # the validation error went back


def test_forced_tool_output_streams_from_input_json_delta(server: FakeServer) -> None:
    """Anthropic models before 4.5 carry the output in a forced tool: input_json_delta pieces."""
    args = pieces(ORDER.model_dump(), 4)
    wire = next(w for w in WIRES if w.name == "anthropic")
    assert wire.tool is not None
    server.replies.append(wire.tool(OUTPUT_TOOL, args))
    with override(
        model="anthropic:claude-3-5-haiku-20241022",
        anthropic_base_url=server.url,
        anthropic_api_key="sk-ant-x",
    ):
        assert ask.explain("p", output=Order).output_mode == "tool"
        values = list(ask.stream_partial("p", output=Order))
    assert values[-1] == ORDER
    assert len(values) > 10

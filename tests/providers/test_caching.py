"""Prompt caching at the wire (SPEC §14): cached-token usage from each provider's fields, the
stable prefix marked for Anthropic, and a stable ``prompt_cache_key`` on OpenAI-protocol requests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from alloy import Message, Result, _fallback, command, override
from alloy._command import Call

from . import test_anthropic as claude
from . import test_openai as gpt
from .server import FakeServer, Reply, sse

EPHEMERAL = {"type": "ephemeral"}
HI = (Message.user("Hi"),)


@dataclass
class Invoice:
    number: str
    total: float


def lookup(sku: str) -> str:
    """Find an item."""
    return "bolt"


@pytest.fixture
def openai_at(server: FakeServer, api: gpt.Api) -> Iterator[FakeServer]:
    model = "gpt-4.1-mini" if api == "chat" else "gpt-5-mini"
    with override(
        model=f"openai:{model}", openai_base_url=server.url + "/v1", openai_api_key=gpt.KEY, openai_api=api
    ):
        yield server


@pytest.fixture(params=["chat", "responses"])
def api(request: pytest.FixtureRequest) -> gpt.Api:
    return request.param


def cached_reply(api: str, content: str | None, calls: Any = (), *, cached: int, prompt: int = 100) -> Reply:
    body = (
        gpt.chat_body(content, calls, usage=(prompt, 5))
        if api == "chat"
        else gpt.responses_body(content, calls, usage=(prompt, 5))
    )
    if api == "chat":
        body["usage"]["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
    else:
        body["usage"]["input_tokens_details"] = {"cached_tokens": cached, "cache_write_tokens": 0}
    return Reply(200, body)


# --- cached tokens in usage ------------------------------------------------------------------------


def test_openai_cached_tokens_sum_over_turns(openai_at: FakeServer, api: str) -> None:
    """``prompt_tokens_details.cached_tokens`` (Chat) / ``input_tokens_details.cached_tokens``
    (Responses), summed over the tool turn and the answer."""
    openai_at.replies += [
        cached_reply(api, None, [("c1", "lookup", '{"sku": "A1"}')], cached=0),
        cached_reply(api, "bolt", cached=64),
    ]
    result = command(tools=[lookup])(lambda: "What is A1?").run()
    assert result.output == "bolt"
    assert (result.usage.input_tokens, result.usage.cached_input_tokens, result.usage.requests) == (
        200,
        64,
        2,
    )


def test_openai_chat_stream_reports_cached_tokens(openai_at: FakeServer, api: str) -> None:
    reply = gpt.chat_stream(["Hi"]) if api == "chat" else gpt.responses_stream(["Hi"])
    if api == "chat":
        assert reply.chunks is not None
        last = json.loads(reply.chunks[-2].decode().removeprefix("data: "))
        last["usage"]["prompt_tokens_details"] = {"cached_tokens": 7}
        reply.chunks[-2] = f"data: {json.dumps(last)}\n\n".encode()
        openai_at.replies.append(reply)
    else:
        final = gpt.responses_body("Hi", usage=(9, 4))
        final["usage"]["input_tokens_details"]["cached_tokens"] = 7
        openai_at.replies.append(
            sse(
                (
                    "response.completed",
                    {"type": "response.completed", "sequence_number": 0, "response": final},
                ),
                named=True,
            )
        )
    *_, result = _fallback.run(Call[str](str).chain(), HI, name="t", stream=True)
    assert isinstance(result, Result) and result.usage.cached_input_tokens == 7


def test_anthropic_cache_reads_and_writes(server: FakeServer) -> None:
    """``cache_read_input_tokens`` and ``cache_creation_input_tokens`` become cached_input_tokens
    and cache_write_tokens; both are also part of input_tokens."""
    body = claude.message(claude.text("hi"), input_tokens=10, output_tokens=3)
    body["usage"] |= {"cache_read_input_tokens": 1500, "cache_creation_input_tokens": 200}
    server.replies.append(Reply(200, body))
    with override(
        model=f"anthropic:{claude.MODEL}", anthropic_base_url=server.url, anthropic_api_key=claude.KEY
    ):
        usage = command(lambda: "Hi").run().usage
    assert (usage.input_tokens, usage.cached_input_tokens, usage.cache_write_tokens) == (1710, 1500, 200)


def test_anthropic_stream_cache_reads(server: FakeServer) -> None:
    reply = claude.streamed("Hel", "lo", input_tokens=10)
    assert reply.chunks is not None
    start = reply.chunks[0].decode()
    data = json.loads(start.split("data: ", 1)[1])
    data["message"]["usage"]["cache_read_input_tokens"] = 900
    reply.chunks[0] = f"event: message_start\ndata: {json.dumps(data)}\n\n".encode()
    server.replies.append(reply)
    with override(
        model=f"anthropic:{claude.MODEL}", anthropic_base_url=server.url, anthropic_api_key=claude.KEY
    ):
        *_, result = _fallback.run(Call(str).chain(), HI, name="t", stream=True)
    assert isinstance(result, Result)
    assert (result.usage.input_tokens, result.usage.cached_input_tokens) == (910, 900)


# --- the stable prefix on the wire -----------------------------------------------------------------


def test_prompt_cache_key_is_sent_and_stable(openai_at: FakeServer, api: str) -> None:
    """The same command sends the same key on every call (other arguments, same prefix); another
    schema gets another key; prompt_cache=False sends none."""
    openai_at.replies += [gpt.reply(api, '{"number": "1", "total": 2}') for _ in range(2)]

    @command(output=Invoice, system="You extract invoices.")
    def extract(text: str) -> str:
        return f"Extract: {text}"

    extract("first")
    extract("second")
    keys = [gpt.sent(openai_at, i)["prompt_cache_key"] for i in range(2)]
    assert keys[0] == keys[1] and keys[0].startswith("alloy-")
    # The prefix is byte-identical: system first, then the same schema (and tools).
    first, second = (gpt.sent(openai_at, i) for i in range(2))
    fmt = "response_format" if api == "chat" else "text"
    if api == "chat":
        assert first["messages"][0] == second["messages"][0] and first["messages"][0]["role"] == "system"
    else:
        assert first["instructions"] == second["instructions"]
    assert json.dumps(first[fmt]) == json.dumps(second[fmt])

    @command(output=list[int], system="You extract invoices.")
    def numbers(text: str) -> str:
        return text

    openai_at.replies.append(gpt.reply(api, '{"value": [1]}'))
    numbers("x")
    assert gpt.sent(openai_at)["prompt_cache_key"] != keys[0]
    openai_at.replies.append(gpt.reply(api, '{"number": "1", "total": 2}'))
    with override(prompt_cache=False):
        extract("third")
    assert "prompt_cache_key" not in gpt.sent(openai_at)


def test_anthropic_marks_the_last_system_block_and_the_last_tool(server: FakeServer) -> None:
    server.replies += [Reply(200, claude.message(claude.text("bolt"))) for _ in range(3)]

    def price(sku: str) -> float:
        """Price of an item."""
        return 1.0

    @command(tools=[lookup, price], system="You answer about stock.")
    def ask_stock(sku: str) -> str:
        return f"What is {sku}?"

    with override(
        model=f"anthropic:{claude.MODEL}", anthropic_base_url=server.url, anthropic_api_key=claude.KEY
    ):
        ask_stock("A1")
        ask_stock("B2")
        with override(prompt_cache=False):
            ask_stock("C3")
    first, second, off = (claude.sent(server, i) for i in range(3))
    assert first["system"] == [
        {"type": "text", "text": "You answer about stock.", "cache_control": EPHEMERAL}
    ]
    assert [t.get("cache_control") for t in first["tools"]] == [None, EPHEMERAL]
    assert json.dumps([first["system"], first["tools"]]) == json.dumps([second["system"], second["tools"]])
    assert off["system"] == "You answer about stock."
    assert all("cache_control" not in t for t in off["tools"])

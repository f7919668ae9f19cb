"""Fallback chains at the wire (SPEC §13): real SDKs against loopback servers, one per provider.

The first model is OpenAI (Chat Completions on one server), the second Anthropic (Messages on
another), so each test shows which server got how many requests, and what the caller got back.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from alloy import CommandError, ProviderError, ask, command, ensure, override
from alloy._messages import Usage
from alloy.providers import anthropic as anthropic_adapter

from . import test_anthropic as claude
from . import test_openai as gpt
from .server import FakeServer, Reply, sse

FIRST = "openai:gpt-4.1-mini"
SECOND = f"anthropic:{claude.MODEL}"


@pytest.fixture
def other() -> Iterator[FakeServer]:
    """A second loopback server: the second model's provider."""
    s = FakeServer().start()
    yield s
    s.stop()


@pytest.fixture
def chain(server: FakeServer, other: FakeServer) -> Iterator[tuple[FakeServer, FakeServer]]:
    """``model=[openai (server), anthropic (other)]``; no backoff waits."""
    anthropic_adapter.ADAPTER.forget_refusals()
    with override(
        model=[FIRST, SECOND],
        openai_base_url=server.url + "/v1",
        openai_api_key=gpt.KEY,
        openai_api="chat",
        anthropic_base_url=other.url,
        anthropic_api_key=claude.KEY,
        retry_attempts=2,
        retry_wait_initial=0,
        retry_wait_max=0,
        retry_wait_jitter=0,
    ):
        yield server, other


@dataclass
class Invoice:
    number: str
    total: float


def answered_by_second(other: FakeServer, body: str = '{"number": "42", "total": 9.5}') -> None:
    other.replies.append(Reply(200, claude.message(claude.text(body), input_tokens=20, output_tokens=5)))


@pytest.mark.parametrize(
    ("first", "requests"),
    [
        pytest.param([gpt.error(401, "Incorrect API key provided: sk-te***")], 1, id="401"),
        pytest.param([gpt.error(404, "The model `gpt-4.1-mini` does not exist")], 1, id="unknown-model"),
        pytest.param([gpt.error(503, "overloaded"), gpt.error(503, "overloaded")], 2, id="503-exhausted"),
    ],
)
def test_provider_failure_moves_to_the_next_model(
    chain: tuple[FakeServer, FakeServer], first: list[Reply], requests: int
) -> None:
    """A non-retryable error at once, a transient one after retry_attempts: the next model answers."""
    server, other = chain
    server.replies += first
    answered_by_second(other)
    result = command(output=Invoice)(lambda: "Extract.").run()
    assert result.output == Invoice("42", 9.5)
    assert result.model == SECOND
    assert (len(server.requests), len(other.requests)) == (requests, 1)
    assert result.usage.requests == 1 and result.usage.input_tokens == 20


def test_invalid_answer_escalates_after_the_reasks(chain: tuple[FakeServer, FakeServer]) -> None:
    """The first model's answer fails validation 1 + retry times; the second model's is used, and
    usage sums both models' requests."""
    server, other = chain
    server.replies += [gpt.reply("chat", '{"number": 1}', usage=(10, 3)) for _ in range(2)]
    answered_by_second(other)
    with override(retry=1):
        result = command(output=Invoice)(lambda: "Extract.").run()
    assert result.output == Invoice("42", 9.5) and result.model == SECOND
    assert (len(server.requests), len(other.requests)) == (2, 1)
    assert result.usage.requests == 3
    assert (result.usage.input_tokens, result.usage.output_tokens) == (10 + 10 + 20, 3 + 3 + 5)
    assert result.attempts == 1
    # The second model starts afresh: the first model's answers are not in its conversation.
    assert [m["role"] for m in claude.sent(other)["messages"]] == ["user"]


def test_ensure_failure_escalates(chain: tuple[FakeServer, FakeServer]) -> None:
    """An answer that breaks the command's @ensure after the re-asks moves on like a validation error."""
    server, other = chain
    server.replies.append(gpt.reply("chat", '{"number": "42", "total": -1}'))
    answered_by_second(other)

    @command(output=Invoice, retry=0)
    @ensure(lambda inv: inv.total > 0, "total must be positive")
    def extract() -> str:
        return "Extract."

    assert extract().total == 9.5
    assert (len(server.requests), len(other.requests)) == (1, 1)


def test_every_model_failing_raises_the_last_error_with_notes(chain: tuple[FakeServer, FakeServer]) -> None:
    server, other = chain
    server.replies.append(gpt.error(401, "Incorrect API key provided"))
    other.replies.append(claude.error(404, "not_found_error", "model: claude-nope"))
    with pytest.raises(ProviderError) as info:
        ask("Hi")
    assert info.value.provider == "anthropic" and info.value.status_code == 404
    notes = getattr(info.value, "__notes__", [])
    assert len(notes) == 1
    assert notes[0].startswith(f"Fallback: {FIRST} failed: ProviderError: openai (HTTP 401)")
    assert (len(server.requests), len(other.requests)) == (1, 1)


def test_every_model_invalid_raises_command_error(chain: tuple[FakeServer, FakeServer]) -> None:
    server, other = chain
    server.replies.append(gpt.reply("chat", "not json"))
    answered_by_second(other, "still not json")
    with override(retry=0), pytest.raises(CommandError) as info:
        ask("Extract.", output=Invoice)
    assert "still not json" in str(info.value)
    assert "Fallback: openai:gpt-4.1-mini failed: CommandError" in info.value.__notes__[0]


def test_tool_loop_limit_does_not_move_on(chain: tuple[FakeServer, FakeServer]) -> None:
    """Its tools have run: a second model would run them again, so the error is raised at once."""
    server, other = chain
    server.replies += [gpt.reply("chat", None, [(f"c{i}", "lookup", "{}")]) for i in range(2)]

    def lookup() -> str:
        return "nothing"

    with override(max_tool_turns=1), pytest.raises(CommandError, match="max_tool_turns=1"):
        ask("Find it.", tools=[lookup])
    assert (len(server.requests), len(other.requests)) == (2, 0)


def test_missing_key_moves_on(chain: tuple[FakeServer, FakeServer]) -> None:
    """No key for one model is that model's ConfigurationError: the next model answers, and the
    note says which variable to set."""
    server, other = chain
    answered_by_second(other, "hello")
    with override(model=["gemini:gemini-2.5-flash", SECOND]):
        result = ask.explain("Hi")
        assert result.chain == ["gemini:gemini-2.5-flash", SECOND]
        assert ask("Hi") == "hello"
    assert len(server.requests) == 0


def test_async_call_falls_back_the_same_way(chain: tuple[FakeServer, FakeServer]) -> None:
    server, other = chain
    server.replies.append(gpt.error(401, "Incorrect API key provided"))
    answered_by_second(other, "hello")
    assert asyncio.run(ask.async_("Hi")) == "hello"
    assert (len(server.requests), len(other.requests)) == (1, 1)


def test_stream_falls_back_before_the_first_delta(chain: tuple[FakeServer, FakeServer]) -> None:
    server, other = chain
    server.replies.append(gpt.error(401, "Incorrect API key provided"))
    other.replies.append(claude.streamed("Hel", "lo"))
    assert list(ask.stream("Hi")) == ["Hel", "lo"]
    assert (len(server.requests), len(other.requests)) == (1, 1)


def test_async_stream_falls_back_before_the_first_delta(chain: tuple[FakeServer, FakeServer]) -> None:
    server, other = chain
    server.replies.append(gpt.error(401, "Incorrect API key provided"))
    other.replies.append(claude.streamed("Hel", "lo"))

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("Hi")]

    assert asyncio.run(collect()) == ["Hel", "lo"]


def test_stream_does_not_fall_back_after_a_delta(chain: tuple[FakeServer, FakeServer]) -> None:
    """Text already reached the caller: a failure after it is raised, the next model never asked."""
    server, other = chain
    base = {"sequence_number": 0}
    server.replies.append(
        sse(
            (
                "response.output_text.delta",
                {
                    **base,
                    "type": "response.output_text.delta",
                    "item_id": "m",
                    "output_index": 0,
                    "content_index": 0,
                    "delta": "Hel",
                    "logprobs": [],
                },
            ),
            ("error", {**base, "type": "error", "code": "server_error", "message": "boom"}),
            named=True,
        )
    )
    seen: list[str] = []
    with override(openai_api="responses"), pytest.raises(ProviderError, match="boom"):
        seen.extend(ask.stream("Hi"))
    assert (len(server.requests), len(other.requests)) == (1, 0)


def test_cost_sums_over_the_models(chain: tuple[FakeServer, FakeServer]) -> None:
    """Both models are priced, so the cost is the sum of both estimates."""
    server, other = chain
    server.replies.append(gpt.reply("chat", "not json", usage=(1000, 100)))
    answered_by_second(other)
    with override(retry=0, model=[FIRST, "anthropic:claude-haiku-4-5"]):
        result = command(output=Invoice)(lambda: "Extract.").run()
    assert result.model == "anthropic:claude-haiku-4-5"
    first = (1000 * 0.40 + 100 * 1.60) / 1e6
    second = (20 * 1.00 + 5 * 5.00) / 1e6
    assert result.cost == pytest.approx(first + second)
    assert result.usage == Usage(1020, 105, 2)


def test_explain_shows_the_chain(chain: tuple[FakeServer, FakeServer]) -> None:
    plan = command(output=Invoice)(lambda: "Extract.").explain()
    assert plan.chain == [FIRST, SECOND]
    assert [p.provider for p in plan.fallbacks] == ["anthropic"]
    text = str(plan)
    assert text.splitlines()[0] == f"chain:       {FIRST} -> {SECOND}"
    assert "fallback 1:\n  provider:    anthropic" in text


def test_stream_partial_falls_back_before_the_first_delta(chain: tuple[FakeServer, FakeServer]) -> None:
    """Structured streaming goes through the chain too: the last value is the second model's answer."""
    server, other = chain
    server.replies.append(gpt.error(401, "Incorrect API key provided"))
    other.replies.append(claude.streamed('{"number": "42", ', '"total": 9.5}'))
    values = list(ask.stream_partial("Extract.", output=Invoice))
    assert values[-1] == Invoice("42", 9.5)
    assert (len(server.requests), len(other.requests)) == (1, 1)

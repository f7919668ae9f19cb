"""Faults at the wire, the same on every provider (SPEC §17): Retry-After in all its forms, spent
tokens on errors, bodies that are not answers.

Each test runs once per wire (``tests/providers/wire.py``): the real SDK talks to the loopback
server, which scripts the fault and then a good answer.
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import stamina

from alloy import CommandError, ProviderError, ask, override

from .server import FakeServer, Reply
from .wire import WIRES, Wire, wire


@pytest.fixture(params=WIRES)
def on(request: pytest.FixtureRequest, server: FakeServer) -> Iterator[Wire]:
    """Alloy pointed at the loopback server through each wire in turn."""
    w = wire(request.param)
    with override(**w.settings(server.url)):
        yield w


# --- Retry-After ------------------------------------------------------------------------------------


def _in(seconds: float) -> str:
    return email.utils.formatdate(time.time() + seconds, usegmt=True)


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[float]]:
    """The backoff sleeps the retry layer takes, recorded instead of slept, with stamina's test
    mode off (it would zero every wait) and no backoff of its own (no initial wait, no jitter):
    a wait is then only what the provider asked for."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with (
        stamina.set_testing(False),
        override(retry_wait_initial=0.0, retry_wait_jitter=0.0, retry_wait_max=5.0),
    ):
        yield slept


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        pytest.param({"retry-after": "2"}, 2.0, id="seconds"),
        pytest.param({"retry-after": "0.25"}, 0.25, id="fraction"),
        pytest.param({"retry-after-ms": "1500", "retry-after": "9"}, 1.5, id="ms"),
        pytest.param({"retry-after": "60"}, 5.0, id="capped"),  # at retry_wait_max
    ],
)
def test_retry_after_is_honoured_in_every_form(
    on: Wire, server: FakeServer, waits: list[float], headers: dict[str, str], wait: float
) -> None:
    """A 429 with Retry-After (seconds, retry-after-ms) waits that long, capped at retry_wait_max,
    then the call succeeds."""
    server.replies += [on.fail(429, headers=headers), on.ok("fine")]
    assert ask("Hi") == "fine" and len(server.requests) == 2
    assert waits == [pytest.approx(wait)]


def test_retry_after_as_an_http_date(on: Wire, server: FakeServer, waits: list[float]) -> None:
    """An HTTP date is the time until then (whole seconds on the wire)."""
    server.replies += [on.fail(429, headers={"retry-after": _in(4)}), on.ok("fine")]
    assert ask("Hi") == "fine"
    assert len(waits) == 1 and 2.0 < waits[0] <= 4.0


def test_no_retry_after_no_wait(on: Wire, server: FakeServer, waits: list[float]) -> None:
    """The control: without the header, these settings retry at once."""
    server.replies += [on.fail(429), on.ok("fine")]
    assert ask("Hi") == "fine"
    assert waits == [0.0]


def test_retry_after_on_the_error(on: Wire, server: FakeServer) -> None:
    """Once the attempts are spent, the ProviderError says how long the provider asked to wait."""
    server.replies += [on.fail(429, headers={"retry-after-ms": "1500"})]
    with pytest.raises(ProviderError) as info:
        ask("Hi", retry_attempts=1)
    assert (info.value.status_code, info.value.retryable, info.value.retry_after) == (429, True, 1.5)


@dataclass
class Point:
    x: int
    y: int


# --- spent tokens -----------------------------------------------------------------------------------


def test_command_error_carries_the_usage_of_every_request(on: Wire, server: FakeServer) -> None:
    """Three answers that never validate: the CommandError carries the tokens of all three."""
    server.replies += [on.ok("no point here", 100, 10) for _ in range(3)]
    with pytest.raises(CommandError) as info:
        ask("Where?", output=Point, retry=2)
    usage = info.value.usage
    assert (usage.input_tokens, usage.output_tokens, usage.requests) == (300, 30, 3)


def test_command_error_is_priced_where_the_price_is_known(server: FakeServer) -> None:
    """On a priced model the failed call's cost is estimated from its usage (gpt-4.1-mini)."""
    w = wire("openai-chat")
    server.replies += [w.ok("no point here", 1_000_000, 100_000) for _ in range(2)]
    with override(**w.settings(server.url)), pytest.raises(CommandError) as info:
        ask("Where?", output=Point, retry=1)
    assert info.value.cost == pytest.approx(2 * 0.40 + 0.2 * 1.60)


# --- answers that are not answers -------------------------------------------------------------------

BAD_BODIES = [
    pytest.param(b"not json", id="not-json"),
    pytest.param(b'{"unexpected": true}', id="wrong-object"),
    pytest.param(b"[1, 2, 3]", id="a-list"),
    pytest.param(b'"just a string"', id="a-string"),
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_200_that_is_not_an_answer_is_retried(on: Wire, server: FakeServer, body: bytes) -> None:
    """A 200 whose body is not JSON, or JSON of the wrong shape, is a transient fault: the request
    is sent again and the call succeeds with the good answer."""
    server.replies += [Reply(200, body), on.ok("fine")]
    assert ask("Hi") == "fine"
    assert len(server.requests) == 2


@pytest.mark.parametrize("body", BAD_BODIES)
def test_a_200_that_is_not_an_answer_ends_typed(on: Wire, server: FakeServer, body: bytes) -> None:
    """With no attempts left it is a retryable ProviderError (chained to what the SDK raised, if it
    raised), never a raw JSONDecodeError, TypeError or AttributeError."""
    server.replies += [Reply(200, body)]
    with pytest.raises(ProviderError) as info:
        ask("Hi", retry_attempts=1)
    assert info.value.retryable and info.value.provider == on.provider
    assert "answer could not be read" in str(info.value)
    if body == b"not json":  # chained to the SDK's (or the JSON parser's) exception
        assert info.value.__cause__ is not None


@pytest.mark.parametrize("body", BAD_BODIES[:2])
def test_async_a_200_that_is_not_an_answer_is_retried(on: Wire, server: FakeServer, body: bytes) -> None:
    """The async path ends the same way."""
    server.replies += [Reply(200, body), on.ok("fine")]
    assert asyncio.run(ask.async_("Hi")) == "fine"

"""Live checks against Anthropic itself; skipped unless ``ANTHROPIC_API_KEY`` is set.

Run with ``ANTHROPIC_API_KEY=sk-ant-... pytest tests/live/test_anthropic_live.py``; set
``ALLOY_TEST_ANTHROPIC_MODEL`` to try another model (default ``claude-haiku-4-5``, cheap and with
native structured outputs). The autouse settings fixture leaves the environment alone for tests
marked ``live``, so the key reaches Alloy.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from alloy import ask, override

from .scenarios import RED, colour, extract_invoice, to_usd

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("ANTHROPIC_API_KEY"), reason="ANTHROPIC_API_KEY is not set"),
]

MODEL = "anthropic:" + os.environ.get("ALLOY_TEST_ANTHROPIC_MODEL", "claude-haiku-4-5")


def test_typed_extraction() -> None:
    """output_config.format answers come back typed, the dict field (sent as pairs) included."""
    with override(model=MODEL):
        result = extract_invoice.run("Invoice #A-17: 3 bolts, 2 nuts. Total due: $12.50")
    assert result.output.number.endswith("17")
    assert result.output.total == pytest.approx(12.5)
    assert sum(result.output.line_items.values()) == 5
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


def test_tool_call() -> None:
    """The model calls the tool, gets its result under its tool_use id, and answers."""
    with override(model=MODEL):
        result = to_usd.run(40, "EUR")
    assert result.output == pytest.approx(50.0)
    assert any(m.role == "tool" for m in result.messages)
    assert result.usage.requests >= 2


def test_streaming_sync_and_async() -> None:
    """Streamed deltas join into a non-empty answer, both ways."""
    prompt = "Count from 1 to 5, separated by spaces, and nothing else."

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async(prompt, model=MODEL)]

    for deltas in (list(ask.stream(prompt, model=MODEL)), asyncio.run(collect())):
        assert "1 2 3 4 5" in "".join(deltas)


def test_image_input() -> None:
    """An image part (base64 bytes) is read by the model."""
    with override(model=MODEL):
        assert colour(RED) == "red"

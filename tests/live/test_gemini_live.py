"""Live checks against the Gemini Developer API; skipped unless ``GEMINI_API_KEY`` is set.

Run with ``GEMINI_API_KEY=AIza... pytest tests/live/test_gemini_live.py``. ``ALLOY_TEST_GEMINI_MODEL``
picks the main model (default ``gemini-2.5-flash``: tools and the response schema go in separate
turns) and ``ALLOY_TEST_GEMINI3_MODEL`` the Gemini 3 one (default ``gemini-3-flash-preview``: both
in one request, thought signatures required). The autouse settings fixture leaves the environment
alone for tests marked ``live``, so the key reaches Alloy.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

import pytest

from alloy import ask, command, override

from .scenarios import RED, colour, exchange_rate, extract_invoice, to_usd

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("GEMINI_API_KEY"), reason="GEMINI_API_KEY is not set"),
]

MODEL = "gemini:" + os.environ.get("ALLOY_TEST_GEMINI_MODEL", "gemini-2.5-flash")
GEMINI3 = "gemini:" + os.environ.get("ALLOY_TEST_GEMINI3_MODEL", "gemini-3-flash-preview")


@dataclass
class Conversion:
    currency: str
    usd: float


@command(output=list[Conversion], tools=[exchange_rate])
def to_usd_all(amount: float, currencies: list[str]) -> str:
    return f"Convert {amount} of each of {', '.join(currencies)} to US dollars, with the exchange_rate tool."


def test_typed_extraction() -> None:
    """response_json_schema answers come back typed, the dict field included; usage is reported."""
    with override(model=MODEL):
        result = extract_invoice.run("Invoice #A-17: 3 bolts, 2 nuts. Total due: $12.50")
    assert result.output.number.endswith("17")
    assert result.output.total == pytest.approx(12.5)
    assert sum(result.output.line_items.values()) == 5
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


@pytest.mark.parametrize("model", [MODEL, GEMINI3], ids=["gemini-2", "gemini-3"])
def test_tool_call_with_typed_output(model: str) -> None:
    """The model calls the tool, gets its result as a functionResponse, and answers a float."""
    with override(model=model):
        result = to_usd.run(40, "EUR")
    assert result.output == pytest.approx(50.0)
    assert any(m.role == "tool" for m in result.messages)
    assert result.usage.requests >= 2


def test_several_calls_and_thought_signatures_on_gemini_3() -> None:
    """Gemini 3 calls the tool for each currency; its signed calls come back signed, so no 400."""
    with override(model=GEMINI3):
        result = to_usd_all.run(10, ["EUR", "GBP"])
    assert {c.currency.upper(): c.usd for c in result.output} == pytest.approx({"EUR": 12.5, "GBP": 15.0})
    assert sum(m.role == "tool" for m in result.messages) >= 2


def test_streaming_sync_and_async() -> None:
    """Streamed deltas join into the answer, both ways."""
    prompt = "Count from 1 to 5, separated by spaces, and nothing else."

    async def collect() -> list[str]:
        return [d async for d in ask.stream_async(prompt, model=MODEL)]

    for deltas in (list(ask.stream(prompt, model=MODEL)), asyncio.run(collect())):
        assert "1 2 3 4 5" in "".join(deltas)


def test_image_input() -> None:
    """An image part (base64 bytes) is read by the model."""
    with override(model=MODEL):
        assert colour(RED) == "red"

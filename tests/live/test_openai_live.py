"""Live checks against OpenAI itself; skipped unless ``OPENAI_API_KEY`` is set.

Run with ``OPENAI_API_KEY=sk-... pytest tests/live/test_openai_live.py``. The autouse settings
fixture leaves the environment alone for tests marked ``live``, so the key reaches Alloy.
"""

from __future__ import annotations

import os

import pytest

from alloy import override

from .scenarios import RED, colour, extract_invoice, to_usd

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("OPENAI_API_KEY"), reason="OPENAI_API_KEY is not set"),
]


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_typed_extraction(api: str) -> None:
    """A strict json_schema answer comes back typed, dict field included."""
    with override(model="openai:gpt-5-mini", openai_api=api):  # pyright: ignore[reportArgumentType]
        result = extract_invoice.run("Invoice #A-17: 3 bolts, 2 nuts. Total due: $12.50")
    assert result.output.number.endswith("17")
    assert result.output.total == pytest.approx(12.5)
    assert result.output.line_items == {"bolts": 3, "nuts": 2} or sum(result.output.line_items.values()) == 5
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_tool_call(api: str) -> None:
    """The model calls the tool, gets its result under the right call id, and answers."""
    with override(model="openai:gpt-5-mini", openai_api=api):  # pyright: ignore[reportArgumentType]
        result = to_usd.run(40, "EUR")
    assert result.output == pytest.approx(50.0)
    assert any(m.role == "tool" for m in result.messages)
    assert result.usage.requests >= 2


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_image_input(api: str) -> None:
    """An image part (a data URL) is read by the model."""
    with override(model="openai:gpt-5-mini", openai_api=api):  # pyright: ignore[reportArgumentType]
        assert colour(RED) == "red"

"""Cost estimates: the price table, set_price, and Result.cost."""

from __future__ import annotations

import asyncio
from typing import ClassVar

import pytest

import alloy
import alloy._pricing as pricing
from alloy import ConfigurationError, command, override, set_price
from alloy._messages import Usage
from alloy.testing import ScriptedModel


@pytest.fixture(autouse=True)
def _own_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test gets its own copy of the table, so set_price does not leak."""
    monkeypatch.setattr(pricing, "_PRICES", dict(pricing._PRICES))  # pyright: ignore[reportPrivateUsage]


class OpenAILike(ScriptedModel):
    """A scripted model that reports itself as OpenAI, so its name can be priced."""

    provider: ClassVar[str] = "openai"


@command
def job() -> str:
    return "one two three"


def test_known_model_is_priced_per_million_tokens() -> None:
    """A million input and a million output tokens cost the list prices summed."""
    assert pricing.estimate("openai", "gpt-5-mini", Usage(1_000_000, 1_000_000)) == pytest.approx(2.25)
    assert pricing.estimate("anthropic", "claude-sonnet-4-5", Usage(2_000, 1_000)) == pytest.approx(0.021)


@pytest.mark.parametrize(
    ("provider", "model"),
    [
        ("openai", "gpt-5"),
        ("openai", "gpt-5-mini"),
        ("openai", "gpt-4.1"),
        ("openai", "gpt-4.1-mini"),
        ("anthropic", "claude-sonnet-4-5"),
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-2.5-flash"),
        ("gemini", "gemini-2.5-pro"),
    ],
)
def test_the_table_covers_the_documented_models(provider: str, model: str) -> None:
    """Every model the docs list has a price."""
    assert pricing.price(provider, model) is not None


def test_dated_snapshot_costs_the_same_as_its_alias() -> None:
    """`gpt-5-mini-2025-08-07` and `claude-sonnet-4-5-20250929` are priced as their aliases."""
    assert pricing.price("openai", "gpt-5-mini-2025-08-07") == pricing.price("openai", "gpt-5-mini")
    assert pricing.price("anthropic", "claude-sonnet-4-5-20250929") == pricing.price(
        "anthropic", "claude-sonnet-4-5"
    )


@pytest.mark.parametrize(
    ("provider", "model"),
    [("openai", "gpt-5-nano"), ("openai", "gpt-5-mini-high"), ("ollama", "llama3.2"), ("gemini", "gpt-5")],
)
def test_unknown_models_are_never_guessed(provider: str, model: str) -> None:
    """A similar name, another provider's model or a local one: no price, no estimate."""
    assert pricing.estimate(provider, model, Usage(10, 10)) is None


def test_no_usage_reported_is_unknown_not_free() -> None:
    """A provider that reported no tokens gives cost None, not 0."""
    assert pricing.estimate("openai", "gpt-5", Usage(0, 0, requests=1)) is None


def test_set_price_overrides_and_adds() -> None:
    """set_price replaces a built-in price and prices a new model; a bare name is routed by prefix."""
    set_price("openai:gpt-5-mini", input=1, output=2)
    set_price("gpt-my-finetune", input=0.5, output=0)
    assert pricing.estimate("openai", "gpt-5-mini", Usage(1_000_000, 1_000_000)) == pytest.approx(3.0)
    assert pricing.estimate("openai", "gpt-my-finetune", Usage(2_000_000, 5)) == pytest.approx(1.0)
    assert "set_price" in alloy.__all__


@pytest.mark.parametrize("bad", [-1.0, float("nan"), float("inf"), "1.0", True])
def test_set_price_rejects_bad_prices(bad: object) -> None:
    """A negative, non-finite or non-number price is a ConfigurationError naming the field."""
    with pytest.raises(ConfigurationError, match="input="):
        set_price("openai:gpt-5", input=bad, output=1)  # pyright: ignore[reportArgumentType]


def test_set_price_rejects_an_unknown_provider() -> None:
    """A provider Alloy does not know is a ConfigurationError listing the known ones."""
    with pytest.raises(ConfigurationError, match="Known providers"):
        set_price("opnai:gpt-5", input=1, output=1)


def test_result_cost_on_a_priced_model() -> None:
    """Result.cost is the estimate for the plan's provider and model and the summed usage."""
    with override(model=OpenAILike(["four words of answer"], name="gpt-5-mini")):
        result = job.run()
    assert result.cost == pytest.approx(pricing.estimate("openai", "gpt-5-mini", result.usage))
    assert result.cost is not None and result.cost > 0


def test_result_cost_async() -> None:
    """The async driver prices the Result too."""
    with override(model=OpenAILike(["four words"], name="gpt-4.1")):
        result = asyncio.run(job.run_async())
    assert result.cost == pytest.approx(pricing.estimate("openai", "gpt-4.1", result.usage))


def test_fake_and_scripted_models_have_no_cost() -> None:
    """The offline fake model and ScriptedModel are never priced."""
    assert job.with_options(model="fake").run().cost is None
    with override(model=ScriptedModel(["hi"])):
        assert job.run().cost is None


def test_cached_tokens_are_priced_at_the_cached_rate() -> None:
    """Of a million input tokens, the cached part costs the cached rate and the written part the
    cache-write rate; the rest the input rate."""
    usage = Usage(1_000_000, 0, 1, cached_input_tokens=600_000)
    assert pricing.estimate("openai", "gpt-5-mini", usage) == pytest.approx(0.4 * 0.25 + 0.6 * 0.025)
    usage = Usage(1_000_000, 0, 1, cached_input_tokens=500_000, cache_write_tokens=500_000)
    assert pricing.estimate("anthropic", "claude-haiku-4-5", usage) == pytest.approx(0.5 * 0.10 + 0.5 * 1.25)


def test_set_price_takes_cached_rates() -> None:
    set_price("openai:gpt-my-finetune", input=1, output=2, cached_input=0.5)
    usage = Usage(1_000_000, 0, 1, cached_input_tokens=1_000_000, cache_write_tokens=0)
    assert pricing.estimate("openai", "gpt-my-finetune", usage) == pytest.approx(0.5)
    set_price("openai:gpt-other", input=1, output=2)  # no cached rate: cached input at the input rate
    assert pricing.estimate("openai", "gpt-other", usage) == pytest.approx(1.0)
    with pytest.raises(ConfigurationError, match="cached_input=-1"):
        set_price("openai:gpt-5", input=1, output=1, cached_input=-1)

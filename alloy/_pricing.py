"""Cost estimates: list prices for a few current models, and the one function that applies them.

``Result.cost`` is an *estimate* in US dollars: the call's summed input and output tokens times
the model's list price. It is ``None`` whenever Alloy cannot price the call honestly: a model not
in the table (Alloy never guesses from a similar name), the offline ``fake`` model and test
models, or a provider that reported no token counts.

Provider batch jobs are priced at the batch rate (``batch_discount``: half the list price on
OpenAI, Anthropic and Gemini) for the batch's own answers. Cached input tokens
(``Usage.cached_input_tokens``) are priced at the model's cached rate and tokens written to the
cache (``cache_write_tokens``) at its cache-write rate, where the table has them (else at the input
rate). What the estimate leaves out: cache storage fees, priority tiers, and the higher
rates some models charge for very long prompts (over 200K input tokens for Claude Sonnet 4.5 and
Gemini 2.5 Pro). Reasoning tokens count where the provider reports them as output tokens.

Prices change; ``set_price`` adds or replaces one without waiting for a release.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._errors import ConfigurationError
from ._registry import split_model

if TYPE_CHECKING:
    from ._messages import Result, Usage
    from ._plan import Plan

__all__ = ["set_price"]

log = logging.getLogger("alloy.pricing")


@dataclass(frozen=True, slots=True)
class Price:
    """List price in USD per million tokens.

    ``cached_input``: input read from the prompt cache; ``cache_write``: input written to it
    (Anthropic's 5-minute cache writes). ``None``: billed at the ``input`` rate.
    """

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None


# Standard-tier list prices in USD per million tokens, prompts under 200K tokens. Cache reads:
# OpenAI 10% of input (GPT-5) or 25% (GPT-4.1), writes free; Anthropic reads 10%, 5-minute
# writes 125%; Gemini's cached rate. Looked up on 2026-11-26 (cached rates 2026-12-01); check the
# providers' pricing pages before relying on them.
_PRICES: dict[tuple[str, str], Price] = {
    ("openai", "gpt-5"): Price(1.25, 10.00, 0.125),
    ("openai", "gpt-5-mini"): Price(0.25, 2.00, 0.025),
    ("openai", "gpt-4.1"): Price(2.00, 8.00, 0.50),
    ("openai", "gpt-4.1-mini"): Price(0.40, 1.60, 0.10),
    ("anthropic", "claude-sonnet-4-5"): Price(3.00, 15.00, 0.30, 3.75),
    ("anthropic", "claude-haiku-4-5"): Price(1.00, 5.00, 0.10, 1.25),
    ("gemini", "gemini-2.5-flash"): Price(0.30, 2.50, 0.03),
    ("gemini", "gemini-2.5-pro"): Price(1.25, 10.00, 0.125),
}

# Batch jobs cost this fraction less than the list price, input and output alike (each provider's
# batch documentation, checked on 2026-12-01: "50% discount" on OpenAI's Batch API, Anthropic's
# Message Batches and Gemini's batch mode).
_BATCH_DISCOUNT: dict[str, float] = {"openai": 0.5, "anthropic": 0.5, "gemini": 0.5}

# A dated snapshot (gpt-5-mini-2025-08-07, claude-sonnet-4-5-20250929) is the same model at the
# same price as its alias; nothing else is inferred from a name.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8})$")


def set_price(
    model: str,
    *,
    input: float,
    output: float,
    cached_input: float | None = None,
    cache_write: float | None = None,
) -> None:
    """Set the list price Alloy uses to estimate ``Result.cost`` for *model*.

    Args:
        model: ``"provider:model"`` as in the ``model`` setting (a bare name is routed by prefix,
            e.g. ``"gpt-5"`` to OpenAI). Replaces any built-in price for that model.
        input: USD per million input tokens.
        output: USD per million output tokens.
        cached_input: USD per million input tokens read from the prompt cache (default: *input*).
        cache_write: USD per million input tokens written to the prompt cache (default: *input*).

    Raises:
        ConfigurationError: an unknown provider, or a price that is negative or not a number.

    .. versionadded:: 0.1.0
    """
    rates = {"input": input, "output": output, "cached_input": cached_input, "cache_write": cache_write}
    for label, value in rates.items():
        if value is not None or label in ("input", "output"):
            _check(model, label, value)
    provider, name = split_model(model)
    _PRICES[provider, name] = Price(
        float(input),
        float(output),
        None if cached_input is None else float(cached_input),
        None if cache_write is None else float(cache_write),
    )
    log.debug("price for %s:%s set to $%s in / $%s out per million tokens", provider, name, input, output)


def _check(model: str, label: str, value: object) -> None:
    ok = (
        isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0
    )
    if not ok:
        raise ConfigurationError(
            f"set_price({model!r}): {label}={value!r} should be a price in USD per million tokens (>= 0)."
        )


def price(provider: str, model: str) -> Price | None:
    """The list price of *model*, or ``None`` if Alloy does not know it."""
    found = _PRICES.get((provider, model))
    if found is None and (alias := _SNAPSHOT.sub("", model)) != model:
        found = _PRICES.get((provider, alias))
    return found


def batch_discount(provider: str) -> float:
    """The fraction of the list price a provider's batch jobs save (0 where it has none)."""
    return _BATCH_DISCOUNT.get(provider, 0.0)


def estimate(provider: str, model: str, usage: Usage, *, batch: bool = False) -> float | None:
    """The estimated cost in USD of *usage* on *model*, or ``None`` if it cannot be priced.

    *batch*: the tokens were spent in a provider batch job, at the batch rate.
    """
    found = price(provider, model)
    if found is None or (usage.input_tokens == 0 and usage.output_tokens == 0):
        return None  # unpriced model, or a provider that reported no usage: unknown, not free
    cached, written = usage.cached_input_tokens, usage.cache_write_tokens
    fresh = max(usage.input_tokens - cached - written, 0)
    read_rate = found.input if found.cached_input is None else found.cached_input
    write_rate = found.input if found.cache_write is None else found.cache_write
    total = (
        fresh * found.input + cached * read_rate + written * write_rate + usage.output_tokens * found.output
    )
    listed = total / 1_000_000
    return listed * (1 - batch_discount(provider)) if batch else listed


def priced(plan: Plan, result: Result[Any]) -> Result[Any]:
    """*result* naming the plan's model, with its ``cost`` estimated from that model's price.

    *result* is the one the engine has just built and nobody else holds yet, so both are set on it
    in place (frozen to users, not to its maker) rather than copying every field.
    """
    object.__setattr__(result, "model", plan.label)
    cost = estimate(plan.provider, plan.model, result.usage)
    if cost is not None:
        object.__setattr__(result, "cost", cost)
    return result

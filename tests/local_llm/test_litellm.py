"""A real gateway: Alloy through a LiteLLM proxy in front of the local ``llama-server``.

Opt-in: skipped unless ``ALLOY_TEST_LITELLM_URL`` is set. ``scripts/local-llm.sh litellm-test`` (or
``nox -s local_litellm``) installs the proxy into a venv of its own, starts llama-server and the proxy
on loopback (the proxy serves the model as ``smollm2-gateway``, mapped to ``openai/<alias>`` at
llama-server's ``/v1``), sets the variables and runs this file. Two of the proxy's routes, the way
teams put one in front of their providers:

- ``/v1/chat/completions`` with Alloy's ``openai`` provider (``openai_base_url`` at the proxy);
- ``/v1/messages``, the Anthropic-style route, with Alloy's ``anthropic`` provider
  (``anthropic_base_url`` at the proxy), which LiteLLM translates to Chat Completions upstream.

Typed calls, streaming, tools through ReAct, usage, a fallback from a model name the proxy does not
serve, and what the proxy refuses (downgraded as SPEC §16 says).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any, Literal

import pytest

from alloy import ProviderError, command, override

from .test_local_llm import (
    CALLS,
    TYPED,
    balance_of,
    check_person,
    extract_person,
    greet,
    policy,
    support,
)

URL = os.environ.get("ALLOY_TEST_LITELLM_URL", "").rstrip("/")
MODEL = os.environ.get("ALLOY_TEST_LITELLM_MODEL", "smollm2-gateway")
KEY = os.environ.get("ALLOY_TEST_LITELLM_KEY", "sk-local")

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.skipif(
        not URL, reason="ALLOY_TEST_LITELLM_URL is not set (see scripts/local-llm.sh litellm-test)"
    ),
]

Route = Literal["chat", "messages"]


def settings_for(route: Route, model: str = MODEL) -> dict[str, Any]:
    common: dict[str, Any] = {"max_tokens": 200, "retry": 3, "temperature": 0.0, "timeout": 60}
    if route == "messages":
        return {
            "model": f"anthropic:{model}",
            "anthropic_base_url": URL,
            "anthropic_api_key": KEY,
            **common,
        }
    return {
        "model": f"openai:{model}",
        "openai_base_url": f"{URL}/v1",
        "openai_api_key": KEY,
        "openai_api": "chat",
        **common,
    }


@pytest.fixture(params=["chat", "messages"])
def route(request: pytest.FixtureRequest) -> Iterator[Route]:
    with override(**settings_for(request.param)):
        yield request.param


def test_text_with_usage(route: Route) -> None:
    result = greet.with_options(max_tokens=40).run("Ada")
    assert isinstance(result.output, str) and result.output.strip()
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.requests == 1 and result.model == f"{settings_for(route)['model']}"


def test_stream(route: Route) -> None:
    deltas = list(greet.with_options(max_tokens=40).stream("Ada"))
    assert len(deltas) > 1 and "".join(deltas).strip()


@pytest.mark.parametrize(("cmd", "text", "check"), TYPED)
def test_typed_output(route: Route, cmd: Any, text: str, check: Any) -> None:
    result = cmd.run(text)
    check(result.output)
    assert result.usage.input_tokens > 0 and result.usage.requests == result.attempts


def test_react_chain_of_two_tools(route: Route) -> None:
    CALLS.clear()
    result = balance_of.with_options(max_tokens=80).run("Bob")
    assert CALLS == ["customer_number(Bob)", "get_balance(7)"]
    assert isinstance(result.output, float) and 0 < result.output < 100


def test_fallback_from_a_model_the_proxy_does_not_serve(route: Route) -> None:
    """The proxy answers an unknown model name with a 400; the next model of the chain answers."""
    first = settings_for(route, "no-such-model")["model"]
    served = settings_for(route)["model"]
    result = extract_person.with_options(model=[first, served]).run("Alice is 30 years old.")
    check_person(result.output)
    assert result.model == served
    assert result.usage.requests == result.attempts  # the refused request spent nothing


def test_every_model_unknown_is_the_proxys_error(route: Route) -> None:
    models = [settings_for(route, "no-such-model")["model"], settings_for(route, "nor-this")["model"]]
    with pytest.raises(ProviderError) as info:
        greet.with_options(model=models)("Ada")
    assert info.value.status_code == 400 and not info.value.retryable
    assert "Invalid model name" in str(info.value)
    assert any("no-such-model" in note for note in getattr(info.value, "__notes__", []))


def test_cached_tokens_through_the_proxy(route: Route) -> None:
    """llama-server's cached-token count travels through the proxy's usage."""
    cmd = support.with_options(system=policy(uuid.uuid4().hex), max_tokens=5)
    first = cmd.run("Which rule is about 50 dollars?").usage
    second = cmd.run("Which team approves rule 3?").usage
    assert first.cached_input_tokens < 50
    assert second.cached_input_tokens > first.input_tokens * 0.8


@command(output=float)
def price(text: str) -> str:
    return f"Extract the price: '{text}'"


def test_typed_output_async(route: Route) -> None:
    import asyncio

    value = asyncio.run(price.async_("The price is 12.5 dollars"))
    assert isinstance(value, float) and 0 < value < 100

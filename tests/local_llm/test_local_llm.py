"""A real model, end to end: Alloy's public API against a local llama.cpp ``llama-server``.

Opt-in: skipped unless ``ALLOY_TEST_LOCAL_LLM_URL`` is set (e.g. ``http://127.0.0.1:8080``).
``scripts/local-llm.sh test`` (or ``nox -s local_llm``) builds the server, starts it with
SmolLM2-135M-Instruct, sets the variable and runs this file. One server answers the three wire APIs
Alloy speaks: Chat Completions and Responses (``openai:<alias>``) and the Messages API
(``anthropic:<alias>``).

What the server does with Alloy's structured-output fields decides what a 135M model can do:

- ``/v1/chat/completions`` turns ``response_format`` ``json_schema`` into a grammar, so every
  answer is JSON of the right shape (truncation aside): typed outputs and the ReAct loop work.
- ``/v1/responses`` ignores ``text.format`` and ``/v1/messages`` ignores ``output_config`` (and
  ``tool_choice``), so the shape is only stated in the prompt (the schema and the answer's form,
  restated at the end of the user message), which this model follows for flat shapes but not for a
  list of models. On ``/v1/responses`` llama-server's own ``json_schema`` field, sent through Alloy's
  ``extra``, brings the grammar back; ``/v1/messages`` drops unknown fields, so there is no way.

So every wire API is exercised (text, streaming, re-asks, usage, truncation, errors), and typed
outputs where the server can enforce them. Prompts ask for easy answers, re-asks are allowed,
and assertions check types and ranges, not wording.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import pydantic
import pytest

from alloy import CommandError, ProviderError, ask, command, ensure, override, tool

URL = os.environ.get("ALLOY_TEST_LOCAL_LLM_URL", "").rstrip("/")

pytestmark = [
    pytest.mark.local_llm,
    pytest.mark.skipif(not URL, reason="ALLOY_TEST_LOCAL_LLM_URL is not set (see scripts/local-llm.sh)"),
]

Backend = Literal["chat", "responses", "anthropic"]
ALL: list[Backend] = ["chat", "responses", "anthropic"]
NO_GRAMMAR = (
    "llama-server applies no grammar on this endpoint (text.format / output_config are ignored) "
    "and a 135M model does not always follow the JSON shape stated in the prompt"
)


@pytest.fixture(scope="module")
def alias() -> str:
    """The model name the server reports (llama-server's ``--alias``)."""
    models = httpx.get(f"{URL}/v1/models", timeout=10).raise_for_status().json()
    return str(models["data"][0]["id"])


def settings_for(backend: Backend, alias: str) -> dict[str, Any]:
    """``override`` keywords that point Alloy at the server through *backend*."""
    common: dict[str, Any] = {"max_tokens": 200, "retry": 3, "temperature": 0.0, "timeout": 60}
    if backend == "anthropic":
        return {
            "model": f"anthropic:{alias}",
            "anthropic_base_url": URL,
            "anthropic_api_key": "sk-local",
            **common,
        }
    return {
        "model": f"openai:{alias}",
        "openai_base_url": f"{URL}/v1",
        "openai_api_key": "sk-local",
        "openai_api": backend,
        **common,
    }


@pytest.fixture(params=ALL)
def backend(request: pytest.FixtureRequest, alias: str) -> Iterator[Backend]:
    """Each wire API in turn, as the active settings."""
    with override(**settings_for(request.param, alias)):
        yield request.param


@pytest.fixture
def chat(alias: str) -> Iterator[None]:
    """Chat Completions, where the server enforces the schema with a grammar."""
    with override(**settings_for("chat", alias)):
        yield


@pytest.fixture
def responses(alias: str) -> Iterator[None]:
    with override(**settings_for("responses", alias)):
        yield


# --- typed outputs ------------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    age: int


class Item(pydantic.BaseModel):
    name: str
    quantity: int


@command(output=float)
def extract_number(text: str) -> str:
    return f"Extract the number: '{text}'"


@command(output=Person)
def extract_person(text: str) -> str:
    return f"Extract the person: '{text}'"


@command(output=list[Item])
def extract_items(text: str) -> str:
    return (
        f"Text: '{text}'\n"
        'Reply with JSON only, in the form {"value": [{"name": <fruit>, "quantity": <number>}, ...]}.'
    )


def check_number(value: object) -> None:
    assert isinstance(value, float) and 0 < value < 100


def check_person(value: object) -> None:
    assert isinstance(value, Person)
    assert isinstance(value.name, str) and value.name
    assert isinstance(value.age, int) and 0 <= value.age <= 150


def check_items(value: object) -> None:
    assert isinstance(value, list) and value
    assert all(isinstance(i, Item) and i.name and 0 <= i.quantity <= 100 for i in value)


TYPED = [
    pytest.param(extract_number, "The price is 12.5 dollars", check_number, id="float"),
    pytest.param(extract_person, "Alice is 30 years old.", check_person, id="dataclass"),
    pytest.param(extract_items, "I bought 2 apples and 3 pears.", check_items, id="list-of-models"),
]


@pytest.mark.parametrize(("cmd", "text", "check"), TYPED)
def test_typed_output_chat(chat: None, cmd: Any, text: str, check: Any) -> None:
    """Chat Completions: the json_schema is enforced, the answer decodes and validates."""
    result = cmd.run(text)
    check(result.output)
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.requests == result.attempts


@pytest.mark.parametrize(("cmd", "text", "check"), TYPED)
def test_typed_output_responses_with_llama_grammar(responses: None, cmd: Any, text: str, check: Any) -> None:
    """Responses API: llama-server's own ``json_schema`` field, passed through ``extra``, is applied."""
    schema = cmd.explain().schema  # what Alloy sends as text.format, which the server ignores
    result = cmd.with_options(extra={"json_schema": schema}).run(text)
    check(result.output)
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0


@pytest.mark.parametrize(("cmd", "text", "check"), TYPED)
@pytest.mark.parametrize("backend", ["responses", "anthropic"], indirect=True)
def test_typed_output_with_the_schema_only_in_the_prompt(
    backend: Backend, cmd: Any, text: str, check: Any
) -> None:
    """No grammar: the shape is stated in the prompt, the schema and the answer's form.

    Since the form (a ``<...>`` slot per value) is restated at the end of the user message,
    SmolLM2-135M answers the float and the dataclass right on both routes; the list of models
    still comes back as broken JSON (measured: docs/local-models.md). A failure must be well formed.
    """
    try:
        result = cmd.with_options(retry=1).run(text)
    except CommandError as exc:
        assert exc.attempts == 2 and exc.raw and exc.errors
        assert exc.usage.requests == 2 and exc.usage.input_tokens > 0
        pytest.xfail(NO_GRAMMAR)
    check(result.output)


def test_async_typed_output(chat: None) -> None:
    value = asyncio.run(ask.async_("Extract the number: 'It weighs 7 kilograms'", output=int))
    assert isinstance(value, int) and 0 < value < 100


# --- text and streaming ---------------------------------------------------------------------------------


@command
def greet(name: str) -> str:
    return f"Say hello to {name} in one short sentence."


def test_text_with_usage(backend: Backend) -> None:
    result = greet.with_options(max_tokens=40).run("Ada")
    assert isinstance(result.output, str) and result.output.strip()
    assert result.usage.input_tokens > 0 and result.usage.output_tokens > 0
    assert result.usage.requests == 1 and result.attempts == 1


def test_stream(backend: Backend) -> None:
    deltas = list(greet.with_options(max_tokens=40).stream("Ada"))
    assert len(deltas) > 1 and all(isinstance(d, str) for d in deltas)
    assert "".join(deltas).strip()


def test_stream_async(backend: Backend) -> None:
    async def collect() -> list[str]:
        return [d async for d in ask.stream_async("Name a color.", max_tokens=20)]

    deltas = asyncio.run(collect())
    assert deltas and "".join(deltas).strip()


# --- tools through ReAct --------------------------------------------------------------------------------
# The server returns no native tool calls for this model; each ReAct step is constrained by the step
# schema (a grammar on Chat Completions). Tool results say what to do next, which a 135M model needs.

CALLS: list[str] = []


@tool
def customer_number(name: str) -> str:
    """The customer number of a person."""
    CALLS.append(f"customer_number({name})")
    return (
        f"{name} has customer number 7. Next reply: "
        '{"thought": "Now the balance.", "action": "get_balance", "action_input": {"number": 7}}'
    )


@tool
def get_balance(number: int) -> str:
    """The account balance of a customer number."""
    CALLS.append(f"get_balance({number})")
    return (
        f"Customer {number} has 42.5 dollars. Next reply: "
        '{"thought": "Done.", "action": "final_answer", "action_input": {"value": 42.5}}'
    )


@command(output=float, tools=[customer_number, get_balance], tool_mode="react", max_tool_turns=4)
def balance_of(name: str) -> str:
    return (
        f"What is the balance of {name}? Reply first with exactly: "
        f'{{"thought": "I need the customer number of {name}.", "action": "customer_number", '
        f'"action_input": {{"name": "{name}"}}}}'
    )


def test_react_chain_of_two_tools(chat: None) -> None:
    CALLS.clear()
    result = balance_of.with_options(max_tokens=80).run("Bob")
    assert CALLS == ["customer_number(Bob)", "get_balance(7)"]
    assert isinstance(result.output, float) and 0 < result.output < 100
    assert result.usage.requests >= 3
    observations = [m.content for m in result.messages if m.content.startswith("Observation: ")]
    assert len(observations) == 2


# --- re-ask and errors ----------------------------------------------------------------------------------


@command(output=int)
@ensure(lambda n: n == 4, "the answer must be 4, one more than the number in the text")
def one_more(text: str) -> str:
    return f"Extract the number: '{text}'"


@command
@ensure(lambda text: len(text) > 100_000, "the answer must be longer than 100000 characters")
def too_short() -> str:
    return "Say hello."


def test_reask_until_the_contract_holds(chat: None) -> None:
    """The first answer (3) breaks the contract; the error goes back and the next answer keeps it."""
    result = one_more.run("I have 3 cats")
    assert result.output == 4 and result.attempts >= 2


def test_impossible_contract_reasks_then_fails(backend: Backend) -> None:
    """Each answer and the error text travel back over the wire; after retry re-asks, CommandError."""
    with pytest.raises(CommandError) as info:
        too_short.with_options(retry=1, max_tokens=30)()
    assert info.value.attempts == 2  # the answer and one re-ask
    assert "longer than 100000 characters" in str(info.value)
    assert info.value.raw


def test_truncation_is_reported_as_such(backend: Backend) -> None:
    with pytest.raises(CommandError, match=r"cut off at max_tokens \(3\)"):
        extract_person.with_options(max_tokens=3, retry=0)("Alice is 30 years old.")


def test_context_overflow_is_a_provider_error(backend: Backend) -> None:
    with pytest.raises(ProviderError) as info:
        ask("word " * 20_000, max_tokens=5)
    assert info.value.status_code == 400 and not info.value.retryable
    assert "context size" in str(info.value)


# --- prompt cache and fallbacks ---------------------------------------------------------------------------


def policy(edition: str, rules: int = 24) -> str:
    """A long system prompt (~700 tokens), new from its first line on for each *edition*."""
    lines = [f"Support policy, edition {edition}. Answer in one short sentence."]
    lines += [
        f"Rule {i}: an order of more than {10 * i} dollars needs approval by team {i % 7 + 1}."
        for i in range(rules)
    ]
    return "\n".join(lines)


@command
def support(question: str) -> str:
    return question


def test_cached_tokens_on_a_repeated_system_prompt(backend: Backend) -> None:
    """The server reuses the prefix it computed for the first call (its KV cache) and reports it:
    ``prompt_tokens_details.cached_tokens`` / ``input_tokens_details.cached_tokens`` /
    ``cache_read_input_tokens``, which Alloy reads into ``Usage.cached_input_tokens``."""
    cmd = support.with_options(system=policy(uuid.uuid4().hex), max_tokens=5)
    first = cmd.run("Which rule is about 50 dollars?").usage
    second = cmd.run("Which team approves rule 3?").usage
    assert first.input_tokens > 500
    assert first.cached_input_tokens < 50  # a new prefix: at most the chat template's first tokens
    assert (
        second.cached_input_tokens > first.input_tokens * 0.8
    )  # the whole system prompt came from the cache
    assert second.cached_input_tokens < second.input_tokens  # and the new question did not


def test_llama_server_answers_any_model_name(chat: None, alias: str) -> None:
    """A single-model llama-server serves whatever ``model`` names, so an unknown name never fails
    there and a chain does not move on (the proxy in test_litellm.py checks names; it does)."""
    result = greet.with_options(model=["openai:no-such-model", f"openai:{alias}"], max_tokens=20).run("Ada")
    assert result.model == "openai:no-such-model" and result.output.strip()


def test_escalation_from_a_route_without_grammar_to_one_with(alias: str) -> None:
    """The answer on ``/v1/messages`` (no grammar) fails validation after the re-ask (SmolLM2-135M
    breaks the JSON of a list of models there); the next model of the chain, Chat Completions (a
    grammar), answers. Usage sums both."""
    both = {**settings_for("anthropic", alias), **settings_for("chat", alias)}
    chain = [f"anthropic:{alias}", f"openai:{alias}"]
    with override(**{**both, "model": chain, "retry": 1}):
        result = extract_items.run("I bought 2 apples and 3 pears.")
    check_items(result.output)
    assert result.model == f"openai:{alias}"
    assert result.usage.requests == 2 + result.attempts  # the first model's answer and its re-ask

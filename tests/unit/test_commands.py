"""@command and ask through the public API, on the fake and scripted models."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest

import alloy
from alloy import CommandError, ConfigurationError, ProviderError, ask, command, ensure, override, require
from alloy.testing import SENTENCE, ScriptedModel

from .conftest import Driver, RefusesTools


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


def test_spec_opening_example_on_the_fake_model() -> None:
    """The SPEC's opening example returns an Invoice on the offline fake model."""
    inv = extract_invoice.with_options(model="fake")("Invoice #42, total $99.50")
    assert isinstance(inv, Invoice)


def test_scripted_reask_contains_the_validation_error(driver: Driver) -> None:
    """A bad first answer is re-asked once, the request carrying the validation error."""
    model = ScriptedModel(['{"number": 42}', '{"number": "42", "total": 99.5}'])
    with override(model=model):
        inv = driver(extract_invoice, "Invoice #42, total $99.50")
    assert inv == Invoice("42", 99.5)
    assert len(model.requests) == 2
    reask = model.requests[1].messages[-1]
    assert reask.role == "user" and "total" in reask.content and "Field required" in reask.content


def test_run_returns_result_with_usage_and_attempts(run_driver: Driver) -> None:
    """.run returns the Result: output, attempts, usage summed over requests, messages."""
    with override(model=ScriptedModel(["oops", '{"number": "1", "total": 2}'])):
        result = run_driver(extract_invoice, "x")
    assert result.output == Invoice("1", 2.0)
    assert result.attempts == 2
    assert result.usage.requests == 2
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens > 0
    assert result.messages[0].content == "Extract the invoice from: x"


def test_command_error_after_retries_shows_a_snippet_of_the_answer(driver: Driver) -> None:
    """After `retry` re-asks CommandError carries raw, errors, attempts and shows the answer."""
    with (
        override(model=ScriptedModel(["no", "still no", "never"]), retry=2),
        pytest.raises(CommandError) as info,
    ):
        driver(extract_invoice, "x")
    assert info.value.attempts == 3
    assert info.value.raw == "never"
    assert "never" in str(info.value)


def test_async_def_command_is_awaited() -> None:
    """An async def command returns an awaitable of the output."""

    @command(output=int, model=ScriptedModel(['{"value": 3}']))
    async def count(text: str) -> str:
        await asyncio.sleep(0)
        return f"Count: {text}"

    assert asyncio.run(count("a b c")) == 3


def test_override_beats_the_model_pinned_in_the_decorator() -> None:
    """override(model=...) wins over @command(model=...)."""

    @command(output=int, model="fake")
    def number() -> str:
        return "a number"

    with override(model=ScriptedModel(['{"value": 41}'])):
        assert number() == 41
    assert number() == 1  # the fake's integer


def test_with_options_beats_override() -> None:
    """with_options(...) is the highest layer."""
    with override(model=ScriptedModel(['{"value": 1}'])):
        assert extract_invoice.with_options(model="fake")("x") == Invoice("example", 1.0)


def test_unknown_setting_in_decorator_is_a_configuration_error() -> None:
    """A typo in a setting name fails at decoration time with a suggestion."""
    with pytest.raises(ConfigurationError, match="temprature"):

        @command(temprature=0.2)  # type: ignore[call-overload]  # pyright: ignore[reportCallIssue]
        def f() -> str:
            return "x"


def test_wrong_return_annotation_is_a_configuration_error() -> None:
    """The decorated function must return the prompt: a different annotation names the fix."""
    with pytest.raises(ConfigurationError, match=r"output=int"):

        @command
        def f() -> int:  # type: ignore[arg-type]
            return 1


def test_output_none_runs_and_returns_none() -> None:
    """output=None runs the call and returns None."""

    @command(output=None, model=ScriptedModel(["whatever"]))
    def fire() -> str:
        return "do it"

    assert fire() is None


def test_stream_yields_deltas_that_join_to_the_answer() -> None:
    """.stream yields text deltas whose join equals the non-streamed answer."""

    @command(model="fake")
    def say() -> str:
        return "hello"

    deltas = list(say.stream())
    assert len(deltas) > 1
    assert "".join(deltas) == SENTENCE == say()


def test_async_stream_yields_deltas() -> None:
    """An async command's .stream is an async iterator of deltas."""

    @command(model="fake")
    async def say() -> str:
        return "hello"

    async def collect() -> list[str]:
        return [d async for d in say.stream()]

    assert "".join(asyncio.run(collect())) == SENTENCE


def test_stream_of_structured_output_is_refused_before_sending() -> None:
    """Streaming is text only: a typed command's .stream raises ConfigurationError, nothing sent."""
    model = ScriptedModel([])
    with override(model=model), pytest.raises(ConfigurationError, match="text only"):
        extract_invoice.stream("x")
    assert model.requests == []


def test_require_on_command_fails_before_sending() -> None:
    """@require on a command checks arguments first; failure is CommandError and nothing is sent."""
    model = ScriptedModel(['{"value": 1}'])

    @require(lambda text: len(text) > 0, "text must not be empty")
    @command(output=int, model=model)
    def count(text: str) -> str:
        return text

    with pytest.raises(CommandError, match="text must not be empty"):
        count("")
    assert model.requests == []


def test_wrong_arguments_are_a_type_error_naming_the_command(driver: Driver) -> None:
    """Arguments that do not fit the function's signature fail like a call would, before sending."""
    model = ScriptedModel([])
    with override(model=model), pytest.raises(TypeError, match=r"extract_invoice\(\): missing"):
        driver(extract_invoice)
    with override(model=model), pytest.raises(TypeError, match="extract_invoice"):
        driver(extract_invoice, "a", "b")
    assert model.requests == []


def test_ensure_on_command_reasks_with_its_message(driver: Driver) -> None:
    """@ensure on a command checks the output; failure re-asks with the message."""
    model = ScriptedModel(['{"value": -1}', '{"value": 5}'])

    @command(output=int, model=model)
    @ensure(lambda n: n > 0, "the count must be positive")
    def count(text: str) -> str:
        return text

    assert driver(count, "x") == 5
    assert "the count must be positive" in model.requests[1].messages[-1].content


def test_ensure_predicate_that_raises_is_a_failure_with_its_text() -> None:
    """A predicate that raises counts as a failure and its exception text is added."""

    def check(n: int) -> bool:
        raise RuntimeError("boom")

    @command(output=int, model=ScriptedModel(['{"value": 1}', '{"value": 2}']), retry=1)
    @ensure(check, "must check")
    def count() -> str:
        return "x"

    with pytest.raises(CommandError) as info:
        count()
    assert "must check" in info.value.errors[0] and "boom" in info.value.errors[0]


def test_ask_returns_typed_output_and_sends_context_first() -> None:
    """ask(output=T, context={...}) sends a Context: JSON block before the prompt."""
    model = ScriptedModel(['{"value": [1, 2]}'])
    assert ask("Which ids?", output=list[int], context={"ids": [1, 2]}, model=model) == [1, 2]
    content = model.requests[0].messages[0].content
    assert content.startswith("Context:\n")
    assert '"ids"' in content and content.endswith("Which ids?")


def test_ask_variants() -> None:
    """ask.async_, ask.stream and ask.stream_async work on the fake model."""
    assert ask("hi", model="fake") == SENTENCE
    assert asyncio.run(ask.async_("hi", output=int, model="fake")) == 1
    assert "".join(ask.stream("hi", model="fake")) == SENTENCE

    async def collect() -> str:
        return "".join([d async for d in ask.stream_async("hi", model="fake")])

    assert asyncio.run(collect()) == SENTENCE


def test_explain_sends_nothing_and_shows_the_plan() -> None:
    """explain() returns the plan: provider, model, modes, schema, tools, notes; str() is readable."""
    plan = extract_invoice.with_options(model="fake").explain()
    assert (plan.provider, plan.model, plan.output_mode, plan.tool_mode) == ("fake", "fake", "native", "none")
    assert plan.schema is not None and set(plan.schema["properties"]) == {"number", "total"}
    assert plan.tools == [] and isinstance(plan.notes, list)
    assert "output mode: native" in str(plan)
    assert ask.explain("x", output=int, model="fake").schema == {
        "type": "object",
        "properties": {"value": {"type": "integer"}},
        "required": ["value"],
    }


def test_unknown_model_prefix_lists_known_providers() -> None:
    """A bare model name no prefix claims is a ConfigurationError listing the providers."""
    with pytest.raises(ConfigurationError, match="openai, anthropic, gemini, ollama"):
        ask("x", model="mistral-large")


def test_bare_names_route_by_prefix() -> None:
    """gpt-/o1/o3/o4/chatgpt- → openai, claude- → anthropic, gemini- → gemini."""
    from alloy._registry import split_model

    assert split_model("gpt-5-mini") == ("openai", "gpt-5-mini")
    assert split_model("o3-mini") == ("openai", "o3-mini")
    assert split_model("chatgpt-4o-latest") == ("openai", "chatgpt-4o-latest")
    assert split_model("claude-sonnet-4-5") == ("anthropic", "claude-sonnet-4-5")
    assert split_model("gemini-2.5-flash") == ("gemini", "gemini-2.5-flash")
    assert split_model("ollama:llama3.2") == ("ollama", "llama3.2")
    assert split_model("fake") == ("fake", "fake")


def test_transient_provider_errors_are_retried_then_succeed(driver: Driver) -> None:
    """A retryable ProviderError is retried by the one retry layer; the call then succeeds."""
    err = ProviderError("overloaded", provider="scripted", status_code=503, retryable=True)
    model = ScriptedModel([err, err, '{"value": 9}'])
    with override(model=model, retry_attempts=4):
        assert (
            driver(
                command(output=int)(lambda: "n"),
            )
            == 9
        )
    assert len(model.requests) == 3


def test_non_retryable_provider_error_raises_at_once() -> None:
    """A non-retryable ProviderError is raised after one request."""
    err = ProviderError("bad request", provider="scripted", status_code=400)
    model = ScriptedModel([err, '{"value": 9}'])
    with override(model=model), pytest.raises(ProviderError) as info:
        ask("n", output=int)
    assert info.value.status_code == 400
    assert len(model.requests) == 1


def test_retries_stop_after_retry_attempts() -> None:
    """Transient errors past retry_attempts raise the ProviderError."""
    err = ProviderError("busy", provider="scripted", status_code=429, retryable=True)
    model = ScriptedModel([err] * 5)
    with override(model=model, retry_attempts=3), pytest.raises(ProviderError):
        ask("n")
    assert len(model.requests) == 3


def test_public_names_are_exported_and_sorted() -> None:
    """alloy.__all__ is sorted and holds the SPEC's public names."""
    assert alloy.__all__ == sorted(alloy.__all__)
    for name in [
        "command",
        "ask",
        "tool",
        "require",
        "ensure",
        "configure",
        "override",
        "get_settings",
        "Settings",
        "register_type",
        "AlloyError",
        "ConfigurationError",
        "CommandError",
        "ToolError",
        "ToolLoopLimitExceeded",
        "ProviderError",
        "Result",
        "Usage",
    ]:
        assert name in alloy.__all__
        assert getattr(alloy, name) is not None


def test_refused_feature_replans_the_call_once() -> None:
    """An endpoint that refuses native tools is re-planned: the same call continues in ReAct mode."""
    from alloy import tool

    @tool
    def two() -> int:
        return 2

    model = RefusesTools(['{"thought": "t", "action": "final_answer", "action_input": 2}'])
    assert ask("x", output=int, tools=[two], model=model) == 2
    assert len(model.requests) == 2 and model.requests[1].tools == ()


def test_refused_feature_that_planning_cannot_avoid_raises_at_once() -> None:
    """With tool_mode="native" forced, a refusal is raised after one request, not re-planned."""
    from alloy import tool
    from alloy.providers import UnsupportedFeature

    @tool
    def two() -> int:
        return 2

    model = RefusesTools([])
    with pytest.raises(UnsupportedFeature):
        ask("x", output=int, tools=[two], model=model, tool_mode="native")
    assert len(model.requests) == 1

"""Spans through the OpenTelemetry SDK's in-memory exporter, on the scripted model."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import AsyncGenerator, Generator, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar, cast

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from alloy import CommandError, ConfigurationError, ProviderError, ask, command, override, tool
from alloy import _telemetry as telemetry
from alloy._plan import build
from alloy._settings import resolve
from alloy.testing import ScriptedModel, ToolCall

from .conftest import Driver, RefusesTools


@dataclass
class Invoice:
    number: str
    total: float


@tool
def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


@tool
def mul(a: int, b: int) -> int:
    """Multiply two numbers."""
    return a * b


@tool
def explode(code: str) -> str:
    """Always fails."""
    raise ValueError(f"cannot handle {code}")


@command(output=Invoice, tools=[add, mul])
def bill(text: str) -> str:
    return f"Bill this: {text}"


class Spans:
    """The finished spans of one test."""

    def __init__(self, exporter: InMemorySpanExporter) -> None:
        self.exporter = exporter

    def all(self) -> list[ReadableSpan]:
        return sorted(self.exporter.get_finished_spans(), key=lambda s: s.start_time or 0)

    def named(self, prefix: str) -> list[ReadableSpan]:
        return [s for s in self.all() if s.name.startswith(prefix)]

    def one(self, name: str) -> ReadableSpan:
        (span,) = [s for s in self.all() if s.name == name]
        return span

    def text(self) -> str:
        """Every recorded string: attributes, event attributes and status descriptions."""
        parts: list[str] = []
        for s in self.all():
            parts += [s.name, s.status.description or "", json.dumps(dict(s.attributes or {}), default=str)]
            parts += [json.dumps(dict(e.attributes or {}), default=str) for e in s.events]
        return "\n".join(parts)


@pytest.fixture
def spans(exporter: InMemorySpanExporter) -> Iterator[Spans]:
    exporter.clear()
    with override(telemetry=True):
        yield Spans(exporter)


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def two_tools_then_a_reask() -> ScriptedModel:
    return ScriptedModel(
        [
            [ToolCall("add", {"a": 1, "b": 2}, id="c1"), ToolCall("mul", {"a": 2, "b": 3}, id="c2")],
            '{"number": "7"}',
            '{"number": "7", "total": 9}',
        ]
    )


# --- the tree -------------------------------------------------------------------------------------


def test_span_tree_of_two_tools_and_a_reask(spans: Spans, run_driver: Driver) -> None:
    """Requests, tool calls and validations are children of the call span, in order."""
    with override(model=two_tools_then_a_reask()):
        run_driver(bill, "lunch")
    call = spans.one("alloy.command bill")
    children = [s for s in spans.all() if s is not call]
    assert call.parent is None
    assert call.context is not None
    assert all(s.parent is not None and s.parent.span_id == call.context.span_id for s in children)
    assert {s.context.trace_id for s in spans.all() if s.context} == {call.context.trace_id}
    kinds = [s.name.split(" ")[0] for s in children]
    assert kinds == [
        *["chat", "execute_tool", "execute_tool"],
        *["chat", "alloy.validate", "chat", "alloy.validate"],
    ]
    assert {s.name for s in spans.named("execute_tool")} == {"execute_tool add", "execute_tool mul"}
    assert [attrs(s)["alloy.validate.valid"] for s in spans.named("alloy.validate")] == [False, True]
    assert all(s.end_time is not None for s in spans.all())


def test_call_span_attributes(spans: Spans) -> None:
    """The call span carries the GenAI attributes, modes, summed usage and attempts."""
    with override(model=two_tools_then_a_reask()):
        result = bill.with_options(temperature=0.2, max_tokens=100).run("lunch")
    call = spans.one("alloy.command bill")
    assert call.kind == SpanKind.INTERNAL
    assert attrs(call) == {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "bill",
        "gen_ai.provider.name": "scripted",
        "gen_ai.system": "scripted",
        "gen_ai.request.model": "scripted",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 100,
        "alloy.output_mode": "native",
        "alloy.tool_mode": "native",
        "gen_ai.usage.input_tokens": result.usage.input_tokens,
        "gen_ai.usage.output_tokens": result.usage.output_tokens,
        "gen_ai.response.model": "scripted",
        "alloy.attempts": 2,
        "alloy.requests": 3,
    }
    assert call.status.status_code == StatusCode.UNSET


def test_request_and_tool_span_attributes(spans: Spans) -> None:
    """Request spans are CLIENT `chat` spans with usage and finish reasons; tool spans name the call."""
    with override(model=two_tools_then_a_reask()):
        bill("lunch")
    first = spans.named("chat")[0]
    assert first.kind == SpanKind.CLIENT
    a = attrs(first)
    assert a["gen_ai.operation.name"] == "chat"
    assert a["gen_ai.provider.name"] == a["gen_ai.system"] == "scripted"
    assert a["gen_ai.request.model"] == "scripted"
    assert a["gen_ai.output.type"] == "json"
    assert a["alloy.retry.attempt"] == 1
    assert a["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert a["gen_ai.usage.input_tokens"] == 3 and a["gen_ai.usage.output_tokens"] == 1
    add_span = spans.one("execute_tool add")
    assert add_span.kind == SpanKind.INTERNAL
    assert attrs(add_span) == {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "add",
        "gen_ai.tool.call.id": "c1",
        "gen_ai.tool.type": "function",
        "gen_ai.tool.description": "Add two numbers.",
    }


def test_ask_span_and_gemini_provider_name(spans: Spans) -> None:
    """`ask` makes an `alloy.ask` span; Gemini is `gcp.gemini` as the conventions name it."""

    class GeminiLike(ScriptedModel):
        provider: ClassVar[str] = "gemini"

    with override(model=GeminiLike(["hi"], name="gemini-2.5-flash")):
        ask("hello")
    call = spans.one("alloy.ask")
    assert "gen_ai.agent.name" not in attrs(call)
    assert attrs(call)["gen_ai.provider.name"] == attrs(call)["gen_ai.system"] == "gcp.gemini"
    assert spans.one("chat gemini-2.5-flash")


def test_cost_estimate_goes_on_the_call_span(spans: Spans) -> None:
    """A priced model's cost estimate is `alloy.cost_usd`; an unpriced one records none."""

    class PricedModel(ScriptedModel):
        provider: ClassVar[str] = "openai"

    @command
    def job() -> str:
        return "a b c"

    with override(model=PricedModel(["four words of answer"], name="gpt-5-mini")):
        result = job.run()
    assert result.cost is not None
    assert attrs(spans.one("alloy.command job"))["alloy.cost_usd"] == pytest.approx(result.cost)
    spans.exporter.clear()
    with override(model=ScriptedModel(["x"])):
        job()
    assert "alloy.cost_usd" not in attrs(spans.one("alloy.command job"))


# --- errors ---------------------------------------------------------------------------------------


def test_failed_tool_marks_its_span_only(spans: Spans, driver: Driver) -> None:
    """A tool that raises: its span has error status and an exception event; the call goes on."""

    @command(tools=[explode])
    def job() -> str:
        return "do it"

    with override(model=ScriptedModel([ToolCall("explode", {"code": "XYZZY"}), "done"])):
        assert driver(job) == "done"
    failed = spans.one("execute_tool explode")
    assert failed.status.status_code == StatusCode.ERROR
    assert attrs(failed)["error.type"] == "alloy.ToolError"
    assert [e.name for e in failed.events] == ["exception"]
    assert spans.one("alloy.command job").status.status_code == StatusCode.UNSET
    assert "XYZZY" not in spans.text()  # the error text quotes the arguments: content


def test_provider_error_marks_request_and_call_spans(spans: Spans, driver: Driver) -> None:
    """A ProviderError: the request span and the call span end in error, error.type is the status."""
    err = ProviderError("bad request", provider="scripted", status_code=400)

    @command
    def job() -> str:
        return "p"

    with override(model=ScriptedModel([err])), pytest.raises(ProviderError):
        driver(job)
    for span in (spans.one("chat scripted"), spans.one("alloy.command job")):
        assert span.status.status_code == StatusCode.ERROR
        assert attrs(span)["error.type"] == "400"
        (event,) = span.events
        assert event.name == "exception"
        assert dict(event.attributes or {})["exception.type"] == "alloy.ProviderError"


def test_retried_request_is_a_second_request_span(spans: Spans) -> None:
    """A transient error then success: two request spans, attempts 1 (error) and 2 (ok)."""
    err = ProviderError("overloaded", provider="scripted", status_code=503, retryable=True)
    with override(model=ScriptedModel([err, "fine"])):
        assert ask("p") == "fine"
    first, second = spans.named("chat")
    assert (attrs(first)["alloy.retry.attempt"], attrs(second)["alloy.retry.attempt"]) == (1, 2)
    assert first.status.status_code == StatusCode.ERROR and attrs(first)["error.type"] == "503"
    assert second.status.status_code == StatusCode.UNSET
    assert spans.one("alloy.ask").status.status_code == StatusCode.UNSET


def test_command_error_marks_the_call_span(spans: Spans, driver: Driver) -> None:
    """A CommandError: failed validate spans, the call span in error with the attempts, no answer text."""
    with (
        override(model=ScriptedModel(['{"number": "ANSWER-ONE"}', '{"number": "ANSWER-TWO"}']), retry=1),
        pytest.raises(CommandError),
    ):
        driver(bill, "x")
    call = spans.one("alloy.command bill")
    assert call.status.status_code == StatusCode.ERROR
    assert attrs(call)["error.type"] == "alloy.CommandError"
    assert attrs(call)["alloy.attempts"] == 2
    assert [e.name for e in call.events] == ["exception"]
    checks = spans.named("alloy.validate")
    assert [attrs(s)["alloy.validate.valid"] for s in checks] == [False, False]
    assert all(s.status.status_code == StatusCode.ERROR for s in checks)
    assert "ANSWER-" not in spans.text()


# --- streaming and async --------------------------------------------------------------------------


def test_stream_span_ends_when_exhausted(spans: Spans) -> None:
    """A stream read to the end: call, request and validate spans, all ended."""
    with override(model=ScriptedModel(["one two three"])):
        assert "".join(ask.stream("p")) == "one two three"
    assert [s.name for s in spans.all()] == ["alloy.ask", "chat scripted", "alloy.validate"]
    assert "alloy.closed_early" not in attrs(spans.one("alloy.ask"))


def test_stream_span_ends_when_closed_early(spans: Spans) -> None:
    """A stream closed after one delta ends its spans, marked closed early, not as errors."""
    with override(model=ScriptedModel(["one two three"])):
        # ask.stream is a generator; its declared Iterator[str] type hides .close().
        deltas = cast("Generator[str]", ask.stream("p"))
        assert next(deltas) == "one "
        assert spans.all() == []
        deltas.close()
    call, request = spans.one("alloy.ask"), spans.one("chat scripted")
    for span in (call, request):
        assert attrs(span)["alloy.closed_early"] is True
        assert span.status.status_code == StatusCode.UNSET


def test_async_stream_spans_end_when_exhausted_or_closed(spans: Spans) -> None:
    """The async stream ends its spans at the end and when closed early."""

    async def main() -> None:
        with override(model=ScriptedModel(["one two", "three four"])):
            assert [d async for d in ask.stream_async("p")] == ["one ", "two"]
            deltas = cast("AsyncGenerator[str]", ask.stream_async("q"))
            assert await anext(deltas) == "three "  # the rest and the Response are still to come
            await deltas.aclose()

    asyncio.run(main())
    first, second = spans.named("alloy.ask")
    assert "alloy.closed_early" not in attrs(first)
    assert attrs(second)["alloy.closed_early"] is True
    assert len(spans.named("chat")) == 2


# --- content --------------------------------------------------------------------------------------


def _secret_run(driver: Driver) -> None:
    @command(output=Invoice, tools=[add])
    def secret(text: str) -> str:
        return f"PROMPT-SECRET {text}"

    model = ScriptedModel(
        [
            ToolCall("add", {"a": 4000, "b": 321}),
            '{"number": "ANSWER-SECRET"}',
            '{"number": "N-SECRET", "total": 1}',
        ]
    )
    with override(model=model, system="SYSTEM-SECRET", openai_api_key="sk-KEY-SECRET"):
        driver(secret, "TEXT-SECRET")


def test_no_content_by_default(spans: Spans, driver: Driver) -> None:
    """Without telemetry_content no prompt, answer, tool argument or result is recorded."""
    _secret_run(driver)
    text = spans.text()
    assert "SECRET" not in text
    assert "4000" not in text and "4321" not in text  # the tool's arguments and result


def test_content_with_telemetry_content(spans: Spans, driver: Driver) -> None:
    """With telemetry_content: input and output messages as JSON, system, tool arguments and results."""
    with override(telemetry_content=True):
        _secret_run(driver)
    first = attrs(spans.named("chat")[0])
    messages = json.loads(first["gen_ai.input.messages"])
    assert messages == [{"role": "user", "parts": [{"type": "text", "content": "PROMPT-SECRET TEXT-SECRET"}]}]
    assert json.loads(first["gen_ai.system_instructions"])[0]["content"].startswith("SYSTEM-SECRET")
    (out,) = json.loads(first["gen_ai.output.messages"])
    assert out["parts"][0]["type"] == "tool_call" and out["finish_reason"] == "tool_calls"
    second = json.loads(attrs(spans.named("chat")[1])["gen_ai.input.messages"])
    assert second[-1]["parts"][0] == {
        "type": "tool_call_response",
        "id": out["parts"][0]["id"],
        "response": "4321",
    }
    add_span = attrs(spans.one("execute_tool add"))
    assert json.loads(add_span["gen_ai.tool.call.arguments"]) == {"a": 4000, "b": 321}
    assert add_span["gen_ai.tool.call.result"] == "4321"
    refused = spans.named("alloy.validate")[0]
    assert "total" in str(dict(refused.events[0].attributes or {})["alloy.feedback"])
    call = attrs(spans.one("alloy.command secret"))
    assert "PROMPT-SECRET" in call["gen_ai.input.messages"] and "N-SECRET" in call["gen_ai.output.messages"]
    assert "KEY-SECRET" not in spans.text()


# --- off ------------------------------------------------------------------------------------------


def test_off_records_nothing_and_makes_no_span(exporter: InMemorySpanExporter) -> None:
    """Telemetry off: the hooks hand out one shared null context and no span is made."""
    exporter.clear()
    plan = build(str, [], resolve(call={"model": ScriptedModel([])}))
    assert telemetry.call_span(plan, "x") is telemetry.call_span(plan, "y")
    with override(model=ScriptedModel(["a"])):
        ask("b")
    assert exporter.get_finished_spans() == ()


def test_off_imports_no_opentelemetry() -> None:
    """A call with telemetry off imports no `opentelemetry` module (checked in a fresh process)."""
    code = textwrap.dedent(
        """
        import sys
        from alloy import ask, command, override
        from alloy.testing import ScriptedModel

        with override(model=ScriptedModel(["hello", "x y"])):
            ask("hi")
            list(ask.stream("hi"))
        loaded = sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
        assert not loaded, loaded
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOY_")}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_missing_extra_names_the_pip_install(monkeypatch: pytest.MonkeyPatch) -> None:
    """Telemetry on without OpenTelemetry installed: a ConfigurationError naming the extra."""
    monkeypatch.setitem(sys.modules, "opentelemetry", None)
    telemetry._tracer.cache_clear()  # pyright: ignore[reportPrivateUsage]
    try:
        with (
            override(model=ScriptedModel(["a"]), telemetry=True),
            pytest.raises(ConfigurationError, match=r"pip install 'alloy-ai\[otel\]'"),
        ):
            ask("b")
    finally:
        telemetry._tracer.cache_clear()  # pyright: ignore[reportPrivateUsage]


# --- replans and logging --------------------------------------------------------------------------


def _noop() -> None:
    """Does nothing."""


def test_replan_stays_in_one_call_span(spans: Spans) -> None:
    """An endpoint that refuses a feature: one call span holds the refused request and the replanned
    one, and says the mode the call ended in."""
    model = RefusesTools(['{"thought": "t", "action": "final_answer", "action_input": "fine"}'])
    with override(model=model):
        assert ask("p", tools=[_noop]) == "fine"
    call = spans.one("alloy.ask")
    failed, ok = spans.named("chat")
    assert call.context is not None
    assert all(s.parent is not None and s.parent.span_id == call.context.span_id for s in (failed, ok))
    assert attrs(failed)["error.type"] == "400"
    assert attrs(call)["alloy.attempts"] == 1 and attrs(call)["alloy.tool_mode"] == "react"
    assert call.status.status_code == StatusCode.UNSET
    assert ok.status.status_code == StatusCode.UNSET


def _broken(status: int) -> ScriptedModel:
    return ScriptedModel([ProviderError("no such model", provider="scripted", status_code=status)])


def test_fallback_chain_is_one_call_span_with_a_span_per_model(spans: Spans, run_driver: Driver) -> None:
    """SPEC §8 and §13: one trace per call: the call span, a span per model tried under it (the
    failed one marked), each model's requests under its own span; the call span says who answered
    and the usage summed over the models."""
    second = ScriptedModel(['{"number": "7", "total": 9}'])
    with override(model=[_broken(404), second]):
        result = run_driver(bill, "lunch")
    assert result.output == Invoice("7", 9)
    call = spans.one("alloy.command bill")
    first_model, second_model = spans.named("alloy.model")
    assert call.parent is None and call.context is not None
    assert all(
        s.parent is not None and s.parent.span_id == call.context.span_id for s in (first_model, second_model)
    )
    assert first_model.status.status_code == StatusCode.ERROR
    assert second_model.status.status_code == StatusCode.UNSET
    failed, ok = spans.named("chat")
    assert first_model.context is not None and second_model.context is not None
    assert failed.parent is not None and failed.parent.span_id == first_model.context.span_id
    assert ok.parent is not None and ok.parent.span_id == second_model.context.span_id
    assert {s.context.trace_id for s in spans.all() if s.context} == {call.context.trace_id}
    assert attrs(call)["alloy.fallback.models"] == ("scripted:scripted", "scripted:scripted")
    assert attrs(call)["gen_ai.usage.input_tokens"] == result.usage.input_tokens
    assert attrs(call)["gen_ai.response.model"] == result.model
    assert call.status.status_code == StatusCode.UNSET


def test_fallback_chain_failing_marks_the_call_span(spans: Spans) -> None:
    """Every model failed: each model's span and the call span carry the error."""
    with override(model=[_broken(404), _broken(400)]), pytest.raises(ProviderError):
        bill("lunch")
    call = spans.one("alloy.command bill")
    assert [s.status.status_code for s in spans.named("alloy.model")] == [StatusCode.ERROR] * 2
    assert call.status.status_code == StatusCode.ERROR and attrs(call)["error.type"] == "400"


def test_debug_logs_name_the_plan_retries_and_replans(caplog: pytest.LogCaptureFixture) -> None:
    """Debug lines say the provider, model and modes, each retried attempt and a replan; no secrets."""
    caplog.set_level(logging.DEBUG, logger="alloy")
    busy = ProviderError("overloaded", provider="scripted", status_code=503, retryable=True)
    final = '{"thought": "t", "action": "final_answer", "action_input": "fine"}'
    with override(model=RefusesTools([busy, final]), openai_api_key="sk-KEY-SECRET"):
        ask("PROMPT-SECRET", tools=[_noop])
    text = caplog.text
    assert "ask: scripted:scripted, output_mode=text, tool_mode=native" in text
    assert "scripted: request attempt 2 of 4" in text
    assert "planning again without it" in text
    assert "SECRET" not in text


def test_parts_are_placeholders_on_spans(spans: Spans) -> None:
    """Spans never hold binary data; with telemetry_content a part is its placeholder."""
    import base64

    from alloy import Image

    image = Image(b"\x89PNG\r\n\x1a\n" + b"PIXELS" * 200)
    for content in (False, True):
        with override(telemetry_content=content, model=ScriptedModel(["a pixel"])):
            ask(["What is this?", image])
    text = spans.text()
    assert base64.b64encode(image.data).decode()[:16] not in text and "PIXELS" not in text
    parts = json.loads(attrs(spans.named("chat")[-1])["gen_ai.input.messages"])[0]["parts"]
    assert parts[1] == {
        "type": "blob",
        "modality": "image",
        "mime_type": "image/png",
        "content": image.placeholder,
    }

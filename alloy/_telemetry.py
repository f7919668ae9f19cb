"""OpenTelemetry spans for each call, started by the drivers. Off: a bool check, no import, no span.

The tree of one call (names per SPEC section 8, attributes per the GenAI semantic conventions)::

    alloy.command <name> | alloy.ask   INTERNAL  gen_ai.operation.name=invoke_agent (in-process agent)
    ├── chat <model>                   CLIENT    one per provider request and per stamina attempt
    ├── execute_tool <tool>            INTERNAL  one per tool call
    └── alloy.validate                 INTERNAL  one per answer the engine checked

A fallback chain (SPEC section 13) keeps one call span, with a span per model tried under it::

    alloy.command <name>               INTERNAL  alloy.fallback.models, the answering gen_ai.response.model
    ├── alloy.model <provider:model>   INTERNAL  the first model: its requests, tools, validations
    └── alloy.model <provider:model>   INTERNAL  the next one, ...

A call that replans (a feature the server refused, SPEC section 16) stays in its one span.

- *Off.* Each hook first reads ``plan.settings.telemetry``; off, it returns one shared
  ``nullcontext`` (the ``record_*`` hooks then get ``None``) and ``opentelemetry`` is never imported.
- *Explicit parents.* The call span lives in the drivers' generators, which yield to the caller. A
  span made *current* across a ``yield`` leaks into the caller's code and is detached out of order
  when the generator is closed late (a dropped async stream is closed by the event loop, in another
  task). So the call span is never current: children find it through the ``Plan`` (one per call),
  which also reaches the sync driver's tool threads, where contextvars do not follow. Request spans
  (not streamed ones) and tool spans are current while they run, so spans opened inside them (an
  instrumented HTTP client, a tool's own code) nest under them.
- *Validation stays in the engine*, which is sans-IO and knows nothing of spans. The drivers step it
  through ``advance``: what a ``Response`` sent in turns into tells what the engine did (``RunTools``:
  a tool turn; the ``Result``: a valid answer; another ``Send``: the answer was refused, re-ask,
  finalize turn or bad ReAct step; ``CommandError``: the final failure). The ``alloy.validate`` span
  is then recorded, starting at the time taken before that step.
- *Content* (prompts, answers, tool arguments and results, and error messages that may quote them:
  a ``CommandError`` shows the answer) only with ``telemetry_content``; messages go as
  ``gen_ai.input.messages``/``gen_ai.output.messages`` JSON. Keys never.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import traceback
import weakref
from collections.abc import Generator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from ._engine import RunTools
from ._errors import CommandError, ConfigurationError, ProviderError, ToolLoopLimitExceeded
from ._messages import Message, Response
from ._parts import Part

if TYPE_CHECKING:
    from opentelemetry.trace import Span, Tracer

    from ._engine import Effect, Run
    from ._messages import Request, Result, ToolCall, Usage
    from ._plan import Plan
    from ._settings import Settings

log = logging.getLogger("alloy.telemetry")

_OFF: AbstractContextManager[None] = nullcontext()
_calls: weakref.WeakKeyDictionary[Plan, Span] = weakref.WeakKeyDictionary()
_PROVIDER_NAMES = {"gemini": "gcp.gemini"}  # the conventions' name for the Gemini API; others match
_SAFE = (ConfigurationError, ToolLoopLimitExceeded)  # their messages quote no prompt or answer


@dataclass(frozen=True, slots=True)
class Live:
    """What a span context manager yields when telemetry is on: the span and the content switch."""

    span: Span
    content: bool


@cache
def _tracer() -> Tracer:
    try:
        from opentelemetry import trace
    except ImportError as exc:
        raise ConfigurationError(
            "Telemetry is on (ALLOY_TELEMETRY or telemetry=True) but OpenTelemetry is not installed: "
            "pip install 'alloy-ai[otel]', or turn telemetry off."
        ) from exc
    from ._version import __version__

    log.debug("telemetry on: spans go to the global tracer provider")
    return trace.get_tracer("alloy", __version__)


def _call_name(name: str) -> str:
    return "alloy.ask" if name == "ask" else f"alloy.command {name}"


def call_span(plan: Plan, name: str, parent: Live | None = None) -> AbstractContextManager[Live | None]:
    """The span of one command or ``ask`` call (never made current; see the module docstring);
    under a fallback chain's *parent*, the span of one model of it."""
    if not plan.settings.telemetry:
        return _OFF
    attrs = _model(plan, "invoke_agent", plan.temperature, plan.settings.max_tokens)
    attrs |= {"alloy.output_mode": plan.output_mode, "alloy.tool_mode": plan.tool_mode}
    if name != "ask":
        attrs["gen_ai.agent.name"] = name
    if parent is None:
        span = _start(_call_name(name), attrs, parent=None)
    else:
        span = _start(f"alloy.model {plan.provider}:{plan.model}", attrs, parent=parent.span)
    _calls[plan] = span
    return _scope(Live(span, plan.settings.telemetry_content), current=False, plan=plan)


def replanned(live: Live | None, plan: Plan) -> None:
    """The call of *live* goes on with *plan* (a feature was refused): its spans stay under *live*."""
    if live is None:
        return
    _calls[plan] = live.span
    live.span.set_attributes({"alloy.output_mode": plan.output_mode, "alloy.tool_mode": plan.tool_mode})


def chain_span(settings: Settings, name: str, labels: Sequence[str]) -> AbstractContextManager[Live | None]:
    """The call span of a fallback chain: each model tried gets a ``call_span`` under it."""
    if not settings.telemetry:
        return _OFF
    attrs: dict[str, Any] = {"gen_ai.operation.name": "invoke_agent", "alloy.fallback.models": tuple(labels)}
    if name != "ask":
        attrs["gen_ai.agent.name"] = name
    return _scope(
        Live(_start(_call_name(name), attrs, parent=None), settings.telemetry_content), current=False
    )


def request_span(
    plan: Plan, request: Request, attempt: int, *, stream: bool = False
) -> AbstractContextManager[Live | None]:
    """A ``chat <model>`` span per request attempt; *stream*: held across yields, so not current."""
    if not plan.settings.telemetry:
        return _OFF
    content = plan.settings.telemetry_content
    attrs = _model(plan, "chat", request.temperature, request.max_tokens)
    attrs["gen_ai.output.type"] = "text" if plan.output_mode == "text" else "json"
    attrs["alloy.retry.attempt"] = attempt
    if content:
        attrs["gen_ai.input.messages"] = _json([_message(m) for m in request.messages])
        if request.system:
            attrs["gen_ai.system_instructions"] = _json([{"type": "text", "content": request.system}])
    span = _start(f"chat {request.model}", attrs, parent=_calls.get(plan), client=True)
    return _scope(Live(span, content), current=not stream)


def tool_span(plan: Plan, call: ToolCall) -> AbstractContextManager[Live | None]:
    """An ``execute_tool <name>`` span, current while the tool runs."""
    if not plan.settings.telemetry:
        return _OFF
    content = plan.settings.telemetry_content
    attrs: dict[str, Any] = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": call.name}
    attrs |= {"gen_ai.tool.call.id": call.id, "gen_ai.tool.type": "function"}
    if (known := plan.tool_table.get(call.name)) is not None and known.spec.description:
        attrs["gen_ai.tool.description"] = known.spec.description
    if content:
        attrs["gen_ai.tool.call.arguments"] = _json(call.arguments)
    return _scope(
        Live(_start(f"execute_tool {call.name}", attrs, parent=_calls.get(plan)), content), current=True
    )


def record_response(live: Live | None, response: Response) -> None:
    """Response model, usage, finish reason (and with content, the answer) on a request span."""
    if live is None:
        return
    attrs = _usage(response.usage)
    if response.model:
        attrs["gen_ai.response.model"] = response.model
    if response.finish_reason:
        attrs["gen_ai.response.finish_reasons"] = (response.finish_reason,)
    if live.content:
        reason = response.finish_reason or ("tool_call" if response.tool_calls else "stop")
        answer = _message(Message("assistant", response.text, response.tool_calls))
        attrs["gen_ai.output.messages"] = _json([{**answer, "finish_reason": reason}])
    live.span.set_attributes(attrs)


def record_result(live: Live | None, result: Result[Any]) -> None:
    """Summed usage, attempts, requests, the cost estimate (and who answered) on the call span."""
    if live is None:
        return
    attrs = _usage(result.usage)
    if result.model:
        attrs["gen_ai.response.model"] = result.model
    attrs |= {"alloy.attempts": result.attempts, "alloy.requests": result.usage.requests}
    if result.cost is not None:
        attrs["alloy.cost_usd"] = result.cost
    if live.content and result.messages:
        attrs["gen_ai.input.messages"] = _json([_message(result.messages[0])])
        attrs["gen_ai.output.messages"] = _json([{**_message(result.messages[-1]), "finish_reason": "stop"}])
    live.span.set_attributes(attrs)


def record_tool(live: Live | None, message: Message) -> None:
    """A tool's outcome: its result (with content), or error status for a failed call."""
    if live is None:
        return
    if not message.is_error:
        if live.content:
            live.span.set_attribute("gen_ai.tool.call.result", message.text)
        return
    # The tool's exception is already text for the model (no traceback); it may quote arguments.
    _error(live.span, "alloy.ToolError", message.text if live.content else _HIDDEN, exception=None)


def advance(plan: Plan, gen: Run, value: Any) -> Effect:
    """``gen.send(value)``, recording an ``alloy.validate`` span when *value* was checked as the answer."""
    if not plan.settings.telemetry or not isinstance(value, Response):
        return gen.send(value)
    start = time.time_ns()
    try:
        effect = gen.send(value)
    except StopIteration:
        _validated(plan, start)
        raise
    except ToolLoopLimitExceeded:
        raise  # a tool turn over the limit: nothing was validated
    except CommandError as exc:
        _validated(plan, start, error=exc)
        raise
    if not isinstance(effect, RunTools):  # the engine asks again: the answer was refused
        _validated(plan, start, refused=effect.request.messages[-1].text)
    return effect


# --- helpers --------------------------------------------------------------------------------------

_HIDDEN = "(not recorded: telemetry_content is off)"


def _start(
    name: str, attrs: dict[str, Any], *, parent: Span | None, client: bool = False, start: int | None = None
) -> Span:
    """A span under *parent*; with none (a call span), under the caller's current context."""
    tracer = _tracer()  # first: it raises the ConfigurationError if the extra is missing
    from opentelemetry import trace

    context = trace.set_span_in_context(parent) if parent is not None else None
    kind = trace.SpanKind.CLIENT if client else trace.SpanKind.INTERNAL
    return tracer.start_span(name, context, kind, attrs, start_time=start)


@contextmanager
def _scope(live: Live, *, current: bool, plan: Plan | None = None) -> Generator[Live]:
    from opentelemetry import trace

    made_current = trace.use_span(live.span, record_exception=False, set_status_on_exception=False)
    try:
        with made_current if current else nullcontext():
            yield live
    except (GeneratorExit, asyncio.CancelledError):
        # The caller stopped early: a stream closed before its end (a dropped async stream is
        # closed, or cancelled at loop shutdown, by the event loop) or a task cancelled.
        live.span.set_attribute("alloy.closed_early", True)
        raise
    except BaseException as exc:
        _failed(live.span, exc, live.content)
        raise
    finally:
        live.span.end()
        if plan is not None:
            _calls.pop(plan, None)


def _validated(
    plan: Plan, start: int, *, error: BaseException | None = None, refused: str | None = None
) -> None:
    from opentelemetry.trace import Status, StatusCode

    content = plan.settings.telemetry_content
    attrs = {"alloy.output_mode": plan.output_mode}
    span = _start("alloy.validate", attrs, parent=_calls.get(plan), start=start)
    span.set_attribute("alloy.validate.valid", error is None and refused is None)
    if error is not None:
        _failed(span, error, content)
    elif refused is not None:  # not an exception: the engine goes on and asks again
        span.set_attribute("error.type", "invalid_answer")
        span.set_status(Status(StatusCode.ERROR, "the answer was refused; the model is asked again"))
        if content:
            span.add_event("alloy.validate.feedback", {"alloy.feedback": refused})
    span.end()


def _failed(span: Span, exc: BaseException, content: bool) -> None:
    if content or isinstance(exc, _SAFE):
        message = str(exc)
    elif isinstance(exc, ProviderError):  # its text may quote the model (a refusal) or the request
        status = f"HTTP {exc.status_code}" if exc.status_code is not None else "no HTTP status"
        message = f"{exc.provider} error ({status}), retryable={exc.retryable}"
    elif isinstance(exc, CommandError):
        message = f"the answer failed after {exc.attempts} attempt(s)"
    else:
        message = _HIDDEN
    if isinstance(exc, CommandError):
        span.set_attribute("alloy.attempts", exc.attempts)
    # error.type: the provider's status code where there is one, else the exception's class.
    code = exc.status_code if isinstance(exc, ProviderError) else None
    _error(span, str(code) if code is not None else _qualname(exc), message, exception=exc)


def _error(span: Span, error_type: str, message: str, *, exception: BaseException | None) -> None:
    from opentelemetry.trace import Status, StatusCode

    # Built by hand, not span.record_exception: that would put str(exc) in the event and stack.
    kind = _qualname(exception) if exception is not None else error_type
    event = {"exception.type": kind, "exception.message": message}
    if exception is not None:
        stack = "".join(traceback.format_tb(exception.__traceback__))
        event["exception.stacktrace"] = f"Traceback (most recent call last):\n{stack}{kind}: {message}"
    span.add_event("exception", event)
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, message))


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _model(plan: Plan, operation: str, temperature: float | None, max_tokens: int | None) -> dict[str, Any]:
    provider = _PROVIDER_NAMES.get(plan.provider, plan.provider)
    attrs: dict[str, Any] = {"gen_ai.operation.name": operation, "gen_ai.request.model": plan.model}
    attrs |= {"gen_ai.provider.name": provider, "gen_ai.system": provider}
    if temperature is not None:
        attrs["gen_ai.request.temperature"] = temperature
    if max_tokens is not None:
        attrs["gen_ai.request.max_tokens"] = max_tokens
    return attrs


def _usage(usage: Usage) -> dict[str, Any]:
    return {
        "gen_ai.usage.input_tokens": usage.input_tokens,
        "gen_ai.usage.output_tokens": usage.output_tokens,
    }


def _message(m: Message) -> dict[str, Any]:
    """A message in the conventions' JSON shape: a role and typed parts."""
    if m.role == "tool":
        return {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": m.tool_call_id, "response": m.text}],
        }
    text = [_part(p) for p in m.parts]
    calls = [
        {"type": "tool_call", "id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls
    ]
    return {"role": m.role, "parts": [*text, *calls]}


def _part(part: Part) -> dict[str, Any]:
    """A text part as it is; any other part as a placeholder (a span never holds binary data)."""
    if isinstance(part, str):
        return {"type": "text", "content": part}
    if part.url is not None:
        return {"type": "uri", "modality": part.kind, "mime_type": part.media_type, "uri": part.url}
    return {"type": "blob", "modality": part.kind, "mime_type": part.media_type, "content": part.placeholder}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)

"""The run loop of one call, written once, without I/O.

Theory of operation. ``run(plan, messages)`` is a generator (the messages: the conversation the
prompt stands for, ``alloy._prompt.to_messages``). It *yields effects* and *receives their
results*; its return value is the ``Result``:

- ``Send(request, stream)`` → the driver sends one neutral ``Request`` through the adapter (with
  stamina retrying transient errors) and sends back the neutral ``Response``. When streaming, the
  driver passes text deltas to the caller as they arrive; the engine only sees the final Response.
- ``RunTools(calls)`` → the driver runs the tool calls (threads or tasks, bounded by
  ``parallel_tools_max``) and sends back one tool ``Message`` per call, in call order, with errors
  as text.

Between effects the engine is plain code: count tool turns against ``max_tool_turns``, pick the
finalize turn, decode and validate the answer, check ``@ensure``, re-ask with the error text up to
``retry`` times, sum usage. Who owns what: transient-error *retry* belongs to the drivers (it repeats
one request); *re-ask* is semantic and belongs here (it adds messages). They never mix.

The sync, async and streaming drivers in ``_drivers`` all run this same generator, so every rule
here holds for all three and is tested by stepping the generator by hand.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import pydantic

from . import _react
from ._contracts import check_ensure
from ._errors import CommandError, ToolLoopLimitExceeded, snippet
from ._messages import Message, Request, Response, Result, ToolCall, Usage
from ._plan import OUTPUT_TOOL, Plan


@dataclass(frozen=True, slots=True)
class Send:
    request: Request
    stream: bool = False


@dataclass(frozen=True, slots=True)
class RunTools:
    calls: tuple[ToolCall, ...]


Effect = Send | RunTools
Run = Generator[Effect, Any, Result[Any]]


class _Invalid(Exception):
    """The answer did not validate; ``str()`` is the text fed back to the model."""


def run(plan: Plan, prompt: Sequence[Message], *, stream: bool = False) -> Run:
    """Drive one call from the prompt to a validated ``Result``.

    Raises (out of the generator):
        CommandError: the answer never validated after ``retry`` re-asks.
        ToolLoopLimitExceeded: tools were asked for in more than ``max_tool_turns`` turns.
        ProviderError / ConfigurationError: from the drivers, passed through.
    """
    settings = plan.settings
    plan.check_inputs(prompt)
    messages: list[Message] = list(prompt)
    usage = Usage()
    attempts, turns, finalize, finalized = 1, 0, False, False
    texts: list[str] = []
    errors: list[str] = []

    while True:
        response: Response = yield Send(plan.request(messages, finalize=finalize, said=len(prompt)), stream)
        usage = usage + response.usage + Usage(requests=1)
        if response.text:
            texts.append(response.text)
        finalize = False

        # 1. Tool turns.
        calls = _tool_calls(plan, response)
        if calls:
            if turns >= settings.max_tool_turns:
                raise ToolLoopLimitExceeded(
                    max_turns=settings.max_tool_turns,
                    turns_taken=turns,
                    partial_text="\n".join(texts),
                    usage=usage,
                )
            turns += 1
            if plan.tool_mode == "react":
                results = yield RunTools(calls)
                messages += [Message("assistant", response.text)]
                messages += [Message("user", _react.observation(r.text)) for r in results]
            else:
                messages.append(Message("assistant", response.text, tool_calls=calls))
                messages += yield RunTools(calls)
            continue

        # 2. The answer.
        raw = response.text
        try:
            output = _answer(plan, response)
        except _NeedsFinalize:
            if finalized:
                output = _Invalid(
                    "The answer holds no JSON object. Answer with one JSON object that follows the schema."
                )
            else:
                finalize = finalized = True
                messages.append(Message("assistant", raw))
                messages.append(
                    Message("user", "Now give your final answer as JSON that follows the schema.")
                )
                continue
        except _BadStep as exc:  # a ReAct turn that is not a step counts as a turn
            if turns >= settings.max_tool_turns:
                raise ToolLoopLimitExceeded(
                    max_turns=settings.max_tool_turns,
                    turns_taken=turns,
                    partial_text="\n".join(texts),
                    usage=usage,
                ) from None
            turns += 1
            feedback = str(exc)
            if response.finish_reason == "length":  # a cut-off step: say so, not just "not JSON"
                feedback = f"Your reply was cut off at the token limit. Keep the thought short. {feedback}"
            messages += [Message("assistant", raw), Message("user", feedback)]
            continue
        if not isinstance(output, _Invalid) and (failure := check_ensure(plan.ensures, output)):
            output = _Invalid(f"The answer broke a contract: {failure}")
        if not isinstance(output, _Invalid):
            messages.append(_assistant_answer(plan, response))
            return Result(None if plan.returns_none else output, usage, attempts, messages)

        # 3. Re-ask with the error text, or give up.
        errors = [str(output)]
        if attempts > settings.retry:
            why = f"The model's answer failed validation after {attempts} attempt(s)"
            if response.finish_reason in ("length", "max_tokens"):  # the usual cause: say so
                limit = settings.max_tokens or "the provider's default"
                why = (
                    f"The model's answer was cut off at max_tokens ({limit}) and failed validation after "
                    f"{attempts} attempt(s). Raise max_tokens (ALLOY_MAX_TOKENS, or max_tokens=...)"
                )
            raise CommandError(
                f"{why}: {errors[0]}\nAnswer: {snippet(raw or _output_call_text(response))}",
                raw=raw or _output_call_text(response),
                errors=errors,
                attempts=attempts,
                usage=usage,
            )
        attempts += 1
        messages += _reask(plan, response, str(output))
        if plan.deeper is not None:  # recursion was cut at a fixed depth: ask again keeping it
            plan = plan.deeper


class _NeedsFinalize(Exception):
    pass


class _BadStep(Exception):
    pass


def _tool_calls(plan: Plan, response: Response) -> tuple[ToolCall, ...]:
    """The tool calls to run this turn (decoded from the wire shape), or ``()`` if this is the answer."""
    if plan.tool_mode == "react":
        try:
            step = _step(plan, response)
        except (_BadStep, _Invalid):
            return ()
        if step.action == _react.FINAL:
            return ()
        given: Any = step.action_input
        args = cast("dict[str, Any]", given) if isinstance(given, dict) else {}
        return (ToolCall(step.action, args),)
    if any(c.name == OUTPUT_TOOL for c in response.tool_calls):
        return ()
    if plan.tool_codecs:  # strict tool schemas: arguments arrive in the wire encoding
        return tuple(
            ToolCall(c.name, codec.decode(c.arguments), c.id)
            if (codec := plan.tool_codecs.get(c.name))
            else c
            for c in response.tool_calls
        )
    return response.tool_calls


def _step(plan: Plan, response: Response) -> _react.Step:
    try:
        step = _react.parse_step(response.text or _output_call_text(response))
    except ValueError as exc:
        raise _BadStep(str(exc)) from None
    if plan.codec is not None:
        decoded = plan.codec.decode(
            {"thought": step.thought, "action": step.action, "action_input": step.action_input}
        )
        if isinstance(decoded, dict):
            step = _react.Step(step.thought, step.action, decoded.get("action_input"))  # pyright: ignore[reportUnknownMemberType]
    return step


def _answer(plan: Plan, response: Response) -> Any:
    """The validated output, or an ``_Invalid`` whose text goes back to the model."""
    if plan.tool_mode == "react":
        step = _step(plan, response)
        value = step.action_input
        if plan.output is None:
            return value if isinstance(value, str) else json.dumps(value)
        return _validated(lambda: plan.output.validate(value) if plan.output else value)
    if plan.output is None:
        return response.text
    out = plan.output
    decode: Callable[[Any], Any] = plan.codec.decode if plan.codec else _identity
    call = next((c for c in response.tool_calls if c.name == OUTPUT_TOOL), None)
    if call is not None:
        return _validated(lambda: out.validate(call.arguments, decode))
    # Text where an object was due (after tool turns, or instead of the output tool): one finalize turn.
    if plan.output_mode == "tool" or (plan.tools and not out.wrapped and not _looks_like_json(response.text)):
        raise _NeedsFinalize
    return _validated(lambda: out.parse(response.text, decode))


def _identity(value: Any) -> Any:
    return value


def _looks_like_json(text: str) -> bool:
    return "{" in text or "[" in text


def _validated(check: Any) -> Any:
    try:
        return check()
    except pydantic.ValidationError as exc:
        return _Invalid(_describe(exc))
    except ValueError as exc:
        return _Invalid(str(exc))


def _describe(exc: pydantic.ValidationError) -> str:
    lines = [
        f"- {'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']} (got {snippet(e.get('input'), 80)})"
        for e in exc.errors(include_url=False)
    ]
    return f"{exc.error_count()} validation error(s):\n" + "\n".join(lines)


def _output_call_text(response: Response) -> str:
    call = next((c for c in response.tool_calls if c.name == OUTPUT_TOOL), None)
    return json.dumps(call.arguments) if call else ""


def _assistant_answer(plan: Plan, response: Response) -> Message:
    """The answer as it goes into ``Result.messages``. An answer given through the output tool is
    recorded as its JSON text: a tool call without a result would make the history invalid on every
    provider (Anthropic and OpenAI want each call answered), so it could not be continued."""
    call = next((c for c in response.tool_calls if c.name == OUTPUT_TOOL), None)
    if call is not None:
        return Message("assistant", response.text or json.dumps(call.arguments, ensure_ascii=False))
    return Message("assistant", response.text, tool_calls=response.tool_calls)


def _reask(plan: Plan, response: Response, error: str) -> list[Message]:
    """The messages that feed an invalid answer back: it, then the error and what to do."""
    text = f"Your answer was not valid.\n{error}\nAnswer again, fixing these errors."
    call = next((c for c in response.tool_calls if c.name == OUTPUT_TOOL), None)
    if call is not None:  # forced-tool output: the error is that tool's result
        return [
            Message("assistant", response.text, tool_calls=(call,)),
            Message("tool", text, tool_call_id=call.id, name=call.name, is_error=True),
        ]
    return [Message("assistant", response.text), Message("user", text)]

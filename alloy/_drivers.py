"""The drivers: carry out the engine's effects, synchronously or on an event loop.

Both drivers are the same short loop over ``_engine.run``: send a request through the adapter
(inside stamina's retry context), or run tool calls (a bounded thread pool, or tasks under a
semaphore). They yield text deltas as they stream and, last, the ``Result``. Nothing is decided
here that the engine could decide.
"""

from __future__ import annotations

import asyncio
import copy
import logging
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Sequence
from typing import Any

from . import _engine, _retry, _telemetry
from ._errors import CommandError
from ._messages import Message, Request, Response, Result, ToolCall, ToolCallDelta
from ._plan import Plan
from ._pricing import estimate, priced
from ._tools import arun_call, run_call
from .providers import UnsupportedFeature

Delta = str | ToolCallDelta
Item = Plan | Delta | Response | Result[Any]
"""What a run yields: when streaming, the ``Plan`` (again after a re-plan), then each request's
deltas and its ``Response``; last the ``Result``."""

Planner = Callable[[bool], Plan]
"""Gives the plan (``True``: build it afresh, after the endpoint refused a feature it relied on)."""

_REPLANS = 4
"""Enough for every refusal one endpoint can make in turn (prompt_cache_key, json_schema,
json_object, tools): each is remembered, so a call replans at most once per feature."""

log = logging.getLogger("alloy.drivers")


# --- sync -----------------------------------------------------------------------------------------


def run(
    planner: Planner,
    prompt: Sequence[Message],
    *,
    name: str,
    stream: bool = False,
    parent: _telemetry.Live | None = None,
) -> Iterator[Item]:
    """Run one call: when streaming, the plan, each request's deltas and its ``Response``; last the
    ``Result``. *parent*: the span of the fallback chain this run is one model of."""
    plan = _own(planner(False))
    with _telemetry.call_span(plan, name, parent) as span:
        for replans in range(_REPLANS + 1):
            _log_plan(name, plan)
            if stream:
                yield plan
            try:
                for item in _steps(plan, prompt, stream):
                    if isinstance(item, Result):
                        item = priced(plan, item)
                        _telemetry.record_result(span, item)
                    yield item
                return
            except CommandError as exc:
                _price(plan, exc)
                raise
            except UnsupportedFeature as exc:
                if replans == _REPLANS:
                    raise
                plan = _own(_replan(planner, plan, exc, name))
                _telemetry.replanned(span, plan)


def _price(plan: Plan, exc: CommandError) -> None:
    """Put the cost of what the call spent on *exc*, so a failed call does not hide it."""
    if exc.cost is None:
        exc.cost = estimate(plan.provider, plan.model, exc.usage)


def _own(plan: Plan) -> Plan:
    """Plans are cached and shared by calls; with telemetry on, each call gets its own, since
    its spans are keyed by the plan."""
    return copy.copy(plan) if plan.settings.telemetry else plan


def _replan(planner: Planner, plan: Plan, exc: UnsupportedFeature, name: str) -> Plan:
    """The plan after the adapter learnt what the endpoint refuses.

    Native tools refused while the new plan still sends them (``tool_mode="native"`` forced) cannot
    be planned around: *exc* is raised at once instead of repeating the request.
    """
    new = planner(True)
    if exc.feature == "tools" and new.tool_mode == "native":
        raise exc
    log.debug("%s: %s; planning again without it", name, exc)
    return new


def _log_plan(name: str, plan: Plan) -> None:
    if log.isEnabledFor(logging.DEBUG):
        mode = f"output_mode={plan.output_mode}, tool_mode={plan.tool_mode}"
        log.debug("%s: %s:%s, %s", name, plan.provider, plan.model, mode)
        for note in plan.notes:
            log.debug("%s: %s", name, note)


def _log_attempt(plan: Plan, num: int) -> None:
    if num > 1:  # why it failed and how long stamina waits are logged by _retry and stamina
        log.debug("%s: request attempt %d of %d", plan.model, num, plan.settings.retry_attempts)


def _steps(plan: Plan, prompt: Sequence[Message], stream: bool) -> Iterator[Item]:
    gen = _engine.run(plan, prompt, stream=stream)
    value: Any = None
    while True:
        try:
            effect = _telemetry.advance(plan, gen, value)
        except StopIteration as stop:
            yield stop.value
            return
        if isinstance(effect, _engine.RunTools):
            value = _run_tools(plan, effect.calls)
        elif effect.stream:
            value = yield from _stream(plan, effect.request)
            yield value  # this request's deltas are over
        else:
            value = _send(plan, effect.request)


def _send(plan: Plan, request: Request) -> Response:
    def once(attempt: int) -> Response:
        _log_attempt(plan, attempt)
        with _telemetry.request_span(plan, request, attempt) as span:
            with _retry.classified(plan.adapter, plan.settings):
                response = plan.adapter.send(request, plan.settings)
            _telemetry.record_response(span, response)
            return response

    return _retry.call(plan.settings, once)


def _stream(plan: Plan, request: Request) -> Generator[Delta, None, Response]:
    started = False
    for attempt in _retry.attempts(plan.settings):
        _log_attempt(plan, attempt.num)
        with attempt, _telemetry.request_span(plan, request, attempt.num, stream=True) as span:
            try:
                with _retry.classified(plan.adapter, plan.settings):
                    for item in plan.adapter.stream(request, plan.settings):
                        if isinstance(item, Response):
                            _telemetry.record_response(span, item)
                            return item
                        started = True
                        yield item
            except Exception as exc:
                if started:
                    _retry.delivered(exc)
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def _run_tools(plan: Plan, calls: tuple[ToolCall, ...]) -> list[Message]:
    def one(call: ToolCall) -> Message:
        with _telemetry.tool_span(plan, call) as span:
            message = run_call(plan.tool_table, call)
            _telemetry.record_tool(span, message)
            return message

    if len(calls) == 1:
        return [one(calls[0])]
    from concurrent.futures import ThreadPoolExecutor  # with the first turn of parallel tool calls

    workers = max(1, min(plan.settings.parallel_tools_max, len(calls)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alloy-tool") as pool:
        return list(pool.map(one, calls))


# --- async ----------------------------------------------------------------------------------------


async def arun(
    planner: Planner,
    prompt: Sequence[Message],
    *,
    name: str,
    stream: bool = False,
    parent: _telemetry.Live | None = None,
) -> AsyncIterator[Item]:
    """The async twin of ``run``: the same engine, awaited."""
    plan = _own(planner(False))
    with _telemetry.call_span(plan, name, parent) as span:
        for replans in range(_REPLANS + 1):
            _log_plan(name, plan)
            if stream:
                yield plan
            try:
                async for item in _asteps(plan, prompt, stream):
                    if isinstance(item, Result):
                        item = priced(plan, item)
                        _telemetry.record_result(span, item)
                    yield item
                return
            except CommandError as exc:
                _price(plan, exc)
                raise
            except UnsupportedFeature as exc:
                if replans == _REPLANS:
                    raise
                plan = _own(_replan(planner, plan, exc, name))
                _telemetry.replanned(span, plan)


async def _asteps(plan: Plan, prompt: Sequence[Message], stream: bool) -> AsyncIterator[Item]:
    gen = _engine.run(plan, prompt, stream=stream)
    value: Any = None
    while True:
        try:
            effect = _telemetry.advance(plan, gen, value)
        except StopIteration as stop:
            yield stop.value
            return
        if isinstance(effect, _engine.RunTools):
            value = await _arun_tools(plan, effect.calls)
        elif effect.stream:
            value = None
            async for item in _astream(plan, effect.request):
                if isinstance(item, Response):
                    value = item
                yield item  # deltas, then the Response: this request's deltas are over
        else:
            value = await _asend(plan, effect.request)


async def _asend(plan: Plan, request: Request) -> Response:
    async def once(attempt: int) -> Response:
        _log_attempt(plan, attempt)
        with _telemetry.request_span(plan, request, attempt) as span:
            with _retry.classified(plan.adapter, plan.settings):
                response = await plan.adapter.asend(request, plan.settings)
            _telemetry.record_response(span, response)
            return response

    return await _retry.acall(plan.settings, once)


async def _astream(plan: Plan, request: Request) -> AsyncIterator[Delta | Response]:
    started = False
    async for attempt in _retry.aattempts(plan.settings):
        _log_attempt(plan, attempt.num)
        with attempt, _telemetry.request_span(plan, request, attempt.num, stream=True) as span:
            try:
                with _retry.classified(plan.adapter, plan.settings):
                    async for item in plan.adapter.astream(request, plan.settings):
                        if isinstance(item, Response):
                            _telemetry.record_response(span, item)
                            yield item
                            return
                        started = True
                        yield item
            except Exception as exc:
                if started:
                    _retry.delivered(exc)
                raise


async def _arun_tools(plan: Plan, calls: tuple[ToolCall, ...]) -> list[Message]:
    limit = asyncio.Semaphore(max(1, plan.settings.parallel_tools_max))

    async def one(call: ToolCall) -> Message:
        async with limit:
            with _telemetry.tool_span(plan, call) as span:
                message = await arun_call(plan.tool_table, call)
                _telemetry.record_tool(span, message)
                return message

    return list(await asyncio.gather(*(one(c) for c in calls)))

"""OpenTelemetry spans, started by the drivers. A no-op (and no import) when telemetry is off."""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._messages import Message, Request, Response, Result, ToolCall
    from ._plan import Plan

_OFF: AbstractContextManager[None] = nullcontext()


def call_span(plan: Plan, name: str) -> AbstractContextManager[Any]:
    return _OFF


def request_span(plan: Plan, request: Request, attempt: int) -> AbstractContextManager[Any]:
    return _OFF


def tool_span(plan: Plan, call: ToolCall) -> AbstractContextManager[Any]:
    return _OFF


def record_response(span: Any, response: Response) -> None:
    return None


def record_result(span: Any, result: Result[Any]) -> None:
    return None


def record_tool(span: Any, message: Message) -> None:
    return None

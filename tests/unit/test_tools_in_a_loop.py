"""A sync command called inside a running event loop (a notebook cell, an async web handler) runs
its async tools (SPEC §17)."""

from __future__ import annotations

import asyncio
import contextvars
import threading

from alloy import command, override, tool
from alloy.testing import ScriptedModel, ToolCall

where: contextvars.ContextVar[str] = contextvars.ContextVar("where", default="unset")


@tool
async def lookup(sku: str) -> str:
    """Look a product up."""
    await asyncio.sleep(0)
    return f"{sku}: 12.50 ({where.get()}, {threading.current_thread().name})"


@command(tools=[lookup])
def price(sku: str) -> str:
    return f"What does {sku} cost?"


def test_sync_command_inside_a_running_loop_runs_its_async_tool() -> None:
    """The tool really runs (its result goes back to the model), the caller's context variables
    travel with it, and the caller's loop is not re-entered."""
    model = ScriptedModel([ToolCall("lookup", {"sku": "A1"}), "It costs 12.50."])

    async def handler() -> str:
        where.set("handler")
        return price("A1")  # a sync call, from async code

    with override(model=model):
        assert asyncio.run(handler()) == "It costs 12.50."
    result = model.requests[1].messages[-1]
    assert result.role == "tool" and not result.is_error
    assert "A1: 12.50 (handler, alloy-async-tool" in str(result.content)


def test_sync_command_outside_a_loop_runs_its_async_tool_in_place() -> None:
    """Without a running loop nothing changes: the tool runs on a loop of its own, on this thread."""
    model = ScriptedModel([ToolCall("lookup", {"sku": "B2"}), "ok"])
    with override(model=model):
        assert price("B2") == "ok"
    assert threading.current_thread().name in str(model.requests[1].messages[-1].content)

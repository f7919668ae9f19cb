"""Tools: a JSON schema from the signature and docstring, argument validation, result text.

A tool call never raises out of a tool turn: a made-up name, bad arguments, a failed contract or
an exception inside the tool all become that call's result text (``is_error``), so the model can
correct itself. The engine decides *which* calls to run; the drivers run them (threads or tasks).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Generic, ParamSpec, Protocol, TypeVar, cast, overload, runtime_checkable

import pydantic
import pydantic_core

from . import _react
from ._compat import portable
from ._contracts import Contract, check_ensure, check_require, contracts_of
from ._errors import ConfigurationError, ToolError, pydantic_detail, register_hint
from ._messages import Message, ToolCall, ToolSpec

__all__ = ["tool"]

OUTPUT_TOOL = "final_result"
"""The tool that carries the answer when a provider's structured output goes through a forced tool."""
RESERVED = {
    OUTPUT_TOOL: "its output tool (the answer of a forced-tool structured output)",
    _react.FINAL: "the ReAct loop's final answer",
}
"""Tool names Alloy uses itself: a user tool of that name would swallow or fake the answer."""

P = ParamSpec("P")
R = TypeVar("R")


class Tool(Generic[P, R]):
    """A function the model may call. Calls like the function; ``spec`` is what the model sees."""

    __alloy_kind__ = "tool"

    def __init__(
        self, fn: Callable[P, R], *, name: str | None = None, description: str | None = None
    ) -> None:
        self.fn = fn
        self.name = name or fn.__name__
        if self.name in RESERVED:
            raise ConfigurationError(
                f"The tool name {self.name!r} is reserved: Alloy uses it for {RESERVED[self.name]}. "
                f"Rename the function, or give the tool another name with @tool(name=...)."
            )
        self.contracts: list[Contract] = contracts_of(fn)
        self.is_async: bool = inspect.iscoroutinefunction(fn)
        import docstring_parser  # loaded with the first tool, not at ``import alloy``

        doc = docstring_parser.parse(inspect.getdoc(fn) or "")
        self.description = description or " ".join(
            part for part in (doc.short_description, doc.long_description) if part
        )
        self._params = {p.arg_name: p.description for p in doc.params if p.description}
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<alloy tool {self.name!r}>"

    @functools.cached_property
    def arguments_model(self) -> type[pydantic.BaseModel]:
        """A pydantic model of the parameters: validates arguments and supplies the schema."""
        fields: dict[str, Any] = {}
        hints = _hints(self.fn)
        for p in inspect.signature(self.fn).parameters.values():
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                continue
            annotation = portable(hints.get(p.name, Any))
            default = ... if p.default is p.empty else p.default
            fields[p.name] = (annotation, pydantic.Field(default, description=self._params.get(p.name)))
        try:
            return pydantic.create_model(
                f"{self.name}_arguments", __config__=pydantic.ConfigDict(extra="forbid"), **fields
            )
        except Exception as exc:
            raise ConfigurationError(_parameter_problem(self.name, fields, exc)) from exc

    @functools.cached_property
    def spec(self) -> ToolSpec:
        schema = self.arguments_model.model_json_schema()
        schema.pop("title", None)
        return ToolSpec(self.name, self.description or self.name, schema)

    def bind(self, arguments: Mapping[str, Any]) -> dict[str, Any]:
        """Validated keyword arguments for the function.

        Raises:
            ToolError: the arguments do not fit the signature, or a ``@require`` failed.
        """
        try:
            # as JSON, which the arguments were: `datetime | str` takes an ISO string as the datetime
            model = self.arguments_model.model_validate_json(pydantic_core.to_json(dict(arguments)))
        except pydantic.ValidationError as exc:
            raise ToolError(f"Invalid arguments for tool {self.name!r}: {exc}", tool=self.name) from exc
        kwargs = {name: getattr(model, name) for name in type(model).model_fields}
        if failure := check_require(self.contracts, self.fn, kwargs):
            raise ToolError(f"Precondition failed for tool {self.name!r}: {failure}", tool=self.name)
        return kwargs

    def finish(self, call: ToolCall, result: Any) -> Message:
        """The tool message for a result: ``@ensure`` checked, the value serialized with pydantic."""
        if failure := check_ensure(self.contracts, result):
            raise ToolError(f"Postcondition failed for tool {self.name!r}: {failure}", tool=self.name)
        return Message("tool", serialize(result), tool_call_id=call.id, name=call.name)


def _parameter_problem(name: str, fields: dict[str, Any], exc: Exception) -> str:
    """Which parameter pydantic cannot handle, Alloy's fix first, pydantic's detail after."""
    for param, (annotation, _) in fields.items():
        try:
            pydantic.TypeAdapter(annotation)
        except Exception as inner:
            shown = getattr(annotation, "__name__", None) or repr(annotation).replace("typing.", "")
            return (
                f"Tool {name!r}: Alloy cannot describe its parameter `{param}: {shown}`. Teach Alloy the "
                f"type with {register_hint(annotation)}, or annotate the parameter with a type pydantic "
                f"understands. Pydantic said: {pydantic_detail(inner)}"
            )
    return f"Tool {name!r} has a parameter Alloy cannot describe. Pydantic said: {pydantic_detail(exc)}"


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        import typing

        return typing.get_type_hints(fn, include_extras=True)
    except Exception:
        return {}


def serialize(value: Any) -> str:
    """Tool results as text: strings as they are, anything else as JSON through pydantic."""
    if isinstance(value, str):
        return value
    return pydantic_core.to_json(value, fallback=repr).decode()


@runtime_checkable
class ToolSource(Protocol):
    """Something that describes itself as a tool (a command does), so this module need not know it."""

    def __alloy_tool__(self) -> Tool[..., Any]: ...


def as_tool(obj: Any) -> Tool[..., Any]:
    """A ``Tool`` for anything allowed in ``tools=[...]``: a tool, a command, a plain function."""
    if isinstance(obj, Tool):
        return cast("Tool[..., Any]", obj)
    if isinstance(obj, ToolSource):
        return obj.__alloy_tool__()
    if callable(obj):
        return Tool(obj)
    raise ConfigurationError(f"tools=[...] takes functions, @tool objects or commands, not {obj!r}.")


def command_tool(fn: Callable[..., Any], call: Callable[..., Any], *, is_async: bool) -> Tool[..., Any]:
    """A tool whose parameters are *fn*'s and whose body is *call* (a command runs itself)."""
    t: Tool[..., Any] = Tool(fn, name=fn.__name__)
    _ = t.arguments_model  # built from fn's signature before the body takes its place
    t.fn = call
    t.is_async = is_async
    t.contracts = []  # the command checks its own contracts when it runs
    return t


def tool_error(call: ToolCall, exc: BaseException) -> Message:
    text = (
        str(exc) if isinstance(exc, ToolError) else f"Tool {call.name!r} raised {type(exc).__name__}: {exc}"
    )
    return Message("tool", f"Error: {text}", tool_call_id=call.id, name=call.name, is_error=True)


def lookup(tools: Mapping[str, Tool[..., Any]], call: ToolCall) -> Tool[..., Any]:
    try:
        return tools[call.name]
    except KeyError:
        known = ", ".join(tools) or "none"
        raise ToolError(f"There is no tool named {call.name!r}. Available tools: {known}.") from None


def run_call(tools: Mapping[str, Tool[..., Any]], call: ToolCall) -> Message:
    """Run one call in this thread; errors become the call's result."""
    try:
        t = lookup(tools, call)
        kwargs = t.bind(call.arguments)
        result = run_coroutine(t.fn(**kwargs)) if t.is_async else t.fn(**kwargs)
        return t.finish(call, result)
    except Exception as exc:
        return tool_error(call, exc)


def run_coroutine(coro: Coroutine[Any, Any, R]) -> R:
    """Run *coro* to its end from sync code, such as an async tool of a sync command.

    On this thread when no event loop runs here. Inside a running loop (a sync command called in a
    notebook cell or an async web handler) ``asyncio.run`` cannot nest and that loop is busy
    waiting for us, so the coroutine runs on a fresh loop in a helper thread, with this context's
    variables (settings overrides included).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    from concurrent.futures import ThreadPoolExecutor  # only for an async tool inside a running loop

    context = contextvars.copy_context()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="alloy-async-tool") as helper:
        return helper.submit(context.run, asyncio.run, coro).result()


async def arun_call(tools: Mapping[str, Tool[..., Any]], call: ToolCall) -> Message:
    """Run one call on this loop (a sync tool in a worker thread); errors become the result."""
    try:
        t = lookup(tools, call)
        kwargs = t.bind(call.arguments)
        result = await t.fn(**kwargs) if t.is_async else await asyncio.to_thread(t.fn, **kwargs)
        return t.finish(call, result)
    except Exception as exc:
        return tool_error(call, exc)


@overload
def tool(fn: Callable[P, R], /) -> Tool[P, R]: ...
@overload
def tool(
    *, name: str | None = None, description: str | None = None
) -> Callable[[Callable[P, R]], Tool[P, R]]: ...
def tool(
    fn: Callable[P, R] | None = None, /, *, name: str | None = None, description: str | None = None
) -> Tool[P, R] | Callable[[Callable[P, R]], Tool[P, R]]:
    """Make a function a tool the model can call: ``@tool`` or ``@tool(name=..., description=...)``.

    The parameters' JSON schema comes from the type hints and defaults, their descriptions from the
    docstring (Google, NumPy or Sphinx style). The decorated object still calls like the function.

    .. versionadded:: 0.1.0
    """
    if fn is not None:
        return Tool(fn)

    def decorate(f: Callable[P, R]) -> Tool[P, R]:
        return Tool(f, name=name, description=description)

    return decorate

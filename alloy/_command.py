"""``@command``: a function that returns a prompt becomes a typed model call.

``Command`` wraps a ``def``, ``AsyncCommand`` an ``async def``; both keep the function's
parameters (``ParamSpec``) and the declared output type, so type checkers see exactly what a call
returns. The call itself is a ``Call`` (output, tools, options) run by the drivers, which ``ask``
uses as well: there is one way a prompt becomes a result.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import functools
import inspect
import os
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, Self, TypeVar, cast, get_origin, overload

from typing_extensions import Unpack

from . import _fallback
from ._contracts import Contract, check_require, contracts_of
from ._errors import CommandError, ConfigurationError
from ._messages import Message, Result
from ._outputs import type_name
from ._plan import Plan, for_model, model_label
from ._plan import build as build_plan
from ._prompt import Prompt, to_messages
from ._settings import SettingsKwargs, check_names, models, resolve
from ._tools import Tool, as_tool, command_tool

if TYPE_CHECKING:
    from ._batch import BatchJob
    from ._map import MapResult
    from ._settings_class import Settings

__all__ = ["AsyncCommand", "Command", "command"]

P = ParamSpec("P")
T = TypeVar("T")
E = TypeVar("E")

POLL = 10.0
"""``batch``'s default ``poll``: ``alloy._batch.POLL`` (a test keeps them equal), written here so a
module of commands need not load the batch machinery (it loads with the first batch call)."""


@dataclass(slots=True)
class _Planned:
    """The plans made under one settings object: one per model of the chain, made when first used."""

    plans: list[Plan | None]
    chain: _fallback.Chain


@dataclass
class Call(Generic[T]):
    """One configured model call: what to return, which tools, which settings (decorator layer)."""

    output: Any
    tools: list[Tool[..., Any]] = field(default_factory=list[Tool[..., Any]])
    options: dict[str, Any] = field(default_factory=dict[str, Any])
    call_options: dict[str, Any] = field(default_factory=dict[str, Any])
    contracts: list[Contract] = field(default_factory=list[Contract])
    name: str = "ask"

    _last: _Planned | None = field(default=None, init=False, repr=False, compare=False)

    def _planned(self) -> _Planned:
        settings = resolve(self.options, self.call_options)
        last = self._last
        if last is None or last.chain.settings is not settings:
            chain = models(settings.model)
            links = [
                _fallback.Link(model_label(m), functools.partial(self.plan, index=i))
                for i, m in enumerate(chain)
            ]
            last = self._last = _Planned([None] * len(chain), _fallback.Chain(settings, links))
        return last

    def plan(self, fresh: bool = False, index: int = 0) -> Plan:
        """The plan of the *index*-th model of the chain under the current settings; reused while
        they are the same object (the settings layers cache it), so a command in a loop plans once
        per model. *fresh*: plan again regardless."""
        last = self._planned()
        plan = last.plans[index]
        if fresh or plan is None:
            settings = for_model(last.chain.settings, models(last.chain.settings.model)[index])
            plan = last.plans[index] = build_plan(
                self.output, self.tools, settings, self._ensures(), self.name
            )
        return plan

    def chain(self) -> _fallback.Chain:
        """The models to try in order, each with the planner of its calls (planned when first used)."""
        return self._planned().chain

    def explain(self, settings: Settings | None = None) -> Plan:
        """A new plan (never the cached one: the caller may keep or change it); with a fallback
        chain, the first model's, its ``fallbacks`` holding the others'."""
        settings = settings or resolve(self.options, self.call_options)
        return build_plan(self.output, self.tools, settings, self._ensures(), self.name)

    def _ensures(self) -> list[Contract]:
        return [c for c in self.contracts if c.kind == "ensure"]

    def result(self, prompt: Sequence[Message]) -> Result[T]:
        *_, last = _fallback.run(self.chain(), prompt, name=self.name)
        return cast("Result[T]", last)

    async def aresult(self, prompt: Sequence[Message]) -> Result[T]:
        last: Any = None
        async for item in _fallback.arun(self.chain(), prompt, name=self.name):
            last = item
        return cast("Result[T]", last)

    def check_stream(self) -> None:
        if self.output is not str or self.tools:
            raise ConfigurationError(
                f"{self.name}: streaming yields text only, so it needs output=str (or no output) and no tools. "
                "Call it without .stream() to get a typed result, or use .stream_partial() to get the "
                "output as it arrives."
            )

    def stream(self, prompt: Sequence[Message]) -> Iterator[str]:
        for item in _fallback.run(self.chain(), prompt, name=self.name, stream=True):
            if isinstance(item, str):
                yield item

    async def astream(self, prompt: Sequence[Message]) -> AsyncIterator[str]:
        async for item in _fallback.arun(self.chain(), prompt, name=self.name, stream=True):
            if isinstance(item, str):
                yield item

    def partial(self, prompt: Sequence[Message]) -> Iterator[T]:
        from . import _partial

        return _partial.partials(_fallback.run(self.chain(), prompt, name=self.name, stream=True))

    def apartial(self, prompt: Sequence[Message]) -> AsyncIterator[T]:
        from . import _partial

        return _partial.apartials(_fallback.arun(self.chain(), prompt, name=self.name, stream=True))

    def check_items(self) -> None:
        from . import _partial

        if _partial.element_type(self.output) is None:
            raise ConfigurationError(
                f"{self.name}: stream_items yields the elements of a list, so it needs output=list[T]; "
                f"this call's output is {type_name(self.output)}. Use stream_partial() for other types."
            )

    def items(self, prompt: Sequence[Message]) -> Iterator[Any]:
        from . import _partial

        return _partial.elements(_fallback.run(self.chain(), prompt, name=self.name, stream=True), self.name)

    def aitems(self, prompt: Sequence[Message]) -> AsyncIterator[Any]:
        from . import _partial

        return _partial.aelements(
            _fallback.arun(self.chain(), prompt, name=self.name, stream=True), self.name
        )


_PROMPT_ANNOTATIONS = ("str", "Prompt", "alloy.Prompt")


def _check_annotation(fn: Callable[..., Any]) -> None:
    ret = inspect.signature(fn).return_annotation
    if ret is inspect.Signature.empty or ret is str or ret in _PROMPT_ANNOTATIONS:
        return
    if not isinstance(ret, str) and ret == Prompt:
        return
    shown = ret if isinstance(ret, str) else getattr(ret, "__name__", repr(ret))
    raise ConfigurationError(
        f"@command function {fn.__qualname__} is annotated -> {shown}, but it must return the prompt. "
        f"Annotate it -> str (or -> alloy.Prompt for parts or a conversation) and declare the answer's "
        f"type with @command(output={shown})."
    )


def _is_type(obj: Any) -> bool:
    """A class or a type expression (``list[int]``, ``int | None``, ``Literal[...]``), not a function."""
    return isinstance(obj, type) or get_origin(obj) is not None


class BaseCommand(Generic[P, T]):
    """What ``Command`` and ``AsyncCommand`` share: the function, its call, and ``explain``."""

    __alloy_kind__ = "command"

    def __init__(self, fn: Callable[P, Any], call: Call[T]) -> None:
        self.fn = fn
        self._call = call
        self.contracts = call.contracts
        self.is_async = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)  # once: building it took ~15% of Alloy's own time per call
        self._source = f"The prompt function {fn.__qualname__} returned"
        functools.update_wrapper(cast("Callable[..., Any]", self), fn)  # for __doc__, __name__, __wrapped__

    def __repr__(self) -> str:
        return f"<alloy command {self.fn.__qualname__}>"

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled by reference (module and name), like the function it decorates."""
        from ._reference import reference

        return reference(self, self.fn, self._call.call_options)

    def __copy__(self) -> Self:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        return clone

    def __deepcopy__(self, memo: dict[int, Any]) -> Self:
        return self  # like a function: commands are immutable (with_options makes a new one)

    async def map_async(
        self,
        items: Iterable[Any],
        *,
        concurrency: int | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
    ) -> MapResult[T]:
        """Call the command once per item, concurrently; every item ends with its output or its error.

        Args:
            items: each item is the command's arguments: a ``tuple`` (positional), a ``dict``
                (keywords), or anything else as the one positional argument.
            concurrency: requests in flight at most (default ``map_concurrency``); halved by each
                429 and paused by ``Retry-After``, it climbs back as requests succeed.
            checkpoint: a JSON-lines file that records every finished item; a rerun with the same
                path and items runs only what is not done yet.
            progress: a progress bar on stderr: ``True`` always, ``False`` never, ``None`` (the
                default) when stderr is a terminal.

        Returns:
            ``MapResult`` of one ``Outcome`` per item, in input order.

        Raises:
            ConfigurationError: a bad ``concurrency``; a checkpoint written for other items or
                another output type.
        """
        from ._map import amap

        return await amap(
            self._aresult,
            items,
            name=self.fn.__qualname__,
            output=self._call.output,
            concurrency=concurrency,
            checkpoint=checkpoint,
            progress=progress,
        )

    async def _aresult(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Result[T]:
        raise NotImplementedError  # pragma: no cover

    def with_options(self, **settings: Unpack[SettingsKwargs]) -> Self:
        """A copy with per-call settings (the highest precedence layer)."""
        clone = copy.copy(self)
        merged = {**self._call.call_options, **check_names(settings, "with_options(...)")}
        clone._call = dataclasses.replace(self._call, call_options=merged)
        return clone

    def explain(self) -> Plan:
        """The plan under the current settings: modes, the exact schema and tools sent, notes. Sends nothing."""
        return self._call.explain()

    def __alloy_tool__(self) -> Tool[..., Any]:
        """This command as a tool of another command: the function's parameters, the command's answer."""
        body: Callable[..., Any] = getattr(self, "async_" if self.is_async else "__call__")
        return command_tool(self.fn, body, is_async=self.is_async)

    def _checked(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        try:
            bound = self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{self.fn.__qualname__}(): {exc}") from None
        if failure := check_require(self.contracts, self.fn, bound.arguments):
            raise CommandError(f"{self.fn.__qualname__}: precondition failed: {failure}", attempts=0)


class Command(BaseCommand[P, T]):
    """A typed model call made from a ``def`` that returns the prompt.

    Call it for ``T``; ``.async_`` for an awaitable; ``.stream`` for text deltas; ``.run`` for a
    ``Result`` with usage; ``.with_options`` for per-call settings; ``.explain`` for the plan.
    """

    def _prompt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Message, ...]:
        self._checked(args, kwargs)
        return to_messages(self.fn(*args, **kwargs), source=self._source)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return self._call.result(self._prompt(args, kwargs)).output

    def run(self, *args: P.args, **kwargs: P.kwargs) -> Result[T]:
        return self._call.result(self._prompt(args, kwargs))

    async def async_(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return (await self._call.aresult(self._prompt(args, kwargs))).output

    async def run_async(self, *args: P.args, **kwargs: P.kwargs) -> Result[T]:
        return await self._call.aresult(self._prompt(args, kwargs))

    def stream(self, *args: P.args, **kwargs: P.kwargs) -> Iterator[str]:
        self._call.check_stream()
        return self._call.stream(self._prompt(args, kwargs))

    def submit_batch(self, items: Iterable[Any]) -> BatchJob[T]:
        """Upload *items* (each a value, a tuple or a dict of arguments) as one provider batch job."""
        from ._batch import prompts_of, submit_job

        return submit_job(self._call, prompts_of(items, self._prompt))

    def batch_job(self, id: str) -> BatchJob[T]:
        """The batch job *id* this command submitted, in this process or an earlier one."""
        from ._batch import load_job

        return load_job(self._call, id)

    def batch(
        self, items: Iterable[Any], *, poll: float = POLL, progress: bool | None = None
    ) -> MapResult[T]:
        """Submit *items* as a batch job, wait for it, and return every item's validated outcome."""
        return self.submit_batch(items).results(poll=poll, progress=progress)

    def map(
        self,
        items: Iterable[Any],
        *,
        concurrency: int | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
    ) -> MapResult[T]:
        """``map_async`` run to the end from sync code (inside a running event loop too, such as a
        notebook's: then on a helper thread). Ctrl-C cancels the requests in flight."""
        from ._map import run_sync

        return run_sync(
            lambda: self.map_async(items, concurrency=concurrency, checkpoint=checkpoint, progress=progress)
        )

    async def _aresult(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Result[T]:
        return await self._call.aresult(self._prompt(args, kwargs))

    def stream_partial(self, *args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        """The output as it arrives: values of ``T`` built from what has come so far, each
        different from the one before; the last is exactly what calling the command returns."""
        return self._call.partial(self._prompt(args, kwargs))

    def stream_items(self: Command[P, list[E]], *args: P.args, **kwargs: P.kwargs) -> Iterator[E]:
        """For ``output=list[E]``: each element, validated, as soon as the model has written it."""
        self._call.check_items()
        return self._call.items(self._prompt(args, kwargs))


class AsyncCommand(BaseCommand[P, T]):
    """A typed model call made from an ``async def`` that returns the prompt."""

    async def _prompt(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Message, ...]:
        self._checked(args, kwargs)
        return to_messages(await self.fn(*args, **kwargs), source=self._source)

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return (await self._call.aresult(await self._prompt(args, kwargs))).output

    async def async_(self, *args: P.args, **kwargs: P.kwargs) -> T:
        return (await self._call.aresult(await self._prompt(args, kwargs))).output

    async def run(self, *args: P.args, **kwargs: P.kwargs) -> Result[T]:
        return await self._call.aresult(await self._prompt(args, kwargs))

    async def run_async(self, *args: P.args, **kwargs: P.kwargs) -> Result[T]:
        return await self._call.aresult(await self._prompt(args, kwargs))

    def stream(self, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[str]:
        self._call.check_stream()
        return self._astream(args, kwargs)

    async def _astream(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncIterator[str]:
        async for delta in self._call.astream(await self._prompt(args, kwargs)):
            yield delta

    async def submit_batch(self, items: Iterable[Any]) -> BatchJob[T]:
        """Upload *items* (each a value, a tuple or a dict of arguments) as one provider batch job."""
        from ._batch import aprompts_of, submit_job

        prompts = await aprompts_of(items, self._prompt)
        return await asyncio.to_thread(submit_job, self._call, prompts)

    def batch_job(self, id: str) -> BatchJob[T]:
        """The batch job *id* this command submitted, in this process or an earlier one."""
        from ._batch import load_job

        return load_job(self._call, id)

    async def batch(
        self, items: Iterable[Any], *, poll: float = POLL, progress: bool | None = None
    ) -> MapResult[T]:
        """Submit *items* as a batch job, wait for it, and return every item's validated outcome."""
        job = await self.submit_batch(items)
        return await job.results_async(poll=poll, progress=progress)

    async def map(
        self,
        items: Iterable[Any],
        *,
        concurrency: int | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
        progress: bool | None = None,
    ) -> MapResult[T]:
        """The same as ``map_async``: awaitable, like every call of an ``async def`` command."""
        return await self.map_async(items, concurrency=concurrency, checkpoint=checkpoint, progress=progress)

    async def _aresult(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Result[T]:
        return await self._call.aresult(await self._prompt(args, kwargs))

    def stream_partial(self, *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[T]:
        """The output as it arrives (see ``Command.stream_partial``), on the event loop."""
        return self._apartial(args, kwargs)

    async def _apartial(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncIterator[T]:
        async for value in self._call.apartial(await self._prompt(args, kwargs)):
            yield value

    def stream_items(self: AsyncCommand[P, list[E]], *args: P.args, **kwargs: P.kwargs) -> AsyncIterator[E]:
        """For ``output=list[E]``: each element, validated, as soon as the model has written it."""
        self._call.check_items()
        return self._aitems(args, kwargs)

    async def _aitems(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> AsyncIterator[Any]:
        async for element in self._call.aitems(await self._prompt(args, kwargs)):
            yield element


class CommandDecorator(Protocol[T]):
    """What ``@command(...)`` returns: turns a sync or async prompt function into a command."""

    @overload
    def __call__(self, fn: Callable[P, Coroutine[Any, Any, Prompt]], /) -> AsyncCommand[P, T]: ...
    @overload
    def __call__(self, fn: Callable[P, Prompt], /) -> Command[P, T]: ...


class _Missing:
    """``output`` not given (means ``str``), as opposed to ``output=None`` (means no output)."""


MISSING: Any = _Missing()

ToolLike = Callable[..., Any]


@overload
def command(fn: Callable[P, Coroutine[Any, Any, Prompt]], /) -> AsyncCommand[P, str]: ...
@overload
def command(fn: Callable[P, Prompt], /) -> Command[P, str]: ...
@overload
def command(
    *, output: type[T], tools: Sequence[ToolLike] | None = None, **settings: Unpack[SettingsKwargs]
) -> CommandDecorator[T]: ...
@overload
def command(
    *, output: None, tools: Sequence[ToolLike] | None = None, **settings: Unpack[SettingsKwargs]
) -> CommandDecorator[None]: ...
@overload
def command(
    *, tools: Sequence[ToolLike] | None = None, **settings: Unpack[SettingsKwargs]
) -> CommandDecorator[str]: ...
@overload
def command(
    *, output: Any, tools: Sequence[ToolLike] | None = None, **settings: Unpack[SettingsKwargs]
) -> CommandDecorator[Any]: ...
def command(
    fn: Callable[..., Any] | None = None,
    /,
    *,
    output: Any = MISSING,
    tools: Sequence[ToolLike] | None = None,
    **settings: Any,
) -> Any:
    """Turn a function that returns a prompt into a typed model call.

    ``@command`` or ``@command(output=T, tools=[...], model=..., temperature=..., **settings)``.
    ``output`` omitted means ``str``; ``output=None`` runs the call (tools included) and returns
    ``None``. Settings given here sit above ``configure()`` and the environment, below
    ``override()`` and ``with_options()``.

    Raises:
        ConfigurationError: an unknown setting, a bad value, or a function annotated to return
            something other than the prompt (``str`` or ``alloy.Prompt``). When called: the function
            returned something that is not a ``Prompt`` (nothing is sent).

    .. versionadded:: 0.1.0
    """
    if fn is not None and _is_type(fn):
        shown = getattr(fn, "__name__", None) or repr(fn).replace("typing.", "")
        raise ConfigurationError(
            f"@command({shown}) passes the output type positionally: write @command(output={shown}). "
            "A positional argument is the prompt function (bare @command)."
        )
    options = check_names(settings, "@command(...)")
    out = str if output is MISSING else output
    tool_list = [as_tool(t) for t in tools or ()]

    def decorate(f: Callable[..., Any]) -> Any:
        _check_annotation(f)
        call: Call[Any] = Call(out, tool_list, options, contracts=contracts_of(f), name=f.__name__)
        return AsyncCommand(f, call) if inspect.iscoroutinefunction(f) else Command(f, call)

    return decorate if fn is None else decorate(fn)

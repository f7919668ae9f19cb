"""Many inputs at once: one ``Outcome`` per item, gathered in input order in a ``MapResult``.

``Command.map`` builds them and so do provider batch jobs (``BatchJob.results()``), so both return
the same thing: a sequence in input order where every item ended with its output or its error.
"""

from __future__ import annotations

import asyncio
import contextvars
import os
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast, overload

from ._checkpoint import Checkpoint
from ._errors import AlloyError, ConfigurationError
from ._limiter import AdaptiveLimiter, active
from ._messages import Result, Usage
from ._outputs import output_type
from ._progress import progress_bar
from ._settings import get_settings

__all__ = ["MapResult", "Outcome"]

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Outcome(Generic[T]):
    """How one item of a ``map`` (or a batch job) ended.

    Build a success with ``Outcome(index, output=..., usage=..., attempts=...)`` or
    ``Outcome.of(index, result)``, a failure with ``Outcome(index, error=...)`` or
    ``Outcome.failure(index, error)``.

    Attributes:
        index: the item's position in the inputs.
        output: the validated output, or ``None`` when the item failed.
        error: the ``AlloyError`` the item ended with, or ``None``.
        usage: tokens and requests spent on this item (failed attempts included where known).
        attempts: answers asked for (1 + re-asks); 0 when nothing was answered.
    """

    index: int
    output: T | None = None
    error: AlloyError | None = None
    usage: Usage = field(default_factory=Usage)
    attempts: int = 0

    @property
    def ok(self) -> bool:
        """Whether the item ended with an output (``error`` is ``None``)."""
        return self.error is None

    @classmethod
    def of(cls, index: int, result: Result[T]) -> Outcome[T]:
        """The success of item *index*, from the ``Result`` of its call."""
        return cls(index, output=result.output, usage=result.usage, attempts=result.attempts)

    @classmethod
    def failure(cls, index: int, error: AlloyError, *, attempts: int | None = None) -> Outcome[T]:
        """The failure of item *index*: its usage is the error's ``usage`` where it carries one."""
        usage = getattr(error, "usage", None)
        tried = attempts if attempts is not None else int(getattr(error, "attempts", 0) or 0)
        return cls(index, error=error, usage=usage if isinstance(usage, Usage) else Usage(), attempts=tried)


class MapResult(Sequence[Outcome[T]]):
    """The outcomes of a run over many inputs, in input order.

    ``MapResult(outcomes)`` sorts the outcomes by ``index``; each index should appear once.
    """

    __slots__ = ("_outcomes",)

    def __init__(self, outcomes: Iterable[Outcome[T]] = ()) -> None:
        self._outcomes: list[Outcome[T]] = sorted(outcomes, key=lambda o: o.index)

    @overload
    def __getitem__(self, index: int) -> Outcome[T]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[Outcome[T]]: ...
    def __getitem__(self, index: int | slice) -> Outcome[T] | Sequence[Outcome[T]]:
        return self._outcomes[index]

    def __len__(self) -> int:
        return len(self._outcomes)

    def __iter__(self) -> Iterator[Outcome[T]]:
        return iter(self._outcomes)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MapResult):
            return self._outcomes == cast("MapResult[Any]", other)._outcomes
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # mutable-looking sequence: equality, no hashing

    @property
    def outputs(self) -> list[T]:
        """Every item's output, in input order.

        Raises:
            AlloyError: the first failed item's error (see ``failed`` for all of them).
        """
        for outcome in self._outcomes:
            if outcome.error is not None:
                raise outcome.error
        return [cast("T", o.output) for o in self._outcomes]

    @property
    def failed(self) -> list[Outcome[T]]:
        """The outcomes that ended with an error, in input order."""
        return [o for o in self._outcomes if o.error is not None]

    @property
    def ok(self) -> bool:
        """Whether every item ended with an output."""
        return all(o.error is None for o in self._outcomes)

    @property
    def usage(self) -> Usage:
        """Tokens and requests summed over every item."""
        total = Usage()
        for outcome in self._outcomes:
            total = total + outcome.usage
        return total

    def __repr__(self) -> str:
        return f"<MapResult {len(self._outcomes)} items, {len(self.failed)} failed>"


# --- running one call per item --------------------------------------------------------------------

RunOne = Callable[[tuple[Any, ...], dict[str, Any]], Awaitable[Result[T]]]
"""Runs the command on one item's arguments (``Command.run_async``)."""


def arguments(item: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """An item as call arguments: a tuple is positional, a dict keywords, anything else one value."""
    if isinstance(item, tuple):
        return cast("tuple[Any, ...]", item), {}
    if isinstance(item, dict):
        return (), dict(cast("dict[str, Any]", item))
    return (item,), {}


async def amap(
    run_one: RunOne[T],
    items: Iterable[Any],
    *,
    name: str,
    output: Any,
    concurrency: int | None,
    checkpoint: str | os.PathLike[str] | None,
    progress: bool | None,
) -> MapResult[T]:
    """Run *run_one* on every item, at most *concurrency* requests in flight (adapting to 429s).

    Raises:
        ConfigurationError: a bad ``concurrency``, or a checkpoint written for other items or
            another output type.
    """
    todo = list(items)
    limit = _concurrency(concurrency, name)
    book = (
        Checkpoint(checkpoint, name=name, items=todo, adapter=output_type(output).adapter)
        if checkpoint
        else None
    )
    outcomes: list[Outcome[T] | None] = [None] * len(todo)
    if book is not None:
        for index, done in book.done.items():
            outcomes[index] = Outcome(index, output=done.output, usage=done.usage, attempts=done.attempts)
    pending = deque(i for i, o in enumerate(outcomes) if o is None)
    bar = progress_bar(progress, total=len(todo), done=len(todo) - len(pending), name=name)
    limiter = AdaptiveLimiter(limit)

    async def worker() -> None:
        while pending:
            index = pending.popleft()
            args, kwargs = arguments(todo[index])
            try:
                outcome: Outcome[T] = Outcome[T].of(index, await run_one(args, kwargs))
            except AlloyError as exc:
                outcome = Outcome[T].failure(index, exc)
            outcomes[index] = outcome
            if book is not None:
                book.append(
                    index,
                    output=outcome.output,
                    usage=outcome.usage,
                    attempts=outcome.attempts,
                    error=outcome.error,
                )
            bar.update(ok=outcome.ok, tokens=outcome.usage.total_tokens)

    token = active.set(limiter)
    try:
        async with asyncio.TaskGroup() as group:
            for _ in range(min(limit, len(pending))):
                group.create_task(worker())
    except BaseExceptionGroup as failed:  # not an AlloyError (a bug in the prompt function): raised as is
        raise failed.exceptions[0] from None
    finally:
        active.reset(token)
        bar.close()
        if book is not None:
            book.close()
    return MapResult(cast("list[Outcome[T]]", outcomes))


def _concurrency(value: int | None, name: str) -> int:
    if value is None:
        return get_settings().map_concurrency
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise ConfigurationError(
            f"{name}.map(concurrency={value!r}): concurrency is a whole number of 1 or more."
        )
    return value


def run_sync(coro: Callable[[], Coroutine[Any, Any, R]]) -> R:
    """Run *coro()* to the end from sync code: on a new event loop in this thread, or, when this
    thread already runs one (a notebook), on a helper thread with its own loop.

    Ctrl-C cancels the run (its in-flight requests too) and is raised once it has stopped.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro())
    context = contextvars.copy_context()  # override(...) and configure layers reach the helper thread
    loop = asyncio.new_event_loop()
    task = loop.create_task(coro(), context=context)
    thread = threading.Thread(target=_drive, args=(loop, task), name="alloy-map", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.1)
    except BaseException:
        loop.call_soon_threadsafe(task.cancel)
        thread.join()
        raise
    return task.result()


def _drive(loop: asyncio.AbstractEventLoop, task: asyncio.Task[Any]) -> None:
    try:
        loop.run_until_complete(asyncio.wait([task]))
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()

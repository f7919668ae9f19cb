"""Many inputs at once: one ``Outcome`` per item, gathered in input order in a ``MapResult``.

``Command.map`` builds them and so do provider batch jobs (``BatchJob.results()``), so both return
the same thing: a sequence in input order where every item ended with its output or its error.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast, overload

from ._errors import AlloyError
from ._messages import Result, Usage

__all__ = ["MapResult", "Outcome"]

T = TypeVar("T")


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

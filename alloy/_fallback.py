"""Fallback chains (SPEC §13): ``model=[a, b, ...]`` tried in order, a layer above the drivers.

Each model runs the whole call through ``_drivers.run``/``arun`` (its own plan, retries, re-asks,
replanning on a refused feature, and its own span under the call's). The next model takes over when one
fails with:

- a ``ProviderError`` that reached here: a non-retryable one (bad key, unknown model, a refused
  feature) or a transient one whose ``retry_attempts`` are spent;
- a ``CommandError`` that is not a ``ToolLoopLimitExceeded``: the answer still failed validation or
  an ``@ensure`` after ``retry`` re-asks (escalation: a cheap model first, a strong one after it);
- a ``ConfigurationError`` of that model alone: no key for its provider, its SDK not installed,
  a model the local server has not pulled, an input part its provider does not take.

A ``ToolLoopLimitExceeded`` is raised at once: its tools have run, and a second model would run
them again. A stream falls back only before its first delta: text already yielded cannot be taken
back. The ``Result`` names the model that answered and sums usage and cost over every model tried;
when every model fails, the last error is raised with a note per earlier model.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from . import _drivers, _telemetry
from ._errors import AlloyError, CommandError, ConfigurationError, ProviderError, ToolLoopLimitExceeded
from ._messages import Result, ToolCallDelta, Usage

if TYPE_CHECKING:
    from ._settings import Settings

__all__ = ["Chain", "Link", "arun", "run"]

log = logging.getLogger("alloy.fallback")


@dataclass(frozen=True, slots=True)
class Link:
    """One model of a chain: its name (for notes and logs) and the planner of its calls."""

    label: str
    planner: _drivers.Planner


class _Spent:
    """What the models tried so far spent and why each failed; whether the next one takes over."""

    def __init__(self) -> None:
        self.usage = Usage()
        self.costs: list[float | None] = []
        self.failures: list[str] = []

    def failed(self, link: Link, exc: AlloyError, following: Link) -> None:
        self._add(exc)
        self.failures.append(f"{link.label} failed: {type(exc).__name__}: {exc}")
        log.debug("%s failed (%s: %s); %s takes over", link.label, type(exc).__name__, exc, following.label)

    def _add(self, spent: object) -> None:
        """Add the usage and cost a ``Result`` or a ``CommandError`` carries (a provider failure
        carries none: its request was not answered)."""
        usage = getattr(spent, "usage", None)
        if isinstance(usage, Usage):
            self.usage = self.usage + usage
            cost = getattr(spent, "cost", None)
            # An unpriced model that spent tokens makes the sum unknown; one that spent none adds 0.
            self.costs.append(
                float(cost) if isinstance(cost, float | int) else None if usage.total_tokens else 0.0
            )

    def _cost(self) -> float | None:
        if not self.costs or any(c is None for c in self.costs):
            return None
        return sum(c for c in self.costs if c is not None) or None

    def result(self, result: Result[Any]) -> Result[Any]:
        """*result* with the usage and cost of the models before it added."""
        if not self.failures:
            return result
        self._add(result)
        return replace(result, usage=self.usage, cost=self._cost())

    def raised(self, exc: AlloyError) -> None:
        """The last error gets a note per earlier model and (a ``CommandError``) the summed usage."""
        for failure in self.failures:
            exc.add_note(f"Fallback: {failure}")
        if self.failures and isinstance(exc, CommandError):
            self._add(exc)
            exc.usage, exc.cost = self.usage, self._cost()

    def passing(self, item: _drivers.Item, span: _telemetry.Live | None) -> _drivers.Item:
        """*item* on its way to the caller: a ``Result`` with what the models before it spent
        added, and recorded on the call span."""
        if isinstance(item, Result):
            item = self.result(item)
            _telemetry.record_result(span, item)
        return item

    def moves_on(self, exc: AlloyError, links: Sequence[Link], i: int, started: bool) -> bool:
        """Whether the model after ``links[i]`` takes over from its failure *exc*; if not, *exc* gets
        its notes and is the caller's. *started*: a delta of ``links[i]`` has reached the caller."""
        if started or i == len(links) - 1 or not _moves_on(exc):
            self.raised(exc)
            return False
        self.failed(links[i], exc, links[i + 1])
        return True


def _moves_on(exc: AlloyError) -> bool:
    if isinstance(exc, ToolLoopLimitExceeded):
        return False
    return isinstance(exc, ProviderError | CommandError | ConfigurationError)


def _delta(item: _drivers.Item) -> bool:
    return isinstance(item, str | ToolCallDelta)


@dataclass(frozen=True, slots=True)
class Chain:
    """The models of one call's settings, in the order they are tried."""

    settings: Settings
    links: Sequence[Link]


def _span(chain: Chain, name: str) -> AbstractContextManager[_telemetry.Live | None]:
    """The call span of a chain of several models (a chain of one is its run, whose span it is)."""
    return _telemetry.chain_span(chain.settings, name, [link.label for link in chain.links])


def run(chain: Chain, prompt: Any, *, name: str, stream: bool = False) -> Iterator[_drivers.Item]:
    """``_drivers.run`` over each model of *chain* in turn, until one answers: one call span, a
    span per model under it. A chain of one model is its run itself (nothing to add or move on to)."""
    if len(chain.links) == 1:
        return _drivers.run(chain.links[0].planner, prompt, name=name, stream=stream)
    return _run(chain, prompt, name=name, stream=stream)


def arun(chain: Chain, prompt: Any, *, name: str, stream: bool = False) -> AsyncIterator[_drivers.Item]:
    """The async twin of ``run``: no layer of its own for a chain of one model, whose every item
    and failure goes to the caller as it is (one fewer async generator held per call in flight)."""
    if len(chain.links) == 1:
        return _drivers.arun(chain.links[0].planner, prompt, name=name, stream=stream)
    return _arun(chain, prompt, name=name, stream=stream)


def _run(chain: Chain, prompt: Any, *, name: str, stream: bool) -> Iterator[_drivers.Item]:
    links = chain.links
    spent = _Spent()
    with _span(chain, name) as span:
        for i, link in enumerate(links):
            started = False
            try:
                for item in _drivers.run(link.planner, prompt, name=name, stream=stream, parent=span):
                    started = started or _delta(item)  # a delta has reached the caller
                    yield spent.passing(item, span)
                return
            except AlloyError as exc:
                if not spent.moves_on(exc, links, i, started):
                    raise


async def _arun(chain: Chain, prompt: Any, *, name: str, stream: bool) -> AsyncIterator[_drivers.Item]:
    links = chain.links
    spent = _Spent()
    with _span(chain, name) as span:
        for i, link in enumerate(links):
            started = False
            try:
                async for item in _drivers.arun(link.planner, prompt, name=name, stream=stream, parent=span):
                    started = started or _delta(item)  # a delta has reached the caller
                    yield spent.passing(item, span)
                return
            except AlloyError as exc:
                if not spent.moves_on(exc, links, i, started):
                    raise

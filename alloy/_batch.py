"""Provider batch jobs: many requests in one job, at about half the price, every answer validated.

Theory of operation. ``submit`` plans the call once and takes each item's first request from the
engine itself (``_engine.run`` advanced to its first ``Send``), so a batch line is exactly what a
live call would send; the adapter's ``BatchCapable`` methods only translate those requests and the
provider's answers. A record of the job (the prompts, the command, the output type) goes into the
cache directory, so ``batch_job(id)`` in another process can collect it; the id itself names the
provider and model (``"openai:gpt-5-mini@batch_abc"``).

``BatchJob.results`` runs every item through the normal drivers once more, with the batch's answer
given as the response to the engine's first request (``_Answered``). So an answer is validated like
any other, one that fails validation is re-asked as a normal request with the error fed back, and an
item the provider failed or let expire is simply run again: every item ends with a validated output
or its error. Polling, backoff, collecting and re-asking live here, once, for every provider.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Generic, Self, TypeVar, cast

from . import _batch_record, _drivers, _engine, _retry
from ._batch_record import Prompt
from ._errors import AlloyError, CommandError, ConfigurationError, ProviderError
from ._map import MapResult, Outcome, arguments
from ._messages import Message, Request, Response, Result
from ._outputs import type_name
from ._plan import Plan
from ._pricing import batch_discount, estimate, price
from ._progress import Progress, progress_bar
from ._registry import split_model
from .providers import Adapter, BatchCapable, BatchItem, BatchState

if TYPE_CHECKING:
    from ._command import Call
    from ._settings import Settings

__all__ = ["BatchJob", "aprompts_of", "load_job", "prompts_of", "submit_job"]

log = logging.getLogger("alloy.batch")

T = TypeVar("T")
R = TypeVar("R")

POLL = 10.0
"""Seconds before the first status request of ``wait``; each later wait is 1.5 times longer."""
POLL_MAX = 300.0
"""The longest wait between two status requests (unless ``poll`` asks for longer)."""


def prompts_of(items: Iterable[Any], prompt: Callable[..., tuple[Message, ...]]) -> list[Prompt]:
    """Each item's prompt, or the ``CommandError`` of its failed ``@require`` (that item only)."""
    out: list[Prompt] = []
    for item in items:
        args, kwargs = arguments(item)
        try:
            out.append(prompt(args, kwargs))
        except CommandError as exc:
            out.append(exc)
    return out


async def aprompts_of(
    items: Iterable[Any], prompt: Callable[..., Awaitable[tuple[Message, ...]]]
) -> list[Prompt]:
    """``prompts_of`` for an async prompt function."""
    out: list[Prompt] = []
    for item in items:
        args, kwargs = arguments(item)
        try:
            out.append(await prompt(args, kwargs))
        except CommandError as exc:
            out.append(exc)
    return out


def _key(index: int) -> str:
    return f"item-{index}"


def _batch_adapter(plan: Plan, name: str) -> BatchCapable:
    """The adapter as ``BatchCapable``.

    Raises:
        ConfigurationError: the command has tools, or the provider has no batch API (say ``map``).
    """
    if plan.tool_table:
        raise ConfigurationError(
            f"{name}: batch jobs take no tools (a tool turn needs an answer at once). "
            f"Use {name}.map(items) to run the items concurrently as normal calls."
        )
    adapter = plan.adapter
    if not isinstance(adapter, BatchCapable):
        raise ConfigurationError(
            f"{name}: {plan.provider} has no batch API that Alloy can use. "
            f"Use {name}.map(items) to run the items concurrently as normal calls."
        )
    return adapter


def first_request(plan: Plan, prompt: tuple[Message, ...]) -> Request:
    """The engine's first request for *prompt*: what a live call would send first."""
    effect = next(_engine.run(plan, prompt))
    assert isinstance(effect, _engine.Send)  # the engine always asks the model first
    return effect.request


def submit_job(call: Call[T], prompts: list[Prompt]) -> BatchJob[T]:
    """Upload one batch job for *prompts* (items whose prompt failed are not sent); its ``BatchJob``.

    Raises:
        ConfigurationError: tools, a provider without a batch API, or a request the adapter cannot
            build; all before anything is uploaded.
        ProviderError: the upload failed.
    """
    plan = call.plan()
    adapter = _batch_adapter(plan, call.name)
    requests = [
        (_key(i), first_request(plan, p)) for i, p in enumerate(prompts) if not isinstance(p, CommandError)
    ]
    if not requests:
        raise ConfigurationError(
            f"{call.name}: no items to submit as a batch job (each failed its @require)."
        )
    settings = plan.settings
    job = _call(plan, lambda: adapter.batch_submit(requests, settings))
    batch = BatchJob(call, f"{plan.provider}:{plan.model}@{job}", prompts)
    _batch_record.write(_batch_record.Record(batch.id, call.name, type_name(call.output), prompts))
    log.info("%s: batch job %s submitted with %d requests", call.name, batch.id, len(requests))
    return batch


def load_job(call: Call[T], id: str) -> BatchJob[T]:
    """The job *id* submitted earlier (in this process or another) by this command.

    Raises:
        ConfigurationError: a malformed id, no record of it on this machine, or a record of another
            command or output type.
    """
    model, sep, job = id.rpartition("@")
    if not sep or not job:
        raise ConfigurationError(
            f"{id!r} is not a batch job id (they look like 'openai:gpt-5-mini@batch_abc')."
        )
    split_model(model)
    record = _batch_record.read(id)
    output = type_name(call.output)
    if record.command != call.name or record.output != output:
        raise ConfigurationError(
            f"Batch job {id!r} was submitted by {record.command} (output {record.output}), "
            f"not by {call.name} (output {output}): collect it with the command that submitted it."
        )
    return BatchJob(call, id, record.prompts)


class BatchJob(Generic[T]):
    """A provider batch job of one command: poll it, wait for it, collect its validated results.

    Get one from ``f.submit_batch(items)``, or later, in any process of this machine, from
    ``f.batch_job(id)``. ``results()`` runs every answer through validation (re-asking an invalid
    one as a normal request) and runs items the provider did not answer again normally.

    Attributes:
        id: ``"<provider>:<model>@<the provider's job id>"``; pass it to ``f.batch_job(id)``.
        provider: ``"openai"``, ``"anthropic"``, ``"gemini"`` or ``"fake"``.
        model: the model the job runs on (re-asks and re-runs use it too).
        cost: after ``results()``, the estimated cost in USD (batch prices for the batch's answers,
            list prices for re-asks and re-runs), or ``None`` where the model has no known price.
    """

    def __init__(self, call: Call[T], id: str, prompts: list[Prompt]) -> None:
        model, _, self._job = id.rpartition("@")
        self.id = id
        self.provider, self.model = split_model(model)
        # Re-asks and re-runs use the model the job ran on, whatever the settings say now.
        self._call: Call[T] = dataclasses.replace(call, call_options={**call.call_options, "model": model})
        self._prompts = prompts
        self._results: MapResult[T] | None = None
        self.cost: float | None = None

    def __repr__(self) -> str:
        return f"<BatchJob {self.id} ({len(self._prompts)} items)>"

    def __len__(self) -> int:
        return len(self._prompts)

    def _plan(self) -> tuple[Plan, BatchCapable]:
        plan = self._call.plan()
        return plan, _batch_adapter(plan, self._call.name)

    def status(self) -> BatchState:
        """Where the job stands, asked of the provider now (one request)."""
        plan, adapter = self._plan()
        return _call(plan, lambda: adapter.batch_state(self._job, plan.settings))

    def wait(self, *, poll: float = POLL, timeout: float | None = None, progress: bool | None = None) -> Self:
        """Poll until the provider is done with the job: after *poll* seconds, then 1.5 times longer
        each time (at most ``POLL_MAX``). Provider batches finish within 24 hours, most much sooner.

        Args:
            poll: seconds before the first status request.
            timeout: give up after this many seconds (the job goes on: wait again, or collect it
                later with ``batch_job(id)``).
            progress: show the job's state on stderr; by default only when stderr is a terminal.

        Raises:
            TimeoutError: *timeout* passed before the job ended.
        """
        bar = progress_bar(progress, total=len(self), done=0, name=f"{self._call.name} (batch)")
        start, interval, shown = time.monotonic(), poll, (0, 0)
        try:
            while True:
                state = self.status()
                shown = _advance(bar, shown, state)
                if state.done:
                    return self
                if timeout is not None and time.monotonic() - start + interval > timeout:
                    raise TimeoutError(
                        f"batch job {self.id} is still {state.status} after "
                        f"{time.monotonic() - start:.0f}s; wait again, or collect it later with batch_job(id)"
                    )
                time.sleep(interval)
                interval = min(interval * 1.5, max(POLL_MAX, poll))
        finally:
            bar.close()

    def results(self, *, poll: float = POLL, progress: bool | None = None) -> MapResult[T]:
        """Every item's validated output or its error, in input order (waiting for the job first).

        Answers that fail validation are re-asked, and items the provider failed or let expire are
        run again, as normal requests (up to ``map_concurrency`` at once). The result is kept: a
        second call returns it without asking again.
        """
        if self._results is None:
            self.wait(poll=poll, progress=progress)
            self._results = self._collect(progress)
        return self._results

    async def status_async(self) -> BatchState:
        """``status`` without blocking the event loop."""
        return await asyncio.to_thread(self.status)

    async def wait_async(
        self, *, poll: float = POLL, timeout: float | None = None, progress: bool | None = None
    ) -> Self:
        """``wait`` without blocking the event loop."""
        await asyncio.to_thread(self.wait, poll=poll, timeout=timeout, progress=progress)
        return self

    async def results_async(self, *, poll: float = POLL, progress: bool | None = None) -> MapResult[T]:
        """``results`` without blocking the event loop."""
        return await asyncio.to_thread(self.results, poll=poll, progress=progress)

    def _collect(self, progress: bool | None) -> MapResult[T]:
        plan, adapter = self._plan()
        answers: dict[str, Response | ProviderError] = dict(
            _call(plan, lambda: list[BatchItem](adapter.batch_results(self._job, plan.settings)))
        )
        missing = sum(
            1
            for i, p in enumerate(self._prompts)
            if not isinstance(p, CommandError) and not isinstance(answers.get(_key(i)), Response)
        )
        if missing:
            log.warning(
                "batch job %s: %d of %d items have no answer (failed or expired); running them again",
                self.id,
                missing,
                len(self._prompts),
            )
        workers = max(1, min(plan.settings.map_concurrency, len(self._prompts)))
        context = contextvars.copy_context()  # override(...) in force here holds in the workers too

        def one(i: int) -> tuple[Outcome[T], float | None]:
            return context.copy().run(self._outcome, plan, i, answers.get(_key(i)))

        outcomes: list[Outcome[T]] = []
        cost = 0.0
        bar = progress_bar(progress, total=len(self), done=0, name=self._call.name)
        try:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alloy-batch") as pool:
                for outcome, spent in pool.map(one, range(len(self))):
                    outcomes.append(outcome)
                    cost += spent or 0.0
                    bar.update(ok=outcome.ok, tokens=outcome.usage.total_tokens)
        finally:
            bar.close()
        priced = price(plan.provider, plan.model) is not None and any(o.usage.total_tokens for o in outcomes)
        self.cost = cost if priced else None
        return MapResult(outcomes)

    def _outcome(
        self, plan: Plan, index: int, answer: Response | ProviderError | None
    ) -> tuple[Outcome[T], float | None]:
        prompt = self._prompts[index]
        if isinstance(prompt, CommandError):
            return Outcome[T].failure(index, prompt), None
        planner: _drivers.Planner = self._call.plan
        if isinstance(answer, Response):
            planner = _answered(self._call.plan, answer)
        elif answer is not None:
            log.info("batch job %s: %s has no answer (%s); running it again", self.id, _key(index), answer)
        try:
            *_, last = _drivers.run(planner, prompt, name=self._call.name)
        except AlloyError as exc:
            spent: float | None = getattr(exc, "cost", None)
            return Outcome[T].failure(index, exc), _discounted(plan, spent, answer)
        result = cast("Result[T]", last)
        return Outcome[T].of(index, result), _discounted(plan, result.cost, answer)


class _Answered(Adapter):
    """An adapter whose first request was already answered by the batch job: that answer, then sends."""

    def __init__(self, inner: Adapter, answer: Response) -> None:
        self._inner = inner
        self._answer: Response | None = answer

    def capabilities(self, model: str, settings: Settings) -> Any:
        return self._inner.capabilities(model, settings)

    def send(self, request: Request, settings: Settings) -> Response:
        answer, self._answer = self._answer, None
        return answer if answer is not None else self._inner.send(request, settings)

    def classify(self, exc: Exception) -> ProviderError | None:
        return self._inner.classify(exc)


def _answered(planner: _drivers.Planner, answer: Response) -> _drivers.Planner:
    """A planner whose plans answer their first request with *answer* (one answer per item)."""
    inner: dict[str, _Answered] = {}

    def plan(fresh: bool) -> Plan:
        base = planner(fresh)
        if "adapter" not in inner:
            inner["adapter"] = _Answered(base.adapter, answer)
        return dataclasses.replace(base, adapter=inner["adapter"])

    return plan


def _call(plan: Plan, once: Callable[[], R]) -> R:
    """One batch API call through the adapter, its SDK errors classified and transient ones retried."""

    def attempt(_: int) -> R:
        with _retry.classified(plan.adapter, plan.settings):
            return once()

    return _retry.call(plan.settings, attempt)


def _advance(bar: Progress, shown: tuple[int, int], state: BatchState) -> tuple[int, int]:
    """Move the bar on by the requests the provider answered or failed since it last said."""
    for _ in range(state.succeeded - shown[0]):
        bar.update(ok=True, tokens=0)
    for _ in range(state.failed - shown[1]):
        bar.update(ok=False, tokens=0)
    return max(shown[0], state.succeeded), max(shown[1], state.failed)


def _discounted(plan: Plan, cost: float | None, answer: Response | ProviderError | None) -> float | None:
    """*cost* (list prices throughout) with the batch's own answer at the batch price."""
    if cost is None or not isinstance(answer, Response):
        return cost
    listed = estimate(plan.provider, plan.model, answer.usage) or 0.0
    return cost - listed * batch_discount(plan.provider)

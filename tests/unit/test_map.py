"""``map`` offline: the adaptive limiter, progress, pickling by reference, errors (SPEC §12)."""

from __future__ import annotations

import asyncio
import io
import multiprocessing
import pickle
import sys
import time
from typing import Any

import pytest

import alloy
from alloy import CommandError, ConfigurationError, ProviderError, command, override, require
from alloy._limiter import AdaptiveLimiter
from alloy.testing import ScriptedModel


@command(output=int, model="fake")
def length(text: str) -> str:
    return f"How long is {text}?"


@command(model="fake")
async def alength(text: str) -> str:
    return f"How long is {text}?"


def call_length(text: str) -> int:
    return length(text)


# --- the adaptive limiter -------------------------------------------------------------------------


def test_a_burst_of_429s_halves_the_limit_once_and_retry_after_pauses_every_worker() -> None:
    async def main() -> None:
        limiter = AdaptiveLimiter(16)
        slots = []
        for _ in range(16):
            cm = limiter.slot()
            slots.append((cm, await cm.__aenter__()))
        for _, slot in slots:  # all 16 answered 429 at once: one halving, not four
            slot.transient(429, 0.2)
        assert limiter.limit == 8
        assert limiter.halvings == 1
        for cm, _ in slots:
            await cm.__aexit__(None, None, None)
        started = time.monotonic()
        async with limiter.slot() as slot:
            assert time.monotonic() - started >= 0.15  # paused by Retry-After
            slot.transient(429, None)  # sent after the halving: halves again
        assert limiter.limit == 4

    asyncio.run(main())


def test_the_limit_never_drops_below_one_and_climbs_back_with_successes() -> None:
    async def main() -> None:
        limiter = AdaptiveLimiter(4)
        for _ in range(5):
            async with limiter.slot() as slot:
                slot.transient(429, None)
        assert limiter.limit == 1
        for _ in range(1 + 2 + 3):  # one round of successes per step: 1 -> 2 -> 3 -> 4
            async with limiter.slot() as slot:
                slot.success()
        assert limiter.limit == 4
        async with limiter.slot() as slot:
            slot.success()
        assert limiter.limit == 4  # never above the concurrency asked for

    asyncio.run(main())


def test_waiters_get_slots_in_turn_and_a_cancelled_waiter_gives_its_slot_back() -> None:
    async def main() -> None:
        limiter = AdaptiveLimiter(2)
        running = 0
        peak = 0

        async def request() -> None:
            nonlocal running, peak
            async with limiter.slot():
                running += 1
                peak = max(peak, running)
                await asyncio.sleep(0.01)
                running -= 1

        await asyncio.gather(*(request() for _ in range(10)))
        assert peak == 2 == limiter.peak
        held = limiter.slot()
        await held.__aenter__()
        held2 = limiter.slot()
        await held2.__aenter__()
        waiter = asyncio.ensure_future(request())
        await asyncio.sleep(0)
        waiter.cancel()
        await held.__aexit__(None, None, None)
        with pytest.raises(asyncio.CancelledError):
            await waiter
        await held2.__aexit__(None, None, None)
        assert limiter.in_flight == 0

    asyncio.run(main())


def test_transient_errors_inside_map_reach_the_limiter_through_the_retry_layer() -> None:
    """A 429 retried by stamina is reported to the map's limiter (the retry layer informs it)."""
    busy = ProviderError("busy", provider="scripted", status_code=429, retryable=True, retry_after=0.0)
    model = ScriptedModel([busy, "3", "4"])
    seen: list[AdaptiveLimiter] = []
    original = AdaptiveLimiter.transient

    def spy(self: AdaptiveLimiter, status: int | None, retry_after: float | None, *, epoch: int) -> None:
        seen.append(self)
        original(self, status, retry_after, epoch=epoch)

    with (
        pytest.MonkeyPatch.context() as mp,
        override(model=model, retry_wait_initial=0.0, retry_wait_jitter=0),
    ):
        mp.setattr(AdaptiveLimiter, "transient", spy)
        result = length.map(["a", "b"], concurrency=1)
    assert result.outputs == [3, 4]
    assert len(seen) == 1 and seen[0].halvings == 1


# --- errors and arguments -------------------------------------------------------------------------


def test_concurrency_must_be_a_whole_number_of_one_or_more() -> None:
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ConfigurationError, match="concurrency"):
            length.map(["a"], concurrency=bad)  # type: ignore[arg-type]


def test_a_failed_precondition_is_that_items_error_and_a_bug_in_the_prompt_stops_the_map() -> None:
    @require(lambda text: text != "", "text must not be empty")
    @command(output=int, model="fake")
    def checked(text: str) -> str:
        if text == "boom":
            raise RuntimeError("a bug in the prompt function")
        return text

    result = checked.map(["a", ""])
    assert result[0].ok
    assert isinstance(result[1].error, CommandError)
    with pytest.raises(RuntimeError, match="a bug"):
        checked.map(["a", "boom", "c"])


def test_an_empty_map_is_an_empty_result() -> None:
    assert list(length.map([])) == []


# --- progress -------------------------------------------------------------------------------------


def test_progress_true_draws_a_bar_with_done_failed_and_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    length.map(["a", "b", "c"], progress=True)
    shown = err.getvalue()
    assert "3/3" in shown
    assert "failed=0" in shown
    assert "tokens=" in shown
    assert "item/s" in shown or "s/item" in shown


def test_no_bar_by_default_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    length.map(["a", "b"])
    length.map(["a"], progress=False)
    assert err.getvalue() == ""


def test_without_tqdm_the_map_runs_and_says_once_how_to_get_the_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    from alloy import _progress

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)  # import fails as if tqdm were missing
    monkeypatch.setattr(_progress, "_hinted", False)
    assert length.map(["a"], progress=True).ok
    assert length.map(["a"], progress=True).ok
    assert err.getvalue().count("pip install 'alloy-ai[progress]'") == 1


# --- pickling by reference ------------------------------------------------------------------------


def test_a_command_pickles_by_reference_like_a_function() -> None:
    data = pickle.dumps(length)
    assert pickle.loads(data) is length
    assert b"How long" not in data  # no code, no prompt, no plan, no client
    assert len(data) < 200
    assert pickle.loads(pickle.dumps(alength)) is alength


def test_a_with_options_copy_pickles_with_its_settings() -> None:
    tuned = length.with_options(retry=0, temperature=0.5)
    back = pickle.loads(pickle.dumps(tuned))
    assert back is not length
    assert back.fn is length.fn
    assert back._call.call_options == {"retry": 0, "temperature": 0.5}
    assert back("abc") == length("abc")


def test_a_command_that_cannot_be_found_by_name_does_not_pickle() -> None:
    @command(model="fake")
    def local(text: str) -> str:
        return text

    with pytest.raises(pickle.PicklingError, match="define it at the top level"):
        pickle.dumps(local)


def test_a_worker_without_the_commands_module_says_where_to_define_it() -> None:
    from alloy._reference import lookup

    with pytest.raises(ConfigurationError, match="define it in a module the workers can import"):
        lookup("__main__", "no_such_command", {})
    with pytest.raises(ConfigurationError, match="no_such_module"):
        lookup("no_such_module", "f", {})


def test_copies_stay_commands_and_a_deepcopy_is_the_command() -> None:
    import copy

    assert copy.deepcopy(length) is length
    clone = copy.copy(length)
    assert clone is not length and clone.fn is length.fn
    assert isinstance(length.with_options(retry=1), alloy.Command)


def test_a_command_runs_in_the_worker_processes_of_a_spawn_pool() -> None:
    """Spawned workers import the command's module, build their own clients and answer."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        assert pool.map(length, ["a", "bb", "ccc"]) == [length("a"), length("bb"), length("ccc")]
        assert pool.map(call_length, ["a"]) == [length("a")]


def test_map_of_an_async_command_is_awaitable() -> None:
    async def main() -> Any:
        return await alength.map(["a", "b"]), await alength.map_async(["c"])

    first, second = asyncio.run(main())
    assert len(first.outputs) == 2 and len(second.outputs) == 1

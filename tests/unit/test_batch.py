"""Batch jobs on the offline ``fake`` model, and what is refused before anything is sent.

The wire side (the three providers' batch APIs, re-asks, re-runs) is in tests/providers/test_batch.py.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from alloy import (
    BatchJob,
    CommandError,
    ConfigurationError,
    MapResult,
    _batch,
    _command,
    command,
    override,
    require,
)
from alloy._messages import Usage
from alloy._pricing import estimate
from alloy.testing import ScriptedModel

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice, model="fake")
def extract(text: str, currency: str = "USD") -> str:
    return f"Extract the invoice ({currency}) from: {text}"


@command(output=Invoice, model="fake")
@require(lambda text: text != "", "text must not be empty")
def checked(text: str) -> str:
    return f"Extract the invoice from: {text}"


def test_fake_batch_takes_values_tuples_and_dicts() -> None:
    job = extract.submit_batch(["a", ("b", "EUR"), {"text": "c", "currency": "GBP"}])
    assert isinstance(job, BatchJob)
    assert job.provider == "fake" and job.id.startswith("fake:fake@")
    assert job.status().done
    result = job.results(poll=0)
    assert isinstance(result, MapResult)
    assert [o.index for o in result] == [0, 1, 2]
    assert all(isinstance(o.output, Invoice) and o.ok for o in result)
    assert result.usage.requests == 3
    assert job.cost is None  # the fake has no price


def test_a_failed_precondition_fails_its_item_only() -> None:
    result = checked.batch(["x", "", "y"], poll=0)
    assert [o.ok for o in result] == [True, False, True]
    assert isinstance(result[1].error, CommandError)
    assert "text must not be empty" in str(result[1].error)
    assert result[1].usage.requests == 0


def test_fake_job_collected_by_another_process() -> None:
    with override(model="fake"):
        from tests.providers.batch_command import extract as shared

        job = shared.submit_batch(["a", "b"])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ALLOY_MODEL": "fake"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.providers.batch_command", job.id],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["index"] for line in lines] == [0, 1]
    assert all(set(line["output"]) == {"number", "total"} for line in lines)


def test_async_command_batches() -> None:
    @command(output=Invoice, model="fake")
    async def aextract(text: str) -> str:
        return f"Extract the invoice from: {text}"

    async def main() -> MapResult[Invoice]:
        job = await aextract.submit_batch(["a", "b"])
        assert aextract.batch_job(job.id).id == job.id
        await job.wait_async(poll=0)
        return await aextract.batch(["c"], poll=0)

    assert isinstance(asyncio.run(main())[0].output, Invoice)


def test_job_ids_that_cannot_be_collected() -> None:
    with pytest.raises(ConfigurationError, match="not a batch job id"):
        extract.batch_job("batch_abc")
    with pytest.raises(ConfigurationError, match="No record of batch job"):
        extract.batch_job("openai:gpt-5-mini@batch_abc")


def test_a_model_without_batch_api_suggests_map() -> None:
    model = ScriptedModel(['{"number": "1", "total": 2}'])
    with (
        override(model=model),
        pytest.raises(ConfigurationError, match=r"no batch API.*extract\.map\(items\)"),
    ):
        extract.submit_batch(["a"])
    assert model.requests == []


def test_batch_price_is_half_the_list_price() -> None:
    usage = Usage(1_000_000, 1_000_000)
    listed = estimate("openai", "gpt-5-mini", usage)
    assert listed is not None
    for provider, model in [
        ("openai", "gpt-5-mini"),
        ("anthropic", "claude-haiku-4-5"),
        ("gemini", "gemini-2.5-flash"),
    ]:
        full = estimate(provider, model, usage)
        assert full is not None
        assert estimate(provider, model, usage, batch=True) == pytest.approx(full / 2)


def test_progress_true_shows_the_job_and_the_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    extract.batch(["a", "b", "c"], poll=0, progress=True)
    shown = err.getvalue()
    assert "extract (batch)" in shown and "3/3" in shown  # what the provider answered
    assert "tokens=" in shown  # then each item validated


def test_no_progress_by_default_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    extract.batch(["a", "b"], poll=0)
    assert err.getvalue() == ""


def test_the_commands_poll_default_is_the_jobs() -> None:
    """``Command.batch`` (whose module does not load the batch machinery) waits as ``BatchJob.wait`` does."""
    for method in (_command.Command.batch, _command.AsyncCommand.batch, _batch.BatchJob.wait):
        assert inspect.signature(method).parameters["poll"].default == _batch.POLL

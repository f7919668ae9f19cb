"""Checked by pyright, never run: the types of provider batch jobs (SPEC §12)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import assert_type

from alloy import BatchJob, MapResult, command
from alloy.providers import BatchState


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


@command(output=Invoice)
async def aextract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


def check_sync() -> None:
    job = extract_invoice.submit_batch(["a", ("b",), {"text": "c"}])
    assert_type(job, BatchJob[Invoice])
    assert_type(job.id, str)
    assert_type(job.provider, str)
    assert_type(job.status(), BatchState)
    assert_type(job.status().done, bool)
    assert_type(job.wait(poll=0.5), BatchJob[Invoice])
    assert_type(job.results(), MapResult[Invoice])
    assert_type(job.results().outputs, list[Invoice])
    assert_type(job.cost, float | None)
    assert_type(extract_invoice.batch_job(job.id), BatchJob[Invoice])
    assert_type(extract_invoice.batch(["a"]), MapResult[Invoice])
    assert_type(extract_invoice.with_options(model="fake").batch(["a"], poll=1), MapResult[Invoice])


async def check_async() -> None:
    job = await aextract_invoice.submit_batch(["a"])
    assert_type(job, BatchJob[Invoice])
    assert_type(await job.status_async(), BatchState)
    assert_type(await job.wait_async(), BatchJob[Invoice])
    assert_type(await job.results_async(), MapResult[Invoice])
    assert_type(aextract_invoice.batch_job(job.id), BatchJob[Invoice])
    assert_type(await aextract_invoice.batch(["a"]), MapResult[Invoice])

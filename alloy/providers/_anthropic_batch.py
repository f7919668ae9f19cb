"""Anthropic Message Batches: one batch line per request, and a batch and its results read back.

Each request is ``messages.create``'s body (``_anthropic_wire.build_request``, ``extra_body``
merged in), each answer is parsed as a live answer is (``parse_response``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._errors import ProviderError, is_retryable_status, snippet
from .._messages import Request
from . import BatchItem, BatchState
from ._anthropic_wire import EVENT_STATUS, PROVIDER, build_request, parse_response

if TYPE_CHECKING:
    from anthropic.types.messages import MessageBatch, MessageBatchIndividualResponse

    from .._settings import Settings


def batch_request(key: str, request: Request, settings: Settings) -> dict[str, Any]:
    """One request of a Message Batch: ``messages.create``'s body for *request* (``extra_body`` merged in)."""
    kwargs = build_request(request, settings)
    params = {k: v for k, v in kwargs.items() if k != "extra_body"} | kwargs.get("extra_body", {})
    return {"custom_id": key, "params": params}


def batch_state(batch: MessageBatch) -> BatchState:
    """A ``MessageBatch`` as a neutral ``BatchState``."""
    c = batch.request_counts
    total = c.processing + c.succeeded + c.errored + c.canceled + c.expired
    failed = c.errored + c.canceled + c.expired
    return BatchState(batch.processing_status, batch.processing_status == "ended", total, c.succeeded, failed)


def parse_batch_result(line: MessageBatchIndividualResponse) -> BatchItem:
    """One result of a Message Batch: the answer, parsed as a live answer is, or why it has none."""
    key, result = line.custom_id, line.result
    if result.type == "succeeded":
        try:
            return key, parse_response(result.message)
        except ProviderError as exc:
            return key, exc
    if result.type == "errored":
        error = result.error.error
        status = EVENT_STATUS.get(error.type, 500)
        message = f"batch request {key} errored: {error.type}: {snippet(error.message, 300)}"
        retryable = is_retryable_status(status)
        return key, ProviderError(message, provider=PROVIDER, status_code=status, retryable=retryable)
    return key, ProviderError(f"batch request {key} was {result.type}", provider=PROVIDER, retryable=True)

"""Gemini batch mode with inlined requests: each request built as a live one, keyed in its metadata,
and each inlined response parsed as a live answer is, or the ``ProviderError`` of why it has none.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from google.genai import types

from .._errors import ProviderError, snippet
from .._messages import Request
from . import BatchItem, BatchState
from ._gemini_wire import PROVIDER, build_request, parse_response

BATCH_KEY = "alloy_key"
"""The metadata entry of each inlined request that carries its key."""
_BATCH_ENDED = frozenset(
    {"JOB_STATE_SUCCEEDED", "JOB_STATE_PARTIALLY_SUCCEEDED", "JOB_STATE_FAILED"}
    | {"JOB_STATE_CANCELLED", "JOB_STATE_EXPIRED"}
)


def batch_request(key: str, request: Request) -> types.InlinedRequest:
    """One inlined request of a batch: ``generate_content``'s arguments for *request*, keyed."""
    kwargs = build_request(request)
    return types.InlinedRequest(**kwargs, metadata={BATCH_KEY: key})


def batch_state(job: types.BatchJob) -> BatchState:
    """A ``BatchJob`` as a neutral ``BatchState`` (the Developer API reports no per-request counts)."""
    status = job.state.value if job.state is not None else "JOB_STATE_UNSPECIFIED"
    return BatchState(status, status in _BATCH_ENDED)


def parse_batch_results(job: types.BatchJob, keys: Sequence[str] = ()) -> Iterator[BatchItem]:
    """The inlined responses of a finished job, parsed as live answers are.

    Each carries its key in its metadata; one without is matched by position (responses come in
    request order), using *keys* where given.
    """
    responses = (job.dest.inlined_responses if job.dest else None) or []
    for i, item in enumerate(responses):
        key = (item.metadata or {}).get(BATCH_KEY) or (keys[i] if i < len(keys) else str(i))
        if item.response is not None and item.error is None:
            try:
                yield key, parse_response(item.response)
            except ProviderError as exc:
                yield key, exc
            continue
        error = item.error or types.JobError(message="no response")
        message = f"batch request {key} failed: {snippet(error.message or error.code, 300)}"
        status = error.code if error.code and error.code >= 400 else None
        yield key, ProviderError(message, provider=PROVIDER, status_code=status, retryable=True)

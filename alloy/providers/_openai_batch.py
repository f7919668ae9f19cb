"""OpenAI batch lines: one request per line of the Batch API's JSONL, and each answer read back.

A line's ``body`` is what the SDK would send for the same ``create`` keyword arguments; an answer
line is parsed as a live answer is, or becomes the ``ProviderError`` of why it has none.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal, cast

import pydantic
from openai.types.chat import ChatCompletion
from openai.types.responses import Response as OpenAIResponse

from .._errors import ProviderError, is_retryable_status, snippet
from . import BatchItem
from ._openai_chat import parse_chat
from ._openai_responses import parse_responses
from ._openai_wire import PROVIDER, Api

BatchEndpoint = Literal["/v1/responses", "/v1/chat/completions"]
BATCH_URL: dict[Api, BatchEndpoint] = {"responses": "/v1/responses", "chat": "/v1/chat/completions"}
BATCH_ENDED = frozenset({"completed", "failed", "expired", "cancelled"})


def batch_line(key: str, api: Api, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """One input line of a batch: the body the SDK would send for *kwargs* (``extra_body`` merged in)."""
    body = {k: v for k, v in kwargs.items() if k != "extra_body"} | dict(kwargs.get("extra_body") or {})
    return {"custom_id": key, "method": "POST", "url": BATCH_URL[api], "body": body}


def parse_batch_line(line: Mapping[str, Any], endpoint: str, max_output_tokens: int | None) -> BatchItem:
    """One output or error line of a batch: the answer, parsed as a live answer is, or why it has none."""
    key = str(line.get("custom_id"))
    response: dict[str, Any] = line.get("response") or {}
    status: int | None = response.get("status_code")
    body: Any = response.get("body")
    if status == 200 and isinstance(body, dict):
        try:
            if endpoint == BATCH_URL["responses"]:
                return key, parse_responses(OpenAIResponse.model_validate(body), max_output_tokens)
            return key, parse_chat(ChatCompletion.model_validate(body))
        except pydantic.ValidationError as exc:
            message = f"batch answer {key} is not a {endpoint} response: {snippet(exc, 200)}"
            return key, ProviderError(message, provider=PROVIDER, body=body)
        except ProviderError as exc:
            return key, exc
    error: Any = line.get("error") or (
        cast("dict[str, Any]", body).get("error") if isinstance(body, dict) else None
    )
    detail = cast("dict[str, Any]", error) if isinstance(error, dict) else {"message": str(error or "")}
    code = f" ({detail['code']})" if detail.get("code") else ""
    message = f"batch request {key} failed{code}: {snippet(detail.get('message') or f'HTTP {status}', 300)}"
    retryable = status is None or is_retryable_status(status)  # expired, cancelled: never tried
    return key, ProviderError(message, provider=PROVIDER, status_code=status, retryable=retryable, body=error)


def json_line(text: str) -> dict[str, Any]:
    """One line of a batch's result file as a JSON object.

    Raises:
        ProviderError: the line is not a JSON object.
    """
    try:
        line: Any = json.loads(text)
    except ValueError:
        line = None
    if not isinstance(line, dict):
        raise ProviderError(f"a batch result line is not a JSON object: {snippet(text)}", provider=PROVIDER)
    return cast("dict[str, Any]", line)

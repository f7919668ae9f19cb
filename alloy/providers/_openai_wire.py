"""OpenAI's lean path: the body Alloy built, as the SDK would send it, and the few answer fields Alloy reads.

Alloy's request is complete and checked before it reaches the SDK, so the SDK's request transform
(``maybe_transform`` walking the ``TypedDict`` unions of ``create``) and its full response objects
are pure cost. ``body`` lays the ``create`` keyword arguments out exactly as the SDK's ``create``
does (its key order: ``model``, ``stream``, ``service_tier``, for Chat Completions ``messages``,
then the rest alphabetically; ``extra_body`` merged last), for ``client.post(path, body=...)``:
same client, auth, headers, timeout, errors and connection pool, same bytes on the wire
(``tests/providers/test_openai_lean.py`` compares them). ``Chat`` and ``Responses`` hold only
the fields Alloy reads, validated from the raw bytes in one ``model_validate_json``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import pydantic

Api = Literal["responses", "chat"]

PATH: dict[Api, str] = {"responses": "/responses", "chat": "/chat/completions"}
# What ``create`` takes that is not part of the body; with any of them the SDK path is taken.
SDK_ONLY = frozenset({"extra_headers", "extra_query", "timeout"})
_FIRST: dict[Api, tuple[str, ...]] = {
    "responses": ("model", "stream", "service_tier"),
    "chat": ("model", "stream", "service_tier", "messages"),
}


def body(api: Api, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON body ``create(**kwargs, stream=False)`` sends, key for key and in its order."""
    first = _FIRST[api]
    sent = {k: False if k == "stream" else kwargs[k] for k in first if k == "stream" or k in kwargs}
    sent.update((k, kwargs[k]) for k in sorted(kwargs) if k not in first and k != "extra_body")
    return sent | dict(kwargs.get("extra_body") or {})


class _Fields(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="ignore", from_attributes=True)


# --- Chat Completions ---


class Function(_Fields):
    name: str = ""
    arguments: str = ""


class ChatToolCall(_Fields):
    id: str = ""
    type: str = "function"
    function: Function = Function()


class ChatMessage(_Fields):
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChatToolCall] | None = None


class Choice(_Fields):
    message: ChatMessage = ChatMessage()
    finish_reason: str | None = None


class PromptDetails(_Fields):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class ChatUsage(_Fields):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: PromptDetails | None = None


class Chat(_Fields):
    """A chat completion: the first choice's message, usage and model."""

    choices: list[Choice] | None = None
    usage: ChatUsage | None = None
    model: str | None = None


# --- Responses API ---


class OutputPart(_Fields):
    type: str = ""
    text: str = ""
    refusal: str = ""


class OutputItem(_Fields):
    type: str = ""
    content: list[OutputPart] = []
    name: str = ""
    arguments: str = ""
    call_id: str = ""


class InputDetails(_Fields):
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None


class ResponsesUsage(_Fields):
    input_tokens: int = 0
    output_tokens: int = 0
    input_tokens_details: InputDetails | None = None


class Incomplete(_Fields):
    reason: str | None = None


class Responses(_Fields):
    """A Responses API response: its output items, status, usage and model."""

    output: list[OutputItem]  # required: without it the body is not a response
    status: str | None = None
    incomplete_details: Incomplete | None = None
    usage: ResponsesUsage | None = None
    model: str | None = None

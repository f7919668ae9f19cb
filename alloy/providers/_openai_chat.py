"""OpenAI Chat Completions: the request, the answer and the stream, in Alloy's terms.

``chat_kwargs`` builds the ``client.chat.completions.create`` keyword arguments from a neutral
``Request``; ``parse_chat`` reads a completion (its bytes, or the SDK's object) through the lean
model ``Chat``. The stream is ``_openai_chat_stream``'s, loaded with the first streamed call, so a
process that never streams builds none of its lean models.
"""

from __future__ import annotations

from typing import Any

from openai.types.chat import ChatCompletion

from .._errors import ConfigurationError, malformed
from .._messages import Message, Request, Response, Usage
from .._parts import Audio, Image, Part
from . import _openai_wire as wire

DOCUMENT_URL = (
    "Chat Completions takes a PDF as bytes only: load it with Document.from_path(path) or "
    "Document(data), or use openai_api='responses' (OpenAI itself), which takes file_url."
)
_AUDIO = {"audio/wav": "wav", "audio/mpeg": "mp3"}


# --- requests -------------------------------------------------------------------------------------


def chat_kwargs(request: Request, *, compatible: bool = False) -> dict[str, Any]:
    """The ``client.chat.completions.create`` keyword arguments for *request*.

    Args:
        request: the neutral request.
        compatible: the server is not OpenAI's, so the output cap goes as the widely supported
            ``max_tokens`` rather than ``max_completion_tokens``, and tools omit a false ``strict``.
    """
    messages = [{"role": "system", "content": request.system}] if request.system else []
    messages += [_message(m) for m in request.messages]
    kwargs: dict[str, Any] = {"model": request.model, "messages": messages}
    if request.tools:
        kwargs["tools"] = [
            {"type": "function", "function": {**wire.function(t), **({"strict": True} if t.strict else {})}}
            for t in request.tools
        ]
        kwargs["tool_choice"] = wire.tool_choice(
            request.tool_choice, lambda name: {"type": "function", "function": {"name": name}}
        )
        kwargs["parallel_tool_calls"] = True  # the engine runs one turn's calls concurrently
    if (fmt := wire.json_schema(request)) is not None:
        kwargs["response_format"] = {"type": "json_schema", "json_schema": fmt}
    elif request.output is not None and request.output.mode == "json_object":
        kwargs["response_format"] = {"type": "json_object"}
    if request.temperature is not None:
        kwargs["temperature"] = request.temperature
    if request.max_tokens is not None:
        kwargs["max_tokens" if compatible else "max_completion_tokens"] = request.max_tokens
    if request.cache_key:
        kwargs["prompt_cache_key"] = request.cache_key
    return wire.with_extra(kwargs, request.extra, "chat")


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":  # OpenAI has no error flag: the text itself says "Error: ..."
        return {"role": "tool", "tool_call_id": wire.call_id(m.tool_call_id), "content": m.text}
    if not m.tool_calls:
        return {"role": m.role, "content": _content(m) if m.role == "user" else m.text}
    calls = [
        {
            "id": wire.call_id(c.id),
            "type": "function",
            "function": {"name": c.name, "arguments": wire.call_arguments(c)},
        }
        for c in m.tool_calls
    ]
    # "content" is required unless tool_calls are given; leave it out rather than send "".
    return {"role": m.role, **({"content": m.text} if m.text else {}), "tool_calls": calls}


def _content(m: Message) -> str | list[dict[str, Any]]:
    """A user message's content: its text, or a list of typed parts (per the SPEC's table)."""
    if isinstance(m.content, str):
        return m.content
    return [_part(p) for p in m.content]


def _part(p: Part) -> dict[str, Any]:
    """One part as Chat Completions takes it.

    Raises:
        ConfigurationError: a document URL (reached only under ``auto``, when audio in the same
            prompt picked Chat Completions).
    """
    if isinstance(p, str):
        return {"type": "text", "text": p}
    if isinstance(p, Image):
        return {"type": "image_url", "image_url": {"url": p.data_url}}
    if isinstance(p, Audio):
        return {
            "type": "input_audio",
            "input_audio": {"data": p.base64, "format": _AUDIO[p.media_type or ""]},
        }
    if p.url is not None:
        raise ConfigurationError(
            f"openai (Chat Completions) does not take a PDF URL ({p.placeholder}). {DOCUMENT_URL}"
        )
    return {"type": "file", "file": {"filename": "document.pdf", "file_data": p.data_url}}


# --- answers: the fields Alloy reads ---------------------------------------------------------------


class Function(wire.Fields):
    name: str = ""
    arguments: str = ""


class ChatToolCall(wire.Fields):
    id: str = ""
    type: str = "function"
    function: Function = Function()


class ChatMessage(wire.Fields):
    content: str | None = None
    refusal: str | None = None
    tool_calls: list[ChatToolCall] | None = None


class Choice(wire.Fields):
    message: ChatMessage = ChatMessage()
    finish_reason: str | None = None


class ChatUsage(wire.Fields):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prompt_tokens_details: wire.TokenDetails | None = None


class Chat(wire.Fields):
    """A chat completion: the first choice's message, usage and model."""

    choices: list[Choice] | None = None
    usage: ChatUsage | None = None
    model: str | None = None


def chat_usage(u: ChatUsage | None) -> Usage:
    """Chat Completions usage; cached tokens from ``prompt_tokens_details`` (part of the prompt tokens)."""
    if u is None:
        return Usage()
    return wire.usage(u.prompt_tokens, u.completion_tokens, u.prompt_tokens_details)


def parse_chat(raw: ChatCompletion | Chat | bytes) -> Response:
    """A chat completion (its bytes, the lean model or the SDK's) → a neutral ``Response`` (the first choice)."""
    if not isinstance(raw, Chat):
        raw = wire.lean(Chat, raw)
    if raw.choices is None:
        raise malformed(wire.PROVIDER, "a chat completion without choices")
    usage = chat_usage(raw.usage)
    if not raw.choices:
        return Response(usage=usage, model=raw.model)
    choice = raw.choices[0]
    msg = choice.message
    calls = [
        wire.tool_call(c.function.name, c.function.arguments, c.id)
        for c in msg.tool_calls or ()
        if c.type == "function"
    ]
    return Response(msg.content or msg.refusal or "", tuple(calls), usage, choice.finish_reason, raw.model)

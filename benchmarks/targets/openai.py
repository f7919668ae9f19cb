"""OpenAI: ``client.chat.completions.create`` with a strict json_schema, against Alloy's ``@command``.

The raw side is what a careful user writes by hand: one client, a strict schema built once, the
answer validated with ``Invoice.model_validate_json``. The Alloy side is ``@command(output=Invoice)``
with ``openai_base_url`` pointing at the fake server, so Alloy uses Chat Completions too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any, cast

from invoice import ANSWER_TEXT, PROMPT, Invoice

from targets import Target

MODEL = "gpt-4.1-mini"
KEY = "sk-benchmark"

_USAGE = {"prompt_tokens": 180, "completion_tokens": 60, "total_tokens": 240}
ROUTES: dict[str, bytes] = {
    "/v1/chat/completions": json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": MODEL,
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "logprobs": None,
                    "message": {"role": "assistant", "content": ANSWER_TEXT, "refusal": None},
                }
            ],
            "usage": _USAGE,
        }
    ).encode(),
    "/v1/responses": json.dumps(
        {
            "id": "resp_bench",
            "object": "response",
            "created_at": 1_700_000_000,
            "model": MODEL,
            "status": "completed",
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "output": [
                {
                    "type": "message",
                    "id": "msg_bench",
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": ANSWER_TEXT, "annotations": []}],
                }
            ],
            "usage": {
                "input_tokens": 180,
                "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                "output_tokens": 60,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 240,
            },
        }
    ).encode(),
}


def _chunk(delta: Any, finish_reason: str | None = None, **extra: Any) -> bytes:
    choices = [{"index": 0, "delta": delta, "finish_reason": finish_reason}] if delta is not None else []
    chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1_700_000_000}
    return b"data: " + json.dumps({**chunk, "model": MODEL, "choices": choices, **extra}).encode() + b"\n\n"


# A streamed Chat Completions answer that calls the tool `return_invoice` with the invoice: what
# magentic, which always streams and returns a pydantic model through a forced tool, is answered
# (benchmarks/peers.py).
_CALL = {
    "index": 0,
    "id": "call_bench",
    "type": "function",
    "function": {"name": "return_invoice", "arguments": ""},
}
STREAM_ROUTES: dict[str, bytes] = {
    "/v1/chat/completions": b"".join(
        [
            _chunk({"role": "assistant", "content": None, "tool_calls": [_CALL]}),
            _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ANSWER_TEXT}}]}),
            _chunk({}, "tool_calls"),
            _chunk(None, usage=_USAGE),
            b"data: [DONE]\n\n",
        ]
    )
}


def strict_schema(schema: Any) -> Any:
    """OpenAI's strict rules, by hand: every object closed, every property required."""
    if isinstance(schema, dict):
        out = {k: strict_schema(v) for k, v in cast("dict[str, Any]", schema).items()}
        if out.get("type") == "object":
            out["additionalProperties"] = False
            out["required"] = list(out.get("properties", {}))
        return out
    if isinstance(schema, list):
        return [strict_schema(v) for v in cast("list[Any]", schema)]
    return schema


def make(base_url: str, with_alloy: bool = True) -> Target:
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=f"{base_url}/v1")
    aclients: dict[str, openai.AsyncOpenAI] = {}  # made on first use, inside the benchmark's event loop

    def caller(
        messages: Any, response_format: Any
    ) -> tuple[Callable[[], Invoice], Callable[[], Awaitable[Invoice]]]:
        def call() -> Invoice:
            completion = client.chat.completions.create(
                model=MODEL, messages=messages, response_format=response_format
            )
            return Invoice.model_validate_json(completion.choices[0].message.content or "")

        async def acall() -> Invoice:
            aclient = aclients.get("c") or aclients.setdefault(
                "c", openai.AsyncOpenAI(api_key=KEY, base_url=f"{base_url}/v1")
            )
            completion = await aclient.chat.completions.create(
                model=MODEL, messages=messages, response_format=response_format
            )
            return Invoice.model_validate_json(completion.choices[0].message.content or "")

        return call, acall

    schema = strict_schema(Invoice.model_json_schema())
    raw, raw_async = caller(
        [{"role": "user", "content": PROMPT}],
        {"type": "json_schema", "json_schema": {"name": "Invoice", "schema": schema, "strict": True}},
    )
    if not with_alloy:
        return Target("openai", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, built once by its own plan and adapter: the schema as compiled and,
    # since the fake is not OpenAI's own endpoint, a system message that also states it.
    from alloy._messages import Message
    from alloy.providers.openai import chat_kwargs

    sent = chat_kwargs(extract.explain().request([Message("user", PROMPT)]), compatible=True)

    def same() -> Invoice:
        completion = client.chat.completions.create(**sent, stream=False)
        return Invoice.model_validate_json(completion.choices[0].message.content or "")

    async def same_async() -> Invoice:
        aclient = aclients.get("c") or aclients.setdefault(
            "c", openai.AsyncOpenAI(api_key=KEY, base_url=f"{base_url}/v1")
        )
        completion = await aclient.chat.completions.create(**sent, stream=False)
        return Invoice.model_validate_json(completion.choices[0].message.content or "")

    return Target(
        "openai", raw, raw_async, lambda: extract(PROMPT), lambda: extract.async_(PROMPT), same, same_async
    )


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server (all the Alloy side needs).

    ``overhead.py`` times a fresh process from ``import alloy`` through this to the first answer
    (cold start), with nothing of the raw side made.
    """
    import alloy

    alloy.configure(openai_api_key=KEY, openai_base_url=f"{base_url}/v1")

    @alloy.command(output=Invoice, model=f"openai:{MODEL}")
    def extract(text: str) -> str:
        return text

    return extract

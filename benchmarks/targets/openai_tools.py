"""OpenAI Chat Completions with one tool round trip: the model calls a tool, then answers the Invoice.

The raw side is what a careful user writes by hand: one client, the tool's definition and the
strict output schema built once, and the usual loop: ``create``; while the answer asks for tools,
run each one (found by name, its JSON arguments parsed), append the assistant's tool calls (as plain dicts) and
each result (``json.dumps``) to the messages and ``create`` again; the final answer validated with
``Invoice.model_validate_json``. The Alloy side is ``@command(output=Invoice,
tools=[lookup_customer])``, which also validates the tool's arguments against its signature and
serializes its result with pydantic. Alloy sends the tools with ``response_format`` on both
requests (its plan: ``output_mode="native_strict"``, ``tool_mode="native"``), and the answer comes
as text, as on the raw side. The fake's route is ``_roundtrip.round_trip``.
Both sides of an async call run the tool in a worker thread (``_roundtrip.arun``).
"""

from __future__ import annotations

import json
from typing import Any

from invoice import PROMPT, Invoice

from targets import Target
from targets import openai as chat
from targets._roundtrip import (
    ARGUMENTS,
    DESCRIPTION,
    NAME,
    PARAMETERS,
    PREFIX,
    Calls,
    arun,
    lookup_customer,
    round_trip,
    run,
)

MODEL, KEY = chat.MODEL, chat.KEY
CALL_ID = "call_bench_1"

_CALL = json.dumps(
    {
        "id": "chatcmpl-bench-tool",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "logprobs": None,
                "message": {
                    "role": "assistant",
                    "content": None,
                    "refusal": None,
                    "tool_calls": [
                        {
                            "id": CALL_ID,
                            "type": "function",
                            "function": {"name": NAME, "arguments": json.dumps(ARGUMENTS)},
                        }
                    ],
                },
            }
        ],
        "usage": {"prompt_tokens": 200, "completion_tokens": 20, "total_tokens": 220},
    }
).encode()
TIMING_ONLY = True  # memory and cold start: the plain target's rows (targets/__init__.py)
ROUTES = {f"{PREFIX}/v1/chat/completions": round_trip(_CALL, chat.ROUTES["/v1/chat/completions"])}


def make(base_url: str, with_alloy: bool = True) -> Target:
    import openai

    url = f"{base_url}{PREFIX}/v1"
    client = openai.OpenAI(api_key=KEY, base_url=url)
    aclients: dict[str, openai.AsyncOpenAI] = {}  # made on first use, inside the benchmark's event loop

    def aclient() -> openai.AsyncOpenAI:
        return aclients.get("c") or aclients.setdefault("c", openai.AsyncOpenAI(api_key=KEY, base_url=url))

    tools: Any = [
        {"type": "function", "function": {"name": NAME, "description": DESCRIPTION, "parameters": PARAMETERS}}
    ]
    schema = chat.strict_schema(Invoice.model_json_schema())
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "Invoice", "schema": schema, "strict": True},
    }
    first: Any = [{"role": "user", "content": PROMPT}]

    def results(message: Any, outputs: dict[str, Any]) -> list[Any]:
        """The assistant's tool calls and each call's result, as the next request's messages."""
        functions = [c for c in message.tool_calls if c.type == "function"]
        out: list[Any] = [
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": c.function.name, "arguments": c.function.arguments},
                    }
                    for c in functions
                ],
            }
        ]
        out += [
            {"role": "tool", "tool_call_id": c.id, "content": json.dumps(outputs[c.id])} for c in functions
        ]
        return out

    def create(messages: Any) -> Any:
        return client.chat.completions.create(
            model=MODEL, messages=messages, tools=tools, response_format=response_format
        )

    async def acreate(messages: Any) -> Any:
        return await aclient().chat.completions.create(
            model=MODEL, messages=messages, tools=tools, response_format=response_format
        )

    def raw() -> Invoice:
        messages = list(first)
        message = create(messages).choices[0].message
        while message.tool_calls:
            messages += results(message, run(calls(message)))
            message = create(messages).choices[0].message
        return Invoice.model_validate_json(message.content or "")

    async def raw_async() -> Invoice:
        messages = list(first)
        message = (await acreate(messages)).choices[0].message
        while message.tool_calls:
            messages += results(message, await arun(calls(message)))
            message = (await acreate(messages)).choices[0].message
        return Invoice.model_validate_json(message.content or "")

    if not with_alloy:
        return Target("openai_tools", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, by its own plan and adapter (the schema also in the system prompt,
    # the tool as compiled, tool_choice and parallel_tool_calls): the first request built once, the
    # follow-up laid out per call as Alloy lays it out (checked once against its adapter below).
    from alloy._messages import Message, ToolCall
    from alloy._tools import serialize
    from alloy.providers.openai import chat_kwargs

    plan = extract.explain()
    sent = chat_kwargs(plan.request([Message("user", PROMPT)]), compatible=True)

    def alloy_results(message: Any, outputs: dict[str, Any]) -> list[Any]:
        out: list[Any] = [
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": c.id,
                        "type": "function",
                        "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False)},
                    }
                    for c, (_, name, args) in zip(message.tool_calls, calls(message), strict=True)
                ],
            }
        ]
        out += [
            {"role": "tool", "tool_call_id": c.id, "content": serialize(outputs[c.id])}
            for c in message.tool_calls
        ]
        return out

    history = [
        Message("user", PROMPT),
        Message("assistant", "", tool_calls=(ToolCall(NAME, ARGUMENTS, CALL_ID),)),
        Message("tool", serialize(lookup_customer(**ARGUMENTS)), tool_call_id=CALL_ID, name=NAME),
    ]
    follow_up = chat_kwargs(plan.request(history), compatible=True)
    from openai.types.chat import ChatCompletion

    canned = ChatCompletion.model_validate_json(_CALL).choices[0].message
    laid_out = [*sent["messages"], *alloy_results(canned, run(calls(canned)))]
    if laid_out != follow_up["messages"] or {**sent, "messages": laid_out} != follow_up:
        raise SystemExit("openai_tools: the same-request side does not lay the follow-up out as Alloy does")

    def same() -> Invoice:
        message = client.chat.completions.create(**sent, stream=False).choices[0].message
        while message.tool_calls:
            kwargs = {**sent, "messages": [*sent["messages"], *alloy_results(message, run(calls(message)))]}
            message = client.chat.completions.create(**kwargs, stream=False).choices[0].message
        return Invoice.model_validate_json(message.content or "")

    async def same_async() -> Invoice:
        message = (await aclient().chat.completions.create(**sent, stream=False)).choices[0].message
        while message.tool_calls:
            done = await arun(calls(message))
            kwargs = {**sent, "messages": [*sent["messages"], *alloy_results(message, done)]}
            message = (await aclient().chat.completions.create(**kwargs, stream=False)).choices[0].message
        return Invoice.model_validate_json(message.content or "")

    return Target(
        "openai_tools",
        raw,
        raw_async,
        lambda: extract(PROMPT),
        lambda: extract.async_(PROMPT),
        same,
        same_async,
    )


def calls(message: Any) -> Calls:
    """A Chat Completions message's function calls."""
    return [
        (c.id, c.function.name, json.loads(c.function.arguments))
        for c in message.tool_calls
        if c.type == "function"
    ]


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server."""
    import alloy

    alloy.configure(openai_api_key=KEY, openai_base_url=f"{base_url}{PREFIX}/v1")

    @alloy.command(output=Invoice, model=f"openai:{MODEL}", tools=[lookup_customer])
    def extract(text: str) -> str:
        return text

    return extract

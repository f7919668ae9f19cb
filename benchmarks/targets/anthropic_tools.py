"""Anthropic with one tool round trip: the model calls a tool, then answers the Invoice.

The raw side is what a careful user writes by hand: one client, the tool's definition (strict, as
structured outputs allow) and ``output_config`` built once, and the usual loop: ``create``; while
the answer's ``stop_reason`` is ``tool_use``, run each ``tool_use`` block's tool (found by name),
append the assistant's turn (as plain dicts) and a user turn of ``tool_result`` blocks (``json.dumps``) and
``create`` again; the final text block validated with ``Invoice.model_validate_json``. The Alloy
side is ``@command(output=Invoice, tools=[lookup_customer])`` on the same model, which sends the
tool strict with ``output_config`` on both requests (its plan: ``output_mode="native_strict"``,
``tool_mode="native"``), so the answer comes as a text block, as on the raw side; it also
validates the tool's arguments against its signature and serializes its result with pydantic.
The fake's route is ``_roundtrip.round_trip``.
Both sides of an async call run the tool in a worker thread (``_roundtrip.arun``).
"""

from __future__ import annotations

import json
from typing import Any

from invoice import PROMPT, Invoice

from targets import Target
from targets import anthropic as plain
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
from targets.openai import strict_schema

MODEL, KEY = plain.MODEL, plain.KEY
CALL_ID = "toolu_bench_1"

_CALL = json.dumps(
    {
        "id": "msg_bench_tool",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": [{"type": "tool_use", "id": CALL_ID, "name": NAME, "input": ARGUMENTS}],
        "stop_reason": "tool_use",
        "stop_sequence": None,
        "usage": {"input_tokens": 200, "output_tokens": 20},
    }
).encode()
TIMING_ONLY = True  # memory and cold start: the plain target's rows (targets/__init__.py)
ROUTES = {f"{PREFIX}/v1/messages": round_trip(_CALL, plain.ROUTES["/v1/messages"])}


def make(base_url: str, with_alloy: bool = True) -> Target:
    import anthropic

    url = f"{base_url}{PREFIX}"
    client = anthropic.Anthropic(api_key=KEY, base_url=url)
    aclients: dict[str, anthropic.AsyncAnthropic] = {}  # made on first use, inside the benchmark's event loop

    def aclient() -> anthropic.AsyncAnthropic:
        return aclients.get("c") or aclients.setdefault(
            "c", anthropic.AsyncAnthropic(api_key=KEY, base_url=url)
        )

    kwargs: Any = {
        "model": MODEL,
        "max_tokens": 1024,
        "tools": [{"name": NAME, "description": DESCRIPTION, "input_schema": PARAMETERS, "strict": True}],
        "output_config": {
            "format": {"type": "json_schema", "schema": strict_schema(Invoice.model_json_schema())}
        },
    }
    first: Any = [{"role": "user", "content": PROMPT}]

    def results(message: Any, outputs: dict[str, Any]) -> list[Any]:
        """The assistant's turn (its text and tool calls) and a user turn with each call's result."""
        turn: list[Any] = []
        blocks: list[Any] = []
        for block in message.content:
            if block.type == "text":
                turn.append({"type": "text", "text": block.text})
            elif block.type == "tool_use":
                turn.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
                blocks.append(
                    {"type": "tool_result", "tool_use_id": block.id, "content": json.dumps(outputs[block.id])}
                )
        return [{"role": "assistant", "content": turn}, {"role": "user", "content": blocks}]

    def text(message: Any) -> Invoice:
        return Invoice.model_validate_json(next(b.text for b in message.content if b.type == "text"))

    def raw() -> Invoice:
        messages = list(first)
        message = client.messages.create(messages=messages, **kwargs)
        while message.stop_reason == "tool_use":
            messages += results(message, run(calls(message)))
            message = client.messages.create(messages=messages, **kwargs)
        return text(message)

    async def raw_async() -> Invoice:
        messages = list(first)
        message = await aclient().messages.create(messages=messages, **kwargs)
        while message.stop_reason == "tool_use":
            messages += results(message, await arun(calls(message)))
            message = await aclient().messages.create(messages=messages, **kwargs)
        return text(message)

    if not with_alloy:
        return Target("anthropic_tools", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, by its own plan and adapter (the schema also in the system prompt,
    # the tool as compiled, tool_choice): the first request built once, the follow-up laid out per
    # call as Alloy lays it out (checked once against its adapter below).
    from alloy._messages import Message, ToolCall
    from alloy._tools import serialize
    from alloy.providers.anthropic import build_request

    plan = extract.explain()
    if plan.output_mode != "native_strict" or plan.tool_mode != "native":
        raise SystemExit(
            f"anthropic_tools: Alloy plans {plan.output_mode!r}/{plan.tool_mode!r}, not output_config"
        )
    sent = build_request(plan.request([Message("user", PROMPT)]), plan.settings)

    def alloy_results(message: Any, outputs: dict[str, Any]) -> list[Any]:
        uses = [b for b in message.content if b.type == "tool_use"]
        blocks = [
            {"type": "tool_result", "tool_use_id": b.id, "content": serialize(outputs[b.id])} for b in uses
        ]
        turn = [{"type": "tool_use", "id": b.id, "name": b.name, "input": b.input} for b in uses]
        return [{"role": "assistant", "content": turn}, {"role": "user", "content": blocks}]

    history = [
        Message("user", PROMPT),
        Message("assistant", "", tool_calls=(ToolCall(NAME, ARGUMENTS, CALL_ID),)),
        Message("tool", serialize(lookup_customer(**ARGUMENTS)), tool_call_id=CALL_ID, name=NAME),
    ]
    follow_up = build_request(plan.request(history), plan.settings)
    from anthropic.types import Message as Message_

    canned = Message_.model_validate_json(_CALL)
    laid_out = [*sent["messages"], *alloy_results(canned, run(calls(canned)))]
    if {**sent, "messages": laid_out} != follow_up:
        raise SystemExit(
            "anthropic_tools: the same-request side does not lay the follow-up out as Alloy does"
        )

    def same() -> Invoice:
        message = client.messages.create(**sent)
        while message.stop_reason == "tool_use":
            message = client.messages.create(
                **{**sent, "messages": [*sent["messages"], *alloy_results(message, run(calls(message)))]}
            )
        return text(message)

    async def same_async() -> Invoice:
        message = await aclient().messages.create(**sent)
        while message.stop_reason == "tool_use":
            done = await arun(calls(message))
            follow = {**sent, "messages": [*sent["messages"], *alloy_results(message, done)]}
            message = await aclient().messages.create(**follow)
        return text(message)

    return Target(
        "anthropic_tools",
        raw,
        raw_async,
        lambda: extract(PROMPT),
        lambda: extract.async_(PROMPT),
        same,
        same_async,
    )


def calls(message: Any) -> Calls:
    """A message's ``tool_use`` blocks."""
    return [(b.id, b.name, b.input) for b in message.content if b.type == "tool_use"]


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server."""
    import alloy

    alloy.configure(anthropic_api_key=KEY, anthropic_base_url=f"{base_url}{PREFIX}")

    @alloy.command(output=Invoice, model=f"anthropic:{MODEL}", tools=[lookup_customer])
    def extract(text: str) -> str:
        return text

    return extract

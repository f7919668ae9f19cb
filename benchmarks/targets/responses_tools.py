"""OpenAI's Responses API with one tool round trip: the model calls a tool, then answers the Invoice.

The raw side is what a careful user writes by hand: one client, the tool's definition and the
strict output format built once, and the usual loop: ``create``; while the output holds
``function_call`` items, run each one's tool (found by name, its JSON arguments parsed), append
the call and a ``function_call_output`` item (``json.dumps``) to the input and ``create`` again;
``output_text`` validated with ``Invoice.model_validate_json``. The Alloy side is
``@command(output=Invoice, tools=[lookup_customer])`` with ``openai_api="responses"`` (as
``openai_responses``), which sends the tools with the ``json_schema`` format on both requests, so
the answer comes as text, as on the raw side. The fake's route is ``_roundtrip.round_trip``.
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

_answer: dict[str, Any] = json.loads(chat.ROUTES["/v1/responses"])
_CALL = json.dumps(
    {
        **_answer,
        "id": "resp_bench_tool",
        "output": [
            {
                "type": "function_call",
                "id": "fc_bench_1",
                "call_id": CALL_ID,
                "name": NAME,
                "arguments": json.dumps(ARGUMENTS),
                "status": "completed",
            }
        ],
    }
).encode()
TIMING_ONLY = True  # memory and cold start: the plain target's rows (targets/__init__.py)
ROUTES = {f"{PREFIX}/v1/responses": round_trip(_CALL, chat.ROUTES["/v1/responses"])}


def make(base_url: str, with_alloy: bool = True) -> Target:
    import openai

    url = f"{base_url}{PREFIX}/v1"
    client = openai.OpenAI(api_key=KEY, base_url=url)
    aclients: dict[str, openai.AsyncOpenAI] = {}  # made on first use, inside the benchmark's event loop

    def aclient() -> openai.AsyncOpenAI:
        return aclients.get("c") or aclients.setdefault("c", openai.AsyncOpenAI(api_key=KEY, base_url=url))

    tools: Any = [
        {
            "type": "function",
            "name": NAME,
            "description": DESCRIPTION,
            "parameters": PARAMETERS,
            "strict": True,
        }
    ]
    text: Any = {
        "format": {
            "type": "json_schema",
            "name": "Invoice",
            "schema": chat.strict_schema(Invoice.model_json_schema()),
            "strict": True,
        }
    }
    first: Any = [{"role": "user", "content": PROMPT}]

    def results(response: Any, outputs: dict[str, Any]) -> list[Any]:
        """Each function call of the output and its result, as the next request's input items."""
        items: list[Any] = []
        for item in response.output:
            if item.type == "function_call":
                call = {
                    "type": "function_call",
                    "call_id": item.call_id,
                    "name": item.name,
                    "arguments": item.arguments,
                }
                output = json.dumps(outputs[item.call_id])
                items += [call, {"type": "function_call_output", "call_id": item.call_id, "output": output}]
        return items

    def raw() -> Invoice:
        items = list(first)
        response = client.responses.create(model=MODEL, input=items, tools=tools, text=text)
        while asked := calls(response):
            items += results(response, run(asked))
            response = client.responses.create(model=MODEL, input=items, tools=tools, text=text)
        return Invoice.model_validate_json(response.output_text)

    async def raw_async() -> Invoice:
        items = list(first)
        response = await aclient().responses.create(model=MODEL, input=items, tools=tools, text=text)
        while asked := calls(response):
            items += results(response, await arun(asked))
            response = await aclient().responses.create(model=MODEL, input=items, tools=tools, text=text)
        return Invoice.model_validate_json(response.output_text)

    if not with_alloy:
        return Target("responses_tools", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, by its own plan and adapter: the first request built once, the
    # follow-up laid out per call as Alloy lays it out (checked once against its adapter below).
    from alloy._messages import Message, ToolCall
    from alloy._tools import serialize
    from alloy.providers._openai_responses import responses_kwargs

    plan = extract.explain()
    sent = responses_kwargs(plan.request([Message("user", PROMPT)]))

    def alloy_results(asked: Calls, outputs: dict[str, Any]) -> list[Any]:
        items: list[Any] = [
            {
                "type": "function_call",
                "call_id": cid,
                "name": name,
                "arguments": json.dumps(args, ensure_ascii=False),
            }
            for cid, name, args in asked
        ]
        items += [
            {"type": "function_call_output", "call_id": cid, "output": serialize(outputs[cid])}
            for cid, _, _ in asked
        ]
        return items

    history = [
        Message("user", PROMPT),
        Message("assistant", "", tool_calls=(ToolCall(NAME, ARGUMENTS, CALL_ID),)),
        Message("tool", serialize(lookup_customer(**ARGUMENTS)), tool_call_id=CALL_ID, name=NAME),
    ]
    follow_up = responses_kwargs(plan.request(history))
    from openai.types.responses import Response

    canned = calls(Response.model_validate_json(_CALL))
    laid_out = [*sent["input"], *alloy_results(canned, run(canned))]
    if {**sent, "input": laid_out} != follow_up:
        raise SystemExit(
            "responses_tools: the same-request side does not lay the follow-up out as Alloy does"
        )

    def same() -> Invoice:
        response = client.responses.create(**sent, stream=False)
        while asked := calls(response):
            more = alloy_results(asked, run(asked))
            response = client.responses.create(**{**sent, "input": [*sent["input"], *more]}, stream=False)
        return Invoice.model_validate_json(response.output_text)

    async def same_async() -> Invoice:
        response = await aclient().responses.create(**sent, stream=False)
        while asked := calls(response):
            more = alloy_results(asked, await arun(asked))
            response = await aclient().responses.create(
                **{**sent, "input": [*sent["input"], *more]}, stream=False
            )
        return Invoice.model_validate_json(response.output_text)

    return Target(
        "responses_tools",
        raw,
        raw_async,
        lambda: extract(PROMPT),
        lambda: extract.async_(PROMPT),
        same,
        same_async,
    )


def calls(response: Any) -> Calls:
    """A response's function calls."""
    return [
        (c.call_id, c.name, json.loads(c.arguments)) for c in response.output if c.type == "function_call"
    ]


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server."""
    import alloy

    alloy.configure(openai_api_key=KEY, openai_base_url=f"{base_url}{PREFIX}/v1", openai_api="responses")

    @alloy.command(output=Invoice, model=f"openai:{MODEL}", tools=[lookup_customer])
    def extract(text: str) -> str:
        return text

    return extract

"""Gemini with one tool round trip: the model calls a tool, then answers the Invoice.

On ``gemini-3-flash-preview``: Gemini 3 takes function declarations and a response schema in one
request, so both sides send both on every request (for a 2.x model Alloy's adapter sends them in
separate turns, which Gemini 2.x wants, and a hand-written call would have to do the same). The
raw side is what a careful user writes by hand: one client, one ``GenerateContentConfig`` with
the function declaration and ``response_json_schema`` built once, and the loop of Google's manual
function-calling guide: ``generate_content``; while ``response.function_calls``, run each one's
tool (found by name), append the model's content (which carries the call's thought signature) and
a user content of ``Part.from_function_response`` parts, and ask again; ``response.text``
validated with ``Invoice.model_validate_json``. The Alloy side is ``@command(output=Invoice,
tools=[lookup_customer])`` on the same model, which keeps the thought signature and sends it back
with the call. The fake's route is ``_roundtrip.round_trip``.
Both sides of an async call run the tool in a worker thread (``_roundtrip.arun``).
"""

from __future__ import annotations

import base64
import json
from typing import Any

from invoice import PROMPT, Invoice

from targets import Target
from targets import gemini as plain
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

MODEL, KEY = "gemini-3-flash-preview", plain.KEY
SIGNATURE = b"bench-thought-signature"

_answer: dict[str, Any] = json.loads(plain.ROUTES[f"/v1beta/models/{plain.MODEL}:generateContent"])
_CALL = json.dumps(
    {
        "candidates": [
            {
                "content": {
                    "role": "model",
                    "parts": [
                        {
                            "functionCall": {"name": NAME, "args": ARGUMENTS},
                            "thoughtSignature": base64.b64encode(SIGNATURE).decode(),
                        }
                    ],
                },
                "finishReason": "STOP",
                "index": 0,
            }
        ],
        "usageMetadata": {"promptTokenCount": 200, "candidatesTokenCount": 20, "totalTokenCount": 220},
        "modelVersion": MODEL,
        "responseId": "resp-bench-tool",
    }
).encode()
TIMING_ONLY = True  # memory and cold start: the plain target's rows (targets/__init__.py)
ROUTES = {
    f"{PREFIX}/v1beta/models/{MODEL}:generateContent": round_trip(
        _CALL, json.dumps({**_answer, "modelVersion": MODEL}).encode()
    )
}


def make(base_url: str, with_alloy: bool = True) -> Target:
    from google import genai
    from google.genai import types

    # One client; its .aio serves the async calls (the SDK keeps a connection pool per event loop).
    client = genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=f"{base_url}{PREFIX}", api_version="v1beta")
    )
    declaration = types.FunctionDeclaration(
        name=NAME, description=DESCRIPTION, parameters_json_schema=PARAMETERS
    )
    config = types.GenerateContentConfig(
        tools=[types.Tool(function_declarations=[declaration])],
        response_mime_type="application/json",
        response_json_schema=Invoice.model_json_schema(),
    )

    def results(response: Any, outputs: dict[str, Any]) -> list[Any]:
        """The model's content and a user content with each function call's result."""
        parts = [
            types.Part.from_function_response(name=c.name, response=outputs[str(i)])
            for i, c in enumerate(response.function_calls)
        ]
        return [response.candidates[0].content, types.Content(role="user", parts=parts)]

    def raw() -> Invoice:
        contents: Any = [types.Content(role="user", parts=[types.Part(text=PROMPT)])]
        response = client.models.generate_content(model=MODEL, contents=contents, config=config)
        while response.function_calls:
            contents += results(response, run(calls(response)))
            response = client.models.generate_content(model=MODEL, contents=contents, config=config)
        return Invoice.model_validate_json(response.text or "")

    async def raw_async() -> Invoice:
        contents: Any = [types.Content(role="user", parts=[types.Part(text=PROMPT)])]
        response = await client.aio.models.generate_content(model=MODEL, contents=contents, config=config)
        while response.function_calls:
            contents += results(response, await arun(calls(response)))
            response = await client.aio.models.generate_content(model=MODEL, contents=contents, config=config)
        return Invoice.model_validate_json(response.text or "")

    if not with_alloy:
        return Target("gemini_tools", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, by its own plan and adapter: the first request built once, the
    # follow-up's contents laid out per call as Alloy lays them out (checked once against its
    # adapter below).
    from alloy._messages import Message, ToolCall
    from alloy.providers.gemini import CALL_ID_PREFIX, build_request

    plan = extract.explain()
    if plan.tool_mode != "native" or plan.output_mode != "native":
        raise SystemExit(f"gemini_tools: Alloy plans {plan.output_mode!r}/{plan.tool_mode!r}")
    user = Message("user", PROMPT)
    sent = build_request(plan.request([user]))
    follow_config = sent["config"]  # one config per plan: the same for every turn

    def alloy_results(response: Any, outputs: dict[str, Any]) -> list[Any]:
        parts = [p for p in response.candidates[0].content.parts if p.function_call]
        model_turn = [
            {
                "function_call": {"name": p.function_call.name, "args": p.function_call.args},
                "thought_signature": p.thought_signature,
            }
            for p in parts
        ]
        answers = [
            {"function_response": {"name": p.function_call.name, "response": outputs[str(i)]}}
            for i, p in enumerate(parts)
        ]
        return [{"role": "model", "parts": model_turn}, {"role": "user", "parts": answers}]

    call_id = CALL_ID_PREFIX + "bench"
    history = [
        user,
        Message("assistant", "", tool_calls=(ToolCall(NAME, ARGUMENTS, call_id),)),
        Message("tool", json.dumps(lookup_customer(**ARGUMENTS)), tool_call_id=call_id, name=NAME),
    ]
    follow_up = build_request(plan.request(history), {call_id: SIGNATURE})
    first = follow_up["contents"][:1]  # the prompt as Alloy lays it out in a longer conversation
    canned = types.GenerateContentResponse.model_validate_json(_CALL)
    laid_out = [*first, *alloy_results(canned, run(calls(canned)))]
    if follow_up != {"model": MODEL, "contents": laid_out, "config": follow_config}:
        raise SystemExit("gemini_tools: the same-request side does not lay the follow-up out as Alloy does")

    def same() -> Invoice:
        response = client.models.generate_content(**sent)
        while response.function_calls:
            contents = [*first, *alloy_results(response, run(calls(response)))]
            response = client.models.generate_content(model=MODEL, contents=contents, config=follow_config)
        return Invoice.model_validate_json(response.text or "")

    async def same_async() -> Invoice:
        response = await client.aio.models.generate_content(**sent)
        while response.function_calls:
            contents = [*first, *alloy_results(response, await arun(calls(response)))]
            response = await client.aio.models.generate_content(
                model=MODEL, contents=contents, config=follow_config
            )
        return Invoice.model_validate_json(response.text or "")

    return Target(
        "gemini_tools",
        raw,
        raw_async,
        lambda: extract(PROMPT),
        lambda: extract.async_(PROMPT),
        same,
        same_async,
    )


def calls(response: Any) -> Calls:
    """A response's function calls, keyed by their place (Gemini's calls carry no id here)."""
    return [(str(i), c.name, c.args) for i, c in enumerate(response.function_calls or ())]


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server."""
    import alloy

    alloy.configure(gemini_api_key=KEY, gemini_base_url=f"{base_url}{PREFIX}")

    @alloy.command(output=Invoice, model=f"gemini:{MODEL}", tools=[lookup_customer])
    def extract(text: str) -> str:
        return text

    return extract

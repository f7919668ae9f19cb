"""Gemini: ``client.models.generate_content`` of ``google-genai`` with a JSON response schema.

The raw side is what a careful user writes by hand: one client on the ``v1beta`` API (the version
Alloy's adapter uses), ``response_mime_type="application/json"`` with ``response_json_schema``
built once, the answer validated with ``Invoice.model_validate_json``. The Alloy side is
``@command(output=Invoice)`` with ``gemini_base_url`` pointing at the fake server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from invoice import ANSWER_TEXT, PROMPT, Invoice

from targets import Target

MODEL = "gemini-2.5-flash"
KEY = "AIza-benchmark"

ROUTES: dict[str, bytes] = {
    f"/v1beta/models/{MODEL}:generateContent": json.dumps(
        {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": ANSWER_TEXT}]},
                    "finishReason": "STOP",
                    "index": 0,
                }
            ],
            "usageMetadata": {"promptTokenCount": 180, "candidatesTokenCount": 60, "totalTokenCount": 240},
            "modelVersion": MODEL,
            "responseId": "resp-bench",
        }
    ).encode(),
}


def make(base_url: str, with_alloy: bool = True) -> Target:
    from google import genai
    from google.genai import types

    # One client; its .aio serves the async calls (the SDK keeps a connection pool per event loop).
    client = genai.Client(
        api_key=KEY, http_options=types.HttpOptions(base_url=base_url, api_version="v1beta")
    )

    def caller(kwargs: dict[str, Any]) -> tuple[Callable[[], Invoice], Callable[[], Awaitable[Invoice]]]:
        def call() -> Invoice:
            return Invoice.model_validate_json(client.models.generate_content(**kwargs).text or "")

        async def acall() -> Invoice:
            return Invoice.model_validate_json(
                (await client.aio.models.generate_content(**kwargs)).text or ""
            )

        return call, acall

    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_json_schema=Invoice.model_json_schema()
    )
    raw, raw_async = caller({"model": MODEL, "contents": PROMPT, "config": config})
    if not with_alloy:
        return Target("gemini", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, built once by its own plan and adapter: the schema as compiled and,
    # since the fake is not Google's endpoint, a system instruction stating it.
    from alloy._messages import Message
    from alloy.providers.gemini import build_request

    same, same_async = caller(build_request(extract.explain().request([Message("user", PROMPT)])))

    return Target(
        "gemini", raw, raw_async, lambda: extract(PROMPT), lambda: extract.async_(PROMPT), same, same_async
    )


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server (all the Alloy side needs).

    ``overhead.py`` times a fresh process from ``import alloy`` through this to the first answer
    (cold start), with nothing of the raw side made.
    """
    import alloy

    alloy.configure(gemini_api_key=KEY, gemini_base_url=base_url)

    @alloy.command(output=Invoice, model=f"gemini:{MODEL}")
    def extract(text: str) -> str:
        return text

    return extract

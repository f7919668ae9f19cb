"""OpenAI's Responses API: ``client.responses.create`` with a strict json_schema, against Alloy.

This is the path Alloy takes against OpenAI itself (``openai_api="auto"``); here it is forced with
``openai_api="responses"`` because the fake server is not api.openai.com. The canned reply is
the ``/v1/responses`` route of ``targets/openai.py``.
"""

from __future__ import annotations

from typing import Any

from invoice import PROMPT, Invoice

from targets import Target
from targets.openai import KEY, MODEL, strict_schema

ROUTES: dict[str, bytes] = {}  # served by targets/openai.py


def make(base_url: str, with_alloy: bool = True) -> Target:
    import openai

    client = openai.OpenAI(api_key=KEY, base_url=f"{base_url}/v1")
    aclients: dict[str, openai.AsyncOpenAI] = {}  # made on first use, inside the benchmark's event loop

    text: Any = {
        "format": {
            "type": "json_schema",
            "name": "Invoice",
            "schema": strict_schema(Invoice.model_json_schema()),
            "strict": True,
        }
    }
    items: Any = [{"role": "user", "content": PROMPT}]

    def raw() -> Invoice:
        return Invoice.model_validate_json(
            client.responses.create(model=MODEL, input=items, text=text).output_text
        )

    async def raw_async() -> Invoice:
        aclient = aclients.get("c") or aclients.setdefault(
            "c", openai.AsyncOpenAI(api_key=KEY, base_url=f"{base_url}/v1")
        )
        response = await aclient.responses.create(model=MODEL, input=items, text=text)
        return Invoice.model_validate_json(response.output_text)

    if not with_alloy:
        return Target("openai_responses", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, built once by its own plan and adapter.
    from alloy._messages import Message
    from alloy.providers._openai_responses import responses_kwargs

    sent = responses_kwargs(extract.explain().request([Message("user", PROMPT)]))

    def same() -> Invoice:
        return Invoice.model_validate_json(client.responses.create(**sent, stream=False).output_text)

    async def same_async() -> Invoice:
        aclient = aclients.get("c") or aclients.setdefault(
            "c", openai.AsyncOpenAI(api_key=KEY, base_url=f"{base_url}/v1")
        )
        return Invoice.model_validate_json((await aclient.responses.create(**sent, stream=False)).output_text)

    return Target(
        "openai_responses",
        raw,
        raw_async,
        lambda: extract(PROMPT),
        lambda: extract.async_(PROMPT),
        same,
        same_async,
    )


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server (all the Alloy side needs).

    ``overhead.py`` times a fresh process from ``import alloy`` through this to the first answer
    (cold start), with nothing of the raw side made.
    """
    import alloy

    alloy.configure(openai_api_key=KEY, openai_base_url=f"{base_url}/v1", openai_api="responses")

    @alloy.command(output=Invoice, model=f"openai:{MODEL}")
    def extract(text: str) -> str:
        return text

    return extract

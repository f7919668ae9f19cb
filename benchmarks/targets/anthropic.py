"""Anthropic: ``client.messages.create`` with ``output_config`` (a JSON schema), against Alloy.

The raw side is what a careful user writes by hand: one client, the schema with every object
closed (Anthropic's structured outputs want ``additionalProperties: false``) built once, the text
block validated with ``Invoice.model_validate_json``. The Alloy side is ``@command(output=Invoice)``
on a Claude model of the 4.5 generation or later (claude-sonnet-4-5 itself is deprecated in
the SDK, which then warns on every call), for which Alloy's adapter sends ``output_config`` too
(``native_output`` in ``alloy/providers/anthropic.py``), with ``anthropic_base_url`` pointing at
the fake server.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from invoice import ANSWER_TEXT, PROMPT, Invoice

from targets import Target
from targets.openai import strict_schema

MODEL = "claude-sonnet-4-6"
KEY = "sk-ant-benchmark"

ROUTES: dict[str, bytes] = {
    "/v1/messages": json.dumps(
        {
            "id": "msg_bench",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [{"type": "text", "text": ANSWER_TEXT}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": 180, "output_tokens": 60},
        }
    ).encode(),
}


def _text(message: Any) -> str:
    return next(block.text for block in message.content if block.type == "text")


def make(base_url: str, with_alloy: bool = True) -> Target:
    import anthropic

    client = anthropic.Anthropic(api_key=KEY, base_url=base_url)
    aclients: dict[str, anthropic.AsyncAnthropic] = {}  # made on first use, inside the benchmark's event loop

    def aclient() -> anthropic.AsyncAnthropic:
        return aclients.get("c") or aclients.setdefault(
            "c", anthropic.AsyncAnthropic(api_key=KEY, base_url=base_url)
        )

    def caller(kwargs: dict[str, Any]) -> tuple[Callable[[], Invoice], Callable[[], Awaitable[Invoice]]]:
        def call() -> Invoice:
            return Invoice.model_validate_json(_text(client.messages.create(**kwargs)))

        async def acall() -> Invoice:
            return Invoice.model_validate_json(_text(await aclient().messages.create(**kwargs)))

        return call, acall

    output_config: Any = {
        "format": {"type": "json_schema", "schema": strict_schema(Invoice.model_json_schema())}
    }
    raw, raw_async = caller(
        {
            "model": MODEL,
            "max_tokens": 1024,
            "messages": [{"role": "user", "content": PROMPT}],
            "output_config": output_config,
        }
    )
    if not with_alloy:
        return Target("anthropic", raw, raw_async)

    extract = alloy_command(base_url)

    # Exactly what Alloy sends, built once by its own plan and adapter: output_config with the
    # schema as compiled and, since the fake is not api.anthropic.com, a system prompt stating it.
    from alloy._messages import Message
    from alloy.providers.anthropic import build_request

    plan = extract.explain()
    if plan.output_mode != "native_strict":
        raise SystemExit(f"anthropic: Alloy plans {plan.output_mode!r} for {MODEL}, not output_config")
    same, same_async = caller(build_request(plan.request([Message("user", PROMPT)]), plan.settings))

    return Target(
        "anthropic", raw, raw_async, lambda: extract(PROMPT), lambda: extract.async_(PROMPT), same, same_async
    )


def alloy_command(base_url: str) -> Any:
    """Alloy's command for this target, configured for the fake server (all the Alloy side needs).

    ``overhead.py`` times a fresh process from ``import alloy`` through this to the first answer
    (cold start), with nothing of the raw side made.
    """
    import alloy

    alloy.configure(anthropic_api_key=KEY, anthropic_base_url=base_url)

    @alloy.command(output=Invoice, model=f"anthropic:{MODEL}")
    def extract(text: str) -> str:
        return text

    return extract

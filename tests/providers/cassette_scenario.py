"""One scenario per provider for the cassette tests: a tool turn, a re-ask and a streamed answer.

``run(provider, url, path)`` runs it inside ``cassette(path)``; ``python -m
tests.providers.cassette_scenario <provider> <url> <path>`` runs it in a fresh process (without a
key) and prints the results as JSON, so a replay can be compared with the recording.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alloy import command, override, tool
from alloy.testing import cassette

KEYS = {
    "openai": "sk-test-cassette-0123456789",
    "anthropic": "sk-ant-test-cassette-0123456789",
    "gemini": "AIzaSy-test-cassette-0123456789",
}


@dataclass
class Quote:
    item: str
    price: float


@tool
def lookup_price(item: str) -> float:
    """The unit price of an item."""
    return {"widget": 2.5}[item]


@command(output=Quote, tools=[lookup_price])
def quote(item: str) -> str:
    return f"Quote the price of one {item}."


@command(output=int)
def count(text: str) -> str:
    return f"How many words are in: {text}"


@command
def line(topic: str) -> str:
    return f"One short line about {topic}."


def settings(provider: str, url: str, *, key: bool) -> dict[str, Any]:
    """Alloy pointed at *url* for *provider* (with its key only when *key*: replaying needs none)."""
    model = {"openai": "openai:gpt-4.1-mini", "anthropic": "anthropic:claude-sonnet-4-6"}.get(
        provider, {"gemini": "gemini:gemini-2.5-flash", "ollama": "ollama:llama3.2"}.get(provider)
    )
    out: dict[str, Any] = {"model": model}
    if provider == "openai":
        out["openai_base_url"] = url + "/v1"
    elif provider == "ollama":
        out["ollama_host"] = url
    else:
        out[f"{provider}_base_url"] = url
    if key and provider in KEYS:
        out[f"{provider}_api_key"] = KEYS[provider]
    return out


def run(provider: str, url: str, path: Path, *, key: bool = True) -> dict[str, Any]:
    with override(**settings(provider, url, key=key)), cassette(path):
        q = quote.run("widget")
        n = count.run("tea for two")
        deltas = list(line.stream("tea"))
    return {
        "quote": dataclasses.asdict(q.output),
        "quote_requests": q.usage.requests,
        "count": n.output,
        "count_attempts": n.attempts,
        "deltas": deltas,
    }


if __name__ == "__main__":
    provider, url, path = sys.argv[1:4]
    print(json.dumps(run(provider, url, Path(path), key=False)))

"""Commands the cluster's worker processes import (they pickle by reference, like functions)."""

from __future__ import annotations

from dataclasses import dataclass

from alloy import command


@dataclass
class Echo:
    text: str


@command(output=Echo, model="openai:gpt-4.1-mini", openai_api="chat")
def echo(text: str) -> str:
    return f"Echo <{text}>"

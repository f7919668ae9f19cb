"""Record a call once, replay it offline: what CI does with a cassette recorded with a real key.

A ScriptedModel stands in for the real provider here, so the example runs anywhere; with a real
model the steps are the same (record once with the key set, commit the file, replay without it).
"""

import json
from dataclasses import dataclass
from pathlib import Path

from alloy import command, override, tool
from alloy.testing import CassetteMiss, ScriptedModel, ToolCall, cassette


@dataclass
class Quote:
    item: str
    price: float


@tool
def price_of(item: str) -> float:
    """The unit price of an item."""
    return 2.5


@command(output=Quote, tools=[price_of])
def quote(item: str) -> str:
    return f"Quote the price of one {item}."


path = Path("cassettes/quote.json")
provider = ScriptedModel(
    [ToolCall("price_of", {"item": "tea"}, id="call_1"), '{"item": "tea", "price": 2.5}']
)

# 1. The first run records (the file does not exist yet): the provider answers.
with override(model=provider), cassette(path) as c:
    print(c.mode, "recording:", c.recording, "->", quote("tea"))

for entry in json.loads(path.read_text())["interactions"]:
    request, response = entry["request"], entry["response"]
    last = request["messages"][-1]
    print(
        f"  {last['role']}: {last['content']!r} -> {response.get('text') or response['tool_calls'][0]['name']}"
    )

# 2. Later runs replay: the provider is never called (CI sets ALLOY_CASSETTE_MODE=replay).
unreachable = ScriptedModel([])  # would fail if asked anything
with override(model=unreachable, cassette_mode="replay"), cassette(path) as c:
    print(c.mode, "recording:", c.recording, "->", quote("tea"))
    try:
        quote("coffee")  # a request the cassette does not hold
    except CassetteMiss as miss:
        print(str(miss).splitlines()[2].strip())
print("requests sent while replaying:", len(unreachable.requests))

"""Anthropic's structured outputs take no recursion: Alloy inlines it 3 levels below the root, and falls back
to a forced tool with the recursive schema when an answer needs more (SPEC §2, issue 13 item 9)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import BaseModel

from alloy import ask, override
from alloy._plan import OUTPUT_TOOL
from alloy.providers import anthropic as adapter

from .server import FakeServer, Reply
from .test_anthropic import KEY, MODEL, message, sent, text, tool_use


@pytest.fixture
def claude(server: FakeServer) -> Iterator[FakeServer]:
    adapter.ADAPTER.forget_refusals()
    with override(model=f"anthropic:{MODEL}", anthropic_base_url=server.url, anthropic_api_key=KEY):
        yield server
    adapter.ADAPTER.forget_refusals()


class Node(BaseModel):
    name: str
    children: list[Node] = []


def _depth(schema: Any) -> int:
    """How many levels of `children` the schema spells out before the cut."""
    levels = 0
    while isinstance(schema, dict) and "children" in schema.get("properties", {}):
        levels += 1
        schema = schema["properties"]["children"]["items"]
    return levels


def deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"name": f"n{levels}", "children": []}
    for i in range(levels - 1, 0, -1):
        node = {"name": f"n{i}", "children": [node]}
    return node


def test_deeper_answer_falls_back_to_a_forced_tool_with_refs(claude: FakeServer) -> None:
    # Under the inlined schema the model can only write null below the root's third descendant...
    cut = deep(4)
    cut["children"][0]["children"][0]["children"][0]["children"] = [None]
    claude.replies += [
        Reply(200, message(text(json.dumps(cut)))),
        # ...and the re-ask goes through the forced tool, whose schema recurses by $ref: any depth.
        Reply(200, message(tool_use("toolu_01", OUTPUT_TOOL) | {"input": deep(6)}, stop_reason="tool_use")),
    ]
    answer = ask("The tree?", output=Node)
    assert answer == Node.model_validate(deep(6))

    first, second = sent(claude, 0), sent(claude, 1)
    assert _depth(first["output_config"]["format"]["schema"]) == 4  # the root and 3 levels below it
    assert "$ref" not in json.dumps(first["output_config"]["format"]["schema"])
    assert "output_config" not in second
    [spec] = second["tools"]
    assert spec["name"] == OUTPUT_TOOL and "strict" not in spec
    assert "Node" in spec["input_schema"]["$defs"] and "#/$defs/Node" in json.dumps(spec["input_schema"])
    assert second["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL}


def test_shallow_answer_stays_strict(claude: FakeServer) -> None:
    claude.replies.append(Reply(200, message(text(json.dumps(deep(2))))))
    assert ask("The tree?", output=Node) == Node.model_validate(deep(2))
    assert len(claude.requests) == 1 and "output_config" in sent(claude)


def test_explain_notes_the_depth_and_the_fallback(claude: FakeServer) -> None:
    plan = ask.explain("The tree?", output=Node)
    assert plan.output_mode == "native_strict"
    assert any("inlined 3 levels below the root" in n and "forced tool" in n for n in plan.notes)

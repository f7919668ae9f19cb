"""The ReAct step format, for models without native tool calling.

Each turn the model answers one JSON object::

    {"thought": "...", "action": "<tool name>", "action_input": {"arg": "value"}}
    {"thought": "...", "action": "final_answer", "action_input": <the output value>}

Tool results go back as user messages starting ``Observation: ``. Adapters never see any of this:
to them a ReAct turn is an ordinary request with a system prompt and, where the provider takes
one, the step schema as its structured output.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ._messages import ToolSpec
from ._outputs import NO_JSON, extract_json

FINAL = "final_answer"


@dataclass(frozen=True, slots=True)
class Step:
    thought: str
    action: str
    action_input: Any


def step_schema(tools: Sequence[ToolSpec], answer: dict[str, Any]) -> dict[str, Any]:
    """The JSON schema of one step: exactly ``thought``, ``action``, ``action_input``.

    *answer* is the schema of the final answer's ``action_input``.
    """
    defs: dict[str, Any] = {}
    inputs: list[dict[str, Any]] = []
    for schema in [*(t.parameters for t in tools), answer]:
        s = dict(schema)
        defs.update(s.pop("$defs", {}))
        inputs.append(s)
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "thought": {"type": "string", "description": "Your reasoning for this step."},
            "action": {"type": "string", "enum": [*(t.name for t in tools), FINAL]},
            "action_input": {"anyOf": inputs} if len(inputs) > 1 else inputs[0],
        },
        "required": ["thought", "action", "action_input"],
    }
    if defs:
        schema["$defs"] = defs
    return schema


def system_text(tools: Sequence[ToolSpec], answer: dict[str, Any]) -> str:
    """Instructions listing the tools and the step format."""
    listing = "\n".join(
        f"- {t.name}: {t.description}\n  arguments JSON schema: {json.dumps(t.parameters)}" for t in tools
    )
    return (
        "You can use these tools:\n"
        f"{listing}\n\n"
        "Work step by step. Reply with exactly one JSON object per message and nothing else:\n"
        '{"thought": "<your reasoning>", "action": "<tool name>", "action_input": {<arguments>}}\n'
        "After each tool call you receive its result as a message starting with 'Observation: '.\n"
        "When you have the answer, reply:\n"
        f'{{"thought": "<your reasoning>", "action": "{FINAL}", "action_input": <the answer>}}\n'
        f"where the answer follows this JSON schema: {json.dumps(answer)}"
    )


def parse_step(text: str) -> Step:
    """Read one step from the model's text.

    Raises:
        ValueError: not a JSON object with a string ``action``; the message says what to send.
    """
    value = extract_json(text)
    if value is NO_JSON or not isinstance(value, dict):
        raise ValueError(
            f"Your reply was not a JSON object ({_why_not(text, value)}). Reply with exactly one JSON "
            'object with the keys "thought", "action" and "action_input".'
        )
    step: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
    action = step.get("action")
    if not isinstance(action, str) or not action:
        raise ValueError('Your reply has no "action" string. Name a tool, or "final_answer" with the answer.')
    return Step(str(step.get("thought", "")), action, step.get("action_input", {}))


def _why_not(text: str, value: Any) -> str:
    """What was wrong with a reply that is not a JSON object: the parser's error, or what it was."""
    if value is NO_JSON:
        try:
            json.loads(text.strip())
        except ValueError as exc:
            return str(exc)
    if value is None:
        return "it was null"
    kind = "array" if isinstance(value, list) else "string" if isinstance(value, str) else "number or boolean"
    return f"it was a JSON {kind}, not an object"


def observation(text: str) -> str:
    return f"Observation: {text}"

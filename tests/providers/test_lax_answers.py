"""Answers of small models behind servers that do not enforce the schema (SPEC §17 "Lax answers").

A loopback server is a compatible endpoint: the expected shape also goes into the system prompt,
with the answer's form (a slot per value), which the last user message restates; a wrapped answer
under a renamed key is accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from alloy import CommandError, ask, command, override

from .server import FakeServer
from .test_openai import KEY, reply, sent


@pytest.fixture(params=["chat", "responses"])
def api(request: pytest.FixtureRequest, server: FakeServer) -> Any:
    with override(
        model="openai:llama", openai_base_url=server.url + "/v1", openai_api_key=KEY, openai_api=request.param
    ):
        yield request.param


def _system(api: str, body: dict[str, Any]) -> str:
    return body["messages"][0]["content"] if api == "chat" else body["instructions"]


def test_renamed_wrapper_key_is_accepted(server: FakeServer, api: str) -> None:
    server.replies.append(reply(api, '{"price": 49.99}'))
    assert ask("What does it cost?", output=float) == 49.99
    assert len(server.requests) == 1  # no re-ask


def test_renamed_key_of_an_encoded_value_is_decoded(server: FakeServer, api: str) -> None:
    """dict[str, int] travels as {key, value} pairs in strict OpenAI; a renamed key still decodes."""
    server.replies.append(reply(api, '{"counts": [{"key": "ada", "value": 3}]}'))
    assert ask("Scores?", output=dict[str, int]) == {"ada": 3}
    assert "pairs" in json.dumps(ask.explain("Scores?", output=dict[str, int]).notes)


def test_renamed_key_whose_value_does_not_fit_is_re_asked(server: FakeServer, api: str) -> None:
    server.replies += [reply(api, '{"price": "cheap"}'), reply(api, '{"value": 2.5}')]
    assert ask("What does it cost?", output=float, retry=1) == 2.5
    assert len(server.requests) == 2
    server.replies += [reply(api, '{"price": "cheap"}')]
    with pytest.raises(CommandError):
        ask("What does it cost?", output=float, retry=0)


def _user_text(api: str, body: dict[str, Any]) -> str:
    last = body["messages"][-1] if api == "chat" else body["input"][-1]
    content = last["content"]
    return content if isinstance(content, str) else "".join(p["text"] for p in content)


def test_system_prompt_states_the_answers_form_beside_the_schema(server: FakeServer, api: str) -> None:
    server.replies.append(reply(api, '{"value": [1, 2]}'))
    assert ask("Numbers?", output=list[int]) == [1, 2]
    system = _system(api, sent(server))
    schema_line, _, form_line = system.split("JSON schema:\n", 1)[1].split("\n")[:3]
    assert json.loads(schema_line)["properties"]["value"]["type"] == "array"
    assert form_line == '{"value": [<integer>, ...]}'


def test_last_user_message_restates_the_form_and_the_history_is_unchanged(
    server: FakeServer, api: str
) -> None:
    """A small model heeds the end of the user turn more than the system prompt (docs/local-models.md)."""
    server.replies += [reply(api, "Two and three."), reply(api, '{"value": [2, 3]}')]
    result = command(output=list[int], retry=1)(lambda: "Numbers?").run()
    assert result.output == [2, 3]
    form = 'Reply with JSON only, in the form {"value": [<integer>, ...]}'
    assert _user_text(api, sent(server, 0)) == f"Numbers?\n\n{form}"
    # the re-ask's feedback stays the last thing the model reads; the prompt keeps its reminder
    assert form not in _user_text(api, sent(server, 1))
    first = sent(server, 1)["messages"][1] if api == "chat" else sent(server, 1)["input"][0]
    assert first["content"] == f"Numbers?\n\n{form}"
    assert result.messages[0].content == "Numbers?"  # what the caller gets back is what they said


def test_no_reminder_where_the_schema_is_enforced(server: FakeServer) -> None:
    """OpenAI's own endpoint enforces the schema: the prompt is sent as written."""
    with override(model="openai:gpt-5-mini", openai_base_url=None, openai_api_key=KEY):
        plan = ask.explain("Numbers?", output=list[int])
    assert plan.reminder is None and plan.system is None

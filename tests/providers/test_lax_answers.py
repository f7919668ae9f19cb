"""Answers of small models behind servers that do not enforce the schema (SPEC §17 "Lax answers").

A loopback server is a compatible endpoint: the expected shape also goes into the system prompt,
with an example instance, and a wrapped answer under a renamed key is accepted.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from alloy import CommandError, ask, override

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


def test_system_prompt_shows_an_example_instance_beside_the_schema(server: FakeServer, api: str) -> None:
    server.replies.append(reply(api, '{"value": [1, 2]}'))
    assert ask("Numbers?", output=list[int]) == [1, 2]
    system = _system(api, sent(server))
    schema_line, example_line = system.split("JSON schema:\n", 1)[1].split("\n")[0::2][:2]
    assert json.loads(schema_line)["properties"]["value"]["type"] == "array"
    assert json.loads(example_line) == {"value": [1]}

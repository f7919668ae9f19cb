"""Cassettes at the wire: recorded against each provider's loopback fake, replayed in a fresh
process (no key set) with the server stopped, and refused when a request changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from alloy import override
from alloy.providers import anthropic as anthropic_adapter
from alloy.testing import CassetteMiss, cassette

from . import cassette_scenario as scenario
from . import test_anthropic as an
from . import test_gemini as ge
from . import test_ollama as ol
from . import test_openai as oa
from .server import FakeServer, Reply

ROOT = Path(__file__).resolve().parents[2]
QUOTE = '{"item": "widget", "price": 2.5}'


def openai_replies() -> list[Reply]:
    return [
        Reply(200, oa.chat_body(None, [("call_1", "lookup_price", '{"item": "widget"}')])),
        Reply(200, oa.chat_body(QUOTE)),
        Reply(200, oa.chat_body('{"value": "three"}')),
        Reply(200, oa.chat_body('{"value": 3}')),
        oa.chat_stream(["Tea ", "is ", "warm."]),
    ]


def anthropic_replies() -> list[Reply]:
    return [
        Reply(200, an.message(an.tool_use("toolu_1", "lookup_price", item="widget"), stop_reason="tool_use")),
        Reply(200, an.message(an.text(QUOTE))),
        Reply(200, an.message(an.text('{"value": "three"}'))),
        Reply(200, an.message(an.text('{"value": 3}'))),
        an.streamed("Tea ", "is ", "warm."),
    ]


def gemini_replies() -> list[Reply]:
    return [
        ge.reply(ge.call("lookup_price", item="widget")),
        ge.reply(ge.text(QUOTE)),
        ge.reply(ge.text('{"value": "three"}')),
        ge.reply(ge.text('{"value": 3}')),
        ge.streamed("Tea ", "is ", "warm."),
    ]


def ollama_replies() -> list[Reply]:
    return [
        Reply(200, ol.chat(tool_calls=[ol.call("lookup_price", item="widget")])),
        Reply(200, ol.chat(QUOTE)),
        Reply(200, ol.chat('{"value": "three"}')),
        Reply(200, ol.chat('{"value": 3}')),
        ol.chunks("Tea ", "is ", "warm."),
    ]


REPLIES: dict[str, Callable[[], list[Reply]]] = {
    "openai": openai_replies,
    "anthropic": anthropic_replies,
    "gemini": gemini_replies,
    "ollama": ollama_replies,
}
EXPECTED = {
    "quote": {"item": "widget", "price": 2.5},
    "quote_requests": 2,
    "count": 3,
    "count_attempts": 2,
    "deltas": ["Tea ", "is ", "warm."],
}


def _replay(provider: str, url: str, path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The scenario in a fresh Python process: the worktree's alloy, no keys, replay only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOY_") and not k.endswith("_API_KEY")}
    env |= {"PYTHONPATH": str(ROOT), "ALLOY_CASSETTE_MODE": "replay"}
    return subprocess.run(
        [sys.executable, "-m", "tests.providers.cassette_scenario", provider, url, str(path)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("provider", list(REPLIES))
def test_recorded_then_replayed_in_a_fresh_process_offline(
    provider: str, server: FakeServer, tmp_path: Path
) -> None:
    """Recorded once against the provider's wire; a fresh process without key or server gives the same."""
    anthropic_adapter.ADAPTER.forget_refusals()
    server.replies += REPLIES[provider]()
    path = tmp_path / f"{provider}.json"
    assert scenario.run(provider, server.url, path) == EXPECTED
    assert len(server.requests) == 5
    url = server.url
    server.stop()  # nothing is listening any more: a request would fail to connect

    done = _replay(provider, url, path, tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == EXPECTED

    text = path.read_text()
    key = scenario.KEYS.get(provider, "no key")
    for secret in (key, "authorization", "x-api-key", "x-goog-api-key", "bearer"):
        assert secret.lower() not in text.lower()
    kinds = [("stream" in i, len(i["request"]["messages"])) for i in json.loads(text)["interactions"]]
    assert kinds == [(False, 1), (False, 3), (False, 1), (False, 3), (True, 1)]


def test_changed_prompt_in_replay_sends_nothing(server: FakeServer, tmp_path: Path) -> None:
    """A changed prompt against a recorded cassette: CassetteMiss with the difference, no request."""
    server.replies += openai_replies()
    path = tmp_path / "openai.json"
    scenario.run("openai", server.url, path)
    sent = len(server.requests)
    server.replies += openai_replies()  # the server would answer: the cassette must not let it
    with (
        override(**scenario.settings("openai", server.url, key=True)),
        cassette(path, mode="replay"),
        pytest.raises(CassetteMiss) as info,
    ):
        scenario.quote("gadget")
    assert len(server.requests) == sent
    assert "'Quote the price of one widget." in str(info.value)
    assert "'Quote the price of one gadget." in str(info.value)


def test_record_mode_reaches_the_provider_again(server: FakeServer, tmp_path: Path) -> None:
    """Mode record calls the provider even though the cassette holds the answer, and rewrites it."""
    path = tmp_path / "openai.json"
    server.replies += openai_replies()
    scenario.run("openai", server.url, path)
    server.replies += [Reply(200, oa.chat_body(None, [("c", "lookup_price", '{"item": "widget"}')]))]
    server.replies += [Reply(200, oa.chat_body('{"item": "widget", "price": 3.0}'))]
    with override(**scenario.settings("openai", server.url, key=True)), cassette(path, mode="record"):
        assert scenario.quote("widget").price == 3.0
    assert len(server.requests) == 7
    assert len(json.loads(path.read_text())["interactions"]) == 2

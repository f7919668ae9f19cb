"""Provider batch jobs at the wire: the real SDKs against fakes of the three batch APIs.

Each case submits three invoices: the batch answers the first validly, the second with an invalid
total, and lets the third expire. Both the re-ask of the second (with the validation error fed back)
and the re-run of the third must reach the fake as normal requests, and all three end valid.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alloy import ConfigurationError, MapResult, command, override, providers, tool
from alloy._pricing import estimate
from alloy.providers import BatchState

from . import test_anthropic as claude
from . import test_gemini as gemini
from . import test_openai as oai
from .batch_command import Invoice, extract
from .server import (
    EXPIRED,
    AnthropicBatches,
    BatchFake,
    Failed,
    FakeServer,
    GeminiBatches,
    OpenAIBatches,
    Recorded,
    Reply,
)

ROOT = Path(__file__).resolve().parents[2]
GOOD = json.dumps({"number": "42", "total": 99.5})
BAD = json.dumps({"number": "7", "total": "a lot"})
ITEMS = ["Invoice #42, total $99.50", "Invoice #7, total $12.00", "Invoice #9, total $3.00"]


@dataclass
class Case:
    """One provider's batch API: settings, its fake, and its answer shapes."""

    name: str
    settings: dict[str, Any]
    env: dict[str, str]
    fake: type[BatchFake]
    body: Callable[[str], Any]
    """A provider-shaped answer whose text is the given JSON."""
    live: str
    """The path of a normal request."""

    def reply(self, answer: str) -> Reply:
        return Reply(200, self.body(answer))


def _openai(api: str) -> Callable[[FakeServer], Case]:
    def make(server: FakeServer) -> Case:
        body = (lambda t: oai.chat_body(t)) if api == "chat" else (lambda t: oai.responses_body(t))
        settings = {
            "model": "openai:gpt-5-mini",
            "openai_base_url": f"{server.url}/v1",
            "openai_api_key": oai.KEY,
        }
        env = {"ALLOY_MODEL": "openai:gpt-5-mini", "ALLOY_OPENAI_BASE_URL": f"{server.url}/v1"}
        env |= {"ALLOY_OPENAI_API_KEY": oai.KEY, "ALLOY_OPENAI_API": api}
        path = oai.CHAT if api == "chat" else oai.RESPONSES
        return Case(f"openai-{api}", settings | {"openai_api": api}, env, OpenAIBatches, body, path)

    return make


def _anthropic(server: FakeServer) -> Case:
    settings = {
        "model": f"anthropic:{claude.MODEL}",
        "anthropic_base_url": server.url,
        "anthropic_api_key": claude.KEY,
    }
    env = {"ALLOY_MODEL": f"anthropic:{claude.MODEL}", "ALLOY_ANTHROPIC_BASE_URL": server.url}
    env |= {"ALLOY_ANTHROPIC_API_KEY": claude.KEY}
    body = lambda t: claude.message(claude.text(t))  # noqa: E731
    return Case("anthropic", settings, env, AnthropicBatches, body, "/v1/messages")


def _gemini(server: FakeServer) -> Case:
    settings = {
        "model": f"gemini:{gemini.MODEL}",
        "gemini_base_url": server.url,
        "gemini_api_key": gemini.KEY,
    }
    env = {"ALLOY_MODEL": f"gemini:{gemini.MODEL}", "ALLOY_GEMINI_BASE_URL": server.url}
    env |= {"ALLOY_GEMINI_API_KEY": gemini.KEY}
    body = lambda t: gemini.answer(gemini.text(t))  # noqa: E731
    return Case("gemini", settings, env, GeminiBatches, body, gemini.PATH)


CASES = {
    "openai-chat": _openai("chat"),
    "openai-responses": _openai("responses"),
    "anthropic": _anthropic,
    "gemini": _gemini,
}


@pytest.fixture(params=list(CASES))
def case(
    request: pytest.FixtureRequest, server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Case]:
    """One provider's case, its settings in force, job records under a temporary cache directory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    made = CASES[request.param](server)
    with override(**made.settings):
        yield made


def sent_text(rec: Recorded) -> str:
    return json.dumps(rec.json)


def scenario(case: Case, server: FakeServer) -> BatchFake:
    """The fake: item-0 valid, item-1 invalid, item-2 expired; live requests answered validly."""
    answers = {"item-0": case.body(GOOD), "item-1": case.body(BAD), "item-2": EXPIRED}
    fake = case.fake(server, lambda key, body: answers[key])
    fake.live = lambda rec: case.reply(GOOD)
    server.handler = fake
    return fake


def live_requests(case: Case, server: FakeServer) -> list[Recorded]:
    return [r for r in server.requests if r.path.split("?")[0] == case.live]


def test_invalid_and_expired_items_end_valid(case: Case, server: FakeServer) -> None:
    fake = scenario(case, server)
    job = extract.submit_batch(ITEMS)
    assert job.provider == case.settings["model"].split(":")[0]
    assert job.id.endswith(("batch_abc123", "msgbatch_abc123", "batches/abc123"))
    assert sorted(fake.requests) == ["item-0", "item-1", "item-2"]
    assert not live_requests(case, server)  # nothing but the batch so far

    result = job.results(poll=0.001, progress=False)

    assert isinstance(result, MapResult)
    assert result.outputs == [Invoice("42", 99.5)] * 3
    assert fake.status_requests >= 3  # polled until done
    live = live_requests(case, server)
    assert len(live) == 2  # the re-ask of item-1 and the re-run of item-2, as normal requests
    reask = next(r for r in live if "not valid" in sent_text(r))
    assert "total" in sent_text(reask) and ITEMS[1] in sent_text(reask)
    assert any(ITEMS[2] in sent_text(r) and "not valid" not in sent_text(r) for r in live)
    assert [o.usage.requests for o in result] == [1, 2, 1]
    assert [o.attempts for o in result] == [1, 2, 1]
    assert result.usage.requests == 4
    assert job.results() is result  # collected once
    # Cost: the batch's two answers at half price, the re-ask and the re-run at list price.
    one = estimate(job.provider, job.model, result[0].usage)
    assert job.cost == (None if one is None else pytest.approx(3 * one))


def test_batch_line_is_the_live_request(case: Case, server: FakeServer) -> None:
    """Each batch request is built by the same code as the live call it stands for."""
    fake = case.fake(server, lambda key, body: EXPIRED)
    fake.live = lambda rec: case.reply(GOOD)
    server.handler = fake
    extract.batch([ITEMS[2]], poll=0.001, progress=False)  # expired: run again live
    batch_request = fake.requests["item-0"]
    live = live_requests(case, server)[0].json
    live.pop("stream", None)  # the live call says stream=false; a batch line has no stream to say it of
    if case.fake is OpenAIBatches:
        assert batch_request["method"] == "POST" and batch_request["url"] == case.live
        batch_request = batch_request["body"]
    if case.fake is GeminiBatches:  # the SDK moves the model into the URL of a live call
        batch_request.pop("model")
        batch_request = {**batch_request, **batch_request.pop("generationConfig")} | {}
        live = {**live, **live.pop("generationConfig")}
    assert batch_request == live


def test_results_from_a_second_process(case: Case, server: FakeServer, tmp_path: Path) -> None:
    fake = scenario(case, server)
    job = extract.submit_batch(ITEMS)
    env = {**os.environ, **case.env, "PYTHONPATH": str(ROOT), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    done = subprocess.run(
        [sys.executable, "-m", "tests.providers.batch_command", job.id],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["output"] for line in lines] == [{"number": "42", "total": 99.5}] * 3
    assert [line["requests"] for line in lines] == [1, 2, 1]
    assert fake.status_requests >= 3
    assert len(live_requests(case, server)) == 2


def test_failed_items_run_again(case: Case, server: FakeServer) -> None:
    answers = {"item-0": Failed(500), "item-1": case.body(GOOD)}
    fake = case.fake(server, lambda key, body: answers[key])
    fake.live = lambda rec: case.reply(GOOD)
    server.handler = fake
    result = extract.batch(ITEMS[:2], poll=0.001, progress=False)
    assert result.outputs == [Invoice("42", 99.5)] * 2
    assert len(live_requests(case, server)) == 1


def test_status_while_running(case: Case, server: FakeServer) -> None:
    scenario(case, server)
    job = extract.submit_batch(ITEMS)
    state = job.status()
    assert isinstance(state, BatchState) and not state.done
    with pytest.raises(TimeoutError, match="batch_job"):
        job.wait(poll=0.001, timeout=0.0005)


def test_tools_are_refused_before_anything_is_sent(case: Case, server: FakeServer) -> None:
    @tool
    def lookup(number: str) -> str:
        """Look an invoice up."""
        return number

    @command(output=Invoice, tools=[lookup])
    def with_tools(text: str) -> str:
        return text

    with pytest.raises(ConfigurationError, match=r"no tools.*with_tools\.map\(items\)"):
        with_tools.submit_batch(ITEMS)
    assert server.requests == []


def test_ollama_has_no_batch_api(server: FakeServer) -> None:
    refused = pytest.raises(ConfigurationError, match=r"ollama has no batch API.*extract\.map\(items\)")
    with override(model="ollama:llama3.2", ollama_host=server.url), refused:
        extract.batch(ITEMS)
    assert server.requests == []


def test_a_job_of_another_command_is_refused(case: Case, server: FakeServer) -> None:
    scenario(case, server)
    job = extract.submit_batch(ITEMS[:1])

    @command(output=Invoice)
    def other(text: str) -> str:
        return text

    with pytest.raises(ConfigurationError, match="submitted by extract"):
        other.batch_job(job.id)


def test_wait_polls_with_backoff(server: FakeServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each wait between two status requests is 1.5 times the one before, from ``poll`` on."""
    made = _openai("chat")(server)
    fake = OpenAIBatches(server, lambda key, body: made.body(GOOD), polls=4)
    server.handler = fake
    waits: list[float] = []
    monkeypatch.setattr("alloy._batch.time.sleep", waits.append)
    with override(**made.settings):
        job = extract.submit_batch(ITEMS[:1])
        job.wait(poll=2.0, progress=False)
    assert waits == [2.0, 3.0, 4.5, 6.75]
    assert fake.status_requests == 5


def test_a_job_bigger_than_the_provider_takes_is_refused_before_upload(
    case: Case, server: FakeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario(case, server)
    module = {OpenAIBatches: "openai", AnthropicBatches: "anthropic", GeminiBatches: "gemini"}[case.fake]
    real = providers.check_batch_size

    def tiny(provider: str, count: int, size: int, *, max_count: int | None, max_bytes: int) -> None:
        real(provider, count, size, max_count=max_count, max_bytes=10)  # any job is too big

    monkeypatch.setattr(f"alloy.providers.{module}.check_batch_size", tiny)
    with pytest.raises(ConfigurationError, match=r"several jobs, or use map\(\)"):
        extract.submit_batch(ITEMS)
    assert server.requests == []

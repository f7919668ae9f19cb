"""Secrets (SPEC §17): no configured key reaches an error, a traceback with locals, a log line or a
span, even when the provider echoes it back.

Everything a failure produces is rendered and searched: ``str`` and ``repr`` of the error, the
traceback with every frame's locals (what Sentry or ``pytest --showlocals`` print), the logs at
debug level, and the spans with content recording on.
"""

from __future__ import annotations

import json
import logging
import traceback
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from alloy import AlloyError, ConfigurationError, ProviderError, ask, override

from .server import FakeServer
from .wire import KEYS, wire

SECRET = "s3cr3t-Pa55w0rd-0123456789"


@pytest.fixture
def everything(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture
) -> Iterator[list[BaseException]]:
    """Catch the AlloyError raised in the block; the test then searches ``produced(...)``."""
    exporter.clear()
    caught: list[BaseException] = []
    with caplog.at_level(logging.DEBUG), override(telemetry=True, telemetry_content=True):
        yield caught


def with_locals(exc: BaseException) -> str:
    """The traceback with every frame's locals, from Alloy's frames on (the test's own frame,
    which holds the key it configured, is left out)."""
    if exc.__traceback__ is not None and exc.__traceback__.tb_frame.f_code.co_filename == __file__:
        exc = exc.with_traceback(exc.__traceback__.tb_next)
    return "".join(traceback.TracebackException.from_exception(exc, capture_locals=True).format())


def produced(exc: BaseException, exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture) -> str:
    rendered = with_locals(exc)
    spans = [
        json.dumps(
            [
                s.name,
                s.status.description,
                dict(s.attributes or {}),
                [dict(e.attributes or {}) for e in s.events],
            ],
            default=str,
        )
        for s in exporter.get_finished_spans()
    ]
    # Alloy's logs: the HTTP clients' own debug logs are theirs to keep quiet.
    logs = [caplog.handler.format(r) for r in caplog.records if r.name.startswith("alloy")]
    return "\n".join([str(exc), repr(exc), rendered, *logs, *spans])


@pytest.mark.parametrize("name", ["openai-chat", "openai-responses", "anthropic", "gemini"])
def test_a_401_that_echoes_the_key_shows_it_nowhere(
    name: str,
    server: FakeServer,
    exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
    everything: list[BaseException],
) -> None:
    """A compatible server's 401 quotes the key: the ProviderError, its chained SDK exception, the
    traceback with locals, the logs and the spans all show *** instead."""
    w = wire(name)
    key = KEYS[w.provider]
    server.replies += [w.fail(401, f"Incorrect API key provided: {key}. Check it.")]
    with override(**w.settings(server.url)), pytest.raises(ProviderError) as info:
        ask("Hi")
    text = produced(info.value, exporter, caplog)
    assert key not in text
    assert "Incorrect API key provided: ***" in str(info.value)
    assert info.value.__cause__ is not None  # still chained to the SDK's exception


def test_a_password_in_the_ollama_host_is_not_echoed(
    exporter: InMemorySpanExporter, caplog: pytest.LogCaptureFixture, everything: list[BaseException]
) -> None:
    """``http://user:KEY@host`` that cannot be reached: the connection error names the host, not the key."""
    with (
        override(model="ollama:llama3.2", ollama_host=f"http://admin:{SECRET}@127.0.0.1:9", retry_attempts=1),
        pytest.raises(ProviderError) as info,
    ):
        ask("Hi")
    text = produced(info.value, exporter, caplog)
    assert SECRET not in text
    assert "admin:***@127.0.0.1:9" in str(info.value)


def test_a_password_in_a_base_url_is_not_echoed(
    server: FakeServer,
    exporter: InMemorySpanExporter,
    caplog: pytest.LogCaptureFixture,
    everything: list[BaseException],
) -> None:
    """A base URL with a password whose server echoes the URL back in an error."""
    url = server.url.replace("http://", f"http://user:{SECRET}@")
    server.replies += [wire("openai-chat").fail(404, f"No route for {url}/v1/chat/completions")]
    settings = {**wire("openai-chat").settings(server.url), "openai_base_url": f"{url}/v1"}
    with override(**settings), pytest.raises(ProviderError) as info:
        ask("Hi")
    assert SECRET not in produced(info.value, exporter, caplog)


def test_the_settings_fingerprint_holds_no_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bad variable next to a key in the environment: the traceback's locals show no key."""
    monkeypatch.setenv("OPENAI_API_KEY", KEYS["openai"])
    monkeypatch.setenv("ALLOY_TIMEOUT", "soon")
    with pytest.raises(ConfigurationError) as info:
        ask("Hi")
    rendered = with_locals(info.value)
    assert "ALLOY_TIMEOUT" in rendered and KEYS["openai"] not in rendered


@pytest.mark.parametrize("where", ["env", "keyword"])
def test_a_key_pasted_into_the_model_setting_is_not_echoed_whole(
    where: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ALLOY_MODEL=sk-... (a key in the wrong variable): the error says what is wrong, cut short."""
    pasted = "sk-proj-Zq8vYb3KdLm0Np7RtWx2Hc5Jf9Gs4Ae"
    if where == "env":
        monkeypatch.setenv("ALLOY_MODEL", pasted)
    with pytest.raises(AlloyError) as info:
        ask("Hi", **({"model": pasted} if where == "keyword" else {}))
    assert pasted not in str(info.value)
    assert "sk-p" in str(info.value)

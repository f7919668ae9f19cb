"""Shared fixtures: a clean settings state per test, no backoff sleeps, no network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
import stamina

from alloy import _pricing, _registry, _settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

_PROVIDER_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_GEMINI_BASE_URL",
    "OLLAMA_HOST",
)


@pytest.fixture(autouse=True)
def _clean_settings(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Each test starts from defaults: no ALLOY_/SDK variables, no .env, no configure(), no cached clients."""
    if request.node.get_closest_marker("live") or request.node.get_closest_marker("local_llm"):
        yield
        return
    for name in list(os.environ):
        if name.startswith("ALLOY_") or name in _PROVIDER_VARS:
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("cache")))  # batch job records
    _settings._reset_configure()  # pyright: ignore[reportPrivateUsage]
    _registry.clear_clients()
    prices = dict(_pricing._PRICES)  # pyright: ignore[reportPrivateUsage]  # set_price() in a test or a docs example
    with stamina.set_testing(True, attempts=100, cap=True):
        yield
    _settings._reset_configure()  # pyright: ignore[reportPrivateUsage]
    _registry.clear_clients()
    _pricing._PRICES.clear()  # pyright: ignore[reportPrivateUsage]
    _pricing._PRICES.update(prices)  # pyright: ignore[reportPrivateUsage]


@pytest.fixture(scope="session")
def exporter() -> InMemorySpanExporter:
    """Every finished span, in memory (tests ``clear()`` it first). One tracer provider for the
    process, since the global one can be set only once; OpenTelemetry loads only for tests that
    ask for this."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    current = trace.get_tracer_provider()
    provider = current if isinstance(current, TracerProvider) else TracerProvider()
    if provider is not current:
        trace.set_tracer_provider(provider)
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter

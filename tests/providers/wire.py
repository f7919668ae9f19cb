"""One description per wire API, for tests that hold for every provider (faults, retries, leaks).

``WIRES`` names each wire: OpenAI Chat Completions and Responses, Anthropic, Gemini and Ollama.
A ``Wire`` knows the settings that point Alloy at the loopback server, a good answer in the
provider's documented shape, and an error in its shape; the bodies come from the per-provider
test modules, so they cannot drift from the shapes tested there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import test_anthropic, test_gemini, test_ollama, test_openai
from .server import Reply

WIRES = ("openai-chat", "openai-responses", "anthropic", "gemini", "ollama")

KEYS = {
    "openai": test_openai.KEY,
    "anthropic": test_anthropic.KEY,
    "gemini": test_gemini.KEY,
}


@dataclass(frozen=True)
class Wire:
    name: str
    settings: Callable[[str], dict[str, Any]]
    """The ``override`` settings for a server at this URL."""
    answer: Callable[[str, int, int], Any]
    """A good non-streamed answer body: ``answer(text, input_tokens, output_tokens)``."""
    error: Callable[[int, str], Any]
    """An error body in the provider's shape: ``error(status, message)``."""

    def ok(self, text: str = "ok", input_tokens: int = 11, output_tokens: int = 7) -> Reply:
        return Reply(200, self.answer(text, input_tokens, output_tokens))

    def fail(self, status: int, message: str = "slow down", headers: dict[str, str] | None = None) -> Reply:
        return Reply(status, self.error(status, message), headers=headers or {})

    @property
    def provider(self) -> str:
        return self.name.partition("-")[0]


def _openai_error(status: int, message: str) -> Any:
    return {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}}


def _anthropic_error(status: int, message: str) -> Any:
    kind = {429: "rate_limit_error", 401: "authentication_error"}.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


def _gemini_error(status: int, message: str) -> Any:
    state = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED"}.get(status, "INTERNAL")
    return {"error": {"code": status, "message": message, "status": state, "details": []}}


def _openai(api: str) -> Callable[[str], dict[str, Any]]:
    return lambda url: {
        "model": "openai:gpt-4.1-mini",
        "openai_base_url": f"{url}/v1",
        "openai_api_key": test_openai.KEY,
        "openai_api": api,
    }


_WIRES = {
    "openai-chat": Wire(
        "openai-chat",
        _openai("chat"),
        lambda t, i, o: test_openai.chat_body(t, usage=(i, o)),
        _openai_error,
    ),
    "openai-responses": Wire(
        "openai-responses",
        _openai("responses"),
        lambda t, i, o: test_openai.responses_body(t, usage=(i, o)),
        _openai_error,
    ),
    "anthropic": Wire(
        "anthropic",
        lambda url: {
            "model": f"anthropic:{test_anthropic.MODEL}",
            "anthropic_base_url": url,
            "anthropic_api_key": test_anthropic.KEY,
        },
        lambda t, i, o: test_anthropic.message(test_anthropic.text(t), input_tokens=i, output_tokens=o),
        _anthropic_error,
    ),
    "gemini": Wire(
        "gemini",
        lambda url: {
            "model": f"gemini:{test_gemini.MODEL}",
            "gemini_base_url": url,
            "gemini_api_key": test_gemini.KEY,
        },
        lambda t, i, o: test_gemini.answer(test_gemini.text(t), prompt_tokens=i, output_tokens=o),
        _gemini_error,
    ),
    "ollama": Wire(
        "ollama",
        lambda url: {"model": f"ollama:{test_ollama.MODEL}", "ollama_host": url},
        lambda t, i, o: test_ollama.chat(t, prompt_tokens=i, output_tokens=o),
        lambda status, message: {"error": message},
    ),
}


def wire(name: str) -> Wire:
    return _WIRES[name]

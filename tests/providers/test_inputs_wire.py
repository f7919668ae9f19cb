"""Parts on the wire (SPEC §10's table): the real SDKs send each part as the provider documents it.

Every cell of the table: the exact JSON the SDK put on the wire, bytes round-tripping through
base64; every "error" cell is a ``ConfigurationError`` and the server receives nothing.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest

from alloy import Audio, ConfigurationError, Document, Image, Message, ask, override
from alloy._messages import Request
from alloy._settings import Settings
from alloy.providers.openai import api_for

from ..unit.test_inputs import MP3, PDF, WAV, png
from .server import FakeServer, Reply
from .test_anthropic import message as anthropic_message
from .test_anthropic import text as anthropic_text
from .test_gemini import _cheap_tls, one_certificate  # noqa: F401  # pyright: ignore[reportUnusedImport]
from .test_gemini import answer as gemini_answer
from .test_gemini import text as gemini_text
from .test_ollama import chat as ollama_chat
from .test_openai import chat_body, responses_body

PNG = png()
IMAGE, IMAGE_URL = Image(PNG), Image.from_url("https://example.com/scan.png")
DOC, DOC_URL = Document(PDF), Document.from_url("https://example.com/contract.pdf")
WAV_PART, MP3_PART = Audio(WAV), Audio(MP3)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def u64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode()


def alloy_to(server: FakeServer, provider: str, **settings: Any) -> AbstractContextManager[Any]:
    """Alloy pointed at the loopback server as *provider* (*settings* on top)."""
    base: dict[str, Any]
    if provider in ("chat", "responses"):
        model = "gpt-4.1-mini" if provider == "chat" else "gpt-5-mini"
        base = {
            "model": f"openai:{model}",
            "openai_base_url": server.url + "/v1",
            "openai_api_key": "sk-test",
            "openai_api": provider,
        }
    elif provider == "anthropic":
        base = {
            "model": "anthropic:claude-sonnet-4-6",
            "anthropic_base_url": server.url,
            "anthropic_api_key": "sk-ant",
        }
    elif provider == "gemini":
        base = {"model": "gemini:gemini-2.5-flash", "gemini_base_url": server.url, "gemini_api_key": "AIza"}
    else:
        base = {"model": "ollama:llama3.2", "ollama_host": server.url}
    return override(**{**base, **settings})


def answer(provider: str) -> Reply:
    return Reply(
        200,
        {
            "chat": lambda: chat_body("ok"),
            "responses": lambda: responses_body("ok"),
            "anthropic": lambda: anthropic_message(anthropic_text("ok")),
            "gemini": lambda: gemini_answer(gemini_text("ok")),
            "ollama": lambda: ollama_chat("ok"),
        }[provider](),
    )


@pytest.fixture
def gemini_tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    yield


def sent_user(server: FakeServer, provider: str) -> Any:
    """The user turn's content as the SDK sent it."""
    body = server.requests[-1].json
    if provider == "chat":
        return body["messages"][-1]["content"]
    if provider == "responses":
        return body["input"][-1]["content"]
    if provider == "anthropic":
        return body["messages"][-1]["content"]
    if provider == "gemini":
        return body["contents"][-1]["parts"]
    return body["messages"][-1]


# --- the cells that send ----------------------------------------------------------------------------

CELLS: dict[str, tuple[list[Any], Any]] = {
    "chat": (
        ["Read", IMAGE, IMAGE_URL, DOC, WAV_PART, MP3_PART],
        [
            {"type": "text", "text": "Read"},
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(PNG)}"}},
            {"type": "image_url", "image_url": {"url": "https://example.com/scan.png"}},
            {
                "type": "file",
                "file": {"filename": "document.pdf", "file_data": f"data:application/pdf;base64,{b64(PDF)}"},
            },
            {"type": "input_audio", "input_audio": {"data": b64(WAV), "format": "wav"}},
            {"type": "input_audio", "input_audio": {"data": b64(MP3), "format": "mp3"}},
        ],
    ),
    "responses": (
        ["Read", IMAGE, IMAGE_URL, DOC, DOC_URL],
        [
            {"type": "input_text", "text": "Read"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{b64(PNG)}", "detail": "auto"},
            {"type": "input_image", "image_url": "https://example.com/scan.png", "detail": "auto"},
            {
                "type": "input_file",
                "filename": "document.pdf",
                "file_data": f"data:application/pdf;base64,{b64(PDF)}",
            },
            {"type": "input_file", "file_url": "https://example.com/contract.pdf"},
        ],
    ),
    "anthropic": (
        ["Read", IMAGE, IMAGE_URL, DOC, DOC_URL],
        [
            {"type": "text", "text": "Read"},
            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(PNG)}},
            {"type": "image", "source": {"type": "url", "url": "https://example.com/scan.png"}},
            {
                "type": "document",
                "source": {"type": "base64", "media_type": "application/pdf", "data": b64(PDF)},
            },
            {"type": "document", "source": {"type": "url", "url": "https://example.com/contract.pdf"}},
        ],
    ),
    "gemini": (  # the SDK writes inline data as URL-safe base64, with snake_case keys inside
        ["Read", IMAGE, IMAGE_URL, DOC, DOC_URL, WAV_PART, MP3_PART],
        [
            {"text": "Read"},
            {"inlineData": {"data": u64(PNG), "mime_type": "image/png"}},
            {"fileData": {"file_uri": "https://example.com/scan.png", "mime_type": "image/png"}},
            {"inlineData": {"data": u64(PDF), "mime_type": "application/pdf"}},
            {"fileData": {"file_uri": "https://example.com/contract.pdf", "mime_type": "application/pdf"}},
            {"inlineData": {"data": u64(WAV), "mime_type": "audio/wav"}},
            {"inlineData": {"data": u64(MP3), "mime_type": "audio/mpeg"}},
        ],
    ),
    "ollama": (
        ["Read", IMAGE, IMAGE],
        {"role": "user", "content": "Read", "images": [b64(PNG), b64(PNG)]},
    ),
}


@pytest.mark.parametrize("provider", list(CELLS))
def test_each_part_goes_on_the_wire_as_the_provider_documents(server: FakeServer, provider: str) -> None:
    parts, expected = CELLS[provider]
    server.replies.append(answer(provider))
    with alloy_to(server, provider):
        assert ask(parts) == "ok"
    assert sent_user(server, provider) == expected


@pytest.mark.parametrize("provider", list(CELLS))
def test_bytes_round_trip_through_base64(server: FakeServer, provider: str) -> None:
    """What the provider decodes is exactly the bytes the part holds."""
    blob = PNG + bytes(range(256))
    server.replies.append(answer(provider))
    with alloy_to(server, provider):
        ask(["Look", Image(blob, media_type="image/png")])
    wire = repr(sent_user(server, provider))
    assert (u64(blob) if provider == "gemini" else b64(blob)) in wire


@pytest.mark.parametrize("provider", list(CELLS))
def test_a_history_with_parts_sends_them_again(server: FakeServer, provider: str) -> None:
    """An earlier user turn keeps its image when the conversation goes on."""
    server.replies.append(answer(provider))
    history = [
        Message.user("What is this?", IMAGE),
        Message.assistant("A grey pixel."),
        Message.user("Sure?"),
    ]
    with alloy_to(server, provider):
        assert ask(history) == "ok"
    assert (u64(PNG) if provider == "gemini" else b64(PNG)) in repr(server.requests[-1].json)


# --- the "error" cells: refused before any request -------------------------------------------------

ERRORS = [
    ("chat", DOC_URL, "Chat Completions takes a PDF as bytes only"),
    ("chat", Audio.from_url("https://example.com/a.mp3"), "OpenAI takes audio as bytes only"),
    ("responses", WAV_PART, "openai_api='chat'"),
    ("anthropic", WAV_PART, "Anthropic takes no audio"),
    ("anthropic", Audio.from_url("https://example.com/a.wav"), "Anthropic takes no audio"),
    ("ollama", IMAGE_URL, "Image.from_path(path)"),
    ("ollama", DOC, "Ollama takes no documents"),
    ("ollama", DOC_URL, "Ollama takes no documents"),
    ("ollama", MP3_PART, "Ollama takes no audio"),
]


@pytest.mark.parametrize(("provider", "part", "instead"), ERRORS)
def test_a_part_the_provider_does_not_take_sends_nothing(
    server: FakeServer, provider: str, part: Any, instead: str
) -> None:
    with alloy_to(server, provider), pytest.raises(ConfigurationError) as info:
        ask(["Read", part])
    message = str(info.value)
    assert message.startswith(("openai does not take", f"{provider} does not take"))
    assert part.placeholder in message and instead in message
    assert server.requests == []


def test_oversized_parts_are_refused_before_sending(server: FakeServer) -> None:
    big = Image(PNG + b"\x00" * 4_000_000)  # 4 MB: 5.3 MB as base64, over Anthropic's 5 MB per image
    with alloy_to(server, "anthropic"), pytest.raises(ConfigurationError, match="5 MB per image"):
        ask(["Read", big])
    pdf = Document(PDF + b"\x00" * 8_000_000)
    with alloy_to(server, "gemini"), pytest.raises(ConfigurationError, match="20 MB per request"):
        ask(["Read", pdf, pdf])
    assert server.requests == []


def test_auto_picks_chat_completions_for_audio() -> None:
    """``openai_api="auto"`` against OpenAI itself: Responses, except for a prompt with audio."""
    settings = Settings(openai_api="auto")
    with_audio = Request("gpt-4o-audio-preview", (Message.user("Transcribe", WAV_PART),))
    assert api_for(settings, with_audio) == "chat"
    assert api_for(settings, Request("gpt-5-mini", (Message.user("Read", IMAGE),))) == "responses"


def test_explain_shows_placeholders_and_what_the_provider_takes(server: FakeServer) -> None:
    with alloy_to(server, "ollama"):
        plan = ask.explain(["Read", IMAGE, DOC])
    shown = str(plan)
    assert "inputs:      text, image\n" in shown
    assert f"message:     user: Read {IMAGE.placeholder} {DOC.placeholder}" in shown
    assert any("Ollama takes no documents" in n for n in plan.notes)
    assert b64(PNG)[:20] not in shown

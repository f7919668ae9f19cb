"""Prompts beyond a string: parts, conversations, their checks, and persisting a history (SPEC §10)."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic
import pytest

import alloy
import alloy.testing
from alloy import Audio, ConfigurationError, Document, Image, Message, Prompt, ask, command, override, tool
from alloy.testing import ScriptedModel, ToolCall

from .conftest import Driver


def png(width: int = 1, height: int = 1) -> bytes:
    """A valid PNG of one grey pixel (or more), built in a few bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
WAV = (
    b"RIFF\x24\x00\x00\x00WAVEfmt "
    + b"\x10\x00\x00\x00\x01\x00\x01\x00\x40\x1f\x00\x00\x80\x3e\x00\x00\x02\x00\x10\x00"
)
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 4


@dataclass
class Invoice:
    number: str
    total: float


# --- parts ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "part", "media"),
    [
        (png(), Image, "image/png"),
        (b"\xff\xd8\xff\xe0rest", Image, "image/jpeg"),
        (b"GIF89a....", Image, "image/gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", Image, "image/webp"),
        (PDF, Document, "application/pdf"),
        (WAV, Audio, "audio/wav"),
        (MP3, Audio, "audio/mpeg"),
    ],
)
def test_media_type_is_sniffed_from_the_bytes(data: bytes, part: type[Image], media: str) -> None:
    assert part(data).media_type == media


def test_media_type_from_the_suffix_and_aliases(tmp_path: Path) -> None:
    """A file whose bytes say nothing is typed by its suffix; common aliases are normalized."""
    (tmp_path / "voice.mp3").write_bytes(b"\x00\x01 no header")
    assert Audio.from_path(tmp_path / "voice.mp3").media_type == "audio/mpeg"
    assert Image(b"raw", media_type="image/jpg").media_type == "image/jpeg"
    assert Image.from_url("https://example.com/a/cat.PNG?x=1").media_type == "image/png"
    assert Document.from_url("https://example.com/contract").media_type == "application/pdf"


def test_from_path_reads_the_file(tmp_path: Path) -> None:
    path = tmp_path / "scan.png"
    path.write_bytes(png())
    image = Image.from_path(path)
    assert (image.data, image.media_type, image.url) == (png(), "image/png", None)
    assert Image.from_path(str(path)) == image


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda: Image(b""), "empty bytes"),
        (lambda: Image(b"not an image"), "cannot tell the media type"),
        (lambda: Image(PDF), "image/png, image/jpeg, image/gif, image/webp, not 'application/pdf'"),
        (lambda: Document(png()), "application/pdf, not 'image/png'"),
        (lambda: Audio(b"ogg?", media_type="audio/ogg"), "audio/wav, audio/mpeg"),
        (lambda: Image("scan.png"), "Image.from_path(path)"),  # pyright: ignore[reportArgumentType]
        (lambda: Image.from_path("/nonexistent/scan.png"), "no file at '/nonexistent/scan.png'"),
        (lambda: Image.from_url(""), "URL"),
    ],
)
def test_bad_parts_are_configuration_errors(make: Any, words: str) -> None:
    with pytest.raises(ConfigurationError, match=None) as info:
        make()
    assert words in str(info.value)


def test_an_empty_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "empty.pdf").write_bytes(b"")
    with pytest.raises(ConfigurationError, match="is empty"):
        Document.from_path(tmp_path / "empty.pdf")


def test_repr_and_placeholder_never_show_the_bytes() -> None:
    image = Image(png() + b"\x00" * 12_300)
    assert image.placeholder == f"<image/png {len(image.data) / 1000:.1f} kB>"
    assert repr(image) == f"Image({image.placeholder})"
    assert "PNG" not in repr(Message.user("look", image))
    assert Image.from_url("https://x.test/a.gif").placeholder == "<image/gif https://x.test/a.gif>"
    assert Audio(WAV).placeholder == f"<audio/wav {len(WAV)} B>"


def test_parts_are_frozen() -> None:
    with pytest.raises(AttributeError):
        Image(png()).data = b""  # type: ignore[misc]  # pyright: ignore[reportAttributeAccessIssue]


# --- messages and persistence -----------------------------------------------------------------------


def test_message_shorthands() -> None:
    image = Image(png())
    assert Message.user("hi") == Message("user", "hi")
    assert Message.user("Read this", image) == Message("user", ("Read this", image))
    assert Message.assistant("ok") == Message("assistant", "ok")
    assert Message.user("Read this", image).text == "Read this"


def test_a_history_round_trips_through_pydantic_json() -> None:
    """TypeAdapter(list[Message]) dumps to JSON (bytes as base64) and validates back to equal messages."""
    history = [
        Message.user(
            "Read these", Image(png()), Document(PDF), Audio(WAV), Image.from_url("https://x.test/a.png")
        ),
        Message("assistant", "", tool_calls=(ToolCall("lookup", {"sku": "A1", "n": [1, 2]}, "call_9"),)),
        Message("tool", '{"price": 2.5}', tool_call_id="call_9", name="lookup"),
        Message("tool", "Error: boom", tool_call_id="call_10", name="lookup", is_error=True),
        Message.assistant("It costs 2.50."),
        Message.user("and the second page?"),
    ]
    adapter = pydantic.TypeAdapter(list[Message])
    dumped = adapter.dump_json(history)
    assert b"iVBORw0KGgo" in dumped  # the PNG signature, in base64
    back = adapter.validate_json(dumped)
    assert back == history
    assert [type(p) for p in back[0].parts] == [str, Image, Document, Audio, Image]


# --- the prompt a function returns ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("returned", "words"),
    [
        (None, "returned NoneType None"),
        (b"\x89PNG", "Wrap binary content in alloy.Image"),
        (42, "returned int 42"),
        ([], "empty list"),
        (["", ""], "empty list (or only empty text)"),
        (["text", 3], "holding int 3"),
        ([Message.user("hi"), "text"], "mixes alloy.Message and parts"),
        ([Message.user("hi"), Message.assistant("ho")], "ends with an 'assistant' message"),
    ],
)
def test_a_prompt_function_must_return_a_prompt(driver: Driver, returned: Any, words: str) -> None:
    """Anything else is a ConfigurationError naming the function and what it returned; nothing is sent."""

    @command
    def bad() -> Prompt:
        return returned

    model = ScriptedModel(["never"])
    with override(model=model), pytest.raises(ConfigurationError) as info:
        driver(bad)
    assert "The prompt function test_a_prompt_function_must_return_a_prompt.<locals>.bad" in str(info.value)
    assert words in str(info.value)
    assert model.requests == []


def test_a_prompt_of_parts_is_one_user_message(driver: Driver) -> None:
    image = Image(png())

    @command(output=Invoice)
    def read(scan: Image) -> Prompt:
        return ["Read this invoice", scan]

    model = ScriptedModel(['{"number": "7", "total": 1.5}'])
    with override(model=model):
        assert driver(read, image) == Invoice("7", 1.5)
    assert model.requests[0].messages == (Message("user", ("Read this invoice", image)),)


def test_a_conversation_goes_on_from_result_messages(run_driver: Driver) -> None:
    """Result.messages (tool calls and results included) is a valid prompt for the next call."""

    @tool
    def lookup(sku: str) -> float:
        return 2.5

    @command(tools=[lookup])
    def price(sku: str) -> str:
        return f"Price of {sku}?"

    @command
    def chat(history: list[Message]) -> Prompt:
        return history

    model = ScriptedModel([ToolCall("lookup", {"sku": "A1"}, "c1"), "It costs 2.50.", "Yes."])
    with override(model=model):
        first = run_driver(price, "A1")
        roles = [m.role for m in first.messages]
        assert roles == ["user", "assistant", "tool", "assistant"]
        assert first.messages[1].tool_calls == (ToolCall("lookup", {"sku": "A1"}, "c1"),)
        assert first.messages[2] == Message("tool", "2.5", tool_call_id="c1", name="lookup")
        history = [*first.messages, Message.user("Sure?")]
        second = run_driver(chat, history)
    assert model.requests[2].messages == tuple(history)
    assert second.messages == [*history, Message.assistant("Yes.")]


def test_ask_takes_every_prompt_form_and_context() -> None:
    image = Image(png())
    model = ScriptedModel(["a", "b", "c"])
    with override(model=model):
        ask(["What is this?", image])
        ask([Message.user("hi"), Message.assistant("hello"), Message.user("Look", image)], context={"k": 1})
        ask("plain", context={"k": 2})
    assert model.requests[0].messages == (Message("user", ("What is this?", image)),)
    last = model.requests[1].messages[-1]
    assert last.parts[0] == 'Context:\n{\n  "k": 1\n}' and last.parts[1:] == ("Look", image)
    assert model.requests[2].messages[0].content == 'Context:\n{\n  "k": 2\n}\n\nplain'


def test_ask_refuses_a_conversation_ending_with_the_model() -> None:
    model = ScriptedModel(["never"])
    with override(model=model), pytest.raises(ConfigurationError, match="ask\\(\\) was given a conversation"):
        ask([Message.user("hi"), Message.assistant("hello")])
    assert model.requests == []


def test_prompt_annotation_is_accepted_and_others_name_it() -> None:
    @command
    def ok() -> alloy.Prompt:
        return "x"

    assert ok.with_options(model="fake")() == alloy.testing.SENTENCE
    with pytest.raises(ConfigurationError, match=r"alloy\.Prompt"):

        @command
        def bad() -> int:  # pyright: ignore[reportUnusedFunction]
            return 1


def test_stream_takes_parts() -> None:
    image = Image(png())

    @command
    def describe(scan: Image) -> Prompt:
        return ["Describe", scan]

    model = ScriptedModel(["a grey pixel"])
    with override(model=model):
        assert "".join(describe.stream(image)) == "a grey pixel"
    assert model.requests[0].messages[0].parts == ("Describe", image)


def test_debug_logs_never_print_bytes(caplog: pytest.LogCaptureFixture) -> None:
    image = Image(png() + b"PIXELS" * 100)
    with caplog.at_level("DEBUG", logger="alloy"), override(model=ScriptedModel(["ok"])):
        ask(["What is this?", image])
        ask.explain(["What is this?", image])
    assert "PIXELS" not in caplog.text and "iVBOR" not in caplog.text


def test_the_fake_model_takes_every_part() -> None:
    parts = ["Read", Image(png()), Image.from_url("https://x.test/a.png"), Document(PDF), Audio(WAV)]
    with override(model="fake"):
        assert ask(parts) == alloy.testing.SENTENCE
        assert isinstance(ask(parts, output=Invoice), Invoice)


def test_empty_text_parts_are_left_out() -> None:
    model = ScriptedModel(["ok"])
    with override(model=model):
        ask(["", Image(png()), ""])
    assert model.requests[0].messages[0].parts == (Image(png()),)


def test_message_checks_its_role_and_takes_lists() -> None:
    with pytest.raises(ConfigurationError, match=r"system=\.\.\."):
        Message("system", "Be brief.")  # pyright: ignore[reportArgumentType]
    image = Image(png())
    assert Message("user", ["Look", image]) == Message.user("Look", image)  # pyright: ignore[reportArgumentType]


def test_ask_names_a_bad_prompt() -> None:
    with pytest.raises(ConfigurationError, match=r"ask\(\) was given NoneType None"):
        ask(None)  # pyright: ignore[reportArgumentType, reportCallIssue]

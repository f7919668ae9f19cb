"""Checked by pyright, never run: prompt functions that return an ``alloy.Prompt`` (SPEC §10)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import assert_type

import pydantic

from alloy import Audio, Command, Document, Image, Message, Prompt, Result, ask, command


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice)
def read(scan: Image) -> Prompt:
    return ["Read this invoice", scan]


@command(output=Invoice)
async def aread(scan: Document) -> Prompt:
    return ["Read this invoice", scan]


@command
def chat(history: list[Message]) -> Prompt:
    return history


@command
def transcribe(voice: Audio) -> Prompt:
    return [voice]


def check() -> None:
    scan = Image.from_path("scan.png")
    cmd: Command[[Image], Invoice] = read
    assert_type(cmd(scan), Invoice)
    assert_type(read.run(scan), Result[Invoice])
    assert_type(read.run(scan).messages, list[Message])
    assert_type(chat([Message.user("hi")]), str)
    assert_type(chat.stream([Message.user("hi", scan)]), Iterator[str])
    assert_type(transcribe(Audio(b"RIFF")), str)
    assert_type(ask(["What is this?", scan], output=Invoice), Invoice)
    assert_type(ask([Message.user("hi"), Message.assistant("hello"), Message.user("and?")]), str)
    assert_type(ask.stream(["Describe", Image.from_url("https://x.test/a.png")]), Iterator[str])
    history = read.run(scan).messages
    stored = pydantic.TypeAdapter(list[Message]).dump_json(history)
    assert_type(pydantic.TypeAdapter(list[Message]).validate_json(stored), list[Message])


async def acheck() -> None:
    pdf = Document.from_path("contract.pdf")
    assert_type(await aread(pdf), Invoice)
    assert_type(await aread.run(pdf), Result[Invoice])
    assert_type(aread.stream(pdf), AsyncIterator[str])
    assert_type(await ask.async_([pdf, "Summarize"], output=Invoice), Invoice)


def check_errors() -> None:
    read("scan.png")  # pyright: ignore[reportArgumentType]
    Image(b"x", media_type=3)  # pyright: ignore[reportArgumentType]

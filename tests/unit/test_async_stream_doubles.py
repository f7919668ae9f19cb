"""The test doubles stream when awaited exactly as they do synchronously (SPEC §7, §11)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from alloy import ask, command
from alloy.testing import ScriptedModel


@dataclass
class Inv:
    number: str | None = None
    total: float | None = None


ANSWER = '{"number": "42", "total": 9.5}'


def test_async_stream_partial_on_scripted_model_yields_what_sync_yields() -> None:
    sync = list(ask.stream_partial("x", output=Inv, model=ScriptedModel([ANSWER])))

    async def collect() -> list[Inv]:
        return [v async for v in ask.stream_partial_async("x", output=Inv, model=ScriptedModel([ANSWER]))]

    got = asyncio.run(collect())
    assert len(got) > 1 and got == sync and got[-1] == Inv("42", 9.5)


def test_async_command_streams_text_in_pieces_on_the_fake_model() -> None:
    @command(model="fake")
    async def hello() -> str:
        return "Say hello"

    async def collect() -> list[str]:
        return [d async for d in hello.stream()]

    deltas = asyncio.run(collect())
    assert len(deltas) > 1 and "".join(deltas) == asyncio.run(hello())

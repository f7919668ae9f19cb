"""Cassettes (SPEC §15) with in-process models: modes, matching, misses, concurrency, secrets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from alloy import (
    AlloyError,
    ConfigurationError,
    Image,
    Message,
    Settings,
    ask,
    command,
    get_settings,
    override,
    tool,
)
from alloy._messages import Request, Response, ToolCallDelta
from alloy.providers import Adapter, StreamItem
from alloy.testing import CassetteMiss, ScriptedModel, ToolCall, cassette
from alloy.testing._tape import Tape
from alloy.testing.cassette import recorded

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


@dataclass
class Quote:
    item: str
    price: float


@tool
def price_of(item: str) -> float:
    """The unit price of an item."""
    return 2.5


@command(output=Quote, tools=[price_of])
def quote(item: str) -> str:
    return f"Quote the price of {item}."


def scripted() -> ScriptedModel:
    return ScriptedModel([ToolCall("price_of", {"item": "tea"}, id="c1"), '{"item": "tea", "price": 2.5}'])


def test_records_once_then_replays_without_the_model(tmp_path: Path) -> None:
    """Mode once: the first run records; the next answers from the file and never calls the model."""
    path = tmp_path / "quote.json"
    with override(model=scripted()), cassette(path) as c:
        assert c.recording
        first = quote.run("tea")
    assert path.exists()
    silent = ScriptedModel([])  # it would fail if it were asked
    with override(model=silent), cassette(path) as c:
        assert not c.recording
        again = quote.run("tea")
    assert again.output == first.output == Quote("tea", 2.5)
    assert again.usage.requests == first.usage.requests == 2
    assert silent.requests == []


def test_file_is_sorted_indented_json_one_interaction_per_request(tmp_path: Path) -> None:
    """The file is diff-friendly: sorted keys, indented, the tool turn and the answer each an entry."""
    path = tmp_path / "quote.json"
    with override(model=scripted()), cassette(path):
        quote("tea")
    text = path.read_text()
    data = json.loads(text)
    assert text == json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    first, second = data["interactions"]
    assert first["request"]["provider"] == "scripted"
    assert first["request"]["messages"] == [{"role": "user", "content": "Quote the price of tea."}]
    assert first["request"]["tools"][0]["name"] == "price_of"
    assert first["response"]["tool_calls"] == [{"name": "price_of", "arguments": {"item": "tea"}, "id": "c1"}]
    assert second["request"]["messages"][-1] == {
        "role": "tool",
        "content": "2.5",
        "tool_call_id": "c1",
        "name": "price_of",
    }
    assert second["response"]["text"] == '{"item": "tea", "price": 2.5}'


def test_changed_prompt_in_replay_is_a_miss_with_a_diff(tmp_path: Path) -> None:
    """A request the cassette does not hold: CassetteMiss showing the difference; nothing sent."""
    path = tmp_path / "quote.json"
    with override(model=scripted()), cassette(path):
        quote("tea")
    silent = ScriptedModel([])
    with override(model=silent), cassette(path, mode="replay"), pytest.raises(CassetteMiss) as info:
        quote("coffee")
    message = str(info.value)
    assert isinstance(info.value, AlloyError)
    assert "messages[0].content" in message
    assert "'Quote the price of tea.'" in message and "'Quote the price of coffee.'" in message
    assert "nothing was sent" in message
    assert info.value.nearest is not None and info.value.path == path
    assert silent.requests == []


def test_changed_setting_is_a_miss(tmp_path: Path) -> None:
    """Sampling settings are part of the match: a new temperature misses, naming it."""
    path = tmp_path / "t.json"
    with override(model=ScriptedModel(["hi"])), cassette(path):
        ask("Say hi")
    with override(model=ScriptedModel([])), cassette(path), pytest.raises(CassetteMiss, match="temperature"):
        ask("Say hi", temperature=0.3)


def test_replay_mode_without_a_file_says_to_record(tmp_path: Path) -> None:
    """Mode replay never reaches a provider, even when there is nothing to replay."""
    silent = ScriptedModel([])
    with (
        override(model=silent),
        cassette(tmp_path / "none.json", mode="replay"),
        pytest.raises(CassetteMiss, match="does not exist"),
    ):
        ask("hello")
    assert silent.requests == [] and not (tmp_path / "none.json").exists()


def test_record_mode_always_calls_and_rewrites(tmp_path: Path) -> None:
    """Mode record: the provider is called again and the file holds the new answer."""
    path = tmp_path / "r.json"
    with override(model=ScriptedModel(["one"])), cassette(path):
        assert ask("n?") == "one"
    with override(model=ScriptedModel(["two"])), cassette(path, mode="record"):
        assert ask("n?") == "two"
    with override(model=ScriptedModel([])), cassette(path):
        assert ask("n?") == "two"


def test_the_setting_overrides_every_cassettes_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ALLOY_CASSETTE_MODE beats the mode a cassette asks for (CI sets replay)."""
    path = tmp_path / "m.json"
    monkeypatch.setenv("ALLOY_CASSETTE_MODE", "replay")
    with override(model=ScriptedModel(["x"])), cassette(path, mode="record") as c:
        assert c.mode == "replay"
        with pytest.raises(CassetteMiss):
            ask("q")
    monkeypatch.setenv("ALLOY_CASSETTE_MODE", "record")
    with override(model=ScriptedModel(["y"])), cassette(path, mode="replay") as c:
        assert c.mode == "record"
        assert ask("q") == "y"


def test_applies_to_a_command_that_already_ran(tmp_path: Path) -> None:
    """Plans are cached per settings object; a cassette entered later still records and replays."""
    model = ScriptedModel(['{"value": 1}', '{"value": 2}', '{"value": 3}'])

    @command(output=int)
    def number() -> str:
        return "A number."

    with override(model=model):
        assert number() == 1  # planned and cached outside any cassette
        with cassette(tmp_path / "n.json"):
            assert number() == 2
        assert number() == 3  # after the block: the provider again
        with cassette(tmp_path / "n.json"):
            assert number() == 2  # replayed
    assert len(model.requests) == 3


def test_streaming_records_and_replays_the_deltas(tmp_path: Path) -> None:
    """Streamed deltas are recorded and come back the same, in order, sync and async."""

    @command
    def line(topic: str) -> str:
        return f"One line about {topic}."

    @command
    async def aline(topic: str) -> str:
        return f"One line about {topic}."

    async def collect() -> list[str]:
        return [d async for d in aline.stream("tea")]

    path = tmp_path / "s.json"
    with override(model=ScriptedModel(["tea is warm"])), cassette(path):
        recorded = list(line.stream("tea"))
    assert json.loads(path.read_text())["interactions"][0]["stream"] == recorded == ["tea ", "is ", "warm"]
    with override(model=ScriptedModel([])), cassette(path):
        assert list(line.stream("tea")) == recorded
        assert asyncio.run(collect()) == recorded


def test_reask_is_recorded_and_replayed(tmp_path: Path) -> None:
    """A re-ask after an invalid answer is one more interaction, replayed the same way."""
    path = tmp_path / "reask.json"
    with override(model=ScriptedModel(['{"value": "many"}', '{"value": 3}'])), cassette(path):
        assert ask("How many?", output=int) == 3
    entries = json.loads(path.read_text())["interactions"]
    assert len(entries) == 2 and "many" in entries[1]["request"]["messages"][1]["content"]
    with override(model=ScriptedModel([])), cassette(path):
        assert ask("How many?", output=int) == 3


class Echo(Adapter):
    """Answers with the last word of the prompt in capitals (whatever order requests come in)."""

    def __init__(self) -> None:
        self.calls = 0

    def send(self, request: Request, settings: Settings) -> Response:
        self.calls += 1
        return Response(request.messages[-1].text.removeprefix("Say ").rstrip(".").upper())


def test_concurrent_calls_match_by_content_not_order(tmp_path: Path) -> None:
    """Concurrent calls (as map makes them) replay by content, whatever order they arrive in."""
    path = tmp_path / "c.json"
    words = ["alpha", "beta", "gamma", "delta"]

    @command
    def echo(word: str) -> str:
        return f"Say {word}."

    async def run(order: list[str]) -> dict[str, str]:
        answers = await asyncio.gather(*(echo.async_(w) for w in order))
        return dict(zip(order, answers, strict=True))

    with override(model=Echo()), cassette(path):
        recorded = asyncio.run(run(words))
    silent = Echo()
    with override(model=silent), cassette(path):
        assert asyncio.run(run(list(reversed(words)))) == recorded
    assert recorded["beta"] == "BETA" and silent.calls == 0


def test_identical_requests_are_consumed_in_order(tmp_path: Path) -> None:
    """The same request twice gets the two recorded answers in order (then the last one again)."""
    path = tmp_path / "same.json"
    with override(model=ScriptedModel(["first", "second"])), cassette(path):
        assert [ask("Again?"), ask("Again?")] == ["first", "second"]
    with override(model=ScriptedModel([])), cassette(path):
        assert [ask("Again?"), ask("Again?"), ask("Again?")] == ["first", "second", "second"]


def test_decorates_sync_and_async_functions(tmp_path: Path) -> None:
    """As a decorator, each call of the function runs inside the cassette."""
    path = tmp_path / "d.json"
    model = ScriptedModel(["sync answer"])

    @cassette(path)
    def sync_test() -> str:
        return ask("q")

    @cassette(path)
    async def async_test() -> str:
        return await ask.async_("q")

    with override(model=model):
        assert sync_test() == "sync answer"
    with override(model=ScriptedModel([])):
        assert sync_test() == "sync answer"
        assert asyncio.run(async_test()) == "sync answer"


def test_a_failed_run_is_not_kept(tmp_path: Path) -> None:
    """A block that raises leaves no half-recorded cassette behind."""
    path = tmp_path / "f.json"
    with override(model=ScriptedModel(["a"])), pytest.raises(RuntimeError), cassette(path):
        ask("q")
        raise RuntimeError("test failed")
    assert not path.exists()


def test_bytes_are_stored_by_hash_not_inline(tmp_path: Path) -> None:
    """An image part is written as its sha256 and size; a different image misses."""
    path = tmp_path / "img.json"
    with override(model=ScriptedModel(["a cat"])), cassette(path):
        assert ask(["What is this?", Image(PNG)]) == "a cat"
    text = path.read_text()
    assert len(text) < 2000 and "iVBOR" not in text
    part = json.loads(text)["interactions"][0]["request"]["messages"][0]["content"][1]
    assert part["data"]["bytes"] == len(PNG) and len(part["data"]["sha256"]) == 64
    with override(model=ScriptedModel([])), cassette(path):
        assert ask(["What is this?", Image(PNG)]) == "a cat"
        with pytest.raises(CassetteMiss, match="sha256"):
            ask(["What is this?", Image(PNG + b"\1")])


def test_no_key_and_no_auth_header_in_the_file(tmp_path: Path) -> None:
    """Neither a configured key nor a header-like value in extra reaches the file."""
    key = "sk-secret-0123456789abcdef"
    path = tmp_path / "k.json"
    with override(model=ScriptedModel([f"echo {key}"]), openai_api_key=key), cassette(path):
        ask(f"Repeat {key}", extra={"extra_headers": {"Authorization": f"Bearer {key}", "X-Api-Key": key}})
    text = path.read_text()
    assert key not in text and "Bearer" not in text
    assert "***" in text


def test_unreadable_cassette_says_to_record_again(tmp_path: Path) -> None:
    """A file that is not a cassette is a clear error, not a JSON traceback."""
    path = tmp_path / "bad.json"
    path.write_text("{not json")
    with pytest.raises(CassetteMiss, match="record it again"), cassette(path):
        pass


def test_fake_model_through_a_cassette(tmp_path: Path) -> None:
    """The fake model records and replays like any provider."""
    path = tmp_path / "fake.json"
    with override(model="fake"), cassette(path):
        first = ask("x", output=Quote)
    assert json.loads(path.read_text())["interactions"][0]["request"]["provider"] == "fake"
    with override(model="fake"), cassette(path, mode="replay"):
        assert ask("x", output=Quote) == first
        with pytest.raises(CassetteMiss):
            ask("y", output=Quote)


def test_misspelled_mode_is_a_configuration_error() -> None:
    """A mode that is not once, replay or record is refused where it is set."""
    with pytest.raises(ConfigurationError), override(cassette_mode="sometimes"):  # type: ignore[arg-type]
        pass


def test_messages_of_a_conversation_match(tmp_path: Path) -> None:
    """A conversation prompt (a list of Message) is recorded and matched message by message."""
    path = tmp_path / "conv.json"
    history = [Message.user("Hi"), Message.assistant("Hello"), Message.user("Bye?")]
    with override(model=ScriptedModel(["Bye"])), cassette(path):
        assert ask(history) == "Bye"
    with override(model=ScriptedModel([])), cassette(path):
        assert ask(history) == "Bye"
        with pytest.raises(CassetteMiss, match=r"messages\[1\]\.content"):
            ask([Message.user("Hi"), Message.assistant("Hey"), Message.user("Bye?")])


def test_batch_jobs_are_not_sent_while_replaying(tmp_path: Path) -> None:
    """Cassettes do not record batch jobs; replaying, a batch submission is refused, not sent."""
    path = tmp_path / "b.json"

    @command(output=int)
    def double(n: int) -> str:
        return f"Double {n}."

    with override(model="fake"), cassette(path):
        assert isinstance(double(1), int)
    with override(model="fake"), cassette(path), pytest.raises(CassetteMiss, match="batch"):
        double.submit_batch([1, 2])


class Streams(Adapter):
    """Streams one tool call as argument deltas (``ToolCallDelta``), then the assembled response."""

    def __init__(self) -> None:
        self.calls = 0

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        self.calls += 1
        yield ToolCallDelta(0, "price_of", '{"item": ')
        yield ToolCallDelta(0, "price_of", '"tea"}')
        yield Response(
            tool_calls=(ToolCall("price_of", {"item": "tea"}, id="s1"),), finish_reason="tool_calls"
        )


def test_tool_argument_deltas_replay_as_deltas(tmp_path: Path) -> None:
    """Streamed tool-argument deltas come back from the file as ToolCallDelta objects."""
    path = tmp_path / "deltas.json"
    request = Request(model="m", messages=(Message.user("q"),))
    tape = Tape(path, "once")
    live = list(recorded(Streams(), tape).stream(request, get_settings()))
    tape.save()
    silent = Streams()
    again = list(recorded(silent, Tape(path, "once")).stream(request, get_settings()))
    assert again == live and isinstance(again[0], ToolCallDelta) and silent.calls == 0


def test_map_replays_every_item(tmp_path: Path) -> None:
    """Command.map runs items concurrently; a cassette replays each item's answer by content."""
    path = tmp_path / "map.json"

    @command
    def shout(word: str) -> str:
        return f"Say {word}."

    words = [f"w{i}" for i in range(12)]
    with override(model=Echo()), cassette(path):
        recorded_outputs = shout.map(words, concurrency=6, progress=False).outputs
    silent = Echo()
    with override(model=silent), cassette(path, mode="replay"):
        assert (
            shout.map(list(reversed(words)), concurrency=6, progress=False).outputs == recorded_outputs[::-1]
        )
    assert recorded_outputs[3] == "W3" and silent.calls == 0

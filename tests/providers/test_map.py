"""``Command.map`` at the wire: the real OpenAI SDK talks to the loopback server (SPEC §12).

The server's handler answers each request from the item in its prompt, so every test checks
what reached the wire: which items were asked, how many requests were in flight at once, and
what came back in which order.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alloy import ConfigurationError, MapResult, ProviderError, command, override, tool

from .server import FakeServer, Recorded, Reply

KEY = "sk-test-0123456789abcdef"
ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Echo:
    text: str
    n: int


@command(output=Echo)
def echo(text: str, n: int = 1) -> str:
    return f"Echo <{text}> <{n}>"


@command(output=Echo)
async def aecho(text: str, n: int = 1) -> str:
    return f"Echo <{text}> <{n}>"


def chat(content: str | None, calls: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": None}
    if calls:
        message["tool_calls"] = calls
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4.1-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls" if calls else "stop",
                "logprobs": None,
                "message": message,
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }


def prompt_of(rec: Recorded) -> str:
    """The item's prompt: the last user message of the request."""
    users = [m for m in rec.json["messages"] if m["role"] == "user"]
    content = users[-1]["content"]
    return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)


def parsed(rec: Recorded) -> tuple[str, int]:
    text, n = prompt_of(rec).split("<", 1)[1].split("> <")
    return text, int(n.split(">")[0])


def answer(rec: Recorded, *, delay: float = 0.0) -> Reply:
    text, n = parsed(rec)
    return Reply(200, chat(json.dumps({"text": text, "n": n})), delay=delay)


@pytest.fixture
def wire(server: FakeServer) -> Any:
    with override(
        model="openai:gpt-4.1-mini",
        openai_base_url=server.url + "/v1",
        openai_api_key=KEY,
        openai_api="chat",
        retry_wait_initial=0.01,
        retry_wait_max=0.2,
        retry_wait_jitter=0,
    ):
        yield server


def test_outputs_come_back_in_input_order_for_values_tuples_and_dicts(wire: FakeServer) -> None:
    """An item is one value, a tuple of positional arguments or a dict of keywords; the answers
    finish in a shuffled order and come back in the order of the items."""
    rng = random.Random(7)
    wire.handler = lambda rec: answer(rec, delay=rng.random() * 0.03)
    items: list[Any] = [
        *(f"v{i}" for i in range(8)),
        *((f"t{i}", i) for i in range(8)),
        *({"text": f"d{i}", "n": i + 100} for i in range(8)),
    ]
    result = echo.map(items, concurrency=8)
    assert isinstance(result, MapResult)
    assert [o.index for o in result] == list(range(24))
    assert result.outputs == [
        *(Echo(f"v{i}", 1) for i in range(8)),
        *(Echo(f"t{i}", i) for i in range(8)),
        *(Echo(f"d{i}", i + 100) for i in range(8)),
    ]
    assert all(o.ok and o.attempts == 1 and o.usage.requests == 1 for o in result)
    assert result.usage.requests == 24
    assert result.usage.total_tokens == 24 * 15
    assert len(wire.requests) == 24


def test_one_failing_item_never_stops_the_others(wire: FakeServer) -> None:
    """A refused item ends with its ProviderError; every other item still gets its output."""

    def handler(rec: Recorded) -> Reply:
        if parsed(rec)[0] == "bad":
            return Reply(400, {"error": {"message": "this one is refused", "type": "invalid_request_error"}})
        return answer(rec)

    wire.handler = handler
    result = echo.map(["a", "bad", "c", "d"], concurrency=2)
    assert [o.ok for o in result] == [True, False, True, True]
    failed = result.failed
    assert [o.index for o in failed] == [1]
    assert isinstance(failed[0].error, ProviderError)
    assert failed[0].error.status_code == 400
    assert failed[0].output is None
    assert result[2].output == Echo("c", 1)
    with pytest.raises(ProviderError, match="refused"):
        _ = result.outputs


def test_requests_in_flight_never_exceed_the_concurrency(wire: FakeServer) -> None:
    """Measured at the server: concurrency=4 keeps exactly four requests in flight at most."""
    wire.handler = lambda rec: answer(rec, delay=0.05)
    result = echo.map([f"x{i}" for i in range(20)], concurrency=4)
    assert result.ok
    assert wire.max_in_flight == 4


def test_default_concurrency_is_the_map_concurrency_setting(wire: FakeServer) -> None:
    wire.handler = lambda rec: answer(rec, delay=0.05)
    with override(map_concurrency=3):
        assert echo.map([f"x{i}" for i in range(9)]).ok
    assert wire.max_in_flight == 3


def test_a_429_storm_slows_the_map_down_and_every_item_ends_ok(wire: FakeServer) -> None:
    """The server allows 3 requests at once and answers the rest 429 with Retry-After: the map
    halves its requests in flight and pauses, and every item gets its output."""
    limited = 0

    def handler(rec: Recorded) -> Reply:
        nonlocal limited
        if wire.in_flight > 3:
            limited += 1
            return Reply(
                429,
                {"error": {"message": "rate limited", "type": "rate_limit"}},
                headers={"retry-after": "0.05"},
            )
        return answer(rec, delay=0.02)

    wire.handler = handler
    items = [f"x{i}" for i in range(60)]
    # Enough tries that a slow, loaded machine cannot spend one item's budget on refusals: the
    # test is about adapting (counted below), not about the retry budget.
    with override(retry_attempts=12):
        result = echo.map(items, concurrency=16)
    assert result.ok, [str(o.error) for o in result.failed]
    assert result.outputs == [Echo(f"x{i}", 1) for i in range(60)]
    assert limited > 0
    # Without adapting, 16 workers would meet 13 refusals per round for 60 items; halving to the
    # server's limit keeps the refusals to a few rounds' worth.
    assert limited < 60


def test_a_command_with_tools_runs_its_tool_turns_inside_map(wire: FakeServer) -> None:
    """Each item runs its own tool turn (the tool's result goes back to the model) and answers."""

    @tool
    def double(x: int) -> int:
        """Double a number."""
        return 2 * x

    @command(output=int, tools=[double])
    def twice(x: int) -> str:
        return f"Double <{x}> <0>"

    def handler(rec: Recorded) -> Reply:
        last = rec.json["messages"][-1]
        if last["role"] == "tool":
            return Reply(200, chat(json.dumps({"value": int(last["content"])})))
        x = parsed(rec)[0]
        call = {
            "id": f"c{x}",
            "type": "function",
            "function": {"name": "double", "arguments": json.dumps({"x": int(x)})},
        }
        return Reply(200, chat(None, [call]), delay=0.01)

    wire.handler = handler
    result = twice.map(list(range(10)), concurrency=5)
    assert result.outputs == [2 * x for x in range(10)]
    assert all(o.usage.requests == 2 for o in result)
    assert len(wire.requests) == 20


def test_map_async_and_an_async_commands_map_are_awaitable(wire: FakeServer) -> None:
    wire.handler = answer

    async def main() -> tuple[MapResult[Echo], MapResult[Echo]]:
        return await echo.map_async(["a", ("b", 2)]), await aecho.map([{"text": "c"}])

    first, second = asyncio.run(main())
    assert first.outputs == [Echo("a", 1), Echo("b", 2)]
    assert second.outputs == [Echo("c", 1)]


def test_sync_map_inside_a_running_event_loop_runs_on_a_helper_thread(wire: FakeServer) -> None:
    """As in a notebook cell: the loop is running, the sync map still works (and override reaches it)."""
    wire.handler = answer

    async def cell() -> MapResult[Echo]:
        with override(retry=0):
            return echo.map(["a", "b"])

    assert asyncio.run(cell()).outputs == [Echo("a", 1), Echo("b", 1)]


# --- checkpoints ----------------------------------------------------------------------------------


def test_a_rerun_with_the_checkpoint_asks_only_for_what_is_not_done(wire: FakeServer, tmp_path: Path) -> None:
    """Done items come back from the file, validated; failed ones run again."""
    path = tmp_path / "run.jsonl"
    fail = {"b", "d"}

    def handler(rec: Recorded) -> Reply:
        if parsed(rec)[0] in fail:
            return Reply(400, {"error": {"message": "not now"}})
        return answer(rec)

    wire.handler = handler
    items = ["a", "b", "c", "d", "e"]
    first = echo.map(items, checkpoint=path)
    assert [o.ok for o in first] == [True, False, True, False, True]
    lines = path.read_text().splitlines()
    assert len(lines) == 1 + 5
    assert json.loads(lines[0])["alloy_checkpoint"] == 1

    fail.clear()
    wire.requests.clear()
    second = echo.map(items, checkpoint=path)
    assert second.outputs == [Echo(x, 1) for x in items]
    assert sorted(parsed(r)[0] for r in wire.requests) == ["b", "d"]
    assert second[0].usage.requests == 1  # restored from the file

    wire.requests.clear()
    assert echo.map(items, checkpoint=path).outputs == second.outputs
    assert wire.requests == []


def test_a_checkpoint_for_other_items_or_another_output_type_is_refused(
    wire: FakeServer, tmp_path: Path
) -> None:
    wire.handler = answer
    path = tmp_path / "run.jsonl"
    echo.map(["a", "b"], checkpoint=path)
    with pytest.raises(ConfigurationError, match="other items"):
        echo.map(["a", "b", "c"], checkpoint=path)

    @command(output=int)
    def count(text: str) -> str:
        return text

    with pytest.raises(ConfigurationError, match="another output type"):
        count.map(["a", "b"], checkpoint=path)
    not_a_checkpoint = tmp_path / "notes.txt"
    not_a_checkpoint.write_text("hello\n")
    with pytest.raises(ConfigurationError, match="not an Alloy checkpoint"):
        echo.map(["a"], checkpoint=not_a_checkpoint)
    assert len(wire.requests) == 2


def test_a_torn_last_line_is_dropped_and_that_item_runs_again(wire: FakeServer, tmp_path: Path) -> None:
    """A kill in the middle of a write leaves half a line: it is cut off, not an error."""
    wire.handler = answer
    path = tmp_path / "run.jsonl"
    echo.map(["a", "b"], checkpoint=path)
    text = path.read_text()
    path.write_text(text[: len(text) - 10])  # the last record loses its end
    wire.requests.clear()
    assert echo.map(["a", "b"], checkpoint=path).ok
    assert len(wire.requests) == 1
    assert all(json.loads(line) for line in path.read_text().splitlines())


SCRIPT = """
import sys
from dataclasses import dataclass
from alloy import command, override

@dataclass
class Echo:
    text: str
    n: int

@command(output=Echo)
def echo(text: str, n: int = 1) -> str:
    return f"Echo <{text}> <{n}>"

with override(model="openai:gpt-4.1-mini", openai_base_url=sys.argv[1], openai_api_key="sk-test-0123456789abcdef",
              openai_api="chat"):
    result = echo.map([f"x{i}" for i in range(int(sys.argv[3]))], concurrency=4, checkpoint=sys.argv[2])
print("done", len(result.outputs))
"""


def _start(tmp_path: Path, server: FakeServer, path: Path, count: int) -> subprocess.Popen[str]:
    script = tmp_path / "run_map.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, str(script), server.url + "/v1", str(path), str(count)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for_lines(path: Path, count: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and len(path.read_text().splitlines()) >= count + 1:
            return
        time.sleep(0.02)
    raise AssertionError(f"the checkpoint never reached {count} items")


def test_sigkill_in_the_middle_loses_nothing_already_answered(server: FakeServer, tmp_path: Path) -> None:
    """A run killed with SIGKILL, rerun with its checkpoint: the server sees requests only for the
    items not answered before the kill, and every item ends with its output."""
    server.handler = lambda rec: answer(rec, delay=0.05)
    path = tmp_path / "run.jsonl"
    proc = _start(tmp_path, server, path, 40)
    _wait_for_lines(path, 10)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    answered_before = {json.loads(line)["index"] for line in path.read_text().splitlines()[1:]}
    assert 10 <= len(answered_before) < 40

    server.requests.clear()
    rerun = _start(tmp_path, server, path, 40)
    out, err = rerun.communicate(timeout=60)
    assert rerun.returncode == 0, err
    assert out.strip() == "done 40"
    asked = {int(parsed(r)[0][1:]) for r in server.requests}
    assert asked == set(range(40)) - answered_before
    records = [json.loads(line) for line in path.read_text().splitlines()[1:]]
    assert sorted(r["index"] for r in records) == list(range(40))


def test_ctrl_c_stops_the_map_cleanly_and_the_checkpoint_stays_consistent(
    server: FakeServer, tmp_path: Path
) -> None:
    """SIGINT cancels the requests in flight at once (the slow answers are not waited for) and
    leaves only whole lines in the checkpoint."""

    def handler(rec: Recorded) -> Reply:
        index = int(parsed(rec)[0][1:])
        return answer(rec, delay=0.01 if index < 8 else 30)

    server.handler = handler
    path = tmp_path / "run.jsonl"
    proc = _start(tmp_path, server, path, 20)
    _wait_for_lines(path, 8)
    time.sleep(0.2)
    started = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert time.monotonic() - started < 10
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(r["index"] for r in records[1:]) == list(range(8))

"""Streaming structured output: time to the first item, and what the partial decoder costs.

    python benchmarks/streaming.py            # the full run (a few seconds)
    python benchmarks/streaming.py --quick    # smaller sizes, for CI

1. Time to the first item: the real ``openai`` SDK against a loopback server that streams a
   50-item list as Chat Completions deltas of 4 characters at a fixed pace; ``stream_items`` yields
   the first element long before the answer is complete, which a plain call has to wait for.
2. Decoder CPU: the answer's deltas fed straight into Alloy's decoder (``alloy._partial``), for
   10, 100 and 1,000 items, for ``stream_partial`` (a value per delta) and ``stream_items``, against
   parsing and validating the whole answer once at the end. Linear cost shows as a flat
   microseconds-per-item column; a decoder that re-parsed everything per delta would grow ~10x per
   row.
3. Client CPU per streamed call: 100 text deltas over the wire, Chat Completions and Responses,
   the raw ``openai`` SDK iterating its own stream (joining ``delta.content`` / the text deltas)
   against Alloy's ``ask.stream``, taking turns in blocks; the CPU of the calling thread only, so
   the in-process server's threads are left out.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pydantic

from alloy import _partial, ask, command, override
from alloy.testing import ScriptedModel
from tests.providers.server import FakeServer, Reply, sse
from tests.providers.test_openai import chat_stream as chat_events
from tests.providers.test_openai import responses_stream


class Item(pydantic.BaseModel):
    name: str
    sku: str
    qty: int
    price: float


def answer(n: int) -> str:
    items = [
        {"name": f"item number {i}", "sku": f"SKU-{i:05d}", "qty": i % 7, "price": i * 1.25} for i in range(n)
    ]
    return json.dumps({"value": items})


def deltas(text: str, size: int = 4) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


def chat_stream(pieces: list[str], pace: float) -> Reply:
    base = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks: list[dict[str, Any]] = [
        {**base, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    reply = sse(*chunks, done=True)
    reply.pause = pace
    return reply


def time_to_first_item(n: int, pace: float) -> tuple[float, float]:
    server = FakeServer().start()
    server.replies.append(chat_stream(deltas(answer(1)), 0))  # warm-up: the SDK import and connection
    server.replies.append(chat_stream(deltas(answer(n)), pace))

    @command(output=list[Item])
    def extract() -> str:
        return "List the items."

    try:
        with override(
            model="openai:m", openai_base_url=server.url + "/v1", openai_api_key="sk-x", openai_api="chat"
        ):
            list(extract.stream_items())
            start = time.perf_counter()
            first = last = 0.0
            for _ in extract.stream_items():
                last = time.perf_counter() - start
                first = first or last
    finally:
        server.stop()
    return first, last


def decoder_cpu(n: int) -> dict[str, float]:
    text = answer(n)
    pieces = deltas(text)
    plan = ask.explain("p", output=list[Item], model=ScriptedModel([]))
    out: dict[str, float] = {"deltas": len(pieces)}

    start = time.process_time()
    decoder = _partial.Decoder(plan)
    for p in pieces:
        decoder.feed(p)
        decoder.value()
    out["partial"] = time.process_time() - start

    start = time.process_time()
    decoder = _partial.Decoder(plan)
    for p in pieces:
        decoder.feed(p)
        for _ in decoder.elements():
            pass
    out["items"] = time.process_time() - start

    assert plan.output is not None
    start = time.process_time()
    for _ in range(5):
        plan.output.validate(json.loads(text))
    out["once"] = (time.process_time() - start) / 5
    return out


def stream_cpu(api: str, rounds: int, block: int = 10, events: int = 100) -> tuple[float, float]:
    """Client CPU per streamed call of *events* text deltas: (raw SDK, Alloy), in seconds."""
    import openai

    words = [f"word{i} " for i in range(events)]
    reply = chat_events(words) if api == "chat" else responses_stream(words)
    server = FakeServer().start()
    server.handler = lambda _: reply
    client = openai.OpenAI(api_key="sk-x", base_url=server.url + "/v1", max_retries=0)

    def raw() -> str:
        if api == "chat":
            messages: Any = [{"role": "user", "content": "Greet."}]
            chunks = client.chat.completions.create(
                model="m", messages=messages, stream=True, stream_options={"include_usage": True}
            )
            return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        events_ = client.responses.create(model="m", input="Greet.", stream=True)
        return "".join(e.delta for e in events_ if e.type == "response.output_text.delta")

    def alloy() -> str:
        return "".join(ask.stream("Greet."))

    totals = [0.0, 0.0]
    try:
        with override(
            model="openai:m", openai_base_url=server.url + "/v1", openai_api_key="sk-x", openai_api=api
        ):
            assert raw() == alloy() == "".join(words)  # warm-up, and the same answer
            for _ in range(rounds):
                for i, side in enumerate((raw, alloy)):
                    start = time.thread_time()
                    for _ in range(block):
                        side()
                    totals[i] += time.thread_time() - start
    finally:
        server.stop()
    return totals[0] / (rounds * block), totals[1] / (rounds * block)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    quick = parser.parse_args().quick
    n, pace = (50, 0.0005) if quick else (50, 0.002)
    first, last = time_to_first_item(n, pace)
    print(f"{n} items streamed, 4 characters per delta, one delta per {pace * 1000:g} ms")
    print(f"  first item after {first * 1000:7.1f} ms; last after {last * 1000:7.1f} ms\n")
    print("  items  deltas   stream_partial      stream_items      parse once at the end")
    print("                  total  µs/item      total  µs/item    total  µs/item")
    for size in (10, 100) if quick else (10, 100, 1000):
        r = decoder_cpu(size)
        cells = [f"{r[k] * 1000:7.1f} ms {r[k] / size * 1e6:6.1f}" for k in ("partial", "items", "once")]
        print(f"  {size:5d} {int(r['deltas']):7d}   " + "    ".join(cells))
    print("\nclient CPU per streamed call, 100 text deltas (the calling thread only)")
    for api, name in (("chat", "Chat Completions"), ("responses", "Responses")):
        raw, alloy = stream_cpu(api, 2 if quick else 10)
        print(
            f"  {name:16s}  raw SDK {raw * 1000:6.2f} ms   Alloy {alloy * 1000:6.2f} ms   {alloy / raw:4.2f}x"
        )


if __name__ == "__main__":
    main()

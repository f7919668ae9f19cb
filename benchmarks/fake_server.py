"""A fake provider server for the benchmarks, run as its own process.

It answers every route of every benchmark target (``targets/*.py`` ``ROUTES``) with the canned
reply (or, for a request with ``"stream": true`` to a path of a target's ``STREAM_ROUTES``, its
canned server-sent events). A route may also be a function of the request's body that returns the
reply, so one path can answer a conversation's turns differently (the tool round-trip targets: a
tool call first, the answer to the request that carries the tool's result). Over HTTP/1.1 keep-alive, on asyncio so 64 concurrent connections cost it little. Running
in a separate process keeps its CPU time out of the client's ``getrusage`` numbers.

    python benchmarks/fake_server.py      # prints "PORT <n>" once it listens on 127.0.0.1:<n>

With ``--until-stdin-closes`` it exits when its stdin reaches end of file, so a benchmark that dies
without cleaning up does not leave it running. ``--latency S`` waits S seconds before each answer (a
model's think time); ``--limit N`` is a scripted 429 storm: a request that arrives while N others are
being answered gets ``429`` with ``Retry-After: 1`` (a provider's concurrency limit).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from targets import modules

Reply = bytes | Callable[[bytes], bytes]
"""A route's reply: the canned body, or a function of the request's body that gives it."""


def routes(name: str = "ROUTES") -> dict[str, Reply]:
    table: dict[str, Reply] = {}
    for module in modules().values():
        table.update(getattr(module, name, {}))
    return table


def _asks_to_stream(body: bytes) -> bool:
    return b'"stream": true' in body or b'"stream":true' in body


LIMITED = (
    b"HTTP/1.1 429 Too Many Requests\r\ncontent-type: application/json\r\nretry-after: 1\r\n"
    b'content-length: 60\r\n\r\n{"error": {"message": "rate limited", "type": "rate_limit"}}'
)


async def serve(port: int = 0, *, latency: float = 0.0, limit: int = 0) -> None:
    table, streams = routes(), routes("STREAM_ROUTES")
    in_flight = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal in_flight
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *lines = head.decode("latin-1").split("\r\n")
                path = request_line.split(" ")[1].split("?")[0]
                length = 0
                for line in lines:
                    name, _, value = line.partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                request = await reader.readexactly(length) if length else b""
                if limit and in_flight >= limit:
                    writer.write(LIMITED)
                    await writer.drain()
                    continue
                in_flight += 1
                try:
                    if latency:
                        await asyncio.sleep(latency)
                finally:
                    in_flight -= 1
                kind = b"application/json"
                reply = table.get(path)
                if path in streams and _asks_to_stream(request):
                    kind, reply = b"text/event-stream", streams[path]
                body = reply(request) if callable(reply) else reply
                status = b"200 OK" if body is not None else b"404 Not Found"
                body = body if body is not None else b'{"error": {"message": "no such route"}}'
                writer.write(
                    b"HTTP/1.1 " + status + b"\r\ncontent-type: " + kind + b"\r\n"
                    b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("PORT", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


def _flag(name: str, default: float) -> float:
    return float(sys.argv[sys.argv.index(name) + 1]) if name in sys.argv else default


def _exit_when_stdin_closes() -> None:
    sys.stdin.read()
    os._exit(0)


if __name__ == "__main__":
    if "--until-stdin-closes" in sys.argv:
        threading.Thread(target=_exit_when_stdin_closes, daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(latency=_flag("--latency", 0.0), limit=int(_flag("--limit", 0))))

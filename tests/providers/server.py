"""A loopback HTTP server for wire-level adapter tests.

The real SDK talks real HTTP to 127.0.0.1; each test scripts the replies and reads back the
requests exactly as the SDK sent them. One server per test (fixture ``server`` in conftest).

    server.replies += [Reply(429, {"error": ...}, headers={"retry-after": "0"}), Reply(200, body)]
    ... call Alloy with base_url=server.url ...
    assert server.requests[0].json["model"] == "gpt-5-mini"
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted HTTP answer.

    ``body`` is sent as JSON (or as-is if bytes/str). ``chunks`` instead streams each piece with a
    flush (SSE or NDJSON), ``pause`` seconds apart; ``cut_after=n`` closes the connection after the
    first *n* chunks, mid-body (a dropped stream). ``hold`` (with ``hold_at``) waits for that event
    before sending chunk ``hold_at``, so a test can see what its caller got before the rest was sent.
    ``drop=True`` closes the connection without answering.
    """

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict[str, str])
    chunks: list[bytes] | None = None
    content_type: str = "application/json"
    drop: bool = False
    pause: float = 0.0
    cut_after: int | None = None
    hold: threading.Event | None = None
    hold_at: int = 0


def sse(*events: Any, done: bool = False, named: bool = False) -> Reply:
    """A ``text/event-stream`` reply. With ``named``, each event is ``(event_name, data)``."""
    chunks: list[bytes] = []
    for e in events:
        if named:
            name, data = e
            chunks.append(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        else:
            chunks.append(f"data: {json.dumps(e)}\n\n".encode())
    if done:
        chunks.append(b"data: [DONE]\n\n")
    return Reply(chunks=chunks, content_type="text/event-stream")


def ndjson(*objects: Any) -> Reply:
    """An ``application/x-ndjson`` streaming reply (Ollama)."""
    return Reply(
        chunks=[(json.dumps(o) + "\n").encode() for o in objects], content_type="application/x-ndjson"
    )


class _QuietServer(ThreadingHTTPServer):
    """Connections the client drops on purpose (dropped-stream tests) are not errors to print."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class FakeServer:
    """Serves ``replies`` in order (or ``handler(recorded) -> Reply`` when set) and records requests."""

    def __init__(self) -> None:
        self.replies: list[Reply] = []
        self.requests: list[Recorded] = []
        self.handler: Callable[[Recorded], Reply] | None = None
        self.connections = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes; with Nagle on, the second waits for the
            # client's delayed ACK (~40 ms per request).
            disable_nagle_algorithm = True

            def setup(self) -> None:
                super().setup()
                with server._lock:
                    server.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else b""
                rec = Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                with server._lock:
                    server.requests.append(rec)
                    if server.handler is not None:
                        reply = server.handler(rec)
                    elif server.replies:
                        reply = server.replies.pop(0)
                    else:
                        reply = Reply(500, {"error": {"message": "FakeServer: no reply scripted"}})
                if reply.drop:
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                self.send_response(reply.status)
                for k, v in reply.headers.items():
                    self.send_header(k, v)
                if reply.chunks is not None:
                    self.send_header("content-type", reply.content_type)
                    self.send_header("transfer-encoding", "chunked")
                    self.end_headers()
                    for i, chunk in enumerate(reply.chunks):
                        if i == reply.cut_after:
                            self.close_connection = True
                            self.connection.shutdown(2)
                            return
                        if reply.hold is not None and i == reply.hold_at:
                            reply.hold.wait(timeout=10)
                        elif reply.pause and i:
                            time.sleep(reply.pause)
                        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                data = (
                    reply.body
                    if isinstance(reply.body, bytes)
                    else (
                        reply.body.encode()
                        if isinstance(reply.body, str)
                        else json.dumps(reply.body).encode()
                    )
                )
                self.send_header("content-type", reply.content_type)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_POST = do_GET = do_DELETE = _handle

        self._httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

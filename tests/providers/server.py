"""A loopback HTTP server for wire-level adapter tests.

The real SDK talks real HTTP to 127.0.0.1; each test scripts the replies and reads back the
requests exactly as the SDK sent them. One server per test (fixture ``server`` in conftest).

    server.replies += [Reply(429, {"error": ...}, headers={"retry-after": "0"}), Reply(200, body)]
    ... call Alloy with base_url=server.url ...
    assert server.requests[0].json["model"] == "gpt-5-mini"
"""

from __future__ import annotations

import email.parser
import email.policy
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
    delay: float = 0.0
    """Seconds to wait before answering; other requests go on meanwhile (``in_flight`` counts them)."""


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
        self.in_flight = 0
        self.max_in_flight = 0
        """The most requests the server was answering at once."""
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
                with server._lock:
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                try:
                    self._answer()
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _answer(self) -> None:
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
                if reply.delay:
                    time.sleep(reply.delay)
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


# --- the three batch APIs, as the real SDKs call them ---------------------------------------------

EXPIRED = "expired"
"""What a batch ``answer`` function returns for a request the provider let expire."""


@dataclass
class Failed:
    """What a batch ``answer`` function returns for a request the provider failed."""

    status: int = 500
    message: str = "the server had an error processing this request"


Answer = Callable[[str, Any], Any]
"""``answer(key, request_body)``: the provider-shaped answer body, ``EXPIRED`` or a ``Failed``."""


class BatchFake:
    """A fake batch API on a ``FakeServer``: install with ``server.handler = fake``.

    Batch paths are answered here: a job is created from the uploaded requests, reports
    ``polls`` not-yet-done states to status requests, then is done with one answer per request
    from ``answer``. Any other request (a normal call: a re-ask, a re-run) gets ``live(rec)``,
    by default the next of ``server.replies``. ``requests`` holds the batch requests, by key.
    """

    def __init__(self, server: FakeServer, answer: Answer, *, polls: int = 2) -> None:
        self.server, self.answer, self.polls = server, answer, polls
        self.requests: dict[str, Any] = {}
        self.live: Callable[[Recorded], Reply] = lambda rec: (
            server.replies.pop(0) if server.replies else Reply(500, {"error": {"message": "no live reply"}})
        )
        self.status_requests = 0
        self._left = polls

    def __call__(self, rec: Recorded) -> Reply:
        reply = self.handle(rec)
        return reply if reply is not None else self.live(rec)

    def handle(self, rec: Recorded) -> Reply | None:
        raise NotImplementedError

    def _poll(self) -> bool:
        """One status request: whether the job is done now."""
        self.status_requests += 1
        self._left -= 1
        return self._left < 0

    def _answers(self) -> list[tuple[str, Any]]:
        return [(key, self.answer(key, body)) for key, body in self.requests.items()]


class OpenAIBatches(BatchFake):
    """Files + Batches: multipart upload, ``POST /v1/batches``, polling, output and error files."""

    def __init__(self, server: FakeServer, answer: Answer, *, polls: int = 2) -> None:
        super().__init__(server, answer, polls=polls)
        self.files: dict[str, bytes] = {}
        self.uploads: list[dict[str, Any]] = []
        self.batch: dict[str, Any] = {}

    def handle(self, rec: Recorded) -> Reply | None:
        path = rec.path.split("?")[0]
        if rec.method == "POST" and path == "/v1/files":
            fields = _multipart(rec)
            self.uploads.append(fields)
            file_id = f"file-{len(self.files) + 1}"
            self.files[file_id] = fields["file"]
            return Reply(200, _file_object(file_id, fields))
        if rec.method == "POST" and path == "/v1/batches":
            body = rec.json
            lines = [json.loads(line) for line in self.files[body["input_file_id"]].decode().splitlines()]
            self.requests = {line["custom_id"]: line for line in lines}
            self.batch = {
                "id": "batch_abc123",
                "object": "batch",
                "endpoint": body["endpoint"],
                "input_file_id": body["input_file_id"],
                "completion_window": body["completion_window"],
                "status": "validating",
                "created_at": 1_700_000_000,
                "request_counts": {"total": len(lines), "completed": 0, "failed": 0},
            }
            return Reply(200, self.batch)
        if rec.method == "GET" and path == "/v1/batches/batch_abc123":
            if self._poll() and self.batch["status"] != "completed":
                self._finish()
            elif self.batch["status"] == "validating":
                self.batch["status"] = "in_progress"
            return Reply(200, self.batch)
        if rec.method == "GET" and path.startswith("/v1/files/") and path.endswith("/content"):
            return Reply(200, self.files[path.split("/")[3]], content_type="application/octet-stream")
        return None

    def _finish(self) -> None:
        out: list[str] = []
        errors: list[str] = []
        for n, (key, answer) in enumerate(self._answers()):
            line: dict[str, Any] = {"id": f"batch_req_{n}", "custom_id": key}
            if answer == EXPIRED:
                line |= {
                    "response": None,
                    "error": {
                        "code": "batch_expired",
                        "message": "This request could not be executed before the completion window expired.",
                    },
                }
                errors.append(json.dumps(line))
            elif isinstance(answer, Failed):
                error = {"error": {"message": answer.message, "type": "server_error", "code": None}}
                line |= {
                    "response": {"status_code": answer.status, "request_id": "r", "body": error},
                    "error": None,
                }
                errors.append(json.dumps(line))
            else:
                line |= {"response": {"status_code": 200, "request_id": "r", "body": answer}, "error": None}
                out.append(json.dumps(line))
        self.files["file-out"] = "\n".join(out).encode() + b"\n"
        self.files["file-err"] = "\n".join(errors).encode() + b"\n"
        counts = {"total": len(self.requests), "completed": len(out), "failed": len(errors)}
        self.batch |= {"status": "completed", "request_counts": counts, "completed_at": 1_700_000_100}
        self.batch |= {"output_file_id": "file-out", "error_file_id": "file-err" if errors else None}


def _multipart(rec: Recorded) -> dict[str, Any]:
    """The fields of a ``multipart/form-data`` body: ``bytes`` for a file, ``str`` otherwise."""
    head = f"content-type: {rec.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + rec.body)
    fields: dict[str, Any] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        data = part.get_payload(decode=True)
        fields[str(name)] = data if part.get_filename() else data.decode()
        if part.get_filename():
            fields[f"{name}.filename"] = part.get_filename()
            fields[f"{name}.content_type"] = part.get_content_type()
    return fields


def _file_object(file_id: str, fields: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(fields["file"]),
        "created_at": 1_700_000_000,
        "filename": fields.get("file.filename", "upload"),
        "purpose": fields["purpose"],
        "status": "processed",
    }


class AnthropicBatches(BatchFake):
    """Message Batches: ``POST /v1/messages/batches``, polling, the results JSONL stream."""

    def __init__(self, server: FakeServer, answer: Answer, *, polls: int = 2) -> None:
        super().__init__(server, answer, polls=polls)
        self.batch: dict[str, Any] = {}

    def handle(self, rec: Recorded) -> Reply | None:
        path = rec.path.split("?")[0]
        base = "/v1/messages/batches"
        if rec.method == "POST" and path == base:
            self.requests = {r["custom_id"]: r["params"] for r in rec.json["requests"]}
            counts = {
                "processing": len(self.requests),
                "succeeded": 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            }
            self.batch = {
                "id": "msgbatch_abc123",
                "type": "message_batch",
                "processing_status": "in_progress",
                "request_counts": counts,
                "created_at": "2026-12-01T10:00:00Z",
                "expires_at": "2026-12-02T10:00:00Z",
                "ended_at": None,
                "archived_at": None,
                "cancel_initiated_at": None,
                "results_url": None,
            }
            return Reply(200, self.batch)
        if rec.method == "GET" and path == f"{base}/msgbatch_abc123":
            if self._poll() and self.batch["processing_status"] != "ended":
                self._finish()
            return Reply(200, self.batch)
        if rec.method == "GET" and path == f"{base}/msgbatch_abc123/results":
            return Reply(200, self._results, content_type="application/binary")
        return None

    def _finish(self) -> None:
        lines: list[str] = []
        counts = dict.fromkeys(("processing", "succeeded", "errored", "canceled", "expired"), 0)
        for key, answer in self._answers():
            if answer == EXPIRED:
                result: dict[str, Any] = {"type": "expired"}
            elif isinstance(answer, Failed):
                error = {"type": "api_error", "message": answer.message}
                result = {"type": "errored", "error": {"type": "error", "error": error}}
            else:
                result = {"type": "succeeded", "message": answer}
            counts[result["type"]] += 1
            lines.append(json.dumps({"custom_id": key, "result": result}))
        self._results = "\n".join(lines) + "\n"
        url = f"{self.server.url}/v1/messages/batches/msgbatch_abc123/results"
        self.batch |= {"processing_status": "ended", "request_counts": counts, "results_url": url}
        self.batch |= {"ended_at": "2026-12-01T10:30:00Z"}


class GeminiBatches(BatchFake):
    """Batch mode with inlined requests: ``models/<m>:batchGenerateContent``, ``GET batches/<id>``."""

    def __init__(self, server: FakeServer, answer: Answer, *, polls: int = 2) -> None:
        super().__init__(server, answer, polls=polls)
        self.operation: dict[str, Any] = {}
        self.created: Any = None

    def handle(self, rec: Recorded) -> Reply | None:
        path = rec.path.split("?")[0]
        if rec.method == "POST" and path.endswith(":batchGenerateContent"):
            self.created = rec.json
            inlined = rec.json["batch"]["inputConfig"]["requests"]["requests"]
            self.requests = {r["metadata"]["alloy_key"]: r["request"] for r in inlined}
            self._metadata = [r["metadata"] for r in inlined]
            model = path.removeprefix("/v1beta/").removesuffix(":batchGenerateContent")
            self.operation = {
                "name": "batches/abc123",
                "metadata": {
                    "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.GenerateContentBatch",
                    "name": "batches/abc123",
                    "displayName": rec.json["batch"].get("displayName", ""),
                    "model": model,
                    "state": "BATCH_STATE_PENDING",
                    "createTime": "2026-12-01T10:00:00Z",
                },
            }
            return Reply(200, self.operation)
        if rec.method == "GET" and path == "/v1beta/batches/abc123":
            meta = self.operation["metadata"]
            if self._poll() and meta["state"] != "BATCH_STATE_SUCCEEDED":
                self._finish()
            else:
                meta["state"] = "BATCH_STATE_RUNNING"
            return Reply(200, self.operation)
        return None

    def _finish(self) -> None:
        responses: list[dict[str, Any]] = []
        for (_key, answer), metadata in zip(self._answers(), self._metadata, strict=True):
            if answer == EXPIRED:
                item: dict[str, Any] = {
                    "error": {"code": 4, "message": "Deadline expired before the batch ended."}
                }
            elif isinstance(answer, Failed):
                item = {"error": {"code": 13, "message": answer.message}}
            else:
                item = {"response": answer}
            responses.append(item | {"metadata": metadata})
        meta = self.operation["metadata"]
        meta |= {"state": "BATCH_STATE_SUCCEEDED", "endTime": "2026-12-01T10:30:00Z"}
        meta["output"] = {"inlinedResponses": {"inlinedResponses": responses}}
        self.operation["done"] = True

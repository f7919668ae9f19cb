"""Commands on a real local Dask cluster with worker processes, against the loopback fake server.

Opt-in: skipped unless ``ALLOY_TEST_DISTRIBUTED`` is set (``nox -s distributed`` installs Dask from
``tests/distributed/requirements.txt`` and sets it). Each worker process unpickles the command by
reference, reads its settings from the environment it inherited and builds its own SDK client.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import pytest

from alloy import MapResult

from ..providers.server import FakeServer, Recorded, Reply
from .commands import Echo, echo

ENABLED = bool(os.environ.get("ALLOY_TEST_DISTRIBUTED"))
pytestmark = pytest.mark.skipif(not ENABLED, reason="ALLOY_TEST_DISTRIBUTED is not set (nox -s distributed)")


def reply(rec: Recorded) -> Reply:
    """The item's text, echoed back as the answer."""
    text = rec.json["messages"][-1]["content"].split("<", 1)[1].rstrip(">")
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": "gpt-4.1-mini",
        "choices": [
            {
                "index": 0,
                "finish_reason": "stop",
                "logprobs": None,
                "message": {"role": "assistant", "content": json.dumps({"text": text}), "refusal": None},
            }
        ],
        "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
    }
    return Reply(200, body)


@pytest.fixture(scope="module")
def cluster() -> Iterator[tuple[Any, FakeServer]]:
    distributed = pytest.importorskip("distributed")
    server = FakeServer().start()
    server.handler = reply
    # Workers inherit the environment: that is where their settings come from.
    saved = dict(os.environ)
    os.environ.update(
        {"ALLOY_OPENAI_BASE_URL": server.url + "/v1", "ALLOY_OPENAI_API_KEY": "sk-test-0123456789abcdef"}
    )
    try:
        with (
            distributed.LocalCluster(
                n_workers=2,
                threads_per_worker=2,
                processes=True,
                dashboard_address=None,
                worker_dashboard_address=None,
            ) as local,
            distributed.Client(local) as client,
        ):
            yield client, server
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def test_client_map_calls_a_command_in_the_worker_processes(cluster: tuple[Any, FakeServer]) -> None:
    client, server = cluster
    worker_pids = set(client.run(os.getpid).values())
    assert len(worker_pids) == 2 and os.getpid() not in worker_pids
    before = len(server.requests)
    texts = [f"doc-{i}" for i in range(12)]
    futures = client.map(echo, texts)
    assert client.gather(futures) == [Echo(t) for t in texts]
    assert len(server.requests) - before == 12


def test_a_map_runs_inside_a_worker_and_its_result_comes_back(cluster: tuple[Any, FakeServer]) -> None:
    client, _ = cluster
    texts = [f"part-{i}" for i in range(8)]
    chunks = [texts[:4], texts[4:]]
    results: list[MapResult[Echo]] = client.gather(
        client.map(lambda chunk: echo.map(chunk, concurrency=4), chunks)
    )
    assert [o.output for r in results for o in r] == [Echo(t) for t in texts]
    assert all(r.ok and r.usage.requests == 4 for r in results)

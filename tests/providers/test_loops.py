"""Event loops (SPEC §17): async clients are cached per loop and released with it.

Any number of sequential ``asyncio.run(...)`` calls must leave no sockets, file descriptors or
loops behind. Measured in a fresh interpreter, so nothing else in the test run holds descriptors.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import certifi
import pytest

from .wire import WIRES

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = textwrap.dedent(
    """
    import asyncio, gc, json, os, sys
    from alloy import _registry, ask, override
    from tests.providers.server import FakeServer
    from tests.providers.wire import wire

    def fds():
        return len(os.listdir("/proc/self/fd"))

    def closed_loops():
        gc.collect()
        return sum(isinstance(o, asyncio.AbstractEventLoop) and o.is_closed() for o in gc.get_objects())

    server = FakeServer().start()
    out = {}
    for name in sys.argv[1:]:
        w = wire(name)
        server.handler = lambda rec, w=w: w.ok("ok")
        with override(**w.settings(server.url)):
            for _ in range(3):  # warm up: SDK imports, the sync client, lazily made pools
                assert asyncio.run(ask.async_("Hi")) == "ok"
            before = fds()
            for _ in range(30):
                assert asyncio.run(ask.async_("Hi")) == "ok"
            loops = closed_loops()  # collects garbage first: what is unreachable is not a leak
            out[name] = {"before": before, "after": fds(), "closed_loops": loops,
                         "cached_loops": len(_registry._loop_clients)}
    server.stop()
    print(json.dumps(out))
    """
)


def _one_certificate(tmp_path: Path) -> Path:
    """A CA file of one certificate: each new SDK client loads the bundle, and the loopback server
    speaks plain HTTP, so a small one keeps 150 client builds cheap."""
    bundle = Path(certifi.where()).read_text()
    end = "-----END CERTIFICATE-----"
    path = tmp_path / "one.pem"
    path.write_text(bundle[bundle.index("-----BEGIN CERTIFICATE-----") : bundle.index(end) + len(end)] + "\n")
    return path


@pytest.mark.skipif(not Path("/proc/self/fd").exists(), reason="counts /proc/self/fd (Linux)")
def test_thirty_sequential_asyncio_runs_leave_nothing_behind(tmp_path: Path) -> None:
    """30 × ``asyncio.run(command.async_(...))`` per provider: descriptors do not grow, no closed
    loop stays alive, and the per-loop cache is empty once each loop is gone."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env = {k: v for k, v in env.items() if not k.startswith("ALLOY_")}
    env["SSL_CERT_FILE"] = str(_one_certificate(tmp_path))  # each new client loads it
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, *WIRES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    for name, c in counts.items():
        assert c["after"] <= c["before"] + 3, (name, c)
        assert c["closed_loops"] <= 2, (name, c)
        assert c["cached_loops"] == 0, (name, c)

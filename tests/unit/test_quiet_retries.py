"""Quiet by default (SPEC §17): with no logging configured, Alloy's retries print nothing.

Run in a fresh interpreter each, since what Python prints without logging set up depends on no
handler having been installed by anyone (pytest installs its own).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CALL = """
import asyncio
from alloy import ProviderError, ask, override
from alloy.testing import ScriptedModel

def busy():
    return ProviderError("overloaded", provider="scripted", status_code=503, retryable=True)

with override(model=ScriptedModel([busy(), busy(), "ok", busy(), "ok"]), retry_wait_initial=0.001,
              retry_wait_max=0.001, retry_wait_jitter=0):
    assert ask("Hi") == "ok"
    assert asyncio.run(ask.async_("Hi")) == "ok"
print("done")
"""


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_retried_calls_print_nothing() -> None:
    """Three retries, sync and async: stdout has only the script's line, stderr nothing."""
    done = _run(CALL)
    assert done.returncode == 0, done.stderr
    assert (done.stdout, done.stderr) == ("done\n", "")


def test_retries_show_on_the_alloy_logger_at_debug() -> None:
    """logging.getLogger("alloy").setLevel(logging.DEBUG) (with a handler) shows each retry."""
    done = _run(
        'import logging\nlogging.basicConfig()\nlogging.getLogger("alloy").setLevel(logging.DEBUG)\n' + CALL
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("retrying with backoff") == 3
    assert "stamina.retry_scheduled" not in done.stderr


def test_the_users_own_stamina_retries_still_log() -> None:
    """stamina's hooks are untouched: a retry of the user's own code is announced as before."""
    done = _run(
        """
        import stamina, alloy
        tries = []

        @stamina.retry(on=ValueError, wait_initial=0.001, wait_jitter=0)
        def flaky():
            tries.append(1)
            if len(tries) < 2:
                raise ValueError("once")

        flaky()
        """
    )
    assert done.returncode == 0, done.stderr
    assert "stamina.retry_scheduled" in done.stderr

"""Benchmark targets: one module per provider, each comparing its raw SDK with Alloy.

A target module defines:

- ``ROUTES``: ``{path: body}``, the canned JSON replies the fake server gives (``fake_server.py``
  serves the routes of every target); a body may also be a function of the request's body that
  returns the reply, for a path that answers a conversation's turns differently (the tool
  round-trip targets ``*_tools.py``: a tool call first, then the answer; ``_roundtrip.py``);
- ``make(base_url, with_alloy=True) -> Target``: the call functions, set up against the fake
  server; with ``with_alloy=False`` it must not import Alloy (the raw side's memory is measured
  that way) and leaves the Alloy-made sides ``None``;
- ``alloy_command(base_url)`` (optional): the Alloy command alone, configured for the fake
  server; ``overhead.py`` measures cold start (a fresh process to the first answer) with it, and
  leaves cold start out for a target without it;
- ``STREAM_ROUTES`` (optional): ``{path: body}``, canned server-sent events the fake server gives
  instead to a request that asks to stream (``targets/openai.py``: a tool call, for magentic);
- ``TIMING_ONLY`` (optional): ``True`` for a target measured for client CPU, wall time and
  function calls only, without peak-RSS (nor cold-start) rows: the tool round-trip targets, whose
  processes are their plain targets' with one tool more, which keeps ``--quick`` short;
- ``NOTE`` (optional): one line shown under the table, for a target whose columns hold other
  sides than the usual three (``openai_telemetry``: Alloy with telemetry off and on).

Adding a provider's row is adding one module here (a module whose name starts with ``_`` holds
what targets share and is not a target).
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Target:
    """One provider's raw-SDK and Alloy versions of the same typed extraction.

    Each function makes one call and returns the validated ``Invoice``. ``same_request`` (optional)
    is the raw SDK sending exactly the request Alloy sends, which separates what Alloy's own code
    costs from what its request costs the SDK (e.g. the schema Alloy also states in the system
    prompt against a compatible server).
    """

    name: str
    raw: Callable[[], Any]
    raw_async: Callable[[], Awaitable[Any]]
    alloy: Callable[[], Any] | None = None
    alloy_async: Callable[[], Awaitable[Any]] | None = None
    same_request: Callable[[], Any] | None = None
    same_request_async: Callable[[], Awaitable[Any]] | None = None


def modules() -> dict[str, ModuleType]:
    """Every target module, by name."""
    return {
        info.name: importlib.import_module(f"{__name__}.{info.name}")
        for info in pkgutil.iter_modules(__path__)
        if not info.name.startswith("_")
    }

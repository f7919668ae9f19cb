"""Benchmark targets: one module per provider, each comparing its raw SDK with Alloy.

A target module defines:

- ``ROUTES``: ``{path: body}``, the canned JSON replies the fake server gives (``fake_server.py``
  serves the routes of every target);
- ``make(base_url, with_alloy=True) -> Target``: the call functions, set up against the fake
  server; with ``with_alloy=False`` it must not import Alloy (the raw side's memory is measured
  that way) and leaves the Alloy-made sides ``None``;
- ``alloy_command(base_url)`` (optional): the Alloy command alone, configured for the fake
  server; ``overhead.py`` measures cold start (a fresh process to the first answer) with it, and
  leaves cold start out for a target without it;
- ``STREAM_ROUTES`` (optional): ``{path: body}``, canned server-sent events the fake server gives
  instead to a request that asks to stream (``targets/openai.py``: a tool call, for magentic);
- ``NOTE`` (optional): one line shown under the table, for a target whose columns hold other
  sides than the usual three (``openai_telemetry``: Alloy with telemetry off and on).

Adding a provider's row is adding one module here.
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

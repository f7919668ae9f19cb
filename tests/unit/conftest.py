from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from alloy._messages import Request, Response
from alloy._settings import Settings
from alloy.providers import Capabilities, UnsupportedFeature
from alloy.testing import ScriptedModel

Driver = Callable[..., Any]


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> Driver:
    """Runs a command sync (`cmd(...)`) or async (`await cmd.async_(...)`): every engine rule holds for both."""
    if request.param == "sync":
        return lambda cmd, *args, **kwargs: cmd(*args, **kwargs)
    return lambda cmd, *args, **kwargs: asyncio.run(cmd.async_(*args, **kwargs))


@pytest.fixture(params=["sync", "async"])
def run_driver(request: pytest.FixtureRequest) -> Driver:
    """Like `driver`, for `.run` / `.run_async` (returns the Result)."""
    if request.param == "sync":
        return lambda cmd, *args, **kwargs: cmd.run(*args, **kwargs)
    return lambda cmd, *args, **kwargs: asyncio.run(cmd.run_async(*args, **kwargs))


class RefusesTools(ScriptedModel):
    """A model whose endpoint refuses native tools once, and is remembered as having none."""

    def send(self, request: Request, settings: Settings) -> Response:
        if request.tools:
            self.requests.append(request)
            self._caps = Capabilities(output_mode="native", native_tools=False)
            raise UnsupportedFeature("does not support tools", provider="scripted", feature="tools")
        return super().send(request, settings)

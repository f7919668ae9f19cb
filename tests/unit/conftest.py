from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

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

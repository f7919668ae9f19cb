from __future__ import annotations

from collections.abc import Iterator

import pytest

from .server import FakeServer


@pytest.fixture
def server() -> Iterator[FakeServer]:
    """A loopback HTTP server the real SDK talks to; script ``server.replies``, read ``server.requests``."""
    s = FakeServer().start()
    yield s
    s.stop()

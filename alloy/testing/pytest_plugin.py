"""The pytest plugin of Alloy (entry point ``alloy``): a ``cassette`` fixture and ``--alloy-record``.

``def test_invoice(cassette): ...`` runs the test inside ``alloy.testing.cassette`` with the file
``tests/cassettes/<module>/<test>.json`` under the rootdir: recorded the first time (with the
provider's key set), replayed afterwards. ``pytest --alloy-record`` records every cassette again;
``ALLOY_CASSETTE_MODE=replay`` (for CI) makes a missing recording an error instead of a request.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .cassette import Cassette

_UNSAFE = re.compile(r"[^\w.\[\]=,+-]")


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("alloy")
    group.addoption(
        "--alloy-record",
        action="store_true",
        default=False,
        help="Record every Alloy cassette again (mode 'record', beating ALLOY_CASSETTE_MODE): "
        "calls the real providers, so their keys must be set.",
    )


def cassette_path(request: pytest.FixtureRequest) -> Path:
    """``<rootdir>/tests/cassettes/<module>/<test>.json`` (a class's tests as ``Class.test``)."""
    node = request.node
    names = node.nodeid.split("::")[1:] or [node.name]
    name = _UNSAFE.sub("_", ".".join(names))
    return request.config.rootpath / "tests" / "cassettes" / node.path.stem / f"{name}.json"


@pytest.fixture
def cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test runs inside a cassette named after it; yields the ``Cassette`` (``.path``, ``.mode``)."""
    # Imported here, not above: pytest imports this plugin in every run, most of which use no cassette.
    from .._settings import override
    from .cassette import cassette as use_cassette

    forced = override(cassette_mode="record") if request.config.getoption("--alloy-record") else nullcontext()
    with forced, use_cassette(cassette_path(request)) as c:
        yield c

"""Test doubles for code that uses Alloy.

- ``model="fake"``: offline, deterministic, schema-valid answers for any output type.
- ``cassette(path)``: records provider traffic to a JSON file once, then replays it offline.
- ``ScriptedModel(replies)``: plays back scripted replies and records every request it got::

      model = ScriptedModel([ToolCall("lookup", {"sku": "A1"}), '{"total": 12.5}'])
      with alloy.override(model=model):
          assert get_total("A1") == 12.5
      assert model.requests[1].messages[-1].role == "tool"

Each name loads its module when first used (as in ``alloy``), so the pytest plugin, which pytest
imports in every run of a project that has Alloy installed, costs next to nothing until a test
uses a cassette.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time ``__getattr__`` below imports each name
    from .._messages import Message, Request, Response, ToolCall
    from ..providers.fake import SENTENCE, example_value
    from ._scripted import ScriptedModel
    from .cassette import Cassette, CassetteMiss, cassette

__all__ = [
    "SENTENCE",
    "Cassette",
    "CassetteMiss",
    "Message",
    "Request",
    "Response",
    "ScriptedModel",
    "ToolCall",
    "cassette",
    "example_value",
]

_WHERE = {
    "Message": "alloy._messages",
    "Request": "alloy._messages",
    "Response": "alloy._messages",
    "ToolCall": "alloy._messages",
    "SENTENCE": "alloy.providers.fake",
    "example_value": "alloy.providers.fake",
    "ScriptedModel": "alloy.testing._scripted",
    "Cassette": "alloy.testing.cassette",
    "CassetteMiss": "alloy.testing.cassette",
    "cassette": "alloy.testing.cassette",
}
"""Which module defines each public name."""


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'alloy.testing' has no attribute {name!r}")
    obj = getattr(importlib.import_module(module), name)
    if name == "ScriptedModel":
        obj.__module__ = __name__  # its public home, in reprs and tracebacks
    globals()[name] = obj
    return obj


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """Keeps ``alloy.testing.cassette`` the function: importing the submodule of that name binds
    the module here (the import system's ``setattr``), which would hide the function."""

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "cassette" and isinstance(value, types.ModuleType):
            value = value.cassette
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

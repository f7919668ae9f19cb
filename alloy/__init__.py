"""Alloy: typed, validated answers from language models.

Write a function that returns a prompt, declare the type you want back, and get a validated value
of that type from OpenAI, Anthropic, Gemini, Ollama or the offline ``fake`` model::

    @command(output=Invoice)
    def extract_invoice(text: str) -> str:
        return f"Extract the invoice from: {text}"

``import alloy`` itself imports nothing heavy: each public name loads its module the first time it
is used (PEP 562 ``__getattr__``, as instructor and pydantic do), and no provider SDK is imported
until a model of that provider is first called.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # what type checkers see; at run time ``__getattr__`` below imports each name
    from ._ask import ask
    from ._batch import BatchJob
    from ._command import AsyncCommand, Command, command
    from ._contracts import ensure, require
    from ._errors import (
        AlloyError,
        CommandError,
        ConfigurationError,
        ProviderError,
        ToolError,
        ToolLoopLimitExceeded,
    )
    from ._map import MapResult, Outcome
    from ._messages import Message, Result, Usage
    from ._outputs import register_type
    from ._parts import Audio, Document, Image
    from ._plan import Plan
    from ._pricing import set_price
    from ._prompt import Prompt
    from ._settings import configure, get_settings, override
    from ._settings_class import Settings
    from ._tools import Tool, tool

__all__ = [
    "AlloyError",
    "AsyncCommand",
    "Audio",
    "BatchJob",
    "Command",
    "CommandError",
    "ConfigurationError",
    "Document",
    "Image",
    "MapResult",
    "Message",
    "Outcome",
    "Plan",
    "Prompt",
    "ProviderError",
    "Result",
    "Settings",
    "Tool",
    "ToolError",
    "ToolLoopLimitExceeded",
    "Usage",
    "ask",
    "command",
    "configure",
    "ensure",
    "get_settings",
    "override",
    "register_type",
    "require",
    "set_price",
    "tool",
]

_MODULES = {
    "_ask": ("ask",),
    "_batch": ("BatchJob",),
    "_command": ("AsyncCommand", "Command", "command"),
    "_contracts": ("ensure", "require"),
    "_errors": (
        "AlloyError",
        "CommandError",
        "ConfigurationError",
        "ProviderError",
        "ToolError",
        "ToolLoopLimitExceeded",
    ),
    "_map": ("MapResult", "Outcome"),
    "_messages": ("Message", "Result", "Usage"),
    "_outputs": ("register_type",),
    "_parts": ("Audio", "Document", "Image"),
    "_plan": ("Plan",),
    "_pricing": ("set_price",),
    "_prompt": ("Prompt",),
    "_settings": ("configure", "get_settings", "override"),
    "_settings_class": ("Settings",),
    "_tools": ("Tool", "tool"),
}
"""Which private module defines each public name."""
_WHERE = {name: module for module, names in _MODULES.items() for name in names}


def _publish() -> None:
    """Bind the public names of every module imported so far, so later lookups are plain globals.

    Tracebacks and docs show the public name (as httpx does): a class's ``__module__`` becomes
    ``alloy`` once it is published, which also keeps pickling by reference pointing here.
    """
    for module, names in _MODULES.items():
        loaded = sys.modules.get(f"{__name__}.{module}")
        if loaded is None:
            continue
        for name in names:
            if name not in globals():
                obj = getattr(loaded, name)
                if isinstance(obj, type):
                    obj.__module__ = __name__
                globals()[name] = obj


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._version import __version__

        return __version__
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'alloy' has no attribute {name!r}")
    importlib.import_module(f"{__name__}.{module}")
    _publish()
    return globals()[name]


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})

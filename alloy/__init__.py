"""Alloy: typed, validated answers from language models.

Write a function that returns a prompt, declare the type you want back, and get a validated value
of that type from OpenAI, Anthropic, Gemini, Ollama or the offline ``fake`` model::

    @command(output=Invoice)
    def extract_invoice(text: str) -> str:
        return f"Extract the invoice from: {text}"

No provider SDK is imported here: each loads on first use.
"""

from __future__ import annotations

from typing import Any

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
from ._settings import Settings, configure, get_settings, override
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

# Tracebacks and docs show the public name (as httpx does).
for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "alloy"


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._version import __version__

        return __version__
    raise AttributeError(f"module 'alloy' has no attribute {name!r}")

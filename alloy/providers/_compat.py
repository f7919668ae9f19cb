"""What OpenAI-compatible servers refuse, and the downgrades Alloy remembers (SPEC §16).

Against a base URL other than OpenAI's, a server may refuse a field Alloy sends. Each refusal is
recognised by what the error names, as the common servers word it:

- ``json_schema``: llama.cpp's ``response_format type must be one of "text" or "json_object", but
  got: json_schema``; LiteLLM's ``UnsupportedParamsError: ... does not support parameters:
  ['response_format']``; a strict pydantic server's 422 on ``response_format``.
- ``json_object``: LM Studio's ``'response_format.type' must be 'json_schema' or 'text'``.
- tools: vLLM's ``"auto" tool choice requires --enable-auto-tool-choice and --tool-call-parser to
  be set``; llama.cpp's ``tools param requires --jinja flag``; Ollama's ``/v1`` ``<model> does not
  support tools``; LiteLLM's ``does not support parameters: ['tools', 'tool_choice',
  'parallel_tool_calls']`` (its proxy's ``UnsupportedParamsError``, as 1.110 words it; on its
  Anthropic-style ``/v1/messages`` it refuses ``output_config`` as ``['response_format']``, which the
  Anthropic adapter recognises).
- ``prompt_cache_key``: any 400/422 that names it (``Extra inputs are not permitted``, ``Unrecognized
  request argument supplied: prompt_cache_key``).

The output mechanism then steps down one level per refusal, ``json_schema`` → ``json_object`` →
the schema in the prompt only; refused tools make ``tool_mode="auto"`` use ReAct; a refused cache
key is left out. Each downgrade is remembered per (base URL, model) for the process, logged at
debug level, and shown in the plan's notes; the call is planned again (``UnsupportedFeature``).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any, Literal, cast

from .._errors import snippet
from . import UnsupportedFeature

__all__ = ["Refusals"]

log = logging.getLogger("alloy.providers.compat")

Key = tuple[str, str]
"""(base URL, model)."""
Level = Literal["json_object", "prompt"]

_STATUSES = (400, 422, 500)  # older llama.cpp builds answer an unsupported format with 500
_CACHE_KEY = re.compile(r"prompt_cache_key", re.I)
_OUTPUT = re.compile(r"response_format|json_schema|json_object|text\.format|structured output", re.I)
_TOOLS = re.compile(
    r"\btools?\b|tool_choice|tool[ _-]call|function[ _-]call|--jinja|enable-auto-tool-choice", re.I
)


def _format(kwargs: dict[str, Any]) -> str | None:
    """The ``type`` of the output format sent (Chat ``response_format`` or Responses ``text.format``)."""
    text = cast("dict[str, Any]", kwargs.get("text") or {})
    fmt = cast("dict[str, Any] | None", kwargs.get("response_format") or text.get("format"))
    kind = fmt.get("type") if fmt else None
    return kind if isinstance(kind, str) else None


class Refusals:
    """The downgrades learnt per (base URL, model); only grow (``forget`` for tests)."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._lock = threading.Lock()
        self._output: dict[Key, Level] = {}
        self._no_tools: set[Key] = set()
        self._no_cache_key: set[Key] = set()

    def forget(self) -> None:
        with self._lock:
            self._output.clear()
            self._no_tools.clear()
            self._no_cache_key.clear()

    def output(self, key: Key) -> Level | None:
        """The output mechanism to use instead of ``json_schema``, if the server refused it."""
        with self._lock:
            return self._output.get(key)

    def tools(self, key: Key) -> bool:
        with self._lock:
            return key not in self._no_tools

    def cache_key(self, key: Key) -> bool:
        with self._lock:
            return key not in self._no_cache_key

    def notes(self, key: Key) -> tuple[str, ...]:
        """The downgrades in force for *key*, in words, for ``explain()``."""
        base, model = key
        notes: list[str] = []
        with self._lock:
            level = self._output.get(key)
            if level == "json_object":
                notes.append(f"{base} refused json_schema for {model}: JSON mode, the schema in the prompt")
            elif level == "prompt":
                notes.append(
                    f"{base} refused json_schema and json_object for {model}: the schema in the prompt"
                )
            if key in self._no_tools:
                notes.append(f"{base} refused native tools for {model}")
            if key in self._no_cache_key:
                notes.append(f"{base} refused prompt_cache_key for {model}: not sent")
        return tuple(notes)

    def refused(
        self, key: Key, status: int, message: str, body: Any, kwargs: dict[str, Any]
    ) -> UnsupportedFeature | None:
        """The ``UnsupportedFeature`` for an error that refuses a field *kwargs* sent (remembered
        first, so the next plan and request leave it out), or ``None`` for any other error."""
        if status not in _STATUSES:
            return None
        text = message if body is None else f"{message} {body if isinstance(body, str) else json.dumps(body)}"
        fmt = _format(kwargs)
        said = snippet(text, 200)
        feature: Literal["output", "tools", "prompt_cache_key"]
        with self._lock:
            if "prompt_cache_key" in kwargs and _CACHE_KEY.search(text):
                self._no_cache_key.add(key)
                feature, what = "prompt_cache_key", "prompt_cache_key: sent without it from now on"
            elif fmt in ("json_schema", "json_object") and _OUTPUT.search(text):
                level: Level = "json_object" if fmt == "json_schema" else "prompt"
                self._output[key] = level
                feature = "output"
                what = f"{fmt}: {'JSON mode' if level == 'json_object' else 'the schema in the prompt only'} from now on"
            elif kwargs.get("tools") and _TOOLS.search(text):
                self._no_tools.add(key)
                feature, what = "tools", "native tools: ReAct from now on (tool_mode='auto')"
            else:
                return None
        log.debug("%s refused %s for %s (%s)", key[0], what, key[1], said)
        return UnsupportedFeature(
            f"the server at {key[0]} refused {what} for {key[1]!r} (it said: {said})",
            provider=self._provider,
            feature=feature,
        )

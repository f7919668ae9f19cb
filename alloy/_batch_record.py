"""The local record of a provider batch job: what another process needs to collect it.

A job's id names the provider, the model and the provider's job; the record adds what the provider
does not keep for us: each item's conversation (an invalid answer is re-asked with it), which command
submitted the job and its output type. One JSON file per job in ``<cache>/alloy/batches``, the
conversations persisted as any ``Message`` history is (pydantic, bytes as base64).
"""

from __future__ import annotations

import functools
import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydantic

from ._errors import CommandError, ConfigurationError
from ._messages import Message
from ._paths import cache_dir

__all__ = ["Prompt", "Record", "read", "write"]

Prompt = tuple[Message, ...] | CommandError
"""An item as a job keeps it: its conversation, or the error of its failed ``@require``."""


@dataclass(frozen=True, slots=True)
class Record:
    """What a job's record holds."""

    id: str
    command: str
    output: str
    """The output type's name, as ``alloy._outputs.type_name`` spells it."""
    prompts: list[Prompt]


def path(id: str) -> Path:
    return cache_dir("batches") / f"{hashlib.sha256(id.encode()).hexdigest()[:32]}.json"


def write(record: Record) -> None:
    """Keep *record* (one file, replaced whole)."""
    data = {
        "id": record.id,
        "command": record.command,
        "output": record.output,
        "created": time.time(),
        "items": [_dump(p) for p in record.prompts],
    }
    path(record.id).write_text(json.dumps(data, ensure_ascii=False))


def read(id: str) -> Record:
    """The record of job *id*.

    Raises:
        ConfigurationError: this machine has no record of it.
    """
    where = path(id)
    try:
        data = json.loads(where.read_text())
    except FileNotFoundError:
        raise ConfigurationError(
            f"No record of batch job {id!r} in {where.parent}: a job is collected on the machine that "
            "submitted it, which keeps its prompts for re-asks (set XDG_CACHE_HOME alike to share it)."
        ) from None
    return Record(id, data["command"], data["output"], [_load(p) for p in data["items"]])


@functools.cache
def _history() -> pydantic.TypeAdapter[list[Message]]:
    return pydantic.TypeAdapter(list[Message])


def _dump(prompt: Prompt) -> dict[str, Any]:
    if isinstance(prompt, CommandError):
        return {"error": str(prompt)}
    return {"messages": json.loads(_history().dump_json(list(prompt)))}


def _load(item: dict[str, Any]) -> Prompt:
    if "error" in item:
        return CommandError(item["error"], attempts=0)
    return tuple(_history().validate_json(json.dumps(item["messages"])))

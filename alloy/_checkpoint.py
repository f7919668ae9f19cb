"""Checkpoint files of a ``map``: one JSON line per finished item, so a rerun skips what is done.

The first line is a header that names what the file is for: a fingerprint of the items and one of
the output type's JSON schema. Every later line is one finished outcome, written with a single
``write`` and flushed at once, so a crash or a ``SIGKILL`` loses at most the line being written
(a torn last line is dropped when the file is opened again)::

    {"alloy_checkpoint": 1, "command": "extract_invoice", "items": 2000, "fingerprint": "9f2c…", "output": "1b7e…"}
    {"index": 3, "ok": true, "output": {"number": "42", "total": 99.5}, "attempts": 1, "usage": {...}}
    {"index": 0, "ok": false, "error": "ProviderError", "message": "openai (HTTP 500): …", "attempts": 0, "usage": {...}}

A rerun takes the last line of each index: an item done once stays done; a failed one runs again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import pydantic_core
from pydantic import TypeAdapter

from ._errors import AlloyError, ConfigurationError
from ._messages import Usage

__all__ = ["Checkpoint", "Done"]

VERSION = 1


@dataclasses.dataclass(frozen=True, slots=True)
class Done:
    """An item a checkpoint already holds an output for."""

    output: Any
    usage: Usage
    attempts: int


def fingerprint(items: Sequence[Any]) -> str:
    """A digest of the items, stable across processes (their JSON, else their ``str``)."""
    digest = hashlib.sha256()
    for item in items:
        digest.update(pydantic_core.to_json(item, serialize_unknown=True))
        digest.update(b"\n")
    return digest.hexdigest()


def schema_fingerprint(adapter: TypeAdapter[Any]) -> str:
    """A digest of the output type's JSON schema."""
    try:
        schema = adapter.json_schema()
    except Exception:  # a type without a JSON schema: its name still tells types apart
        schema = repr(adapter)
    return hashlib.sha256(json.dumps(schema, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """An open checkpoint file: what it already holds, and ``append`` for each finished item.

    Raises:
        ConfigurationError: the file was written for other items, another output type, or is not
            a checkpoint.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, name: str, items: Sequence[Any], adapter: TypeAdapter[Any]
    ) -> None:
        self.path = Path(path)
        self._adapter = adapter
        header = {
            "alloy_checkpoint": VERSION,
            "command": name,
            "items": len(items),
            "fingerprint": fingerprint(items),
            "output": schema_fingerprint(adapter),
        }
        self.done: dict[int, Done] = {}
        lines = self._read()
        if lines:
            self._check(lines[0], header)
            self.done = self._load(lines[1:], len(items))
            self._file: IO[str] = self.path.open("a", encoding="utf-8")
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = self.path.open("w", encoding="utf-8")
            self._write(header)

    def _read(self) -> list[str]:
        """The file's complete lines; a torn last line (a kill mid-write) is cut off the file."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        if text and not text.endswith("\n"):
            keep = text.rfind("\n") + 1
            with self.path.open("r+", encoding="utf-8") as f:
                f.truncate(len(text[:keep].encode()))
            text = text[:keep]
        return text.splitlines()

    def _check(self, first: str, header: dict[str, Any]) -> None:
        try:
            found = json.loads(first)
        except ValueError:
            found = None
        where = f"checkpoint {str(self.path)!r}"
        if not isinstance(found, dict) or found.get("alloy_checkpoint") != VERSION:  # pyright: ignore[reportUnknownMemberType]
            raise ConfigurationError(
                f"{where} is not an Alloy checkpoint file. Pass another path as checkpoint=..."
            )
        found = dict[str, Any](found)  # pyright: ignore[reportUnknownArgumentType]
        if found.get("fingerprint") != header["fingerprint"]:
            raise ConfigurationError(
                f"{where} was written for other items ({found.get('items')} items of "
                f"{found.get('command')!r}; these are {header['items']} items of {header['command']!r}). "
                "Use another path for these items, or delete the file to start over."
            )
        if found.get("output") != header["output"]:
            raise ConfigurationError(
                f"{where} was written for another output type than {header['command']!r} declares now. "
                "Use another path, or delete the file to start over."
            )

    def _load(self, lines: list[str], count: int) -> dict[int, Done]:
        done: dict[int, Done] = {}
        for number, line in enumerate(lines, 2):
            try:
                record = json.loads(line)
                index = int(record["index"])
                if not 0 <= index < count:
                    raise ValueError(f"index {index} out of range")
                if not record["ok"]:
                    done.pop(index, None)
                    continue
                output = self._adapter.validate_json(json.dumps(record["output"]))
                usage = Usage(**record.get("usage", {}))
                done[index] = Done(output, usage, int(record.get("attempts", 1)))
            except Exception as exc:
                raise ConfigurationError(
                    f"checkpoint {str(self.path)!r}, line {number}, does not load back ({exc}). "
                    "Delete the file to start over, or pass another path."
                ) from exc
        return done

    def append(
        self, index: int, *, output: Any, usage: Usage, attempts: int, error: AlloyError | None
    ) -> None:
        """Record one finished item (one line, flushed)."""
        record: dict[str, Any] = {"index": index, "ok": error is None}
        if error is None:
            record["output"] = self._adapter.dump_python(output, mode="json")
        else:
            record["error"] = type(error).__name__
            record["message"] = str(error)
        record["attempts"] = attempts
        record["usage"] = dataclasses.asdict(usage)
        self._write(record)

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()

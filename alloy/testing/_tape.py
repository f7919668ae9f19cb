"""The cassette file: neutral requests and responses as plain JSON, matching, and the miss diff.

A request is stored as the provider-neutral ``Request`` plus its provider, turned into plain JSON by
one generic walk (dataclasses, mappings, sequences), so it works whatever a message's content is (a
string, or a tuple of parts). Bytes are stored by their sha256 and size only, never inline: the
file stays small and diff-friendly, and a changed image still fails to match. Header-like keys of
``extra`` (authorization, api keys, cookies) are redacted, and every configured key is replaced by
``***`` before the file is written.
"""

from __future__ import annotations

import dataclasses
import enum
import hashlib
import importlib
import json
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import pydantic
import pydantic_core
from pydantic import SecretStr

from .._errors import AlloyError, snippet
from .._messages import Request, Response

if TYPE_CHECKING:
    from .._settings_class import Settings

Mode = Literal["once", "replay", "record"]
FORMAT = 1
_NEUTRAL = importlib.import_module("alloy._messages")
"""Where the neutral types live: they are written without a ``type`` (a part or a delta is not)."""
_SENSITIVE = re.compile(r"(^|[-_])(authorization|api[-_]?key|cookie|password|secret|access[-_]token)$", re.I)
_RESPONSE = pydantic.TypeAdapter(Response)
_MAX_SHOWN = 8


def plain(value: Any) -> Any:
    """*value* as JSON-able data: dataclasses as dicts of their fields, bytes as their sha256."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray):
        data = bytes(value)
        return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            v = getattr(value, f.name)
            if f.repr and (f.name == "type" or not _is_default(f, v)):
                out[f.name] = plain(v)
        if "type" not in out and not hasattr(_NEUTRAL, type(value).__name__):  # say what it is
            out["type"] = type(value).__name__
        return out
    if isinstance(value, pydantic.BaseModel):
        return plain(value.model_dump(mode="python"))
    if isinstance(value, Mapping):
        items = cast("Mapping[Any, Any]", value).items()
        return {str(k): "***" if _SENSITIVE.search(str(k)) else plain(v) for k, v in items}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in cast("list[Any]", value)]
    return pydantic_core.to_jsonable_python(value, fallback=repr)


def _is_default(f: dataclasses.Field[Any], value: Any) -> bool:
    """Fields left at their default are not written (files stay short); reading restores them."""
    if f.default is not dataclasses.MISSING:
        return value is f.default or (type(value) is type(f.default) and value == f.default)
    return (
        f.default_factory is not dataclasses.MISSING and isinstance(value, tuple | list | dict) and not value
    )


def neutral_request(provider: str, request: Request) -> dict[str, Any]:
    """What a request is matched on: provider, model, system, messages, tools, schema, sampling."""
    data = plain(request)
    data.pop("cache_key", None)  # a wire detail derived from the command's name (SPEC 14), not matched
    data["provider"] = provider
    return data


def match_key(request: dict[str, Any]) -> str:
    """*request* as canonical text, tool-call ids replaced by their order of appearance (ids that
    Alloy makes up, for ReAct turns and providers without ids, differ from process to process)."""
    ids: dict[str, str] = {}

    def norm(value: Any, key: str = "") -> Any:
        if isinstance(value, dict):
            return {k: norm(v, k) for k, v in cast("dict[str, Any]", value).items()}
        if isinstance(value, list):
            return [norm(v) for v in cast("list[Any]", value)]
        if key in ("id", "tool_call_id") and isinstance(value, str) and value:
            return ids.setdefault(value, f"#{len(ids) + 1}")
        return value

    return json.dumps(norm(request), sort_keys=True)


def response_of(data: dict[str, Any]) -> Response:
    return _RESPONSE.validate_python(data)


def delta_of(data: Any) -> Any:
    """A recorded stream item: text, or a neutral delta object (stored with its ``type``)."""
    if isinstance(data, dict) and isinstance(kind := cast("dict[str, Any]", data).get("kind"), str):
        cls = getattr(_NEUTRAL, kind, None)
        if isinstance(cls, type):
            fields = {k: v for k, v in cast("dict[str, Any]", data).items() if k != "kind"}
            return pydantic.TypeAdapter[Any](cls).validate_python(fields)
    return cast("Any", data)


def plain_delta(item: Any) -> Any:
    if isinstance(item, str):
        return item
    return {"kind": type(item).__name__, **plain(item)}


class CassetteMiss(AlloyError):
    """A request the cassette does not hold (or a cassette that cannot be read); nothing was sent.

    The message shows how the request differs from the nearest recorded one.

    Attributes:
        path: the cassette file.
        request: the request that missed, as stored in a cassette (provider-neutral JSON).
        nearest: the nearest recorded request, or ``None``.

    .. versionadded:: 0.7
    """

    def __init__(
        self, message: str, *, path: Path, request: dict[str, Any], nearest: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.path = path
        self.request = request
        self.nearest = nearest


class Tape:
    """The interactions of one cassette file while it is in use; thread-safe (``map`` runs calls
    concurrently, so a request is matched by its content, identical ones consumed in order)."""

    def __init__(self, path: Path, mode: Mode) -> None:
        self.path = path
        self.mode: Mode = mode
        self.recording = mode == "record" or (mode == "once" and not path.exists())
        self.loaded: list[dict[str, Any]] = [] if self.recording or not path.exists() else _load(path)
        self._keys = [match_key(i["request"]) for i in self.loaded]
        self._used = [False] * len(self.loaded)
        self.slots: list[dict[str, Any] | None] = []
        self.secrets: set[str] = set()
        self._lock = threading.Lock()

    def play(self, request: dict[str, Any]) -> dict[str, Any]:
        """The recorded interaction for *request*: the first unused identical one, else the last
        identical one again.

        Raises:
            CassetteMiss: no recorded request is identical; the message shows the nearest one's differences.
        """
        key = match_key(request)
        with self._lock:
            same = [i for i, k in enumerate(self._keys) if k == key]
            if same:
                pick = next((i for i in same if not self._used[i]), same[-1])
                self._used[pick] = True
                return self.loaded[pick]
        raise self._miss(request)

    def reserve(self) -> int:
        """A place for the interaction about to be recorded: the file lists them in the order sent."""
        with self._lock:
            self.slots.append(None)
            return len(self.slots) - 1

    def fill(
        self,
        slot: int,
        request: dict[str, Any],
        response: Response,
        deltas: list[Any] | None,
        settings: Settings,
    ) -> None:
        entry: dict[str, Any] = {"request": request, "response": plain(response)}
        if deltas is not None:
            entry["stream"] = [plain_delta(d) for d in deltas]
        secrets = {
            v.get_secret_value()
            for name in type(settings).model_fields
            if isinstance(v := getattr(settings, name), SecretStr)
        }
        with self._lock:
            self.slots[slot] = entry
            self.secrets |= {s for s in secrets if len(s) >= 4}

    def save(self) -> None:
        entries = [s for s in self.slots if s is not None]
        text = json.dumps(
            {"alloy_cassette": FORMAT, "interactions": entries}, indent=2, sort_keys=True, ensure_ascii=False
        )
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(json.dumps(secret)[1:-1], "***")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(text + "\n", encoding="utf-8")

    def _miss(self, request: dict[str, Any]) -> CassetteMiss:
        where = f"{request.get('provider')}:{request.get('model')}"
        sent = "nothing was sent" if not self.recording else "it was not sent"
        if not self.path.exists():
            return CassetteMiss(
                f"Cassette {self.path} does not exist, so it cannot answer this {where} request "
                f"(mode {self.mode!r}: {sent}). Record it first: run once with mode='once' or 'record' "
                "(ALLOY_CASSETTE_MODE=record, pytest --alloy-record) and the provider's key set.",
                path=self.path,
                request=request,
            )
        scored = [(differences(rec["request"], request), i) for i, rec in enumerate(self.loaded)]
        best = min(scored, key=lambda s: (len(s[0]), s[1]), default=None)
        lines = [
            f"Cassette {self.path} holds no interaction matching this {where} request (mode {self.mode!r}: {sent})."
        ]
        nearest = None
        if best is not None:
            diffs, index = best
            nearest = self.loaded[index]["request"]
            lines.append(
                f"The nearest recorded request (interaction {index + 1} of {len(self.loaded)}) differs in:"
            )
            lines += [f"  {d}" for d in diffs[:_MAX_SHOWN]]
            if len(diffs) > _MAX_SHOWN:
                lines.append(f"  … and {len(diffs) - _MAX_SHOWN} more")
        else:
            lines.append("The cassette holds no interactions.")
        lines.append(
            "If the change is intended, record the cassette again: mode='record', "
            "ALLOY_CASSETTE_MODE=record, or pytest --alloy-record."
        )
        return CassetteMiss("\n".join(lines), path=self.path, request=request, nearest=nearest)


def _load(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        interactions = data["interactions"]
        if data.get("alloy_cassette") != FORMAT or not isinstance(interactions, list):
            raise ValueError(f"not an Alloy cassette of format {FORMAT}")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CassetteMiss(
            f"Cassette {path} cannot be read ({exc}). Delete it and record it again.", path=path, request={}
        ) from exc
    return cast("list[dict[str, Any]]", interactions)


def differences(old: Any, new: Any, path: str = "") -> list[str]:
    """Where *new* differs from *old*, one line per differing leaf, with a snippet of each side."""
    out: list[str] = []
    _diff(old, new, path, out)
    return out


def _diff(old: Any, new: Any, path: str, out: list[str]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        a, b = cast("dict[str, Any]", old), cast("dict[str, Any]", new)
        for k in sorted(a.keys() | b.keys()):
            sub = f"{path}.{k}" if path else k
            if k not in b:
                out.append(f"{sub}: recorded {_show(a[k])}, now absent")
            elif k not in a:
                out.append(f"{sub}: not recorded, now {_show(b[k])}")
            else:
                _diff(a[k], b[k], sub, out)
    elif isinstance(old, list) and isinstance(new, list):
        a_list, b_list = cast("list[Any]", old), cast("list[Any]", new)
        for i in range(max(len(a_list), len(b_list))):
            sub = f"{path}[{i}]"
            if i >= len(b_list):
                out.append(f"{sub}: recorded {_show(a_list[i])}, now absent")
            elif i >= len(a_list):
                out.append(f"{sub}: not recorded, now {_show(b_list[i])}")
            else:
                _diff(a_list[i], b_list[i], sub, out)
    elif old != new:
        if isinstance(old, str) and isinstance(new, str):
            same = next(
                (i for i, (x, y) in enumerate(zip(old, new, strict=False)) if x != y), min(len(old), len(new))
            )
            start = same - 30 if same > 40 else 0  # long texts: from a little before the change
            old, new = old[start:], new[start:]
            pre = "…" if start else ""
            out.append(f"{path}: recorded {pre}{snippet(repr(old), 70)}, now {pre}{snippet(repr(new), 70)}")
        else:
            out.append(f"{path}: recorded {_show(old)}, now {_show(new)}")


def _show(value: Any) -> str:
    return snippet(json.dumps(value, sort_keys=True, ensure_ascii=False), 70)

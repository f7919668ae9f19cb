"""Structured output as it arrives: the one partial decoder, fed by the streaming drivers.

The drivers stream every request of a call (tool turns and re-asks included) and yield, in order:
the ``Plan`` (again after a re-plan), each request's deltas, its ``Response``, and last the
``Result``. ``partials``/``items`` (and their async twins) turn that into what ``stream_partial``
and ``stream_items`` yield. Adapters only emit deltas; nothing here knows a provider.

How a value is built. The answer's JSON (the text deltas, or the argument deltas of the forced
output tool) goes into a ``Decoder``. pydantic does all the parsing: ``pydantic_core.from_json``
with ``allow_partial="trailing-strings"`` reads what has come so far, the plan's codec decodes the
provider's encoding (strict-OpenAI key/value arrays, nullable optionals), and a *loose* validator
of the output type validates it: the type's own core schema with every field of every model,
dataclass, TypedDict and NamedTuple made optional (default ``None``, or the field's default; a
field that does not validate yet is ``None``), run with ``allow_partial`` so an incomplete last
element of a list or dict is left out. The values are instances of the declared types.

Why it stays linear. Re-parsing the whole answer on every delta costs O(n) per delta, O(n²) per
stream. Three things prevent that:

- A ``_Scanner`` passes over each byte once (regular expressions jump through strings) and finds
  where each element of the answer's list ends. Each element is parsed and validated exactly once,
  when complete; a refresh then parses only the element being written. That is also what
  ``stream_items`` yields.
- A refresh is skipped when the delta cannot change the value (whitespace; a number or literal
  still being written, which is left out until it is complete).
- Every refresh is paid for: a refresh of *c* bytes is free up to ``_FREE`` bytes, else it waits
  until the stream has earned *c* in credit, ``_CREDIT`` bytes per byte received. So the total
  work is at most ``(_FREE + _CREDIT)`` times the answer's length whatever its shape; values of a
  large answer that is not a list then come at geometrically spaced points. The final value is
  always exact: it is the engine's validated ``Result.output``.
"""

from __future__ import annotations

import collections.abc
import copy
import functools
import re
import typing
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from contextlib import aclosing, closing
from typing import Any, cast, get_args, get_origin

import pydantic
import pydantic_core
from pydantic_core import SchemaValidator

from ._errors import CommandError, snippet
from ._messages import Response, Result, ToolCallDelta
from ._outputs import OutputType, output_type
from ._plan import OUTPUT_TOOL, Plan
from ._react import FINAL
from ._usage import Usage

_FREE = 2048
"""Bytes a refresh may cost without waiting for credit."""
_CREDIT = 8
"""Credit earned per byte received, in bytes of refresh."""

NOTHING: Any = object()
"""No value yet."""


# --- loose validators -----------------------------------------------------------------------------

_FIELDS = frozenset({"model-field", "typed-dict-field", "dataclass-field", "named-tuple-field"})


def _loosen(schema: Any) -> Any:
    """*schema* (a pydantic core schema) with every field optional: missing or not yet valid → default."""
    if isinstance(schema, list):
        return [_loosen(s) for s in cast("list[Any]", schema)]
    if not isinstance(schema, dict):
        return schema
    out = {k: _loosen(v) for k, v in cast("dict[str, Any]", schema).items()}
    if out.get("type") in _FIELDS:
        inner = out["schema"]
        out["schema"] = (
            {**inner, "on_error": "default"}
            if inner.get("type") == "default"
            else {"type": "default", "schema": inner, "default": None, "on_error": "default"}
        )
        if out["type"] == "typed-dict-field":
            out["required"] = False
    return out


@functools.cache
def _loose(out: OutputType) -> SchemaValidator:
    """The loose validator of *out*, built once per output type.

    ``_use_prebuilt=False``: pydantic-core would otherwise reuse each model's own (strict) validator.
    """
    return SchemaValidator(_loosen(copy.deepcopy(out.adapter.core_schema)), _use_prebuilt=False)


def element_type(tp: Any) -> Any | None:
    """``T`` for an output type ``list[T]`` (or a ``Sequence[T]``), else ``None``."""
    while get_origin(tp) is typing.Annotated:
        tp = get_args(tp)[0]
    if get_origin(tp) in (list, collections.abc.Sequence):
        args = get_args(tp)
        return args[0] if args else Any
    return None


# --- the scanner ----------------------------------------------------------------------------------

_TOKEN = re.compile(rb'["{}\[\],:]')
_STRING = re.compile(rb'["\\]')
_ROOT = re.compile(rb"[{\[]")
_OPEN, _CLOSE = b"{[", b"}]"
_QUOTE, _COMMA, _COLON, _LBRACKET = ord('"'), ord(","), ord(":"), ord("[")


class _Scanner:
    """One pass over JSON text as it grows: where the root value starts and ends, and where each
    element of the answer's list ends (the root array, or the array under *key* of the root object).
    It only finds boundaries; pydantic parses."""

    def __init__(self, key: bytes | None, track: bool) -> None:
        self.buf = bytearray()
        self.pos = 0
        self.depth = 0
        self.in_string = False
        self.start = 0  # of the last string
        self.root = -1
        self.end = -1
        self.last_string: tuple[int, int] | None = None
        self.key: bytes | None = None  # the key of the root object's member being read
        self.want, self.track = key, track
        self.array = 0  # depth of the answer's list while inside it
        self.array_seen = False
        self.item = 0  # start of the element being written
        self.done: list[tuple[int, int]] = []  # complete elements not yet taken
        self.mark = 0  # just after the last structural byte outside strings

    def feed(self, data: bytes) -> None:
        self.buf += data
        buf, pos, n = self.buf, self.pos, len(self.buf)
        while pos < n and self.end < 0:
            if self.in_string:
                m = _STRING.search(buf, pos)
                if m is None:
                    pos = n
                elif buf[m.start()] == _QUOTE:
                    pos, self.in_string = m.end(), False
                    self.last_string = (self.start, pos)
                elif m.end() < n:
                    pos = m.end() + 1  # an escape: skip the escaped byte
                else:
                    pos = m.start()  # an escape cut by the delta: wait for the rest
                    break
                continue
            if self.root < 0:
                m = _ROOT.search(buf, pos)
                if m is None:
                    pos = n
                    break
                self.root = m.start()
            m = _TOKEN.search(buf, pos)
            if m is None:
                pos = n
                break
            at, pos = m.start(), m.end()
            c = buf[at]
            if c == _QUOTE:
                self.in_string, self.start = True, at
                continue
            self.mark = pos
            if c in _OPEN:
                self.depth += 1
                if c == _LBRACKET and self.track and not self.array_seen and self._answer_opens():
                    self.array, self.array_seen, self.item = self.depth, True, pos
            elif c in _CLOSE:
                if self.array and self.depth == self.array:
                    self._element(at)
                    self.array = 0
                self.depth -= 1
                if self.depth == 0:
                    self.end = pos
            elif c == _COMMA:
                if self.array and self.depth == self.array:
                    self._element(at)
                    self.item = pos
                if self.depth == 1:
                    self.key = None
            elif c == _COLON and self.depth == 1 and self.last_string:
                self.key = bytes(buf[self.last_string[0] : self.last_string[1]])
        self.pos = pos

    def _answer_opens(self) -> bool:
        if self.depth == 1:
            return True  # the root is the list
        return self.depth == 2 and self.buf[self.root] != _LBRACKET and self.key == self.want

    def _element(self, end: int) -> None:
        if self.buf[self.item : end].strip():
            self.done.append((self.item, end))

    def cut(self) -> int:
        """Where the text that can be read partially ends: a number or literal still being written
        (anything after the last structural byte, outside a string) is left out."""
        if self.in_string or not self.buf[self.mark :].strip():
            return len(self.buf)
        return self.mark


# --- the decoder ----------------------------------------------------------------------------------


class Decoder:
    """The answer of one request, decoded as it arrives. ``feed`` each delta, then read ``value()``
    (``stream_partial``) or ``elements()`` (``stream_items``)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.tool = False  # the answer travels in the output tool's arguments
        self._start()

    def _start(self) -> None:
        plan = self.plan
        out = plan.output
        self.out = out
        self.react = plan.tool_mode == "react"
        item = element_type(out.tp) if out is not None and not self.react else None
        self.item = output_type(item) if item is not None else None
        key = b'"action_input"' if self.react else b'"value"' if out is not None and out.wrapped else None
        self.scan = _Scanner(key, track=self.item is not None)
        self.text: list[str] = []
        self.credit = 0
        self.seen = 0  # complete elements validated for display
        self.shown: list[Any] = []  # those that validated (loosely)
        self.taken = 0  # complete elements handed out by elements()
        self.last_sig: Any = NOTHING

    def feed(self, delta: str | ToolCallDelta) -> bool:
        """Take one delta; whether it belongs to the answer."""
        if isinstance(delta, ToolCallDelta):
            if delta.name != OUTPUT_TOOL:
                return False
            if not self.tool:  # the answer is in the output tool, not in any text before it
                self.tool = True
                self._start()
            piece = delta.arguments
        elif self.tool:
            return False
        else:
            piece = delta
        data = piece.encode()
        self.credit += _CREDIT * len(data)
        if self.out is None:
            self.text.append(piece)
        else:
            self.scan.feed(data)
        return bool(piece.strip()) or self.out is None

    # stream_items --------------------------------------------------------------------------------

    def elements(self) -> Iterator[tuple[bytes, Any]]:
        """Each element completed since the last call: its JSON text and its value (decoded, validated
        as the element type) or the ``pydantic.ValidationError``/``ValueError`` it failed with."""
        assert self.item is not None
        for a, b in self.scan.done[self.taken :]:
            self.taken += 1
            text = bytes(self.scan.buf[a:b]).strip()
            try:
                # as JSON, like the whole answer (OutputType._validate): `datetime | str` takes an ISO string
                element = self._element(pydantic_core.from_json(text))
                yield text, self.item.adapter.validate_json(pydantic_core.to_json(element))
            except ValueError as exc:  # pydantic.ValidationError included
                yield text, exc

    def _element(self, raw: Any) -> Any:
        """An element in the provider's encoding, decoded (the codec works on the whole answer)."""
        codec = self.plan.codec
        if codec is None:
            return raw
        decoded: Any = codec.decode({"value": [raw]})
        return cast("dict[str, list[Any]]", decoded)["value"][0] if isinstance(decoded, dict) else raw

    # stream_partial ------------------------------------------------------------------------------

    def value(self) -> Any:
        """The value built from what has come so far, ``NOTHING`` if none (or not yet paid for)."""
        if self.out is None:
            text = "".join(self.text) if self._afford(sum(map(len, self.text))) else NOTHING
            return text
        scan = self.scan
        if scan.root < 0:
            return NOTHING
        if self.item is not None and scan.array_seen:
            return self._list()
        end = scan.end if scan.end >= 0 else scan.cut()
        if not self._afford(end - scan.root):
            return NOTHING
        try:
            raw = pydantic_core.from_json(bytes(scan.buf[scan.root : end]), allow_partial="trailing-strings")
        except ValueError:
            return NOTHING
        return self._loosely(self.out, self._unwrap(raw))

    def _list(self) -> Any:
        scan, item = self.scan, self.item
        assert item is not None
        for a, b in scan.done[self.seen :]:  # each complete element is parsed and validated once
            self.seen += 1
            try:
                raw = self._element(pydantic_core.from_json(bytes(scan.buf[a:b])))
            except ValueError:
                continue
            if (value := self._loosely(item, raw)) is not NOTHING:
                self.shown.append(value)
        text = bytes(scan.buf[scan.item : scan.cut()]).strip() if scan.array else b""
        if not self._afford(len(text) + len(self.shown)):
            return NOTHING
        tail: Any = NOTHING
        if text:  # the element being written
            try:
                raw = pydantic_core.from_json(text, allow_partial="trailing-strings")
                tail = self._loosely(item, self._element(raw))
            except ValueError:
                pass
        sig = (len(self.shown), tail)
        if sig == self.last_sig:  # compares one element, not the list
            return NOTHING
        self.last_sig = sig
        return [*self.shown, tail] if tail is not NOTHING else list(self.shown)

    def _afford(self, cost: int) -> bool:
        if cost <= _FREE:
            return True
        if cost <= self.credit:
            self.credit -= cost
            return True
        return False

    def _unwrap(self, raw: Any) -> Any:
        """The answer inside the decoded JSON: the ReAct step's final answer, the ``value`` wrapper."""
        value: Any = self.plan.codec.decode(raw) if self.plan.codec is not None else raw
        if self.react:
            if not isinstance(value, dict) or cast("dict[str, Any]", value).get("action") != FINAL:
                return NOTHING
            value = cast("dict[str, Any]", value).get("action_input", NOTHING)
        out = self.out
        if out is not None and out.wrapped and isinstance(value, dict) and len(value) == 1:  # pyright: ignore[reportUnknownArgumentType]
            value = next(iter(cast("dict[str, Any]", value).values()))
        return cast(Any, value)

    def _loosely(self, out: OutputType, raw: Any) -> Any:
        if raw is NOTHING:
            return NOTHING
        try:
            return _loose(out).validate_json(pydantic_core.to_json(raw), allow_partial=True)  # as JSON, too
        except pydantic.ValidationError:
            return NOTHING


# --- what stream_partial and stream_items yield ---------------------------------------------------

Item = Any  # an item of the drivers' stream: Plan | str | ToolCallDelta | Response | Result


class _Partials:
    """The values ``stream_partial`` yields, from the drivers' items."""

    def __init__(self) -> None:
        self.plan: Plan | None = None
        self.decoder: Decoder | None = None
        self.last: Any = NOTHING

    def take(self, item: Item) -> Iterator[Any]:
        if isinstance(item, Plan):
            self.plan, self.decoder = item, None
        elif isinstance(item, Response):
            self.decoder = None  # the next request (a re-ask, or the turn after tools) starts afresh
        elif isinstance(item, Result):
            output = cast("Result[Any]", item).output
            if self.last is NOTHING or output != self.last:
                yield output
        elif self.plan is not None:
            self.decoder = self.decoder or Decoder(self.plan)
            value = self.decoder.value() if self.decoder.feed(item) else NOTHING
            if value is not NOTHING and (self.last is NOTHING or value != self.last):
                self.last = value
                yield value


class _Elements:
    """The elements ``stream_items`` yields: each once, in order, across re-asks."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.plan: Plan | None = None
        self.decoder: Decoder | None = None
        self.index = 0  # elements of the current answer seen
        self.emitted = 0
        self.usage = Usage()
        self.answers = 0

    def take(self, item: Item) -> Iterator[Any]:
        if isinstance(item, Plan):
            self.plan, self.decoder = item, None
        elif isinstance(item, Response):
            self.usage = self.usage + item.usage + Usage(requests=1)
            if not any(c.name != OUTPUT_TOOL for c in item.tool_calls):
                self.answers += 1
            self.decoder, self.index = None, 0
        elif isinstance(item, Result):
            output: Any = cast("Result[Any]", item).output
            yield from list(output)[self.emitted :]
        elif self.plan is not None:
            if self.decoder is None:
                self.decoder, self.index = Decoder(self.plan), 0
            if self.decoder.feed(item) and self.decoder.item is not None:
                for text, value in self.decoder.elements():
                    self.index += 1
                    if self.index <= self.emitted:
                        continue  # yielded from an earlier attempt
                    if isinstance(value, ValueError):
                        raise self._failed(text, value)
                    self.emitted += 1
                    yield value

    def _failed(self, text: bytes, exc: ValueError) -> CommandError:
        shown = text.decode(errors="replace")
        if isinstance(exc, pydantic.ValidationError):
            errors = [
                f"{'.'.join(map(str, e['loc'])) or '(element)'}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
        else:
            errors = [f"not JSON: {exc}"]
        return CommandError(
            f"{self.name}: element {self.index - 1} of the streamed list failed validation "
            f"({'; '.join(errors)}), after {self.emitted} element(s) were yielded, which cannot be "
            f"taken back. Element: {snippet(shown)}",
            raw=shown,
            errors=errors,
            attempts=self.answers + 1,
            usage=self.usage,
        )


def partials(run: Iterator[Item]) -> Iterator[Any]:
    """``stream_partial``'s values from the drivers' stream *run*."""
    state = _Partials()
    with closing(cast("Generator[Item]", run)):
        for item in run:
            yield from state.take(item)


async def apartials(run: AsyncIterator[Item]) -> AsyncIterator[Any]:
    """The async twin of ``partials``."""
    state = _Partials()
    async with aclosing(cast("AsyncGenerator[Item]", run)):
        async for item in run:
            for value in state.take(item):
                yield value


def elements(run: Iterator[Item], name: str) -> Iterator[Any]:
    """``stream_items``'s elements from the drivers' stream *run*."""
    state = _Elements(name)
    with closing(cast("Generator[Item]", run)):
        for item in run:
            yield from state.take(item)


async def aelements(run: AsyncIterator[Item], name: str) -> AsyncIterator[Any]:
    """The async twin of ``elements``."""
    state = _Elements(name)
    async with aclosing(cast("AsyncGenerator[Item]", run)):
        async for item in run:
            for value in state.take(item):
                yield value


__all__ = ["NOTHING", "Decoder", "aelements", "apartials", "element_type", "elements", "partials"]

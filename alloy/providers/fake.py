"""The offline ``fake`` model: deterministic answers that are always right, with no network.

Text answers are a fixed sentence. A structured answer is built from the JSON schema sent —
lengths, numeric bounds (exclusive ones and ``multipleOf`` too), formats, enums, unions, nested and
recursive types — and checked against the output type's own validation (``OutputFormat.check``)
before it is returned. Strings with a ``pattern`` come from hypothesis's ``from_regex`` when
hypothesis is installed (a dev dependency), its simplest match, so the answer is the same every run.
Where no value it can build validates (a registered type whose parser refuses what its schema
allows, a pattern without hypothesis), the call fails with a ``ConfigurationError`` naming
``register_type`` and ``ScriptedModel``. It calls no tools. Use it in demos, docs and tests of code
around Alloy; use ``alloy.testing.ScriptedModel`` to script exact replies.
"""

from __future__ import annotations

import functools
import json
import math
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from .._errors import ConfigurationError, ProviderError, snippet
from .._messages import OutputFormat, Request, Response, Usage
from .._paths import cache_dir
from .._react import FINAL
from . import Adapter, BatchItem, BatchState, Capabilities, StreamItem

if TYPE_CHECKING:
    from .._settings import Settings

SENTENCE = "This is a fake answer from Alloy's offline model."
_MAX_DEPTH = 4
_FORMATS: dict[str, Callable[[int], str]] = {
    "date-time": lambda i: f"2024-01-01T00:00:{i % 60:02d}Z",
    "date": lambda i: f"2024-01-{i % 28 + 1:02d}",
    "time": lambda i: f"12:00:{i % 60:02d}",
    "duration": lambda i: f"P{i + 1}D",
    "uuid": lambda i: f"12345678-1234-5678-1234-{i:012x}",
    "email": lambda i: f"user{i or ''}@example.com",
    "idn-email": lambda i: f"user{i or ''}@example.com",
    "uri": lambda i: f"https://example.com/{i or ''}",
    "iri": lambda i: f"https://example.com/{i or ''}",
    "uri-reference": lambda i: f"/example/{i or ''}",
    "ipv4": lambda i: f"127.0.0.{i % 255 + 1}",
    "ipv6": lambda i: f"::{i + 1:x}",
    "ipvanyaddress": lambda i: f"127.0.0.{i % 255 + 1}",
    "ipv4network": lambda i: f"10.{i % 256}.0.0/16",
    "ipv6network": lambda i: f"fd00:{i:x}::/32",
    "ipvanynetwork": lambda i: f"10.{i % 256}.0.0/16",
    "ipv4interface": lambda i: f"10.0.0.{i % 255 + 1}/24",
    "ipv6interface": lambda i: f"fd00::{i + 1:x}/64",
    "ipvanyinterface": lambda i: f"10.0.0.{i % 255 + 1}/24",
    "hostname": lambda i: f"host{i or ''}.example.com",
}


@dataclass(frozen=True, slots=True)
class _Style:
    """One way of filling the choices a schema leaves open; the fake tries them in turn."""

    key: str = "example"
    """The key of a ``dict`` entry (``"1"`` also suits ``dict[int, T]``)."""
    minimal: bool = False
    """Only what is required: no optional fields, empty lists and dicts, ``None`` where allowed."""


_STYLES = (_Style(), _Style(key="1"), _Style(minimal=True))


def example_value(schema: dict[str, Any], defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value that follows *schema*, the same every time (recursion stops after a few levels).

    Raises:
        ConfigurationError: a ``pattern`` it cannot match (install hypothesis).
    """
    defs = cast("dict[str, Any]", schema.get("$defs") or defs or {})
    return _Builder(defs, _STYLES[0]).value(schema, depth)


class _Builder:
    def __init__(self, defs: dict[str, Any], style: _Style) -> None:
        self.defs, self.style = defs, style

    def value(self, schema: dict[str, Any], depth: int = 0, index: int = 0) -> Any:
        if "$ref" in schema:
            target = self.defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
            return self.value(target, depth + 1, index)
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            options: list[Any] = schema["enum"]
            return options[index % len(options)]
        for key in ("anyOf", "oneOf"):
            if key in schema:
                return self._union(schema[key], depth, index)
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                merged.update(part)
            return self.value(merged, depth, index)
        kind = schema.get("type")
        if isinstance(kind, list):
            kinds = [k for k in cast("list[str]", kind) if k != "null"]
            if "null" in kind and (self.style.minimal or not kinds):
                return None
            kind = kinds[0]
        if kind == "object" or "properties" in schema:
            return self._object(schema, depth, index)
        if kind == "array":
            return self._array(schema, depth)
        if kind == "string":
            return _string(schema, index)
        if kind in ("integer", "number"):
            return _number(schema, integer=kind == "integer", index=index)
        if kind == "boolean":
            return index % 2 == 0
        if kind == "null":
            return None
        return "example" if index == 0 else f"example{index}"

    def _union(self, branches: list[dict[str, Any]], depth: int, index: int) -> Any:
        non_null = [b for b in branches if b.get("type") != "null"]
        if len(non_null) < len(branches) and (depth >= _MAX_DEPTH or self.style.minimal):
            return None
        return self.value((non_null or branches)[0], depth, index)

    def _object(self, schema: dict[str, Any], depth: int, index: int) -> dict[str, Any]:
        props: dict[str, Any] = schema.get("properties", {})
        required = set(schema.get("required", props))
        deep = depth >= _MAX_DEPTH or self.style.minimal
        value = {
            name: self.value(sub, depth + 1, index)
            for name, sub in props.items()
            if name in required or not deep
        }
        extra = schema.get("additionalProperties")
        wanted = int(schema.get("minProperties", 0))
        if not props and isinstance(extra, dict) and (not deep or wanted):
            names: dict[str, Any] = schema.get("propertyNames", {})
            for i in range(max(wanted, 1)):
                key = self.style.key + ("" if i == 0 else str(i + 1))
                if names:  # keys have a schema of their own (formats, enums, patterns)
                    key = str(self.value({"type": "string", **names}, depth + 1, index + i))
                value[key] = self.value(cast("dict[str, Any]", extra), depth + 1, index + i)
        return value

    def _array(self, schema: dict[str, Any], depth: int) -> list[Any]:
        if "prefixItems" in schema:
            return [self.value(s, depth + 1) for s in schema["prefixItems"]]
        deep = depth >= _MAX_DEPTH or self.style.minimal
        count = max(int(schema.get("minItems", 0 if deep else 1)), 0)
        count = min(count, int(schema.get("maxItems", count)))
        item: dict[str, Any] = schema.get("items", {})
        return [self.value(item, depth + 1, i) for i in range(count)]


def _string(schema: dict[str, Any], index: int = 0) -> str:
    low, high = int(schema.get("minLength", 0)), schema.get("maxLength")
    if (pattern := schema.get("pattern")) is not None:
        return _matching(str(pattern), low, None if high is None else int(high), index)
    if (fmt := _FORMATS.get(str(schema.get("format")))) is not None:
        return fmt(index)
    text = ("example" if index == 0 else f"example{index}").ljust(low, "x")
    if high is not None and len(text) > int(high):
        text = (text if index == 0 else f"{index}{text}")[: int(high)]
    return text


@functools.cache
def _matching(pattern: str, low: int, high: int | None, index: int) -> str:
    """The simplest string that matches *pattern* within the lengths (the *index*-th distinct one)."""
    fits: Callable[[str], bool] = lambda s: low <= len(s) <= (len(s) if high is None else high)  # noqa: E731
    try:
        from hypothesis import HealthCheck, Phase, find, settings, strategies
        from hypothesis.errors import NoSuchExample
    except ImportError:
        plain = ("example", "", "a", "0", "A", "example@example.com")
        for candidate in plain[index:]:
            if fits(candidate) and re.search(pattern, candidate):
                return candidate
        raise ConfigurationError(
            f"The fake model cannot write a string matching the pattern {pattern!r} without hypothesis "
            "(pip install hypothesis, a dev dependency of alloy-ai). Or script the answer with "
            "alloy.testing.ScriptedModel, or describe the type with alloy.register_type(...)."
        ) from None
    taken = {_matching(pattern, low, high, i) for i in range(index)}
    rules = settings(
        database=None,
        derandomize=True,
        max_examples=500,
        phases=[Phase.generate],  # the first match, not shrunk: fast, and the same every run
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    try:
        return find(
            strategies.from_regex(pattern, fullmatch=True),
            lambda s: fits(s) and s not in taken,
            settings=rules,
        )
    except (NoSuchExample, re.error) as exc:
        raise ConfigurationError(
            f"The fake model found no string matching the pattern {pattern!r} with length {low}..{high} "
            f"({type(exc).__name__}). Script the answer with alloy.testing.ScriptedModel."
        ) from exc


def _number(schema: dict[str, Any], *, integer: bool, index: int = 0) -> int | float:
    """A number within the bounds (exclusive ones too) and a multiple of ``multipleOf``, near 1 + *index*."""
    low, high = schema.get("minimum"), schema.get("maximum")
    xlow, xhigh = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    step = schema.get("multipleOf")
    if integer:
        step = step if step and float(step).is_integer() else (None if not step else _int_step(step))
    floor_, ceil_ = _lower(low, xlow, step, integer), _upper(high, xhigh, step, integer)
    value: float = 1 + index
    if step:
        value = math.ceil(value / step) * step
    if floor_ is not None and value < floor_:
        value = floor_
    if ceil_ is not None and value > ceil_:
        value = ceil_
    if step:
        value = round(value / step) * step
    return int(value) if integer else float(value)


def _int_step(step: float) -> int:
    """The smallest whole number that is a multiple of a fractional *step* (0.5 → 1, 0.4 → 2)."""
    for n in range(1, 1000):
        if abs(n / step - round(n / step)) < 1e-9:
            return n
    return 1


def _lower(low: Any, xlow: Any, step: Any, integer: bool) -> float | None:
    """The smallest allowed value (a multiple of *step* when given), or ``None`` for no bound."""
    bounds: list[float] = []
    if low is not None:
        bounds.append(math.ceil(low / step) * step if step else (math.ceil(low) if integer else low))
    if xlow is not None:
        if step:
            bounds.append((math.floor(xlow / step) + 1) * step)
        elif integer:
            bounds.append(math.floor(xlow) + 1)
        else:
            bounds.append(xlow + max(abs(xlow) * 1e-9, 1e-9) if low is None else max(low, xlow + 1e-9))
    return max(bounds) if bounds else None


def _upper(high: Any, xhigh: Any, step: Any, integer: bool) -> float | None:
    bounds: list[float] = []
    if high is not None:
        bounds.append(math.floor(high / step) * step if step else (math.floor(high) if integer else high))
    if xhigh is not None:
        if step:
            bounds.append((math.ceil(xhigh / step) - 1) * step)
        elif integer:
            bounds.append(math.ceil(xhigh) - 1)
        else:
            bounds.append(xhigh - max(abs(xhigh) * 1e-9, 1e-9))
    return min(bounds) if bounds else None


def answer(output: OutputFormat) -> Any:
    """The fake's answer for *output*: the first value it can build that ``output.check`` accepts.

    Raises:
        ConfigurationError: no value it can build validates; names ``register_type`` and ``ScriptedModel``.
    """
    schema = output.schema
    defs = cast("dict[str, Any]", schema.get("$defs") or {})
    props: dict[str, Any] = schema.get("properties", {})
    if output.name == "react_step" and FINAL in props.get("action", {}).get("enum", ()):
        # ReAct: answer at once (the fake calls no tools): the answer schema is the last input option
        inputs = props["action_input"]
        last = cast("dict[str, Any]", inputs["anyOf"][-1] if "anyOf" in inputs else inputs)
        return {"thought": "I can answer now.", "action": FINAL, "action_input": example_value(last, defs)}
    problem = ""
    for style in _STYLES:
        value = _Builder(defs, style).value(schema)
        if output.check is None:
            return value
        try:
            output.check(value)
        except Exception as exc:  # the output type's own validation: whatever it raises is a "no"
            problem = problem or snippet(str(exc), 300)
            continue
        return value
    raise ConfigurationError(
        f"The fake model could not build a valid {output.name} answer from its JSON schema "
        f"(its value {snippet(json.dumps(_Builder(defs, _STYLES[0]).value(schema)), 120)} failed: {problem}). "
        "If the type is registered, give alloy.register_type a json_schema that describes exactly the values "
        "its parser accepts; or script the answer with alloy.testing.ScriptedModel."
    )


class FakeAdapter(Adapter):
    """``model="fake"``: answers every request at once, offline.

    Batch jobs too: a job is answered when it is submitted and kept in a file of the cache
    directory (``alloy/fake-batches``), so that another process can collect it.
    """

    provider: ClassVar[str] = "fake"

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        return Capabilities(output_mode="native", schema_dialect="plain", native_tools=True)

    def send(self, request: Request, settings: Settings) -> Response:
        text = SENTENCE if request.output is None else json.dumps(answer(request.output))
        prompt_words = sum(len(m.text.split()) for m in request.messages)
        return Response(
            text, usage=Usage(prompt_words, len(text.split())), finish_reason="stop", model="fake"
        )

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        response = self.send(request, settings)
        words = response.text.split(" ")
        for i, word in enumerate(words):
            yield word if i == len(words) - 1 else word + " "
        yield response

    def batch_submit(self, requests: Sequence[tuple[str, Request]], settings: Settings) -> str:
        job = f"fakebatch_{uuid.uuid4().hex}"
        answers = {key: _dump(self.send(request, settings)) for key, request in requests}
        _job_file(job).write_text(json.dumps(answers))
        return job

    def batch_state(self, job: str, settings: Settings) -> BatchState:
        count = len(_load(job))
        return BatchState("ended", True, count, count, 0)

    def batch_results(self, job: str, settings: Settings) -> Iterator[BatchItem]:
        for key, answer in _load(job).items():
            usage = Usage(answer["input_tokens"], answer["output_tokens"])
            yield key, Response(answer["text"], usage=usage, finish_reason="stop", model="fake")


def _job_file(job: str) -> Any:
    return cache_dir("fake-batches") / f"{job}.json"


def _dump(response: Response) -> dict[str, Any]:
    usage = response.usage
    return {"text": response.text, "input_tokens": usage.input_tokens, "output_tokens": usage.output_tokens}


def _load(job: str) -> dict[str, Any]:
    try:
        return json.loads(_job_file(job).read_text())
    except FileNotFoundError:
        raise ProviderError(
            f"no fake batch job {job!r} in {_job_file(job).parent}", provider="fake"
        ) from None


ADAPTER = FakeAdapter()

"""The offline ``fake`` model: deterministic, schema-valid answers with no network.

Text answers are a fixed sentence; structured answers are built from the JSON schema sent, so any
output type gets a value that validates. It calls no tools. Use it in demos, docs and tests of
code around Alloy; use ``alloy.testing.ScriptedModel`` to script exact replies.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, cast

from .._errors import ProviderError
from .._messages import Request, Response, Usage
from .._paths import cache_dir
from . import Adapter, BatchItem, BatchState, Capabilities, StreamItem

if TYPE_CHECKING:
    from .._settings import Settings

SENTENCE = "This is a fake answer from Alloy's offline model."
_MAX_DEPTH = 4
_FORMATS = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "12:00:00",
    "duration": "P1D",
    "uuid": "12345678-1234-5678-1234-567812345678",
    "email": "user@example.com",
    "uri": "https://example.com",
    "ipv4": "127.0.0.1",
    "ipv6": "::1",
    "hostname": "example.com",
}


def example_value(schema: dict[str, Any], defs: dict[str, Any] | None = None, depth: int = 0) -> Any:
    """A value that follows *schema*, the same every time (recursion stops after a few levels)."""
    defs = cast("dict[str, Any]", schema.get("$defs") or defs or {})
    if "$ref" in schema:
        target = defs.get(str(schema["$ref"]).rsplit("/", 1)[-1], {})
        return example_value(target, defs, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf"):
        if key in schema:
            branches: list[dict[str, Any]] = schema[key]
            non_null = [b for b in branches if b.get("type") != "null"]
            if depth >= _MAX_DEPTH and len(non_null) < len(branches):
                return None
            return example_value((non_null or branches)[0], defs, depth)
    if "allOf" in schema:
        merged: dict[str, Any] = {}
        for part in schema["allOf"]:
            merged.update(part)
        return example_value(merged, defs, depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds: list[str] = [k for k in kind if k != "null"] or ["null"]  # pyright: ignore[reportUnknownVariableType]
        kind = kinds[0]
    if kind == "object" or "properties" in schema:
        props: dict[str, Any] = schema.get("properties", {})
        value = {name: example_value(sub, defs, depth + 1) for name, sub in props.items()}
        extra = schema.get("additionalProperties")
        if not props and isinstance(extra, dict) and depth < _MAX_DEPTH:
            value["example"] = example_value(extra, defs, depth + 1)  # pyright: ignore[reportUnknownArgumentType]
        return value
    if kind == "array":
        if "prefixItems" in schema:
            return [example_value(s, defs, depth + 1) for s in schema["prefixItems"]]
        count = max(int(schema.get("minItems", 1 if depth < _MAX_DEPTH else 0)), 0)
        item = schema.get("items", {})
        return [example_value(item, defs, depth + 1) for _ in range(count)]
    if kind == "string":
        if fmt := _FORMATS.get(str(schema.get("format"))):
            return fmt
        text = "example"
        text = text.ljust(int(schema.get("minLength", 0)), "x")
        return text[: int(schema.get("maxLength", len(text)))]
    if kind in ("integer", "number"):
        return _number(schema, integer=kind == "integer")
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


def _number(schema: dict[str, Any], *, integer: bool) -> int | float:
    low = schema.get("minimum", schema.get("exclusiveMinimum"))
    high = schema.get("maximum", schema.get("exclusiveMaximum"))
    value: float = 1
    if low is not None:
        value = max(value, low + (1 if "exclusiveMinimum" in schema else 0))
    if high is not None:
        value = min(value, high - (1 if "exclusiveMaximum" in schema else 0))
    if step := schema.get("multipleOf"):
        value = math.ceil(value / step) * step
    return int(value) if integer else float(value)


class FakeAdapter(Adapter):
    """``model="fake"``: answers every request at once, offline.

    Batch jobs too: a job is answered when it is submitted and kept in a file of the cache
    directory (``alloy/fake-batches``), so that another process can collect it.
    """

    provider: ClassVar[str] = "fake"

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        return Capabilities(output_mode="native", schema_dialect="plain", native_tools=True)

    def send(self, request: Request, settings: Settings) -> Response:
        text = SENTENCE if request.output is None else json.dumps(example_value(request.output.schema))
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

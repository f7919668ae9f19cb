"""stream_partial and stream_items on the scripted model: values as the JSON arrives (SPEC 11)."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
import json
from typing import Any, NamedTuple, NotRequired

import pydantic
import pytest
from typing_extensions import TypedDict

from alloy import CommandError, ConfigurationError, _partial, ask, command, ensure, override, tool
from alloy._messages import ToolCallDelta
from alloy._plan import OUTPUT_TOOL
from alloy.testing import ScriptedModel, ToolCall


class Line(pydantic.BaseModel):
    name: str
    qty: int


@dataclasses.dataclass
class Invoice:
    number: str
    lines: list[Line]
    note: str = "none"


class Address(TypedDict):
    city: str
    zip: NotRequired[str]


class Point(NamedTuple):
    x: int
    y: int


class Person(pydantic.BaseModel):
    name: str
    address: Address
    home: Point
    tags: list[str] = []


INVOICE = {
    "number": "INV-42",
    "lines": [{"name": "apple pie", "qty": 2}, {"name": "tea", "qty": 1}],
    "note": "paid in full",
}


def _streamed(output: Any, replies: list[Any], **kw: Any) -> tuple[list[Any], Any]:
    """The values stream_partial yields, and what the plain call returns for the same replies."""
    with override(model=ScriptedModel(list(replies), **kw)):
        values = list(ask.stream_partial("p", output=output))
    with override(model=ScriptedModel(list(replies), **kw)):
        expected = ask("p", output=output)
    return values, expected


def test_values_grow_and_the_last_is_the_validated_output() -> None:
    values, expected = _streamed(Invoice, [json.dumps(INVOICE)])
    assert values[-1] == expected and isinstance(values[-1], Invoice)
    assert len(values) >= 6
    assert all(a != b for a, b in itertools.pairwise(values))  # only when it differs
    assert values[0] == Invoice(None, None)  # type: ignore[arg-type]  # nothing received: None, or the default
    # what has arrived stays: each value's fields are a prefix of the final ones
    for v in values:
        assert v.number is None or "INV-42".startswith(v.number)
        assert v.lines is None or len(v.lines) <= 2
        assert v.note in ("none", *("paid in full"[:i] for i in range(13)))
    assert (
        Invoice("INV-42", [Line.model_construct(name="apple ", qty=None)]) in values
    )  # a string as far as it came


def test_partial_values_of_models_typeddicts_namedtuples_nested() -> None:
    person = {"name": "Ada", "address": {"city": "London", "zip": "N1"}, "home": [3, 4], "tags": ["a", "b"]}
    values, expected = _streamed(Person, [json.dumps(person)])
    assert values[-1] == expected
    assert Person.model_construct(name="Ada", address=None, home=None, tags=[]) in values
    partial_address = [v.address for v in values if v.address is not None]
    assert {"city": "London", "zip": None} in partial_address  # a TypedDict with a field still missing
    assert Point(3, None) in [v.home for v in values]  # type: ignore[arg-type]


def test_text_output_yields_the_text_so_far() -> None:
    values, expected = _streamed(str, ["one two three"])
    assert values == ["one ", "one two ", "one two three"] and values[-1] == expected


def test_a_list_is_the_items_so_far() -> None:
    values, expected = _streamed(list[Line], [json.dumps({"value": INVOICE["lines"]})])
    assert values[-1] == expected
    lengths = [len(v) for v in values]
    assert lengths == sorted(lengths) and lengths[-1] == 2
    assert [Line(name="apple pie", qty=2), Line.model_construct(name="tea", qty=None)] in values


def test_forced_tool_output_streams_from_the_argument_deltas() -> None:
    call = ToolCall(OUTPUT_TOOL, INVOICE)
    values, expected = _streamed(Invoice, [call], output_mode="tool")
    assert (
        values[-1]
        == expected
        == Invoice("INV-42", [Line(name="apple pie", qty=2), Line(name="tea", qty=1)], "paid in full")
    )
    assert len(values) >= 5


def test_tools_run_then_the_answer_streams() -> None:
    @tool
    def lookup(sku: str) -> int:
        """Price of a SKU."""
        return 7

    replies = [ToolCall("lookup", {"sku": "A1"}), '{"name": "A1 costs", "qty": 7}']
    with override(model=ScriptedModel(replies)):
        values = list(ask.stream_partial("p", output=Line, tools=[lookup]))
    assert values[-1] == Line(name="A1 costs", qty=7)
    assert Line.model_construct(name="A1 ", qty=None) in values


def test_reask_goes_on_with_values_from_the_new_attempt() -> None:
    model = ScriptedModel(['{"name": "bad", "qty": "many"}', '{"name": "good", "qty": 3}'])
    with override(model=model):
        values = list(ask.stream_partial("p", output=Line))
    assert values[-1] == Line(name="good", qty=3)
    assert Line.model_construct(name="bad", qty=None) in values  # the first attempt, before the re-ask
    assert len(model.requests) == 2


def test_stream_items_yields_each_element_once_as_it_completes() -> None:
    @command(output=list[Line])
    def lines() -> str:
        return "p"

    reply = json.dumps({"value": [{"name": f"n{i}", "qty": i} for i in range(5)]})
    model = ScriptedModel([reply])
    seen: list[Line] = []
    with override(model=model):
        for line in lines.stream_items():
            seen.append(line)
    assert seen == [Line(name=f"n{i}", qty=i) for i in range(5)]


def test_stream_items_validate_as_the_final_answer_does() -> None:
    """Each element is validated as JSON, like the whole answer: an ISO string is a datetime in
    ``datetime | str`` (SPEC §17 "Output types"), not the str that Python-mode validation keeps."""

    @command(output=list[dt.datetime | str])
    def moments() -> str:
        return "p"

    reply = json.dumps({"value": ["2025-01-31T12:00:00Z", "tomorrow"]})
    with override(model=ScriptedModel([reply, reply])):
        streamed = list(moments.stream_items())
        final = moments()
    assert streamed == final == [dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC), "tomorrow"]


class Event(pydantic.BaseModel):
    name: str
    when: dt.datetime | str


def test_stream_partial_previews_validate_as_json_too() -> None:
    """A finished field is in a preview what it is in the answer: the datetime, not its string."""

    @command(output=Event)
    def event() -> str:
        return "p"

    reply = json.dumps({"when": "2025-01-31T12:00:00Z", "name": "the launch of the new rocket"})
    with override(model=ScriptedModel([reply])):
        previews = list(event.stream_partial())
    when = dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC)
    while_the_name_streams = [p for p in previews if p.name and p.name != "the launch of the new rocket"]
    assert while_the_name_streams and all(p.when == when for p in while_the_name_streams)


def test_stream_items_yields_an_element_before_the_rest_is_written() -> None:
    pieces = ['{"value": [{"name": "a", "qty": 1}', ', {"name": "b",', ' "qty": 2}]}']
    plan = ask.explain("p", output=list[Line], model=ScriptedModel([]))
    decoder = _partial.Decoder(plan)
    got: list[list[Any]] = []
    for piece in pieces:
        decoder.feed(piece)
        got.append([v for _, v in decoder.elements()])
    assert got == [[], [Line(name="a", qty=1)], [Line(name="b", qty=2)]]


def test_stream_items_never_repeats_an_element_across_a_reask() -> None:
    @ensure(lambda out: len(out) == 3, "three lines")
    @command(output=list[Line])
    def lines() -> str:
        return "p"

    first = json.dumps({"value": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}]})
    second = json.dumps(
        {"value": [{"name": "a", "qty": 1}, {"name": "b", "qty": 2}, {"name": "c", "qty": 3}]}
    )
    with override(model=ScriptedModel([first, second])):
        seen = list(lines.stream_items())
    assert [x.name for x in seen] == ["a", "b", "c"]


def test_stream_items_ends_with_command_error_on_a_bad_element() -> None:
    @command(output=list[Line])
    def lines() -> str:
        return "p"

    reply = json.dumps(
        {"value": [{"name": "a", "qty": 1}, {"name": "b", "qty": "lots"}, {"name": "c", "qty": 3}]}
    )
    seen: list[Line] = []
    with override(model=ScriptedModel([reply])), pytest.raises(CommandError, match="element 1") as info:
        seen.extend(lines.stream_items())
    assert seen == [Line(name="a", qty=1)]
    assert "qty" in str(info.value) and info.value.raw is not None and "lots" in info.value.raw
    assert info.value.usage.requests == 0 and info.value.attempts == 1


def test_stream_items_needs_a_list_output() -> None:
    @command(output=Line)
    def one() -> str:
        return "p"

    model = ScriptedModel(['{"name": "a", "qty": 1}'])
    with override(model=model), pytest.raises(ConfigurationError, match=r"list\[T\]"):
        one.stream_items()  # type: ignore[misc]  # not a list output
    assert model.requests == []


def test_async_forms() -> None:
    @command(output=list[Line])
    async def lines() -> str:
        return "p"

    reply = json.dumps({"value": INVOICE["lines"]})

    async def run() -> tuple[list[Any], list[Line], list[Any]]:
        with override(model=ScriptedModel([reply, reply, reply])):
            partial = [v async for v in lines.stream_partial()]
            items = [v async for v in lines.stream_items()]
            asked = [
                v
                async for v in ask.stream_partial_async(
                    "p", output=Line, model=ScriptedModel(['{"name": "x", "qty": 1}'])
                )
            ]
        return partial, items, asked

    partial, items, asked = asyncio.run(run())
    assert partial[-1] == [Line(name="apple pie", qty=2), Line(name="tea", qty=1)] == items
    assert asked[-1] == Line(name="x", qty=1)


def test_react_final_answer_streams() -> None:
    @tool
    def lookup(sku: str) -> int:
        """Price of a SKU."""
        return 7

    step = json.dumps({"thought": "done", "action": "final_answer", "action_input": {"name": "A1", "qty": 7}})
    with override(model=ScriptedModel([step], native_tools=False)):
        values = list(ask.stream_partial("p", output=Line, tools=[lookup]))
    assert values[-1] == Line(name="A1", qty=7)


def test_other_tool_argument_deltas_are_not_the_answer() -> None:
    plan = ask.explain("p", output=Line, model=ScriptedModel([]))
    decoder = _partial.Decoder(plan)
    assert decoder.feed(ToolCallDelta(0, "lookup", '{"name": "no"}')) is False
    assert decoder.value() is _partial.NOTHING


def _parsed_bytes(monkeypatch: pytest.MonkeyPatch, output: Any, text: str, size: int = 4) -> int:
    """Bytes the decoder hands to pydantic while *text* arrives in pieces of *size*."""
    total = 0
    real = _partial.pydantic_core.from_json

    def counting(data: bytes, **kw: Any) -> Any:
        nonlocal total
        total += len(data)
        return real(data, **kw)

    monkeypatch.setattr(_partial.pydantic_core, "from_json", counting)
    decoder = _partial.Decoder(ask.explain("p", output=output, model=ScriptedModel([])))
    for i in range(0, len(text), size):
        decoder.feed(text[i : i + size])
        decoder.value()
    return total


@pytest.mark.parametrize("output", [list[Line], Invoice], ids=["list", "object"])
def test_decoding_cost_grows_linearly(monkeypatch: pytest.MonkeyPatch, output: Any) -> None:
    """Parsing everything received on every delta would be quadratic; the decoder parses a bounded
    multiple of the answer's length, the same multiple for 100 and 2,000 elements."""

    def text(n: int) -> str:
        lines = [{"name": f"item number {i}", "qty": i} for i in range(n)]
        return json.dumps({"value": lines} if output != Invoice else {"number": "1", "lines": lines})

    small, large = text(100), text(2000)
    per_byte_small = _parsed_bytes(monkeypatch, output, small) / len(small)
    per_byte_large = _parsed_bytes(monkeypatch, output, large) / len(large)
    assert per_byte_large <= _partial._FREE / 4 + _partial._CREDIT + 2  # pyright: ignore[reportPrivateUsage]
    assert per_byte_large <= max(per_byte_small, 1) * 3

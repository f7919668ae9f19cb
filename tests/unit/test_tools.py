"""Tools, contracts, the tool loop and ReAct, through the public API on the scripted model."""

from __future__ import annotations

import asyncio
import datetime as dt
import enum
import time
import uuid
from dataclasses import dataclass
from datetime import date
from typing import (
    Literal,
    NotRequired,  # pydantic needs this TypedDict on Python < 3.12
)

import pydantic
import pytest
from typing_extensions import TypedDict

from alloy import ToolError, ToolLoopLimitExceeded, ask, command, ensure, override, require, tool
from alloy.providers import Capabilities
from alloy.testing import ScriptedModel, ToolCall

from .conftest import Driver


@dataclass
class Order:
    sku: str
    quantity: int
    total: float


# --- the end-to-end scenario of issue 3 -----------------------------------------------------------

ran: list[str] = []


@tool
@require(lambda sku: sku.startswith("SKU-"), "sku must start with SKU-")
def price(sku: str) -> float:
    """Price of one unit.

    Args:
        sku: the stock-keeping unit, like SKU-1.
    """
    ran.append(sku)
    if sku == "SKU-0":
        raise ValueError("bad sku")
    return 2.5


@tool
async def stock(sku: str) -> int:
    """Units in stock."""
    await asyncio.sleep(0)
    return 7


@command(output=Order, tools=[price, stock])
def order(text: str) -> str:
    return f"Make an order from: {text}"


def test_two_tools_require_async_tool_error_recovery_then_a_dataclass(driver: Driver) -> None:
    """One command: a @require failure, a tool error, an async tool, then a validated dataclass."""
    ran.clear()
    model = ScriptedModel(
        [
            ToolCall("price", {"sku": "1"}, id="a"),  # fails @require: the tool never runs
            ToolCall("price", {"sku": "SKU-0"}, id="b"),  # the tool raises ValueError("bad sku")
            [ToolCall("price", {"sku": "SKU-1"}, id="c"), ToolCall("stock", {"sku": "SKU-1"}, id="d")],
            '{"sku": "SKU-1", "quantity": 2, "total": 5.0}',
        ]
    )
    with override(model=model):
        result = driver(order, "two of SKU-1")
    assert result == Order("SKU-1", 2, 5.0)
    assert ran == ["SKU-0", "SKU-1"]
    first_error = model.requests[1].messages[-1]
    assert first_error.is_error and "sku must start with SKU-" in first_error.content
    assert "bad sku" in model.requests[2].messages[-1].content
    results = model.requests[3].messages[-2:]
    assert [(m.tool_call_id, m.content) for m in results] == [("c", "2.5"), ("d", "7")]


def test_parallel_tool_calls_run_concurrently(driver: Driver) -> None:
    """Two tool calls of one turn that each sleep 0.2 s finish in well under 0.4 s."""

    @tool
    def slow(n: int) -> int:
        time.sleep(0.2)
        return n

    @tool
    async def aslow(n: int) -> int:
        await asyncio.sleep(0.2)
        return n

    model = ScriptedModel([[ToolCall("slow", {"n": 1}), ToolCall("aslow", {"n": 2})], '{"value": 3}'])

    @command(output=int, tools=[slow, aslow], model=model)
    def go() -> str:
        return "go"

    start = time.perf_counter()
    assert driver(go) == 3
    assert time.perf_counter() - start < 0.35


def test_parallel_tools_max_bounds_concurrency() -> None:
    """parallel_tools_max=1 runs the calls of a turn one at a time."""

    @tool
    def slow(n: int) -> int:
        time.sleep(0.1)
        return n

    model = ScriptedModel([[ToolCall("slow", {"n": 1}), ToolCall("slow", {"n": 2})], '{"value": 3}'])

    @command(output=int, tools=[slow], model=model, parallel_tools_max=1)
    def go() -> str:
        return "go"

    start = time.perf_counter()
    assert go() == 3
    assert time.perf_counter() - start >= 0.2


def test_bad_arguments_go_back_to_the_model() -> None:
    """Arguments that do not fit the signature are answered with the validation error; the tool does not run."""
    ran.clear()
    model = ScriptedModel(
        [ToolCall("price", {"sku": 5, "extra": 1}), '{"sku": "x", "quantity": 1, "total": 1}']
    )
    with override(model=model):
        order("x")
    text = model.requests[1].messages[-1].content
    assert "Invalid arguments for tool 'price'" in text and "extra" in text
    assert ran == []


def test_made_up_tool_name_goes_back_to_the_model() -> None:
    """A tool name the model made up is answered with the available names."""
    model = ScriptedModel([ToolCall("refund", {}), '{"sku": "x", "quantity": 1, "total": 1}'])
    with override(model=model):
        order("x")
    text = model.requests[1].messages[-1].content
    assert "no tool named 'refund'" in text and "price, stock" in text


def test_ensure_on_tool_failure_goes_back() -> None:
    """A failed @ensure on a tool is the call's result, the call goes on."""

    @tool
    @ensure(lambda r: r >= 0, "result must be non-negative")
    def delta(n: int) -> int:
        return n - 10

    model = ScriptedModel([ToolCall("delta", {"n": 1}), '{"value": 0}'])

    @command(output=int, tools=[delta], model=model)
    def go() -> str:
        return "go"

    assert go() == 0
    assert "result must be non-negative" in model.requests[1].messages[-1].content


def test_require_with_dict_predicate_gets_all_arguments_with_defaults() -> None:
    """A predicate whose parameter is not a tool parameter receives a dict of bound arguments."""
    seen: list[dict[str, object]] = []

    @require(lambda args: seen.append(args) or args["limit"] > 0, "limit must be positive")
    @tool
    def search(query: str, limit: int = 5) -> list[str]:
        return [query] * limit

    model = ScriptedModel([ToolCall("search", {"query": "q"}), '{"value": 1}'])

    @command(output=int, tools=[search], model=model)
    def go() -> str:
        return "go"

    go()
    assert seen == [{"query": "q", "limit": 5}]


def test_tool_results_are_serialized_with_pydantic() -> None:
    """Dataclasses, dates and sets in tool results reach the model as JSON."""

    @dataclass
    class Info:
        when: date
        tags: set[str]

    @tool
    def info() -> Info:
        return Info(date(2024, 5, 1), {"a"})

    model = ScriptedModel([ToolCall("info", {}), '{"value": 1}'])

    @command(output=int, tools=[info], model=model)
    def go() -> str:
        return "go"

    go()
    assert model.requests[1].messages[-1].content == '{"when":"2024-05-01","tags":["a"]}'


def test_loop_limit_raises_with_its_fields() -> None:
    """Tools asked for past max_tool_turns raise ToolLoopLimitExceeded after max+1 requests."""
    model = ScriptedModel([ToolCall("stock", {"sku": "a"})] * 5)
    with override(model=model, max_tool_turns=2), pytest.raises(ToolLoopLimitExceeded) as info:
        order("x")
    assert len(model.requests) == 3
    assert (info.value.max_turns, info.value.turns_taken) == (2, 2)


def test_command_as_a_tool() -> None:
    """A Command in tools=[...] becomes a tool with the function's parameters."""

    @command(output=int, model=ScriptedModel(['{"value": 4}']))
    def count_words(text: str) -> str:
        """Count the words of a text."""
        return f"Count the words: {text}"

    outer = ScriptedModel([ToolCall("count_words", {"text": "a b c d"}), '{"value": 4}'])

    @command(output=int, tools=[count_words], model=outer)
    def go() -> str:
        return "go"

    assert go() == 4
    spec = outer.requests[0].tools[0]
    assert spec.name == "count_words" and spec.parameters["required"] == ["text"]
    assert spec.description == "Count the words of a text."
    assert outer.requests[1].messages[-1].content == "4"


def test_tool_still_calls_like_the_function() -> None:
    """A @tool object calls like the function it wraps."""
    assert price("SKU-2") == 2.5
    assert asyncio.run(stock("x")) == 7


def test_tool_error_message_names_the_tool() -> None:
    """bind() raises ToolError naming the tool for a failed @require."""
    with pytest.raises(ToolError, match="price"):
        price.bind({"sku": "nope"})


# --- ReAct ----------------------------------------------------------------------------------------


@tool
def lookup_customer(name: str) -> dict[str, str]:
    """Find a customer id by name."""
    return {"id": "C-7"}


@tool
def orders_of(customer_id: str) -> int:
    """Count a customer's orders."""
    return 3 if customer_id == "C-7" else 0


@dataclass
class Summary:
    customer_id: str
    orders: int


def test_react_two_tool_chain_end_to_end(driver: Driver) -> None:
    """tool_mode="react": a two-tool chain, observations fed back, a validated final answer."""
    model = ScriptedModel(
        [
            '{"thought": "find the id", "action": "lookup_customer", "action_input": {"name": "Ada"}}',
            '```json\n{"thought": "count", "action": "orders_of", "action_input": {"customer_id": "C-7"}}\n```',
            '{"thought": "done", "action": "final_answer", "action_input": {"customer_id": "C-7", "orders": 3}}',
        ]
    )

    @command(output=Summary, tools=[lookup_customer, orders_of], model=model, tool_mode="react")
    def summarize(name: str) -> str:
        return f"Summarize the orders of {name}"

    assert driver(summarize, "Ada") == Summary("C-7", 3)
    first = model.requests[0]
    assert first.tools == ()
    assert first.system is not None and "lookup_customer" in first.system and "final_answer" in first.system
    assert first.output is not None
    assert set(first.output.schema["properties"]) == {"thought", "action", "action_input"}
    assert first.output.schema["properties"]["action"]["enum"] == [
        "lookup_customer",
        "orders_of",
        "final_answer",
    ]
    assert model.requests[1].messages[-1].content == 'Observation: {"id":"C-7"}'
    assert model.requests[2].messages[-1].content == "Observation: 3"


def test_auto_tool_mode_uses_react_for_a_model_without_native_tools() -> None:
    """tool_mode="auto" picks ReAct when the model has no native tool calling."""
    model = ScriptedModel(
        ['{"thought": "x", "action": "final_answer", "action_input": {"customer_id": "C", "orders": 0}}'],
        native_tools=False,
    )

    @command(output=Summary, tools=[lookup_customer], model=model)
    def summarize() -> str:
        return "s"

    assert summarize.explain().tool_mode == "react"
    assert summarize() == Summary("C", 0)


def test_react_tool_error_becomes_an_observation() -> None:
    """In ReAct a tool error is the observation, and the loop goes on."""
    model = ScriptedModel(
        [
            '{"thought": "t", "action": "price", "action_input": {"sku": "SKU-0"}}',
            '{"thought": "t", "action": "final_answer", "action_input": 1}',
        ]
    )

    @command(output=int, tools=[price], model=model, tool_mode="react")
    def go() -> str:
        return "go"

    assert go() == 1
    assert model.requests[1].messages[-1].content.startswith("Observation: Error:")
    assert "bad sku" in model.requests[1].messages[-1].content


# --- schemas of tool signatures -------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(TypedDict):
    city: str
    zip: NotRequired[str]


class Filters(pydantic.BaseModel):
    min_price: float = 0
    tags: list[str] = []


def sig_primitives(name: str, count: int, ratio: float, active: bool) -> None: ...
def sig_defaults(query: str, limit: int = 10, exact: bool = False) -> None: ...
def sig_optional(note: str | None = None) -> None: ...
def sig_union(key: int | str) -> None: ...
def sig_literal(mode: Literal["fast", "slow"]) -> None: ...
def sig_enum(color: Color) -> None: ...
def sig_collections(ids: list[int], scores: dict[str, float]) -> None: ...
def sig_dataclass(order: Order) -> None: ...
def sig_typeddict(address: Address) -> None: ...
def sig_model(filters: Filters) -> None: ...
def sig_date(day: date) -> None: ...


def sig_docstring(sku: str, qty: int = 1) -> None:
    """Reserve stock.

    Args:
        sku: the stock-keeping unit.
        qty: how many units.
    """


def sig_numpy_doc(sku: str) -> None:
    """Reserve stock.

    Parameters
    ----------
    sku : str
        the stock-keeping unit.
    """


def sig_sphinx_doc(sku: str) -> None:
    """Reserve stock.

    :param sku: the stock-keeping unit.
    """


def _props(fn: object) -> dict[str, object]:
    return tool(fn).spec.parameters  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]


def test_schema_primitives_are_typed_and_required() -> None:
    """Each primitive gets its JSON type; parameters without defaults are required."""
    s = _props(sig_primitives)
    assert {k: v["type"] for k, v in s["properties"].items()} == {  # type: ignore[union-attr]
        "name": "string",
        "count": "integer",
        "ratio": "number",
        "active": "boolean",
    }
    assert s["required"] == ["name", "count", "ratio", "active"]
    assert s["additionalProperties"] is False


def test_schema_defaults_are_optional_and_included() -> None:
    """Parameters with defaults are not required and carry their default."""
    s = _props(sig_defaults)
    assert s["required"] == ["query"]
    assert s["properties"]["limit"]["default"] == 10  # type: ignore[index]
    assert s["properties"]["exact"]["default"] is False  # type: ignore[index]


@pytest.mark.parametrize(
    ("fn", "param", "expected"),
    [
        (
            sig_optional,
            "note",
            {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Note"},
        ),
        (sig_union, "key", {"anyOf": [{"type": "integer"}, {"type": "string"}], "title": "Key"}),
        (sig_literal, "mode", {"enum": ["fast", "slow"], "title": "Mode", "type": "string"}),
        (sig_date, "day", {"format": "date", "title": "Day", "type": "string"}),
        (
            sig_collections,
            "scores",
            {"additionalProperties": {"type": "number"}, "title": "Scores", "type": "object"},
        ),
        (sig_collections, "ids", {"items": {"type": "integer"}, "title": "Ids", "type": "array"}),
    ],
)
def test_schema_of_typed_parameters(fn: object, param: str, expected: dict[str, object]) -> None:
    """Optional, Union, Literal, date, dict and list parameters get exact schemas, never a placeholder."""
    assert _props(fn)["properties"][param] == expected  # type: ignore[index]


@pytest.mark.parametrize(
    ("fn", "param", "fields"),
    [
        (sig_enum, "color", None),
        (sig_dataclass, "order", {"sku", "quantity", "total"}),
        (sig_typeddict, "address", {"city", "zip"}),
        (sig_model, "filters", {"min_price", "tags"}),
    ],
)
def test_schema_of_nested_objects_uses_defs(fn: object, param: str, fields: set[str] | None) -> None:
    """Enums, dataclasses, TypedDicts and models become $defs with their own fields."""
    s = _props(fn)
    ref = s["properties"][param]["$ref"]  # type: ignore[index]
    target = s["$defs"][ref.rsplit("/", 1)[-1]]  # type: ignore[index]
    if fields is None:
        assert target["enum"] == ["red", "blue"]
    else:
        assert set(target["properties"]) == fields
    if param == "address":
        assert target["required"] == ["city"]


@pytest.mark.parametrize("fn", [sig_docstring, sig_numpy_doc, sig_sphinx_doc])
def test_descriptions_come_from_the_docstring(fn: object) -> None:
    """Google, NumPy and Sphinx docstrings give the tool and parameter descriptions."""
    spec = tool(fn).spec  # type: ignore[arg-type]  # pyright: ignore[reportArgumentType]
    assert spec.description == "Reserve stock."
    assert spec.parameters["properties"]["sku"]["description"] == "the stock-keeping unit."


def test_tool_name_and_description_overrides() -> None:
    """@tool(name=..., description=...) replaces what the function says."""

    @tool(name="reserve", description="Hold units for an order.")
    def f(sku: str) -> None: ...

    assert (f.spec.name, f.spec.description) == ("reserve", "Hold units for an order.")


class _StrictModel(ScriptedModel):
    """A model whose provider takes strict tool schemas in the OpenAI dialect."""

    def capabilities(self, model: str, settings: object) -> Capabilities:  # type: ignore[override]
        return Capabilities(output_mode="native_strict", schema_dialect="openai_strict", strict_tools=True)


def test_strict_tool_schemas_are_sent_and_arguments_decoded() -> None:
    """With strict tools, the spec is compiled strict and the encoded arguments decode back for the tool."""
    seen: list[tuple[str, int, dict[str, str] | None]] = []

    @tool
    def search(query: str, limit: int = 5, tags: dict[str, str] | None = None) -> int:
        """Search."""
        seen.append((query, limit, tags))
        return 0

    model = _StrictModel(
        [
            ToolCall("search", {"query": "q", "limit": None, "tags": [{"key": "a", "value": "b"}]}),
            '{"value": 0}',
        ]
    )
    assert ask("x", output=int, tools=[search], model=model) == 0
    spec = model.requests[0].tools[0]
    assert spec.strict and spec.parameters["required"] == ["query", "limit", "tags"]
    assert spec.parameters["additionalProperties"] is False
    assert seen == [("q", 5, {"a": "b"})]


def test_tool_arguments_validate_as_json_like_answers() -> None:
    """Arguments arrive as JSON and are validated as JSON, as answers are (SPEC §17 "Output types"):
    an ISO string for ``datetime | str`` is the datetime, a UUID string for ``UUID | str`` the UUID."""
    seen: list[object] = []

    @tool
    def schedule(when: dt.datetime | str, ticket: uuid.UUID | str) -> str:
        """Schedule a ticket."""
        seen.extend([when, ticket])
        return "ok"

    ticket = "123e4567-e89b-42d3-a456-426614174000"
    model = ScriptedModel([ToolCall("schedule", {"when": "2025-01-31T12:00:00Z", "ticket": ticket}), "done"])
    with override(model=model):
        assert ask("Book it", tools=[schedule]) == "done"
    assert seen == [dt.datetime(2025, 1, 31, 12, tzinfo=dt.UTC), uuid.UUID(ticket)]

"""``typing.TypedDict`` works as an output type and a tool parameter on every supported Python
(pydantic alone refuses it before 3.12)."""

from __future__ import annotations

from typing import NotRequired, TypedDict

from alloy import ask, tool
from alloy.testing import ScriptedModel


class Line(TypedDict):
    """One invoice line."""

    sku: str
    qty: int


class Invoice(TypedDict, total=False):
    number: str
    lines: list[Line]


class Point(TypedDict):
    x: int
    label: NotRequired[str]


def test_typing_typeddict_output_validates_and_keeps_required_keys() -> None:
    model = ScriptedModel(['{"x": 1}'])
    assert ask("p", output=Point, model=model) == {"x": 1}
    schema = model.requests[0].output_schema
    assert schema is not None and schema.get("required") == ["x"]


def test_nested_typing_typeddicts_in_generics_and_unions() -> None:
    answer = '{"number": "7", "lines": [{"sku": "a", "qty": "2"}]}'
    assert ask("p", output=Invoice, model=ScriptedModel([answer])) == {
        "number": "7",
        "lines": [{"sku": "a", "qty": 2}],
    }
    got = ask("p", output=list[Line] | None, model=ScriptedModel(['{"value": [{"sku": "b", "qty": 1}]}']))
    assert got == [{"sku": "b", "qty": 1}]


def test_typing_typeddict_docstring_travels_into_the_schema() -> None:
    model = ScriptedModel(['{"sku": "a", "qty": 1}'])
    ask("p", output=Line, model=model)
    schema = model.requests[0].output_schema
    assert schema is not None and schema.get("description") == "One invoice line."


def test_typing_typeddict_as_a_tool_parameter() -> None:
    seen: list[Line] = []

    @tool
    def add(line: Line) -> str:
        """Add a line."""
        seen.append(line)
        return "ok"

    from alloy.testing import ToolCall

    model = ScriptedModel([ToolCall("add", {"line": {"sku": "z", "qty": "3"}}), "done"])
    assert ask("p", tools=[add], model=model) == "done"
    assert seen == [{"sku": "z", "qty": 3}]

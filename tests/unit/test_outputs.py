"""Output types: schema, wrapping, lax validation, register_type — through ask() on the fake and scripted models."""

from __future__ import annotations

import enum
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, NotRequired, Optional, Union

import pydantic
import pytest
from typing_extensions import TypedDict

from alloy import CommandError, ConfigurationError, ask, register_type
from alloy._outputs import extract_json, output_type
from alloy.testing import ScriptedModel


class Mood(enum.Enum):
    HAPPY = "happy"
    SAD = "sad"


@dataclass
class Item:
    """A line item."""

    name: str
    qty: int = 1


class Person(TypedDict):
    name: str
    nickname: NotRequired[str]


class Point(NamedTuple):
    x: int
    y: int


class Node(pydantic.BaseModel):
    value: int
    children: list[Node] = []


class Profile(pydantic.BaseModel):
    """Someone's profile."""

    name: Annotated[str, pydantic.Field(description="Full name")]
    age: int | None = None
    scores: dict[str, int] = {}
    items: list[Item] = pydantic.Field(default_factory=list[Item])


SPEC_TYPES: list[Any] = [
    str,
    int,
    float,
    bool,
    list[int],
    dict[str, int],
    tuple[int, str],
    set[str],
    Optional[int],  # noqa: UP045 - the SPEC's spelling
    Union[int, str],  # noqa: UP007
    Literal["yes", "no"],
    Mood,
    datetime,
    date,
    Decimal,
    uuid.UUID,
    Item,
    Person,
    Profile,
    Point,
    Node,
    list[Item],
    Annotated[int, pydantic.Field(description="a count", ge=0)],
]


@pytest.mark.parametrize("tp", SPEC_TYPES, ids=repr)
def test_fake_model_answers_every_spec_type(tp: Any) -> None:
    """The fake model returns a schema-valid value of every output type the SPEC lists."""
    value = ask("x", output=tp, model="fake")
    pydantic.TypeAdapter(tp).validate_python(value, strict=False)


@pytest.mark.parametrize("tp", [t for t in SPEC_TYPES if t is not str], ids=repr)
def test_schema_root_is_an_object(tp: Any) -> None:
    """Every schema sent has an object root; non-object roots are wrapped as {"value": ...}."""
    out = output_type(tp)
    assert out.schema["type"] == "object" and out.schema["properties"]
    assert out.wrapped == ("value" in out.schema["properties"] and tp not in (Item, Person, Profile, Node))


def test_adapter_and_schema_are_cached() -> None:
    """The TypeAdapter and schema are built once per type."""
    assert output_type(list[Item]) is output_type(list[Item])


def test_descriptions_and_docstrings_travel_into_the_schema() -> None:
    """Field descriptions and class docstrings are in the schema."""
    schema = output_type(Profile).schema
    assert schema["description"] == "Someone's profile."
    assert schema["properties"]["name"]["description"] == "Full name"
    assert schema["$defs"]["Item"]["description"] == "A line item."


def test_recursive_model_root_is_the_object_with_defs() -> None:
    """A recursive model's root $ref is resolved to an object that keeps its $defs."""
    schema = output_type(Node).schema
    assert schema["type"] == "object" and "children" in schema["properties"]
    assert "Node" in schema["$defs"]


@pytest.mark.parametrize(
    ("tp", "answer", "expected"),
    [
        (float, '{"value": "12.5"}', 12.5),
        (float, "12.5", 12.5),
        (int, 'The answer is:\n```json\n{"value": 3}\n```', 3),
        (Literal["yes", "no"], "yes", "yes"),
        (Mood, '{"value": "sad"}', Mood.SAD),
        (list[int], "Sure! Here you go: [1, 2, 3]", [1, 2, 3]),
        (dict[str, int], '{"value": {"a": 1}}', {"a": 1}),
        (tuple[int, str], '{"value": [1, "a"]}', (1, "a")),
        (set[str], '{"value": ["a", "a", "b"]}', {"a", "b"}),
        (datetime, '{"value": "2024-05-01T10:00:00"}', datetime(2024, 5, 1, 10)),
        (Decimal, '{"value": "1.10"}', Decimal("1.10")),
        (Item, 'Here is the item: {"name": "pen"} — hope that helps', Item("pen")),
        (Point, '{"value": [1, 2]}', Point(1, 2)),
        (Optional[int], '{"value": null}', None),  # noqa: UP045
    ],
)
def test_lax_validation_of_answers(tp: Any, answer: str, expected: Any) -> None:
    """Answers are validated laxly: strings for numbers, fences, prose around JSON, bare values."""
    assert ask("x", output=tp, model=ScriptedModel([answer])) == expected


def test_invalid_answer_error_has_field_paths() -> None:
    """The error fed back to the model names the failing field's path."""
    model = ScriptedModel(['{"name": "x", "items": [{"name": "a", "qty": "many"}]}', '{"name": "x"}'])
    ask("x", output=Profile, model=model)
    assert "items.0.qty" in model.requests[1].messages[-1].content


def test_command_error_carries_the_raw_answer_snippet() -> None:
    """CommandError's message shows a snippet of the last answer."""
    with pytest.raises(CommandError, match="totally not json"):
        ask("x", output=Item, model=ScriptedModel(["totally not json"] * 3))


def test_extract_json_finds_the_first_json_after_prose() -> None:
    """extract_json reads the whole text, a fenced block, or the first JSON value after prose."""
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('text ```json\n{"a": 2}\n``` more') == {"a": 2}
    assert extract_json('I think {"a": 3} is right') == {"a": 3}


class Money:
    """A type pydantic does not know."""

    def __init__(self, cents: int) -> None:
        self.cents = cents

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.cents == self.cents

    def __hash__(self) -> int:
        return self.cents


def test_register_type_supplies_schema_and_parser() -> None:
    """register_type teaches Alloy a type: its schema is sent and its parser validates, nested too."""

    def parse(value: Any) -> Money:
        if not isinstance(value, str) or not value.startswith("$"):
            raise ValueError("money must look like $1.23")
        return Money(round(float(value[1:]) * 100))

    register_type(Money, json_schema={"type": "string", "pattern": r"^\$\d+\.\d{2}$"}, parse=parse)
    model = ScriptedModel(['{"value": ["12"]}', '{"value": ["$1.50"]}'])
    assert ask("x", output=list[Money], model=model) == [Money(150)]
    assert model.requests[0].output is not None
    assert model.requests[0].output.schema["properties"]["value"]["items"]["pattern"] == r"^\$\d+\.\d{2}$"
    assert "money must look like" in model.requests[1].messages[-1].content


def test_unsupported_type_names_register_type() -> None:
    """A type pydantic cannot describe is a ConfigurationError that points to register_type."""

    class Opaque:
        pass

    with pytest.raises(ConfigurationError, match="register_type"):
        ask("x", output=Opaque, model="fake")


def test_import_alloy_loads_no_provider_sdk() -> None:
    """`import alloy` imports no provider SDK (they load lazily)."""
    code = (
        "import alloy, sys; bad = [m for m in sys.modules if m.split('.')[0] in "
        "{'openai','anthropic','google','ollama','opentelemetry'}]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_import_alloy_defers_what_a_first_call_may_not_need() -> None:
    """stamina (with tenacity) loads at the first retry and docstring_parser with the first tool,
    not at `import alloy`; a plain call on the fake model then needs neither."""
    code = (
        "import alloy, sys; alloy.ask('hi', model='fake'); "
        "bad = [m for m in ('stamina', 'tenacity', 'docstring_parser') if m in sys.modules]; assert not bad, bad; "
        "alloy.tool(lambda x: x); assert 'docstring_parser' in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@dataclass
class Cat:
    name: str


@dataclass
class Dog:
    name: str


def test_union_spellings_get_their_own_schema_and_decoding() -> None:
    """Union[A, B] == Union[B, A] in Python, yet each order is its own output type (SPEC §17)."""
    first, second = Union[Cat, Dog], Union[Dog, Cat]  # noqa: UP007 (the typing spelling is the point)
    assert first == second and hash(first) == hash(second)
    answer = '{"value": {"name": "Tom"}}'
    assert type(ask("Pet?", output=first, model=ScriptedModel([answer]))) is Cat
    assert type(ask("Pet?", output=second, model=ScriptedModel([answer]))) is Dog
    for tp, order in ((first, ["Cat", "Dog"]), (second, ["Dog", "Cat"])):
        branches = output_type(tp).schema["properties"]["value"]["anyOf"]
        assert [b["$ref"].rsplit("/", 1)[1] for b in branches] == order
        sent = ask.explain("Pet?", output=tp, model="openai:gpt-5-mini", openai_api_key="sk-test").schema
        assert sent is not None
        assert [b["$ref"].rsplit("/", 1)[1] for b in sent["properties"]["value"]["anyOf"]] == order
    nested = ask("Pets?", output=list[int | float], model=ScriptedModel(['{"value": ["1"]}']))
    assert nested == [1] and type(nested[0]) is int
    nested = ask("Pets?", output=list[float | int], model=ScriptedModel(['{"value": ["1"]}']))
    assert nested == [1.0] and type(nested[0]) is float

"""The fake model is always right: every value it answers with validates against the output type."""

from __future__ import annotations

import datetime
import decimal
import enum
import ipaddress
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal, NamedTuple, NotRequired, Optional, Union

import pydantic
import pytest
from pydantic import Field
from typing_extensions import TypedDict

import alloy
from alloy import ConfigurationError, ask, command, register_type, tool
from alloy.providers import fake


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


class Level(enum.IntEnum):
    LOW = 3
    HIGH = 9


@dataclass
class Point:
    x: Annotated[int, Field(ge=10, le=20)]
    y: Annotated[float, Field(gt=0, lt=1)]


class Tree(pydantic.BaseModel):
    name: str
    children: list[Tree] = []


@dataclass
class Node:
    value: int
    next: Node | None = None


class Movie(TypedDict):
    title: Annotated[str, Field(min_length=12)]
    year: NotRequired[int]


class Pair(NamedTuple):
    left: str
    right: Annotated[int, Field(multiple_of=7, gt=50)]


class Money:
    def __init__(self, cents: int) -> None:
        self.cents = cents


def parse_money(value: Any) -> Money:
    if not isinstance(value, str) or not value.startswith("$"):
        raise ValueError("money must look like $1.23")
    return Money(round(float(value[1:]) * 100))


register_type(Money, json_schema={"type": "string", "pattern": r"^\$\d+\.\d{2}$"}, parse=parse_money)


class Sku:
    def __init__(self, code: str) -> None:
        self.code = code


register_type(
    Sku,
    json_schema={"type": "string", "pattern": r"^SKU-[0-9]{3}$"},
    parse=lambda v: (
        Sku(v) if isinstance(v, str) and v.startswith("SKU-") else (_ for _ in ()).throw(ValueError("bad"))
    ),
)


class Account(pydantic.BaseModel):
    iban: Annotated[str, Field(pattern=r"^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$")]
    owner: Annotated[str, Field(min_length=3, max_length=5)]
    balance: Annotated[decimal.Decimal, Field(max_digits=8, decimal_places=2)]
    opened: datetime.date
    tags: Annotated[set[str], Field(min_length=3)]


TYPES: list[Any] = [
    str,
    int,
    float,
    bool,
    type(None),
    list[int],
    dict[str, int],
    dict[int, str],
    dict[uuid.UUID, float],
    dict[Color, int],
    dict[Literal["a", "b"], int],
    tuple[int, str, bool],
    tuple[float, ...],
    set[int],
    frozenset[str],
    Optional[int],  # noqa: UP045 (the typing spelling is what is tested)
    Union[int, str],  # noqa: UP007
    Literal["a", "b"],
    Literal[3],
    Color,
    Level,
    datetime.datetime,
    datetime.date,
    datetime.time,
    datetime.timedelta,
    decimal.Decimal,
    uuid.UUID,
    ipaddress.IPv4Address,
    pydantic.HttpUrl,
    Annotated[int, Field(gt=5, lt=9)],
    Annotated[int, Field(ge=-10, le=-3, multiple_of=4)],
    Annotated[float, Field(gt=0, lt=1, multiple_of=0.25)],
    Annotated[float, Field(gt=100)],
    Annotated[float, Field(lt=-0.5)],
    Annotated[str, Field(min_length=20)],
    Annotated[str, Field(max_length=3)],
    Annotated[str, Field(pattern=r"^[a-z]{3}-\d{4}$")],
    Annotated[list[str], Field(min_length=4, max_length=6)],
    Annotated[set[Annotated[int, Field(ge=1, le=9)]], Field(min_length=3)],
    Annotated[set[uuid.UUID], Field(min_length=2)],
    Annotated[list[datetime.date], Field(min_length=2)],
    Point,
    Tree,
    Node,
    Movie,
    Pair,
    Money,
    list[Money],
    dict[str, Money],
    Sku,
    Account,
    list[Point | Tree],
]


@pytest.mark.parametrize("tp", TYPES, ids=repr)
def test_fake_answer_validates(tp: Any) -> None:
    """The fake's answer for each output type is a value of that type."""
    value = ask("Anything.", output=tp, model="fake")
    pydantic.TypeAdapter(tp).validate_python(value)  # and ask already validated it


def test_dict_keys_follow_their_own_schema() -> None:
    """Keys of dict[int, T], dict[UUID, T] and dict[Literal, T] are real keys, not an empty dict."""
    assert ask("x", output=dict[int, str], model="fake") == {1: "example"}
    assert list(ask("x", output=dict[Literal["a", "b"], int], model="fake")) == ["a"]
    assert len(ask("x", output=dict[uuid.UUID, float], model="fake")) == 1


def test_fake_answer_is_deterministic() -> None:
    """The same type gets the same answer every time."""
    first = ask("x", output=Account, model="fake")
    assert ask("y", output=Account, model="fake") == first


def test_fake_money_of_the_docs() -> None:
    """The registered Money type of docs/outputs.md: a pattern and a parser."""
    prices = ask("List the prices", output=list[Money], model="fake")
    assert all(isinstance(p, Money) for p in prices)


class Picky:
    pass


register_type(
    Picky, json_schema={"type": "string"}, parse=lambda v: (_ for _ in ()).throw(ValueError("never"))
)


def test_a_type_no_value_satisfies_is_a_configuration_error() -> None:
    """A registered parser that refuses what its schema allows: ConfigurationError naming the fixes."""
    with pytest.raises(ConfigurationError) as info:
        ask("x", output=Picky, model="fake")
    message = str(info.value)
    assert "register_type" in message and "ScriptedModel" in message


def test_pattern_without_hypothesis_is_a_configuration_error(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without hypothesis, a pattern the fake cannot satisfy says what to do."""
    import sys

    monkeypatch.setitem(sys.modules, "hypothesis", None)
    fake._matching.cache_clear()  # pyright: ignore[reportPrivateUsage]
    try:
        with pytest.raises(ConfigurationError, match="hypothesis"):
            ask("x", output=Annotated[str, Field(pattern=r"^q{5}$")], model="fake")
        assert ask("x", output=Annotated[str, Field(pattern=r"^ex")], model="fake") == "example"
    finally:
        fake._matching.cache_clear()  # pyright: ignore[reportPrivateUsage]


@tool
def lookup(sku: str) -> int:
    """Units in stock."""
    raise AssertionError("the fake calls no tools")


def test_fake_calls_no_tools_native_or_react() -> None:
    """SPEC §7: the fake answers at once, with tools declared, natively and through ReAct."""

    @command(output=Point, tools=[lookup], model="fake")
    def plan(text: str) -> str:
        return text

    assert plan.run("x").usage.requests == 1
    assert plan.with_options(tool_mode="react").run("x").usage.requests == 1
    assert isinstance(alloy.ask("x", output=int, tools=[lookup], model="fake", tool_mode="react"), int)

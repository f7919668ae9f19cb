"""Schema compilation: every dialect's schema round-trips values losslessly and obeys its rules."""

from __future__ import annotations

import copy
import datetime as dt
import enum
import json
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Annotated, Any, Literal, NamedTuple, NotRequired, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field, TypeAdapter, create_model
from typing_extensions import TypedDict

from alloy._outputs import output_type
from alloy._schema import compile_schema

DIALECTS = ("openai_strict", "anthropic", "gemini", "plain")

OPENAI_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "anyOf", "$ref", "$defs",
    "description", "title", "enum", "const", "pattern", "format", "minimum", "maximum",
    "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
}  # fmt: skip
OPENAI_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}


def check_openai_strict(schema: dict[str, Any]) -> None:
    """Assert OpenAI's strict rules, recursively: closed objects, all required, known keywords only."""
    assert schema.get("type") == "object", "the root must be an object"
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(s: Any, path: str) -> None:
        assert isinstance(s, dict), path
        assert set(s) <= OPENAI_KEYWORDS, f"{path}: unsupported {set(s) - OPENAI_KEYWORDS}"
        assert path == "$" or "$defs" not in s, f"{path}: $defs below the root"
        if "$ref" in s:
            assert set(s) == {"$ref"}, f"{path}: siblings next to $ref"
            assert s["$ref"].removeprefix("#/$defs/") in defs, f"{path}: unresolved {s['$ref']}"
            return
        assert {"type", "anyOf", "enum", "const"} & set(s), f"{path}: no type (Any)"
        types = s["type"] if isinstance(s.get("type"), list) else [s.get("type")]
        if "object" in types:
            assert s.get("additionalProperties") is False, f"{path}: additionalProperties"
            assert sorted(s["required"]) == sorted(s["properties"]), f"{path}: not all required"
            for k, sub in s["properties"].items():
                walk(sub, f"{path}.properties.{k}")
        if "array" in types:
            walk(s["items"], f"{path}.items")
        assert s.get("format", "date") in OPENAI_FORMATS, f"{path}: format {s['format']}"
        for i, branch in enumerate(s.get("anyOf", [])):
            walk(branch, f"{path}.anyOf[{i}]")

    walk(schema, "$")
    for name, sub in defs.items():
        walk(sub, f"$.$defs.{name}")


def conforms(value: Any, s: Any, defs: dict[str, Any]) -> bool:
    """A small validator for the structural keywords the compiled schemas use."""
    if not isinstance(s, dict) or not s:
        return True
    if "$ref" in s:
        return conforms(value, defs[s["$ref"].removeprefix("#/$defs/")], defs)
    if "anyOf" in s and not any(conforms(value, b, defs) for b in s["anyOf"]):
        return False
    if "const" in s and value != s["const"]:
        return False
    if "enum" in s and value not in s["enum"]:
        return False
    types = s.get("type", [])
    py = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "null": type(None)}
    py |= {"array": list, "object": dict}
    if types and not any(isinstance(value, py[t]) for t in ([types] if isinstance(types, str) else types)):
        return False
    if isinstance(value, dict):
        props = s.get("properties", {})
        if not set(s.get("required", [])) <= set(value):
            return False
        if s.get("additionalProperties") is False and not set(value) <= set(props):
            return False
        extra = s.get("additionalProperties")
        return all(
            conforms(v, props.get(k, extra if isinstance(extra, dict) else {}), defs)
            for k, v in value.items()
        )
    if isinstance(value, list):
        heads = s.get("prefixItems", [])
        return all(
            conforms(v, heads[i] if i < len(heads) else s.get("items", {}), defs) for i, v in enumerate(value)
        )
    return True


# --- the types -----------------------------------------------------------------------------------


class Color(enum.Enum):
    RED = "red"
    GREEN = "green"


@dataclass
class Point:
    x: int
    label: str = "origin"
    tags: list[str] = field(default_factory=list)


class Movie(TypedDict):
    title: str
    year: NotRequired[int]


class Address(BaseModel):
    city: str
    zip: str | None = None


class Person(BaseModel):
    name: str = Field(description="Full name", min_length=1)
    age: int | None = None
    nickname: str = "none"
    address: Address
    previous: Address | None = None
    scores: dict[str, int] = {}


class Pair(NamedTuple):
    left: int
    right: str = "r"


class Node(BaseModel):
    value: int
    children: list[Node] = []


texts = st.text(max_size=8)
floats = st.floats(allow_nan=False, allow_infinity=False)
nodes = st.recursive(
    st.builds(Node, value=st.integers(), children=st.just([])),
    lambda kids: st.builds(Node, value=st.integers(), children=st.lists(kids, max_size=2)),
    max_leaves=6,
)
people = st.builds(
    Person,
    name=st.text(min_size=1, max_size=8),
    age=st.none() | st.integers(),
    nickname=texts,
    address=st.builds(Address, city=texts, zip=st.none() | texts),
    previous=st.none() | st.builds(Address, city=texts),
    scores=st.dictionaries(texts, st.integers(), max_size=3),
)

CASES: list[tuple[str, Any, st.SearchStrategy[Any]]] = [
    ("str", str, st.from_type(str)),
    ("int", int, st.from_type(int)),
    ("float", float, floats),  # from_type gives NaN, which equals nothing
    ("bool", bool, st.from_type(bool)),
    ("None", None, st.none()),
    ("list[int]", list[int], st.from_type(list[int])),
    ("dict[str, int]", dict[str, int], st.from_type(dict[str, int])),
    ("dict[str, list[float]]", dict[str, list[float]], st.dictionaries(texts, st.lists(floats, max_size=3))),
    ("tuple[int, str]", tuple[int, str], st.from_type(tuple[int, str])),
    ("tuple[int, ...]", tuple[int, ...], st.from_type(tuple[int, ...])),
    ("set[str]", set[str], st.from_type(set[str])),
    ("Optional[int]", int | None, st.from_type(int | None)),
    ("int | str", int | str, st.from_type(int | str)),
    ("Literal", Literal["a", "b"], st.from_type(Literal["a", "b"])),
    ("Enum", Color, st.from_type(Color)),
    ("datetime", dt.datetime, st.datetimes(min_value=dt.datetime(1000, 1, 1))),  # ISO needs 4-digit years
    ("date", dt.date, st.dates(min_value=dt.date(1000, 1, 1))),
    ("Decimal", Decimal, st.decimals(allow_nan=False, allow_infinity=False, places=3)),
    ("UUID", uuid.UUID, st.from_type(uuid.UUID)),
    ("dataclass", Point, st.from_type(Point)),
    ("TypedDict", Movie, st.from_type(Movie)),
    ("BaseModel", Person, people),  # from_type ignores min_length
    ("NamedTuple", Pair, st.from_type(Pair)),
    ("recursive", Node, nodes),
    ("Annotated ge=0", Annotated[int, Field(ge=0)], st.integers(min_value=0)),
]


def wrapped(tp: Any) -> tuple[TypeAdapter[Any], dict[str, Any], bool]:
    """The adapter and the object-root schema, wrapped as ``{"value": ...}`` unless already an object."""
    adapter = TypeAdapter(tp)
    schema = adapter.json_schema()
    if schema.get("type") == "object" and "properties" in schema:
        return adapter, schema, False
    inner = {k: v for k, v in schema.items() if k != "$defs"}
    root: dict[str, Any] = {"type": "object", "properties": {"value": inner}, "required": ["value"]}
    return adapter, root | ({"$defs": schema["$defs"]} if "$defs" in schema else {}), True


ADAPTERS = {name: wrapped(tp) for name, tp, _ in CASES}
COMPILED = {(name, d): compile_schema(ADAPTERS[name][1], d) for name, _, _ in CASES for d in DIALECTS}


@pytest.mark.parametrize(("name", "strategy"), [(n, s) for n, _, s in CASES], ids=[n for n, _, _ in CASES])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(name: str, strategy: st.SearchStrategy[Any], data: st.DataObject) -> None:
    """dump -> encode -> JSON -> decode -> validate gives the value back, in every dialect."""
    value = data.draw(strategy)
    adapter, _, is_wrapped = ADAPTERS[name]
    for dialect in DIALECTS:
        compiled = COMPILED[name, dialect]
        dumped = adapter.dump_python(value, mode="json")
        sent = json.loads(json.dumps(compiled.encode({"value": dumped} if is_wrapped else dumped)))
        if not any(n.startswith("recursion at") for n in compiled.notes):  # else deeper trees do not fit
            assert conforms(sent, compiled.schema, compiled.schema.get("$defs", {})), (dialect, sent)
        back = compiled.decode(sent)
        assert adapter.validate_python(back["value"] if is_wrapped else back) == value, dialect


@pytest.mark.parametrize("name", [n for n, _, _ in CASES])
def test_openai_schemas_are_strict(name: str) -> None:
    """Every type above compiles strict for OpenAI, and the schema obeys the strict rules."""
    compiled = COMPILED[name, "openai_strict"]
    assert compiled.strict, compiled.notes
    check_openai_strict(compiled.schema)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_dict_keeps_its_value_type(dialect: str) -> None:
    """dict[str, int] never becomes {} or a closed object without properties."""
    sent = COMPILED["dict[str, int]", dialect].schema["properties"]["value"]
    assert sent
    assert not (
        sent.get("type") == "object" and not sent.get("properties") and not sent.get("additionalProperties")
    )
    assert "integer" in json.dumps(sent)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_input_is_not_mutated(dialect: str) -> None:
    """Compiling leaves the caller's schema as it was."""
    schema = wrapped(Person)[1]
    before = copy.deepcopy(schema)
    compile_schema(schema, dialect)
    assert schema == before


def test_plain_is_identity() -> None:
    """plain sends the schema unchanged and passes values through."""
    schema = wrapped(Person)[1]
    compiled = compile_schema(schema, "plain")
    assert (compiled.schema, compiled.strict, compiled.notes) == (schema, False, ())
    assert compiled.encode({"a": {}}) == compiled.decode({"a": {}}) == {"a": {}}


def test_openai_snapshot_optional_and_dict() -> None:
    """An optional field becomes required and nullable; a dict becomes key/value pairs."""

    class Report(BaseModel):
        title: str
        pages: int | None = None
        words: int = 0
        counts: dict[str, int]

    compiled = compile_schema(Report.model_json_schema(), "openai_strict")
    assert compiled.strict
    assert compiled.schema == {
        "type": "object",
        "title": "Report",
        "properties": {
            "title": {"type": "string", "title": "Title"},
            "pages": {"anyOf": [{"type": "integer"}, {"type": "null"}], "title": "Pages"},
            "words": {"type": ["integer", "null"], "title": "Words", "description": "Default: 0."},
            "counts": {
                "type": "array",
                "title": "Counts",
                "items": {
                    "type": "object",
                    "properties": {"key": {"type": "string"}, "value": {"type": "integer"}},
                    "required": ["key", "value"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["title", "pages", "words", "counts"],
        "additionalProperties": False,
    }
    assert "default 0 at $.properties.words moved into the description" in compiled.notes
    answer = {"title": "t", "pages": None, "words": None, "counts": [{"key": "a", "value": 1}]}
    assert compiled.decode(answer) == {"title": "t", "pages": None, "counts": {"a": 1}}
    assert Report.model_validate(compiled.decode(answer)) == Report(title="t", counts={"a": 1})


def test_moved_constraint_notes() -> None:
    """A constraint strict mode does not accept moves into the description, with a note."""

    class User(BaseModel):
        name: str = Field(description="Login name", min_length=3, max_length=20)
        age: int = Field(ge=0)

    compiled = compile_schema(User.model_json_schema(), "openai_strict")
    name = compiled.schema["properties"]["name"]
    assert name["description"] == "Login name\n\nConstraints: maxLength=20, minLength=3."
    assert "minLength" not in name
    assert compiled.schema["properties"]["age"]["minimum"] == 0
    assert "minLength=3 at $.properties.name moved into the description" in compiled.notes
    assert "maxLength=20 at $.properties.name moved into the description" in compiled.notes
    anthropic = compile_schema(User.model_json_schema(), "anthropic")
    assert anthropic.schema["properties"]["age"]["description"] == "Constraint: minimum=0."


@pytest.mark.parametrize("tp", [Any, dict[str, Any], list[Any]])
def test_any_falls_back_to_non_strict(tp: Any) -> None:
    """A type strict mode cannot express is sent as it is, not strict, with the reason."""
    schema = wrapped(tp)[1]
    for dialect in ("openai_strict", "anthropic"):
        compiled = compile_schema(schema, dialect)
        assert (compiled.schema, compiled.strict) == (schema, False)
        assert compiled.notes and all(n.startswith("not strict: ") for n in compiled.notes)
        assert compiled.decode({"value": [1]}) == {"value": [1]}
    assert compile_schema(schema, "gemini").schema == schema


def test_recursion_per_dialect() -> None:
    """OpenAI and Gemini keep recursive $refs; Anthropic inlines them to a bounded depth."""
    schema = Node.model_json_schema()
    assert schema.get("$ref")  # a root $ref: compiled as the object itself
    openai = compile_schema(schema, "openai_strict")
    check_openai_strict(openai.schema)
    assert "Node" in openai.schema["$defs"]
    assert "$defs" in compile_schema(schema, "gemini").schema
    anthropic = compile_schema(schema, "anthropic")
    assert anthropic.strict
    assert "$ref" not in json.dumps(anthropic.schema)
    assert any(n.startswith("recursion at ") for n in anthropic.notes)
    tree = {"value": 1, "children": [{"value": 2, "children": []}]}
    assert Node.model_validate(anthropic.decode(tree)) == Node.model_validate(tree)


def test_gemini_cycle_through_required_property_is_inlined() -> None:
    """Gemini unrolls cycles only through non-required properties; others are inlined by us."""

    class Chain(BaseModel):
        value: int
        rest: Chain | None

    compiled = compile_schema(Chain.model_json_schema(), "gemini")
    assert "$ref" not in json.dumps(compiled.schema)
    assert any("recursion" in n for n in compiled.notes)


def test_null_for_optional_field_is_dropped_unless_nullable() -> None:
    """Decode drops a null the original field did not allow, so the default applies."""
    compiled = compile_schema(wrapped(Person)[1], "openai_strict")
    answer = {"name": "a", "age": None, "nickname": None, "address": {"city": "c", "zip": None}}
    answer |= {"previous": None, "scores": None}
    decoded = compiled.decode(answer)
    assert decoded == {"name": "a", "age": None, "address": {"city": "c", "zip": None}, "previous": None}
    assert Person.model_validate(decoded).nickname == "none"


def test_discriminated_union_decodes_by_tag() -> None:
    """oneOf becomes anyOf, and decode picks the branch whose tag matches."""

    class Cat(BaseModel):
        kind: Literal["cat"]
        toys: dict[str, int]

    class Dog(BaseModel):
        kind: Literal["dog"]
        toys: dict[str, str]

    tp = Annotated[Cat | Dog, Field(discriminator="kind")]
    adapter, schema, _ = wrapped(tp)
    compiled = compile_schema(schema, "openai_strict")
    check_openai_strict(compiled.schema)
    assert "oneOf at $.properties.value sent as anyOf" in compiled.notes
    dog = {"value": {"kind": "dog", "toys": [{"key": "ball", "value": "red"}]}}
    assert adapter.validate_python(compiled.decode(dog)["value"]) == Dog(kind="dog", toys={"ball": "red"})


def test_keyed_dicts_keep_their_key_constraints() -> None:
    """Key constraints (Literal keys, UUID keys) travel on the pair's key."""
    compiled = compile_schema(wrapped(dict[Literal["a", "b"], int])[1], "openai_strict")
    key = compiled.schema["properties"]["value"]["items"]["properties"]["key"]
    assert key == {"type": "string", "enum": ["a", "b"]}
    compiled = compile_schema(wrapped(dict[uuid.UUID, int])[1], "anthropic")
    key = compiled.schema["properties"]["value"]["items"]["properties"]["key"]
    assert key == {"type": "string", "format": "uuid"}


@settings(max_examples=60, deadline=None)
@given(
    value=st.recursive(
        st.none() | st.booleans() | st.integers() | floats | texts,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
        max_leaves=10,
    )
)
def test_decode_never_raises(value: Any) -> None:
    """Any JSON value decodes without raising, whatever its shape."""
    for name in ("BaseModel", "tuple[int, str]", "dict[str, list[float]]", "recursive", "NamedTuple"):
        for dialect in DIALECTS:
            compiled = COMPILED[name, dialect]
            compiled.decode(value)
            compiled.decode({"value": value})


def test_gemini_keeps_what_it_accepts() -> None:
    """Gemini keeps dicts, tuples and numeric bounds; const becomes an enum, pattern moves."""

    class Item(BaseModel):
        kind: Literal["item"]
        code: str = Field(pattern="^[A-Z]+$")
        size: int = Field(ge=1)
        where: tuple[int, int]
        tags: dict[str, int]
        mark: Literal["a", None]

    compiled = compile_schema(Item.model_json_schema(), "gemini")
    props = compiled.schema["properties"]
    assert not compiled.strict
    assert props["kind"]["enum"] == ["item"] and "const" not in props["kind"]
    assert props["code"]["description"] == 'Constraint: pattern="^[A-Z]+$".'
    assert props["size"]["minimum"] == 1
    assert props["where"]["prefixItems"] == [{"type": "integer"}, {"type": "integer"}]
    assert props["tags"]["additionalProperties"] == {"type": "integer"}
    assert [b.get("enum") for b in props["mark"]["anyOf"]] == [["a"], None]  # null as its own branch
    assert compiled.encode({"where": [1, 2]}) == {"where": [1, 2]}


def test_anthropic_moves_bounds_and_keeps_optional_fields() -> None:
    """Anthropic has no numeric or length bounds and minItems only up to 1; optional stays optional."""

    class Order(BaseModel):
        items: list[str] = Field(min_length=2, max_length=5)
        some: list[str] = Field(min_length=1)
        note: str = ""

    compiled = compile_schema(Order.model_json_schema(), "anthropic")
    props = compiled.schema["properties"]
    assert compiled.strict
    assert props["items"]["description"] == "Constraints: maxItems=5, minItems=2."
    assert props["some"]["minItems"] == 1
    assert compiled.schema["required"] == ["items", "some"]
    assert compiled.schema["additionalProperties"] is False


def test_openai_moves_lookaround_patterns_and_unknown_formats() -> None:
    """Strict OpenAI accepts patterns without lookaround and a fixed set of formats."""
    schema = {
        "type": "object",
        "properties": {
            "plain": {"type": "string", "pattern": "^[a-z]+$"},
            "tricky": {"type": "string", "pattern": "^(?!x)[a-z]+$"},
            "raw": {"type": "string", "format": "binary"},
        },
        "required": ["plain", "tricky", "raw"],
    }
    compiled = compile_schema(schema, "openai_strict")
    props = compiled.schema["properties"]
    assert props["plain"]["pattern"] == "^[a-z]+$"
    assert props["tricky"] == {"type": "string", "description": 'Constraint: pattern="^(?!x)[a-z]+$".'}
    assert props["raw"] == {"type": "string", "description": 'Constraint: format="binary".'}
    check_openai_strict(compiled.schema)


def test_open_object_falls_back_with_reason() -> None:
    """A model that allows extra keys cannot be closed losslessly: not strict, with the path."""

    class Loose(BaseModel, extra="allow"):
        a: int

    schema = Loose.model_json_schema()
    compiled = compile_schema(schema, "openai_strict")
    assert (compiled.schema, compiled.strict) == (schema, False)
    assert compiled.notes == ("not strict: an object with free-form properties at $ cannot be expressed",)


# --- generated types: encode -> schema-valid -> decode -> what pydantic's JSON validation gives ----

LEAVES: list[tuple[Any, st.SearchStrategy[Any]]] = [
    (int, st.integers()),
    (str, texts),
    (float, floats),
    (bool, st.booleans()),
    (dt.datetime, st.datetimes(min_value=dt.datetime(1000, 1, 1))),
    (dt.date, st.dates(min_value=dt.date(1000, 1, 1))),
    (uuid.UUID, st.uuids()),
    (Literal["a", "b"], st.sampled_from(["a", "b"])),
    (Color, st.sampled_from(Color)),
    (type(None), st.none()),
]
_models = iter(range(10**9))


def _model(tp: Any, values: st.SearchStrategy[Any]) -> tuple[Any, st.SearchStrategy[Any]]:
    """A fresh pydantic model with a field of *tp* and an optional one."""
    model = create_model(f"Gen{next(_models)}", x=(tp, ...), n=(int | None, None))
    return model, st.builds(model, x=values, n=st.none() | st.integers())


def _combine(children: st.SearchStrategy[tuple[Any, st.SearchStrategy[Any]]]) -> st.SearchStrategy[Any]:
    pair = st.tuples(children, children)
    return st.one_of(
        children.map(lambda c: (list[c[0]], st.lists(c[1], max_size=3))),
        children.map(lambda c: (dict[str, c[0]], st.dictionaries(texts, c[1], max_size=3))),
        children.map(lambda c: (c[0] | None, st.none() | c[1])),
        pair.map(lambda p: (tuple[p[0][0], p[1][0]], st.tuples(p[0][1], p[1][1]))),
        pair.map(lambda p: (Union[p[0][0], p[1][0]], p[0][1] | p[1][1])),  # noqa: UP007 (built from values)
        children.map(lambda c: _model(*c)),
    )


GENERATED = st.recursive(st.sampled_from(LEAVES), _combine, max_leaves=5)


@pytest.mark.parametrize("dialect", DIALECTS)
@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_types_round_trip(dialect: str, data: st.DataObject) -> None:
    """For a generated nested type and value: the encoded value fits the compiled schema, and decoding
    it gives what pydantic's own JSON validation gives for the value (unions of dicts and lists,
    `datetime | str`, tuples beside lists, models beside dicts included)."""
    tp, values = data.draw(GENERATED)
    out = output_type(tp)
    value = data.draw(values)
    expected = out.adapter.validate_json(out.adapter.dump_json(value))
    dumped = out.adapter.dump_python(expected, mode="json")
    compiled = compile_schema(out.schema, dialect)  # type: ignore[arg-type]
    wire = json.loads(json.dumps(compiled.encode({"value": dumped} if out.wrapped else dumped)))
    if dialect == "openai_strict" and compiled.strict:
        check_openai_strict(compiled.schema)
    assert conforms(wire, compiled.schema, compiled.schema.get("$defs", {})), (tp, wire, compiled.schema)
    back = out.validate(compiled.decode(wire))
    assert back == expected, (tp, wire)
    assert type(back) is type(expected)


class Tagged(BaseModel):
    a: int


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize(
    ("tp", "values"),
    [
        (dict[str, int] | list[int], [{"a": 1, "b": 2}, {}, [1, 2], []]),
        (list[int] | dict[str, int], [{"a": 1}, {}, [1, 2], []]),
        (dt.datetime | str, ["2024-01-01T00:00:00", "soon"]),
        (uuid.UUID | str, ["123e4567-e89b-42d3-a456-426614174000", "x"]),
        (Union[dict[str, int], Tagged], [{"a": 1}, {"b": 2}, {}]),  # noqa: UP007
        (Union[tuple[int, str], list[int]], [[1, "x"], [1, 2], [1, 2, 3], []]),  # noqa: UP007
    ],
    ids=["dict|list", "list|dict", "datetime|str", "UUID|str", "dict|Model", "tuple|list"],
)
def test_unions_decode_as_pydantic_json_validation_would(dialect: str, tp: Any, values: list[Any]) -> None:
    """SPEC §17: each wire value decodes to what pydantic's JSON validation of the value gives."""
    out = output_type(tp)
    compiled = compile_schema(out.schema, dialect)  # type: ignore[arg-type]
    for value in values:
        expected = out.adapter.validate_json(json.dumps(value))
        wire = json.loads(
            json.dumps(compiled.encode({"value": out.adapter.dump_python(expected, mode="json")}))
        )
        assert conforms(wire, compiled.schema, compiled.schema.get("$defs", {})), (value, wire)
        back = out.validate(compiled.decode(wire))
        assert back == expected and type(back) is type(expected), (value, wire, back)

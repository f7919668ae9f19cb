"""Inputs Alloy checks before sending (SPEC §17): decoration-time errors that name the fix."""

from __future__ import annotations

import datetime as dt
import enum
import json
import math
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pytest
from pydantic import Field

from alloy import ConfigurationError, _settings, ask, command, configure, get_settings, override, tool
from alloy._form import answer_form
from alloy._outputs import output_type
from alloy._schema import compile_schema
from alloy.providers import Capabilities
from alloy.testing import ScriptedModel


@dataclass
class Invoice:
    number: str


class Opaque:
    """A class pydantic knows nothing about."""

    def __init__(self, raw: str) -> None:
        self.raw = raw


# --- @command(Type) ------------------------------------------------------------------------------


@pytest.mark.parametrize("tp", [Invoice, int, list[int], int | None], ids=repr)
def test_type_passed_positionally_says_write_output(tp: Any) -> None:
    with pytest.raises(ConfigurationError, match=r"write @command\(output=") as info:
        command(tp)
    assert "positionally" in str(info.value)


# --- reserved tool names -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["final_result", "final_answer"])
def test_reserved_tool_name_fails_at_decoration(name: str) -> None:
    def fn(x: int) -> int:
        return x

    fn.__name__ = name
    with pytest.raises(ConfigurationError, match=rf"tool name '{name}' is reserved.*@tool\(name=\.\.\.\)"):
        tool(fn)
    with pytest.raises(ConfigurationError, match="is reserved"):
        tool(name=name)(lambda x: x)  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType]
    with pytest.raises(ConfigurationError, match="is reserved"):
        command(tools=[fn])  # a plain function in tools=[...]
    model = ScriptedModel(["never sent"])
    with pytest.raises(ConfigurationError, match="is reserved"):
        ask("Hi", tools=[fn], model=model)
    assert model.requests == []


def test_a_command_named_like_the_output_tool_cannot_be_a_tool() -> None:
    @command
    def final_result(text: str) -> str:
        return text

    with pytest.raises(ConfigurationError, match="'final_result' is reserved"):
        command(tools=[final_result])


# --- extra keys Alloy sets itself ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "setting"),
    [
        ("model", "model"),
        ("messages", "prompt"),
        ("input", "prompt"),
        ("system", "system"),
        ("instructions", "system"),
        ("tools", "tools="),
        ("tool_choice", "tools="),
        ("stream", ".stream"),
        ("stream_options", ".stream"),
        ("response_format", "output="),
        ("text", "output="),
        ("format", "output="),
        ("contents", "prompt"),
        ("max_tokens", "max_tokens"),
        ("max_completion_tokens", "max_tokens"),
        ("max_output_tokens", "max_tokens"),
        ("temperature", "temperature"),
    ],
)
def test_extra_key_alloy_sets_names_the_setting(key: str, setting: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"extra=.*holds '{key}'.*use .*{setting}") as info:
        command(extra={key: 1})
    assert "@command(...)" in str(info.value)
    with pytest.raises(ConfigurationError, match=rf"holds '{key}'"):
        configure(extra={key: 1})
    model = ScriptedModel(["never sent"])
    with pytest.raises(ConfigurationError, match=rf"holds '{key}'"):
        ask("Hi", model=model, extra={key: 1})
    assert model.requests == []


def test_extra_from_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOY_EXTRA", '{"messages": []}')
    with pytest.raises(ConfigurationError, match=r"ALLOY_EXTRA=.*holds 'messages'.*prompt"):
        get_settings()


def test_extra_still_passes_what_alloy_does_not_set() -> None:
    with override(extra={"seed": 7, "top_p": 0.5}) as settings:
        assert settings.extra == {"seed": 7, "top_p": 0.5}
    assert {"seed", "top_p", "reasoning_effort"}.isdisjoint(getattr(_settings, "RESERVED_EXTRA", {}))


# --- absurd settings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "problem"),
    [
        ("temperature", 7, "less than or equal to 2"),
        ("temperature", -1, "greater than or equal to 0"),
        ("temperature", math.nan, "finite number"),
        ("max_tokens", 10**12, "less than or equal to"),
        ("timeout", math.inf, "finite number"),
        ("timeout", math.nan, "finite number"),
        ("timeout", 10**9, "less than or equal to"),
        ("retry_wait_max", math.inf, "finite number"),
        ("retry_timeout", math.nan, "finite number"),
        ("retry", 10**6, "less than or equal to"),
        ("max_tool_turns", 10**6, "less than or equal to"),
    ],
)
def test_absurd_setting_is_refused_naming_it(name: str, value: object, problem: str) -> None:
    with pytest.raises(
        ConfigurationError, match=rf"^{name}=.* in @command\(\.\.\.\) should be a? ?.*{problem}"
    ):
        command(**{name: value})  # pyright: ignore[reportArgumentType]


def test_absurd_value_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOY_TEMPERATURE", "7")
    with pytest.raises(ConfigurationError, match=r"ALLOY_TEMPERATURE='7' \(from the environment\) should be"):
        get_settings()
    monkeypatch.setenv("ALLOY_TEMPERATURE", "1.5")
    monkeypatch.setenv("ALLOY_TIMEOUT", "inf")
    with pytest.raises(ConfigurationError, match=r"ALLOY_TIMEOUT='inf' .* finite number"):
        get_settings()


def test_sane_edges_are_accepted() -> None:
    with override(temperature=2, timeout=3600, max_tokens=200_000, retry_wait_jitter=0) as settings:
        assert (settings.temperature, settings.timeout, settings.max_tokens) == (2, 3600, 200_000)


# --- model names at decoration -------------------------------------------------------------------


def test_misspelled_provider_fails_at_decoration_with_did_you_mean() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Unknown provider 'opnai'.*Did you mean 'openai' \('openai:x'\)\?"
    ):
        command(model="opnai:x")
    with pytest.raises(ConfigurationError, match=r"Did you mean 'anthropic'"):
        command(model="antropic:claude-sonnet-4-5")
    with pytest.raises(ConfigurationError, match=r"Unknown provider 'zzz'") as info:
        command(model="zzz:x")
    assert "Did you mean" not in str(info.value)


def test_model_without_a_known_prefix_fails_at_decoration() -> None:
    with pytest.raises(
        ConfigurationError, match=r"Cannot tell which provider serves model 'llama3.2'.*'ollama:llama3.2'"
    ):
        command(model="llama3.2")


def test_bad_model_in_the_environment_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOY_MODEL", "opnai:gpt-5-mini")
    with pytest.raises(ConfigurationError, match=r"ALLOY_MODEL='opnai:gpt-5-mini'.*Did you mean 'openai'"):
        get_settings()


def test_good_model_names_and_model_objects_pass() -> None:
    for name in ("openai:gpt-5-mini", "gpt-5-mini", "claude-sonnet-4-5", "ollama:llama3.2", "fake"):
        command(model=name)
    command(model=ScriptedModel([]))


# --- types pydantic cannot handle ----------------------------------------------------------------


def test_unknown_output_type_leads_with_register_type() -> None:
    with pytest.raises(ConfigurationError) as info:
        ask("Hi", output=list[Opaque], model=ScriptedModel(["[]"]))
    message = str(info.value)
    assert message.startswith("Alloy cannot use list[")
    assert message.index("alloy.register_type(Opaque, json_schema=..., parse=...)") < message.index(
        "Pydantic said"
    )
    assert "arbitrary_types_allowed" not in message and "\n" not in message  # the pydantic detail is short
    assert len(message) < 400


def test_unknown_tool_parameter_type_names_the_parameter_and_register_type() -> None:
    def area(shape: Opaque, scale: float = 1.0) -> float:
        return scale

    with pytest.raises(ConfigurationError) as info:
        command(tools=[area])(lambda: "Hi")  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType]
        ask("Hi", tools=[area], model=ScriptedModel(["1"]))
    message = str(info.value)
    assert message.startswith("Tool 'area': Alloy cannot describe its parameter `shape: Opaque`")
    assert message.index("alloy.register_type(Opaque, json_schema=..., parse=...)") < message.index(
        "Pydantic said"
    )
    assert "arbitrary_types_allowed" not in message and "\n" not in message
    assert len(message) < 400


# --- tool defaults where the dialect cannot carry them -------------------------------------------


class _StrictTools(ScriptedModel):
    """A provider that takes strict tool schemas in one dialect."""

    def __init__(self, replies: list[Any], dialect: Any) -> None:
        super().__init__(replies)
        self.dialect = dialect

    def capabilities(self, model: str, settings: object) -> Capabilities:  # type: ignore[override]
        return Capabilities(output_mode="native_strict", schema_dialect=self.dialect, strict_tools=True)


@pytest.mark.parametrize("dialect", ["openai_strict", "anthropic"])
def test_strict_tool_schema_states_defaults_in_the_description(dialect: str) -> None:
    """Strict dialects drop `default`; the model still learns it from the description, and explain() says so."""

    def search(query: str, limit: int = 5, exact: bool = False, note: str | None = None) -> int:
        """Search.

        Args:
            limit: how many hits.
        """
        return limit

    model = _StrictTools(["never sent"], dialect)
    plan = ask.explain("x", tools=[search], model=model)
    [spec] = plan.tools
    props = spec.parameters["properties"]
    assert spec.strict and "default" not in json.dumps(spec.parameters).replace("Default", "")
    assert props["limit"]["description"] == "how many hits.\n\nDefault: 5."
    assert props["exact"]["description"] == "Default: false."
    assert "Default" not in json.dumps(props["note"])  # a None default: the field is nullable
    assert "Default" not in json.dumps(props["query"])
    assert "tool search: default 5 at $.properties.limit moved into the description" in plan.notes


# --- example instances in the prompt -------------------------------------------------------------


@dataclass
class Tree:
    name: str
    children: list[Tree]


class Size(enum.Enum):
    S = "s"
    M = "m"


EXAMPLE_TYPES: list[Any] = [
    float,
    list[int],
    dict[str, int],
    tuple[int, str],
    Literal["yes", "no"],
    Size,
    dt.datetime,
    uuid.UUID,
    Invoice,
    Tree,
    int | None,
    Annotated[int, Field(ge=5)],
    list[Invoice],
]


FORMS: list[Any] = [
    (float, '{"value": <number>}'),
    (list[int], '{"value": [<integer>, ...]}'),
    (dict[str, int], '{"value": [{"key": <string>, "value": <integer>}, ...]}'),
    (tuple[int, str], '{"value": {"item_0": <integer>, "item_1": <string>}}'),
    (Literal["yes", "no"], '{"value": <one of "yes", "no">}'),
    (Size, '{"value": <one of "s", "m">}'),
    (dt.datetime, '{"value": <date-time>}'),
    (uuid.UUID, '{"value": <uuid>}'),
    (Tree, '{"name": <string>, "children": [<Tree>, ...]}'),
    (int | None, '{"value": <integer> or null}'),
    (Annotated[int, Field(ge=5)], '{"value": <integer>}'),
]


@pytest.mark.parametrize(("tp", "form"), FORMS, ids=repr)
def test_answer_form_has_a_slot_for_each_value(tp: Any, form: str) -> None:
    """The form stated beside the schema (openai_strict: what a compatible server is sent)."""
    assert answer_form(compile_schema(output_type(tp).schema, "openai_strict").schema) == form


@pytest.mark.parametrize("dialect", ["openai_strict", "anthropic", "gemini", "plain"])
@pytest.mark.parametrize("tp", EXAMPLE_TYPES, ids=repr)
def test_answer_form_cannot_be_copied_as_an_answer(tp: Any, dialect: Any) -> None:
    """Every dialect's schema has a form; with a slot to fill it is not JSON, so not an answer as is."""
    form = answer_form(compile_schema(output_type(tp).schema, dialect).schema)
    assert "<" in form
    with pytest.raises(ValueError):
        json.loads(form)

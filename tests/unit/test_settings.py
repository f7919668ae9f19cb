"""Settings: defaults, the layers and their precedence, environment and ``.env``, errors, caching."""

from __future__ import annotations

import asyncio
import os
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from alloy import _settings  # pyright: ignore[reportPrivateUsage]
from alloy._errors import ConfigurationError
from alloy._settings import (
    Settings,
    SettingsKwargs,
    _reset_configure,  # pyright: ignore[reportPrivateUsage]
    check_names,
    configure,
    get_settings,
    override,
    resolve,
)
from alloy.providers import Adapter

# SPEC §4: each credential/endpoint reads its ALLOY_ name first, then the SDK's own variable(s).
CREDENTIAL_VARS = {
    "openai_api_key": ("ALLOY_OPENAI_API_KEY", "OPENAI_API_KEY"),
    "openai_base_url": ("ALLOY_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
    "anthropic_api_key": ("ALLOY_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"),
    "anthropic_base_url": ("ALLOY_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL"),
    "gemini_api_key": ("ALLOY_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "gemini_base_url": ("ALLOY_GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL"),
    "ollama_host": ("ALLOY_OLLAMA_HOST", "OLLAMA_HOST"),
}
SDK_VARS = {var for names in CREDENTIAL_VARS.values() for var in names[1:]}

# Per field: a value as the environment spells it, what the field then holds, and a second value.
SAMPLES: dict[str, tuple[str, object, str]] = {
    "model": ("anthropic:claude-sonnet-4-5", "anthropic:claude-sonnet-4-5", "openai:gpt-4o"),
    "temperature": ("0.3", 0.3, "0.9"),
    "max_tokens": ("123", 123, "9"),
    "system": ("Be brief.", "Be brief.", "Be long."),
    "timeout": ("5", 5.0, "9"),
    "max_tool_turns": ("3", 3, "9"),
    "parallel_tools_max": ("2", 2, "9"),
    "tool_mode": ("react", "react", "native"),
    "retry": ("0", 0, "9"),
    "retry_attempts": ("7", 7, "9"),
    "retry_wait_initial": ("0.1", 0.1, "9"),
    "retry_wait_max": ("8", 8.0, "9"),
    "retry_wait_jitter": ("0", 0.0, "9"),
    "retry_timeout": ("11", 11.0, "9"),
    "openai_api": ("chat", "chat", "responses"),
    "telemetry": ("true", True, "false"),
    "telemetry_content": ("1", True, "0"),
    "extra": ('{"seed": 1}', {"seed": 1}, '{"seed": 2}'),
    "map_concurrency": ("4", 4, "9"),
    "prompt_cache": ("false", False, "true"),
    "cassette_mode": ("replay", "replay", "record"),
    "openai_api_key": ("sk-env", "sk-env", "sk-dotenv"),
    "openai_base_url": ("http://env.test/v1", "http://env.test/v1", "http://dotenv.test/v1"),
    "anthropic_api_key": ("ak-env", "ak-env", "ak-dotenv"),
    "anthropic_base_url": ("http://env.test/a", "http://env.test/a", "http://dotenv.test/a"),
    "gemini_api_key": ("gk-env", "gk-env", "gk-dotenv"),
    "gemini_base_url": ("http://env.test/g", "http://env.test/g", "http://dotenv.test/g"),
    "ollama_host": ("http://env.test:1", "http://env.test:1", "http://dotenv.test:1"),
}


ENV_NAMES = {field: CREDENTIAL_VARS.get(field, (f"ALLOY_{field.upper()}",)) for field in SAMPLES}


def plain(value: object) -> object:
    return value.get_secret_value() if isinstance(value, SecretStr) else value


@pytest.fixture(autouse=True)
def _clean(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for var in list(os.environ):
        if var.upper().startswith("ALLOY_") or var.upper() in SDK_VARS:
            monkeypatch.delenv(var)
    monkeypatch.chdir(tmp_path)
    _reset_configure()
    yield
    _reset_configure()


def write_dotenv(text: str) -> None:
    Path(".env").write_text(text)


def test_defaults() -> None:
    """With nothing set, every field has the default SPEC §4 gives it."""
    s = get_settings()
    assert (s.model, s.temperature, s.max_tokens, s.system) == ("openai:gpt-5-mini", None, None, None)
    assert (s.timeout, s.max_tool_turns, s.parallel_tools_max, s.tool_mode) == (60, 10, 8, "auto")
    assert (s.retry, s.retry_attempts) == (2, 4)
    assert (s.retry_wait_initial, s.retry_wait_max, s.retry_wait_jitter, s.retry_timeout) == (0.5, 30, 1, 120)
    assert (s.openai_api, s.telemetry, s.telemetry_content, s.extra) == ("auto", False, False, {})
    assert s.openai_api_key is s.anthropic_api_key is s.gemini_api_key is None
    assert s.openai_base_url is s.anthropic_base_url is s.gemini_base_url is None
    assert s.ollama_host == "http://127.0.0.1:11434"


def test_call_beats_override() -> None:
    """Per-call settings beat an override."""
    with override(temperature=0.1):
        assert resolve(call={"temperature": 0.2}).temperature == 0.2


def test_override_beats_decorator() -> None:
    """An override beats the decorator's settings."""
    with override(temperature=0.1):
        assert resolve(decorator={"temperature": 0.2}).temperature == 0.1


def test_decorator_beats_configure() -> None:
    """The decorator's settings beat configure()."""
    configure(temperature=0.1)
    assert resolve(decorator={"temperature": 0.2}).temperature == 0.2


def test_configure_beats_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """configure() beats the environment."""
    monkeypatch.setenv("ALLOY_TEMPERATURE", "0.2")
    configure(temperature=0.1)
    assert get_settings().temperature == 0.1


def test_env_beats_dotenv(monkeypatch: pytest.MonkeyPatch) -> None:
    """The environment beats .env."""
    write_dotenv("ALLOY_TEMPERATURE=0.2\n")
    monkeypatch.setenv("ALLOY_TEMPERATURE", "0.1")
    assert get_settings().temperature == 0.1


def test_dotenv_beats_default() -> None:
    """.env beats the default."""
    write_dotenv("ALLOY_TEMPERATURE=0.2\n")
    assert get_settings().temperature == 0.2


def test_override_beats_pinned_model_with_model_object() -> None:
    """override(model=<model object>) replaces a model pinned in the decorator."""
    model = Adapter()
    with override(model=model) as effective:
        assert effective.model is model
        assert resolve(decorator={"model": "anthropic:claude-sonnet-4-5"}).model is model


def test_nested_overrides_merge_inner_wins() -> None:
    """Nested overrides merge; the inner one wins where both set a key, and exiting restores."""
    with override(temperature=0.1, system="outer"):
        with override(temperature=0.2) as inner:
            assert (inner.temperature, inner.system) == (0.2, "outer")
        assert get_settings().temperature == 0.1
    assert get_settings().temperature is None


def test_override_invisible_to_other_threads() -> None:
    """Two threads in their own overrides each see only their own."""
    barrier = threading.Barrier(2)
    seen: dict[str, float | None] = {}

    def work(name: str, temperature: float) -> None:
        with override(temperature=temperature):
            barrier.wait()
            seen[name] = get_settings().temperature
            barrier.wait()

    threads = [threading.Thread(target=work, args=(n, t)) for n, t in (("a", 0.1), ("b", 0.2))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen == {"a": 0.1, "b": 0.2}
    assert get_settings().temperature is None


def test_override_isolated_between_tasks() -> None:
    """Concurrent asyncio tasks each see only their own override."""

    async def work(temperature: float | None) -> float | None:
        if temperature is None:
            await asyncio.sleep(0)
            return get_settings().temperature
        with override(temperature=temperature):
            await asyncio.sleep(0)
            return get_settings().temperature

    async def main() -> list[float | None]:
        return list(await asyncio.gather(work(0.1), work(None), work(0.2)))

    assert asyncio.run(main()) == [0.1, None, 0.2]


def test_dotenv_keys_and_base_urls_reach_settings() -> None:
    """Keys and base URLs written in .env (ALLOY_ or SDK names) reach Settings."""
    write_dotenv(
        "OPENAI_API_KEY=sk-dot\nALLOY_OPENAI_BASE_URL=http://dot.test/v1\nANTHROPIC_API_KEY=ak-dot\n"
        "ANTHROPIC_BASE_URL=http://dot.test/a\nGEMINI_API_KEY=gk-dot\nGOOGLE_GEMINI_BASE_URL=http://dot.test/g\n"
        "OLLAMA_HOST=http://dot.test:1\n"
    )
    s = get_settings()
    assert s.openai_api_key is not None and s.openai_api_key.get_secret_value() == "sk-dot"
    assert s.anthropic_api_key is not None and s.anthropic_api_key.get_secret_value() == "ak-dot"
    assert s.gemini_api_key is not None and s.gemini_api_key.get_secret_value() == "gk-dot"
    assert (s.openai_base_url, s.anthropic_base_url) == ("http://dot.test/v1", "http://dot.test/a")
    assert (s.gemini_base_url, s.ollama_host) == ("http://dot.test/g", "http://dot.test:1")


@pytest.mark.parametrize(("field", "var"), [(f, v) for f, names in ENV_NAMES.items() for v in names])
def test_env_beats_dotenv_for_every_name(monkeypatch: pytest.MonkeyPatch, field: str, var: str) -> None:
    """Any name in the environment beats the field's ALLOY_ name in .env."""
    env_value, expected, other = SAMPLES[field]
    write_dotenv(f"{ENV_NAMES[field][0]}={other}\n")
    monkeypatch.setenv(var, env_value)
    assert plain(getattr(get_settings(), field)) == expected


@pytest.mark.parametrize("in_dotenv", [False, True], ids=["environment", "dotenv"])
def test_alloy_name_beats_sdk_name_in_one_source(monkeypatch: pytest.MonkeyPatch, in_dotenv: bool) -> None:
    """Within one source, ALLOY_OPENAI_API_KEY beats OPENAI_API_KEY."""
    if in_dotenv:
        write_dotenv("OPENAI_API_KEY=sk-sdk\nALLOY_OPENAI_API_KEY=sk-alloy\n")
    else:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-sdk")
        monkeypatch.setenv("ALLOY_OPENAI_API_KEY", "sk-alloy")
    assert plain(get_settings().openai_api_key) == "sk-alloy"


def test_gemini_api_key_before_google_api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    """GEMINI_API_KEY is read before GOOGLE_API_KEY; GOOGLE_API_KEY alone also works."""
    monkeypatch.setenv("GOOGLE_API_KEY", "google")
    assert plain(get_settings().gemini_api_key) == "google"
    monkeypatch.setenv("GEMINI_API_KEY", "gemini")
    assert plain(get_settings().gemini_api_key) == "gemini"


def test_empty_variable_counts_as_unset(monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty ALLOY_ variable leaves the default in place."""
    monkeypatch.setenv("ALLOY_TEMPERATURE", "")
    assert get_settings().temperature is None


def test_model_variable_is_not_json_decoded(monkeypatch: pytest.MonkeyPatch) -> None:
    """ALLOY_MODEL is taken as text even when it looks like JSON."""
    monkeypatch.setenv("ALLOY_MODEL", 'ollama:["x"]')
    assert get_settings().model == 'ollama:["x"]'


def test_extra_merges_key_by_key_across_layers(monkeypatch: pytest.MonkeyPatch) -> None:
    """extra from the environment, configure() and a call merge; the higher layer wins per key."""
    monkeypatch.setenv("ALLOY_EXTRA", '{"a": 1, "b": 1}')
    configure(extra={"b": 2, "c": 2})
    assert resolve(call={"extra": {"c": 3}}).extra == {"a": 1, "b": 2, "c": 3}


def test_configure_calls_merge() -> None:
    """A second configure() call adds to the first and wins where both set a key."""
    configure(temperature=0.1, system="one")
    configure(system="two")
    s = get_settings()
    assert (s.temperature, s.system) == (0.1, "two")


def test_unknown_keyword_suggests_closest() -> None:
    """An unknown keyword is a ConfigurationError naming it and the closest valid name."""
    typo: Any = {"temprature": 0.1}
    with (
        pytest.raises(
            ConfigurationError, match=r"'temprature' in override\(...\)\. Did you mean 'temperature'\?"
        ),
        override(**typo),
    ):
        pass


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout": "abc"}, r"timeout='abc' in @command\(...\) is not a valid number"),
        ({"retry": -1}, r"retry=-1 in @command\(...\) should be greater than or equal to 0"),
        (
            {"model": 5},
            r"model=5 in @command\(...\) should be a 'provider:model' string .* or a model object",
        ),
    ],
)
def test_bad_keyword_value_names_keyword(kwargs: dict[str, Any], message: str) -> None:
    """A bad keyword value fails when written, naming the keyword."""
    with pytest.raises(ConfigurationError, match=message):
        check_names(kwargs, "@command(...)")


def test_check_names_returns_validated_values() -> None:
    """check_names coerces values: a key becomes a SecretStr, a model object stays itself."""
    model = Adapter()
    checked = check_names({"openai_api_key": "sk-x", "model": model}, "configure(...)")
    assert checked["openai_api_key"] == SecretStr("sk-x") and checked["model"] is model


@pytest.mark.parametrize(
    ("var", "value", "problem"),
    [
        ("ALLOY_TIMEOUT", "abc", "is not a valid number"),
        ("ALLOY_TOOL_MODE", "sometimes", "should be 'native', 'react' or 'auto'"),
        ("ALLOY_MAX_TOOL_TURNS", "-1", "should be greater than or equal to 0"),
        ("ALLOY_TELEMETRY", "maybe", "is not a valid boolean"),
    ],
)
def test_bad_env_value_names_variable(
    monkeypatch: pytest.MonkeyPatch, var: str, value: str, problem: str
) -> None:
    """A bad value in the environment is a ConfigurationError naming the variable and the source."""
    monkeypatch.setenv(var, value)
    with pytest.raises(ConfigurationError, match=rf"^{var}='{value}' \(from the environment\) {problem}"):
        get_settings()


def test_bad_dotenv_value_names_variable_and_dotenv() -> None:
    """A bad value in .env names the variable and says it came from .env."""
    write_dotenv("ALLOY_RETRY_ATTEMPTS=many\n")
    with pytest.raises(ConfigurationError, match=r"ALLOY_RETRY_ATTEMPTS='many' \(from \.env\)"):
        get_settings()


def test_malformed_extra_json_names_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """Malformed ALLOY_EXTRA is a ConfigurationError naming ALLOY_EXTRA and the JSON problem."""
    monkeypatch.setenv("ALLOY_EXTRA", "{seed: 1")
    with pytest.raises(
        ConfigurationError, match=r"ALLOY_EXTRA='\{seed: 1' \(from the environment\) is not valid JSON"
    ):
        get_settings()


def test_unknown_alloy_variable_in_env_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unknown ALLOY_ variable in the environment warns once, with a suggestion."""
    monkeypatch.setenv("ALLOY_TEMPRATURE", "0.1")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        get_settings()
        get_settings()
    messages = [str(w.message) for w in caught]
    assert len(messages) == 1
    assert "ALLOY_TEMPRATURE (in the environment)" in messages[0] and "ALLOY_TEMPERATURE" in messages[0]


def test_unknown_alloy_variable_in_dotenv_warns() -> None:
    """An unknown ALLOY_ variable in .env warns, naming .env."""
    write_dotenv("ALLOY_TIMEOUTS=5\n")
    with pytest.warns(UserWarning, match=r"ALLOY_TIMEOUTS \(in \.env\).*Did you mean ALLOY_TIMEOUT\?"):
        get_settings()


def test_other_dotenv_variables_are_ignored_silently() -> None:
    """Variables in .env that are not Alloy's are ignored without a warning."""
    write_dotenv("DATABASE_URL=postgres://x\nDEBUG=1\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert get_settings().model == "openai:gpt-5-mini"


def test_keys_never_in_repr_or_str(monkeypatch: pytest.MonkeyPatch) -> None:
    """API keys appear in neither repr() nor str() of Settings."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret")
    configure(anthropic_api_key="ak-very-secret")
    s = get_settings()
    for text in (repr(s), str(s)):
        assert "very-secret" not in text


def test_cache_follows_environment_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing a variable after a first read is seen by the next read."""
    assert get_settings().timeout == 60
    monkeypatch.setenv("ALLOY_TIMEOUT", "5")
    assert get_settings().timeout == 5
    monkeypatch.delenv("ALLOY_TIMEOUT")
    assert get_settings().timeout == 60


def test_cache_follows_dotenv_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing or creating .env after a first read is seen once the one-second stat window has passed."""
    clock = [1000.0]
    monkeypatch.setattr(_settings.time, "monotonic", lambda: clock[0])
    assert get_settings().timeout == 60
    write_dotenv("ALLOY_TIMEOUT=5\n")
    clock[0] += 1.0
    assert get_settings().timeout == 5
    write_dotenv("ALLOY_TIMEOUT=70\n")
    os.utime(".env", ns=(1, 1))
    clock[0] += 0.5
    assert get_settings().timeout == 5  # within the window: the file is not looked at again
    clock[0] += 0.5
    assert get_settings().timeout == 70


def test_dotenv_window_is_per_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Changing directory looks at that directory's .env at once, window or not."""
    monkeypatch.setattr(_settings.time, "monotonic", lambda: 1000.0)
    assert get_settings().timeout == 60
    other = tmp_path / "other"
    other.mkdir()
    (other / ".env").write_text("ALLOY_TIMEOUT=9\n")
    monkeypatch.chdir(other)
    assert get_settings().timeout == 9


def test_settings_kwargs_lists_exactly_settings_fields() -> None:
    """SettingsKwargs has one optional key per Settings field, no more, no less."""
    assert set(SettingsKwargs.__annotations__) == set(Settings.model_fields)
    assert not SettingsKwargs.__required_keys__


def test_settings_are_frozen() -> None:
    """Resolved settings cannot be changed in place (they are cached and shared)."""
    s = get_settings()
    with pytest.raises(ValueError, match="frozen"):
        s.timeout = 1


def test_every_field_has_an_environment_variable() -> None:
    """Every Settings field is covered by the environment table these tests use."""
    assert set(ENV_NAMES) == set(Settings.model_fields)


def test_model_list_is_a_fallback_chain(monkeypatch: pytest.MonkeyPatch) -> None:
    """model=[...] and a comma-separated ALLOY_MODEL are a chain; a one-model list is that model."""
    assert check_names({"model": ["openai:gpt-5-mini", "fake"]}, "x")["model"] == (
        "openai:gpt-5-mini",
        "fake",
    )
    assert check_names({"model": ["fake"]}, "x")["model"] == "fake"
    monkeypatch.setenv("ALLOY_MODEL", "openai:gpt-5-mini, anthropic:claude-haiku-4-5")
    assert get_settings().model == ("openai:gpt-5-mini", "anthropic:claude-haiku-4-5")
    with pytest.raises(ConfigurationError, match=r"model=\[\] in x lists no model"):
        check_names({"model": []}, "x")

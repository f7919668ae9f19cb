"""Every Alloy setting as a field: its type, bounds, default, description and variables.

``SettingFields`` is a plain pydantic model, so checking a setting keyword (``@command(...)``,
``configure(...)``) needs no pydantic-settings: that loads with the first read of the environment,
by ``Settings`` (``alloy._settings_class``), which takes its fields from here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypedDict, cast

from pydantic import (
    AfterValidator,
    AliasChoices,
    BaseModel,
    BeforeValidator,
    Field,
    InstanceOf,
    SecretStr,
)

from ._errors import ConfigurationError
from ._registry import split_model
from .providers import Adapter

__all__ = ["RESERVED_EXTRA", "SettingFields", "SettingsKwargs", "models"]


ToolModeSetting = Literal["native", "react", "auto"]
OpenAIApi = Literal["responses", "chat", "auto"]
CassetteMode = Literal["once", "replay", "record"]


def _json_object(value: Any) -> Any:
    """``ALLOY_EXTRA`` is text: parse it here so a bad value is a field error, not a source crash."""
    if not isinstance(value, str | bytes):
        return value
    try:
        return json.loads(value)
    except json.JSONDecodeError as exc:
        raise ValueError(f"is not valid JSON ({exc.msg} at position {exc.pos})") from None


# ``extra`` keys Alloy sets itself, on any provider, with the setting to use instead. A key here
# would replace (or fight) what Alloy builds, so it is refused where it is written.
_PROMPT = "the prompt function's return value (or ask's prompt)"
_OUTPUT = "output=... (Alloy builds the response format from the output type)"
_TOOLS = "tools=[...] and tool_mode"
RESERVED_EXTRA: Mapping[str, str] = MappingProxyType(
    {
        "model": "model (ALLOY_MODEL)",
        "messages": _PROMPT,
        "input": _PROMPT,
        "contents": _PROMPT,  # Gemini
        "prompt": _PROMPT,
        "system": "system (ALLOY_SYSTEM)",
        "instructions": "system (ALLOY_SYSTEM)",  # OpenAI Responses
        "system_instruction": "system (ALLOY_SYSTEM)",  # Gemini
        "tools": _TOOLS,
        "tool_choice": _TOOLS,
        "tool_config": _TOOLS,  # Gemini
        "functions": _TOOLS,
        "function_call": _TOOLS,
        "automatic_function_calling": _TOOLS,  # Gemini: Alloy runs the tools itself
        "stream": ".stream(...) / stream_partial(...)",
        "stream_options": ".stream(...) / stream_partial(...)",
        "response_format": _OUTPUT,  # OpenAI Chat Completions
        "text": _OUTPUT,  # OpenAI Responses
        "output_config": _OUTPUT,  # Anthropic
        "output_format": _OUTPUT,
        "format": _OUTPUT,  # Ollama
        "response_schema": _OUTPUT,  # Gemini
        "response_json_schema": _OUTPUT,
        "response_mime_type": _OUTPUT,
        "max_tokens": "max_tokens (ALLOY_MAX_TOKENS)",
        "max_completion_tokens": "max_tokens (ALLOY_MAX_TOKENS)",
        "max_output_tokens": "max_tokens (ALLOY_MAX_TOKENS)",  # OpenAI Responses, Gemini
        "num_predict": "max_tokens (ALLOY_MAX_TOKENS)",  # Ollama option
        "temperature": "temperature (ALLOY_TEMPERATURE)",
        "timeout": "timeout (ALLOY_TIMEOUT)",
        "prompt_cache_key": "prompt_cache (ALLOY_PROMPT_CACHE)",
    }
)


def _no_reserved_keys(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse an ``extra`` key that Alloy sets itself, naming the setting to use."""
    for key in value:
        if key in RESERVED_EXTRA:
            raise ValueError(
                f"holds {key!r}, which Alloy sets itself: use {RESERVED_EXTRA[key]} instead "
                "(extra is for provider parameters Alloy does not set)"
            )
    return value


def _known_models(value: Any) -> Any:
    """Each model name routes to a known provider (a list is a fallback chain: each is checked)."""
    items: list[Any] = list(cast("list[Any]", value)) if isinstance(value, list | tuple) else [value]
    for name in items:
        for part in name.split(",") if isinstance(name, str) else ():
            if part.strip():
                try:
                    split_model(part.strip())
                except ConfigurationError as exc:
                    raise ValueError(f"is not a known model: {str(exc).rstrip('.')}") from None
    return value  # pyright: ignore[reportUnknownVariableType]


_DAY = 86_400.0
"""The longest wait or timeout that makes sense, in seconds (``inf`` and ``nan`` are refused too)."""
_MAX_TOKENS = 2_000_000
"""Far above any model's output limit: a larger ``max_tokens`` is a typo."""


def _model_chain(value: Any) -> Any:
    """``ALLOY_MODEL="a, b"`` and ``model=["a", "b"]`` are a fallback chain; one model stays itself."""
    if isinstance(value, str) and "," in value:
        value = [part.strip() for part in value.split(",")]
    if isinstance(value, list | tuple):
        items = [v for v in cast("Sequence[Any]", value) if not (isinstance(v, str) and not v.strip())]
        if not items:
            raise ValueError("lists no model: give one model or a list of them (a fallback chain)")
        return items[0] if len(items) == 1 else tuple(items)
    return value


def models(model: str | Adapter | tuple[str | Adapter, ...]) -> tuple[str | Adapter, ...]:
    """The models of a ``model`` setting, in the order they are tried (one, or a fallback chain)."""
    return model if isinstance(model, tuple) else (model,)


def _f(description: str, *env: str, **constraints: Any) -> Any:
    """A field's metadata; ``env`` lists its variables when they are not just ``ALLOY_<NAME>``."""
    if env:
        constraints["validation_alias"] = AliasChoices(*env)
        description += f" Env: {', then '.join(env)}."
    return Field(description=description, **constraints)


class SettingFields(BaseModel, defer_build=True):  # no schema of its own: only ``Settings`` validates
    """The fields of ``Settings``, without its sources (environment, ``.env``)."""

    model: Annotated[
        str | InstanceOf[Adapter] | tuple[str | InstanceOf[Adapter], ...],
        BeforeValidator(_model_chain),
        AfterValidator(_known_models),
        _f(
            "`provider:model` such as `openai:gpt-5-mini`, or (from Python) a model object; a list "
            "(comma-separated in the variable) is a fallback chain, tried in order."
        ),
    ] = "openai:gpt-5-mini"
    temperature: Annotated[
        float | None,
        _f(
            "Sampling temperature, 0 to 2; dropped where the model does not accept one.",
            ge=0,
            le=2,
            allow_inf_nan=False,
        ),
    ] = None
    max_tokens: Annotated[
        int | None,
        _f("Cap on output tokens (provider default if unset; Anthropic gets 4096).", ge=1, le=_MAX_TOKENS),
    ] = None
    system: Annotated[str | None, _f("System prompt.")] = None
    timeout: Annotated[float, _f("Seconds per request.", gt=0, le=_DAY, allow_inf_nan=False)] = 60
    max_tool_turns: Annotated[
        int, _f("Tool-calling turns before `ToolLoopLimitExceeded`.", ge=0, le=1000)
    ] = 10
    parallel_tools_max: Annotated[
        int, _f("Tool calls of one turn run concurrently up to this.", ge=1, le=1024)
    ] = 8
    tool_mode: Annotated[
        ToolModeSetting,
        _f("`native`, `react`, or `auto` (native where the model supports tools, else ReAct)."),
    ] = "auto"
    retry: Annotated[
        int, _f("Re-asks after an answer fails validation or an `@ensure` contract.", ge=0, le=100)
    ] = 2
    retry_attempts: Annotated[
        int, _f("Total tries of one request on transient provider errors.", ge=1, le=100)
    ] = 4
    retry_wait_initial: Annotated[
        float, _f("First backoff wait, in seconds.", ge=0, le=_DAY, allow_inf_nan=False)
    ] = 0.5
    retry_wait_max: Annotated[
        float,
        _f("Longest backoff wait in seconds; also caps `Retry-After`.", ge=0, le=_DAY, allow_inf_nan=False),
    ] = 30
    retry_wait_jitter: Annotated[
        float, _f("Random jitter per wait, in seconds.", ge=0, le=_DAY, allow_inf_nan=False)
    ] = 1
    retry_timeout: Annotated[
        float, _f("Stop retrying a request after this many seconds.", gt=0, le=_DAY, allow_inf_nan=False)
    ] = 120
    openai_api: Annotated[
        OpenAIApi,
        _f("`responses`, `chat`, or `auto` (Responses on OpenAI itself, Chat Completions elsewhere)."),
    ] = "auto"
    telemetry: Annotated[bool, _f("Emit OpenTelemetry spans (needs the `otel` extra).")] = False
    telemetry_content: Annotated[bool, _f("Also record prompts and answers on spans.")] = False
    extra: Annotated[
        dict[str, Any],
        BeforeValidator(_json_object),
        AfterValidator(_no_reserved_keys),
        _f("Provider request parameters, passed as they are (env: JSON); merged key by key across layers."),
    ] = {}  # pydantic copies mutable defaults
    map_concurrency: Annotated[
        int, _f("Requests in flight at most in `map` (halved on a 429, then climbing back).", ge=1, le=10_000)
    ] = 16
    prompt_cache: Annotated[
        bool, _f("Keep the stable prefix (system, tools, schema) first and mark it cacheable.")
    ] = True
    cassette_mode: Annotated[
        CassetteMode | None, _f("Overrides every cassette's mode: `once`, `replay` or `record`.")
    ] = None
    openai_api_key: Annotated[
        SecretStr | None, _f("OpenAI API key.", "ALLOY_OPENAI_API_KEY", "OPENAI_API_KEY")
    ] = None
    openai_base_url: Annotated[
        str | None, _f("OpenAI base URL.", "ALLOY_OPENAI_BASE_URL", "OPENAI_BASE_URL")
    ] = None
    anthropic_api_key: Annotated[
        SecretStr | None, _f("Anthropic API key.", "ALLOY_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY")
    ] = None
    anthropic_base_url: Annotated[
        str | None, _f("Anthropic base URL.", "ALLOY_ANTHROPIC_BASE_URL", "ANTHROPIC_BASE_URL")
    ] = None
    gemini_api_key: Annotated[
        SecretStr | None, _f("Gemini API key.", "ALLOY_GEMINI_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")
    ] = None
    gemini_base_url: Annotated[
        str | None, _f("Gemini base URL.", "ALLOY_GEMINI_BASE_URL", "GOOGLE_GEMINI_BASE_URL")
    ] = None
    ollama_host: Annotated[str, _f("Ollama server URL.", "ALLOY_OLLAMA_HOST", "OLLAMA_HOST")] = (
        "http://127.0.0.1:11434"
    )


class SettingsKwargs(TypedDict, total=False):
    """The settings as keywords, for ``**settings: Unpack[SettingsKwargs]`` (see ``Settings``)."""

    model: str | Adapter | Sequence[str | Adapter]
    temperature: float | None
    max_tokens: int | None
    system: str | None
    timeout: float
    max_tool_turns: int
    parallel_tools_max: int
    tool_mode: ToolModeSetting
    retry: int
    retry_attempts: int
    retry_wait_initial: float
    retry_wait_max: float
    retry_wait_jitter: float
    retry_timeout: float
    openai_api: OpenAIApi
    telemetry: bool
    telemetry_content: bool
    extra: dict[str, Any]
    map_concurrency: int
    prompt_cache: bool
    cassette_mode: CassetteMode | None
    openai_api_key: str | SecretStr | None
    openai_base_url: str | None
    anthropic_api_key: str | SecretStr | None
    anthropic_base_url: str | None
    gemini_api_key: str | SecretStr | None
    gemini_base_url: str | None
    ollama_host: str

"""Settings and the layers they come from.

Precedence, highest first (SPEC §4): per-call (``with_options``) → ``override(...)`` →
``@command(...)`` → ``configure(...)`` → environment → ``.env`` → defaults.

The lower three are pydantic-settings' own sources, read by ``Settings()``. That read parses
``.env`` and is slow, so its result, the *base*, is cached under a cheap fingerprint: the
``ALLOY_``/SDK-named environment variables, the cwd and the ``.env`` file's stat (taken at most
once per ``_DOTENV_WINDOW`` seconds per cwd: an edit is seen within a second). The upper four
layers are plain dicts of only the keys someone set, validated when they are made
(``check_names``, by each field's ``TypeAdapter``); ``_merge`` combines them and
``model_copy(update=...)`` lays them over the base. (``Settings.model_validate`` would not do:
``BaseSettings`` has a custom ``__init__``, so it would read the environment again.) Results are
cached by the identity of the layers. Defaults live only on ``Settings``, never in a layer.
"""

from __future__ import annotations

import functools
import os
import threading
import time
import warnings
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Unpack, get_origin

from pydantic import AliasChoices, SecretStr, TypeAdapter, ValidationError

from ._errors import ConfigurationError, snippet
from ._setting_fields import RESERVED_EXTRA, SettingFields, SettingsKwargs, models

if TYPE_CHECKING:
    from ._settings_class import Settings

__all__ = [
    "RESERVED_EXTRA",
    "Settings",
    "SettingsKwargs",
    "configure",
    "get_settings",
    "models",
    "override",
]


def __getattr__(name: str) -> Any:
    """``Settings`` itself, and with it pydantic-settings, loads when first asked for (PEP 562)."""
    if name == "Settings":
        from ._settings_class import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


_FIELDS = SettingFields.model_fields
_SECRET = frozenset(name for name, f in _FIELDS.items() if f.annotation == SecretStr | None)
_ENV_NAMES = {
    name: tuple(map(str, a.choices))
    if isinstance(a := f.validation_alias, AliasChoices)
    else (f"ALLOY_{name.upper()}",)
    for name, f in _FIELDS.items()
}
_DICT_FIELDS = [
    name for name, f in _FIELDS.items() if f.annotation is dict or get_origin(f.annotation) is dict
]
_KNOWN_VARS = frozenset(var for names in _ENV_NAMES.values() for var in names)
_SECRET_VARS = frozenset(var.upper() for name in _SECRET for var in _ENV_NAMES[name])
_ALLOY_VARS = sorted(var for var in _KNOWN_VARS if var.startswith("ALLOY_"))
_PHRASES = {
    **dict.fromkeys(["float_parsing", "float_type"], "is not a valid number"),
    **dict.fromkeys(["int_parsing", "int_type", "int_from_float"], "is not a valid whole number"),
    **dict.fromkeys(["bool_parsing", "bool_type"], "is not a valid boolean (use true or false)"),
    "dict_type": "should be a JSON object",
}
_HIDDEN = "'**********'"


class _Checked(dict[str, Any]):
    """Values that passed ``check_names``, so ``resolve`` need not validate them again."""


_lock = threading.Lock()
_configured: dict[str, Any] = {}  # replaced, never mutated: readers need no lock
_override: ContextVar[Mapping[str, Any]] = ContextVar("alloy_override", default=MappingProxyType({}))
_bases: dict[tuple[Any, ...], Settings] = {}
_env_seen: tuple[dict[Any, Any] | None, tuple[tuple[str, str | SecretStr], ...]] = (None, ())
_DOTENV_WINDOW = 1.0  # seconds a .env stat is trusted (per cwd) before the file is looked at again
# (cwd, monotonic time of the stat, its fingerprint): a call a microsecond after the last skips the stat.
_dotenv_seen: tuple[str, float, tuple[int, ...] | None] = ("", float("-inf"), None)
# Results by the identity of (base, *layers). An entry holds those objects, so none of their ids is
# reused while it lives; layers are never mutated once made (configure/override replace theirs).
_resolved: dict[tuple[int, ...], tuple[tuple[object, ...], Settings]] = {}


def configure(**settings: Unpack[SettingsKwargs]) -> None:
    """Set process-wide defaults, above the environment and below ``@command(...)`` options.

    A later call merges into earlier ones, winning where both set a key.

    Raises:
        ConfigurationError: an unknown setting name or an invalid value.

    .. versionadded:: 0.1
    """
    global _configured
    checked = check_names(settings, "configure(...)")
    with _lock:
        _configured = _Checked(_merge(checked, _configured))


@contextmanager
def override(**settings: Unpack[SettingsKwargs]) -> Generator[Settings]:
    """Override settings inside a ``with`` block, above everything but per-call settings.

    It beats a model pinned by ``@command(model=...)``, so tests can swap in a model object. It is
    held in a context variable: other threads and asyncio tasks do not see it. Nested overrides
    merge, the inner one winning.

    Yields:
        The effective settings inside the block.

    Raises:
        ConfigurationError: an unknown setting name or an invalid value.

    .. versionadded:: 0.1
    """
    token = _override.set(_Checked(_merge(check_names(settings, "override(...)"), _override.get())))
    try:
        yield resolve()
    finally:
        _override.reset(token)


@contextmanager
def fresh_layer() -> Generator[None]:
    """Inside the block the effective settings are equal but a new object, so whatever is cached
    per settings object (a command's plan) is made again (``alloy._interpose``)."""
    token = _override.set(_Checked(_override.get()))
    try:
        yield
    finally:
        _override.reset(token)


def get_settings() -> Settings:
    """The effective settings here: ``override``, ``configure``, environment, ``.env``, defaults.

    .. versionadded:: 0.1
    """
    return resolve()


def resolve(decorator: Mapping[str, Any] | None = None, call: Mapping[str, Any] | None = None) -> Settings:
    """Every layer applied. Both mappings are cached by identity: never mutate one once passed.

    Args:
        decorator: the ``@command(...)`` settings, only the keywords given.
        call: the per-call (``with_options``) settings, only the keywords given.

    Raises:
        ConfigurationError: a bad variable in the environment or ``.env``, or a bad layer value.
    """
    base = _base()
    layers = (base, call or None, _override.get(), decorator or None, _configured)
    key = tuple(map(id, layers))
    if (hit := _resolved.get(key)) is not None:
        return hit[1]
    checked = (x if not x or isinstance(x, _Checked) else check_names(x, "settings") for x in layers[1:])
    # The base's dict fields go in as the lowest layer, so ``extra`` merges key by key with them.
    settings = base.model_copy(update=_merge(*checked, {name: getattr(base, name) for name in _DICT_FIELDS}))
    if len(_resolved) >= 64:
        _resolved.clear()
    _resolved[key] = (layers, settings)
    return settings


def check_names(kwargs: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Validate setting keywords eagerly, so a mistake fails where it was written.

    Args:
        kwargs: setting keywords as the user wrote them.
        where: where they were written, for the message, e.g. ``"@command(...)"``.

    Returns:
        The validated values (keys become ``SecretStr``, numbers are coerced).

    Raises:
        ConfigurationError: an unknown name (with the closest valid one) or a bad value, naming it.
    """
    out: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name not in _FIELDS:
            from difflib import get_close_matches  # a hint for a wrong name: loaded then

            close = get_close_matches(name, _FIELDS, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            valid = ", ".join(sorted(_FIELDS))
            raise ConfigurationError(f"Unknown setting {name!r} in {where}.{hint} Valid settings: {valid}.")
        try:
            out[name] = _adapter(name).validate_python(value)
        except ValidationError as exc:
            shown = _HIDDEN if name in _SECRET else snippet(repr(value), 80)
            raise ConfigurationError(f"{name}={shown} in {where} {_problem(name, exc)}.") from None
    return _Checked(out)


def _merge(*layers: Mapping[str, Any] | None) -> dict[str, Any]:
    """The one merge: layers highest first; the first to set a key wins, dicts merge key by key."""
    merged: dict[str, Any] = {}
    for layer in reversed(layers):
        for key, value in (layer or {}).items():
            below = merged.get(key) if isinstance(value, dict) else None
            merged[key] = {**below, **value} if isinstance(below, dict) else value
    return merged


@functools.cache
def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter[Any](_FIELDS[name].rebuild_annotation())


def _problem(name: str, exc: ValidationError) -> str:
    error = exc.errors(include_input=False)[0]
    if name == "model" and error["type"] != "value_error":
        return (
            "should be a 'provider:model' string (e.g. 'openai:gpt-5-mini') or a model object, "
            "or a list of them (a fallback chain)"
        )
    phrase = _PHRASES.get(error["type"])
    return phrase or error["msg"].removeprefix("Value error, ").replace("Input should", "should", 1)


def _base() -> Settings:
    """Environment + ``.env`` + defaults, read again only when the fingerprint changes."""
    cwd = os.getcwd()
    key = (_env_key(), cwd, _dotenv_stat(cwd))
    if (base := _bases.get(key)) is None:
        with _lock:
            base = _bases.get(key) or _read_sources(key)
    return base


def _dotenv_stat(cwd: str) -> tuple[int, ...] | None:
    """The ``.env`` file's stat fingerprint (``None``: no file), looked at again after ``_DOTENV_WINDOW``."""
    global _dotenv_seen
    now = time.monotonic()
    seen_cwd, seen_at, dotenv = _dotenv_seen
    if seen_cwd == cwd and now - seen_at < _DOTENV_WINDOW:
        return dotenv
    try:
        st = os.stat(".env")
        dotenv = (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)
    except OSError:
        dotenv = None
    _dotenv_seen = (cwd, now, dotenv)
    return dotenv


def _env_key() -> tuple[tuple[str, str | SecretStr], ...]:
    """The ``ALLOY_``/SDK-named variables of ``os.environ``, sorted."""
    global _env_seen
    # os.environ has no change counter. Comparing its raw dict with a copy is a C-level walk that
    # short-circuits on identical value objects (<1 µs); decoding every item costs ~20 µs.
    raw: dict[Any, Any] | None = getattr(os.environ, "_data", None)
    seen, key = _env_seen
    if raw is None or raw != seen:
        key = tuple(sorted((k, _hidden(k, v)) for k, v in os.environ.items() if _relevant(k)))
        _env_seen = (dict(raw) if raw is not None else None, key)
    return key


def _hidden(var: str, value: str) -> str | SecretStr:
    """A key's value as a ``SecretStr``: fingerprints and the values read are kept in frames that
    a traceback with locals (Sentry, ``pytest --showlocals``) prints."""
    return SecretStr(value) if var.upper() in _SECRET_VARS else value


def _relevant(var: str) -> bool:
    var = var.upper()
    return var.startswith("ALLOY_") or var in _KNOWN_VARS


def _read_sources(key: tuple[Any, ...]) -> Settings:
    """Warn about unknown ``ALLOY_`` variables, then read the environment and ``.env``."""
    from dotenv import dotenv_values  # both at the first read of the settings, not at import

    from ._settings_class import Settings

    env = {k.upper(): v for k, v in key[0]}
    dotenv = {k.upper(): _hidden(k, v) for k, v in dotenv_values(".env").items() if v} if key[2] else {}
    sources = {"the environment": env, ".env": dotenv}
    for source, found in sources.items():
        # ALLOY_TEST_* is reserved for Alloy's own test suite (e.g. ALLOY_TEST_LOCAL_LLM_URL).
        for var in sorted(found.keys() - _KNOWN_VARS):
            if var.startswith("ALLOY_") and not var.startswith("ALLOY_TEST_"):
                from difflib import get_close_matches  # a hint for a wrong name: loaded then

                close = get_close_matches(var, _ALLOY_VARS, n=1)
                hint = f" Did you mean {close[0]}?" if close else ""
                warnings.warn(f"{var} (in {source}) is not an Alloy setting; ignored.{hint}", stacklevel=5)
    try:
        base = Settings()
    except ValidationError as exc:
        loc = str(exc.errors()[0]["loc"][0]).upper()
        name = next((n for n, names in _ENV_NAMES.items() if loc in (n.upper(), *names)), "")
        # The variable that supplied the value: the first name found, environment before .env.
        where = ((v, s) for s, found in sources.items() for v in _ENV_NAMES.get(name, ()) if v in found)
        var, source = next(where, (loc, "the environment"))
        shown = _HIDDEN if name in _SECRET else snippet(repr(sources[source].get(var, "")), 80)
        raise ConfigurationError(
            f"{var}={shown} (from {source}) {_problem(name, exc)}. Fix or unset it."
        ) from None
    if len(_bases) >= 32:
        _bases.clear()
    _bases[key] = base
    return base


def _reset_configure() -> None:  # pyright: ignore[reportUnusedFunction] (tests call it)
    """Forget every ``configure(...)`` call and the cached results (for tests)."""
    global _configured, _dotenv_seen
    with _lock:
        _configured = {}
        _dotenv_seen = ("", float("-inf"), None)
        _bases.clear()
        _resolved.clear()

"""Keep secrets out of what Alloy passes on: error messages, span events, logs (SPEC §17).

``secrets(settings)`` are the configured keys and the passwords inside configured URLs
(``http://user:KEY@host``). ``scrub`` replaces them with ``***`` in any text, and also any password
written in a URL, configured or not. ``scrub_error`` does that to an exception and its whole chain
(the SDK's exception that a ``ProviderError`` is chained to repeats the provider's text), so a
traceback, a span event or a log line shows no key. ``mask_secret_like`` is for values quoted in
errors about *non-secret* settings: a key pasted into ``ALLOY_MODEL`` is not echoed whole.
"""

from __future__ import annotations

import contextlib
import os
import re
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from pydantic import SecretStr

if TYPE_CHECKING:
    from ._settings import Settings

HIDDEN = "***"
_OURS = os.path.dirname(os.path.abspath(__file__)) + os.sep
_KEYS = ("openai_api_key", "anthropic_api_key", "gemini_api_key")
_URLS = ("ollama_host", "openai_base_url", "anthropic_base_url", "gemini_base_url")
_SHORTEST = 4  # a shorter "secret" would scrub ordinary words
_URL_PASSWORD = re.compile(r"(?<=://)([^/\s:@]*):([^/\s@]+)@")
# Well-known key prefixes, or a long run that mixes upper case, lower case and digits (model
# names are lower case; keys are not).
_SECRET_LIKE = re.compile(
    r"\b(?:sk|pk|rk|gsk|xai|hf|ghp|AIza)[-_][A-Za-z0-9_\-]{12,}|(?=[A-Za-z0-9_\-]*[A-Z])"
    r"(?=[A-Za-z0-9_\-]*[a-z])(?=[A-Za-z0-9_\-]*\d)\b[A-Za-z0-9_\-]{32,}"
)


def secrets(settings: Settings) -> tuple[str, ...]:
    """The configured keys and URL passwords, longest first (so no key is half replaced)."""
    found: set[str] = set()
    for name in _KEYS:
        key: SecretStr | None = getattr(settings, name, None)
        if key is not None and len(key.get_secret_value()) >= _SHORTEST:
            found.add(key.get_secret_value())
    for name in _URLS:
        url: str | None = getattr(settings, name, None)
        if url and "@" in url:
            password = urlsplit(url).password
            if password and len(password) >= _SHORTEST:
                found.add(password)
    return tuple(sorted(found, key=len, reverse=True))


def scrub(text: str, secret_values: tuple[str, ...] = ()) -> str:
    """*text* with each secret, and any password in a URL, replaced by ``***``."""
    for value in secret_values:
        if value in text:
            text = text.replace(value, HIDDEN)
    return _URL_PASSWORD.sub(rf"\1:{HIDDEN}@", text) if "@" in text else text


def scrub_value(value: Any, secret_values: tuple[str, ...]) -> Any:
    """*value* (text, or JSON-like lists and dicts of it) scrubbed; anything else as it is."""
    if isinstance(value, str):
        return scrub(value, secret_values)
    if isinstance(value, dict):
        return {k: scrub_value(v, secret_values) for k, v in cast("dict[Any, Any]", value).items()}
    if isinstance(value, list):
        return [scrub_value(v, secret_values) for v in cast("list[Any]", value)]
    return value


def scrub_error(exc: BaseException, secret_values: tuple[str, ...]) -> None:
    """Scrub *exc* and every exception it is chained to, in place: their arguments, notes and the
    text attributes SDK exceptions keep (``message``, ``body``, ``error``)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        current.args = tuple(scrub_value(a, secret_values) for a in current.args)
        for attr in ("message", "body", "error", "__notes__"):
            value = current.__dict__.get(attr)
            if value is not None:
                with contextlib.suppress(AttributeError, TypeError):  # read-only: its text stays
                    setattr(current, attr, scrub_value(value, secret_values))
        _clear_foreign_locals(current.__traceback__)
        current = current.__cause__ or current.__context__


def _clear_foreign_locals(tb: TracebackType | None) -> None:
    """Drop the locals of the SDKs' and HTTP clients' finished frames in *tb*: they hold the
    request headers, key included, and a traceback rendered with locals would print them.
    Alloy's own frames keep theirs (they hold keys only as ``SecretStr``)."""
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(_OURS):
            with contextlib.suppress(RuntimeError):  # a frame still running keeps its locals
                tb.tb_frame.clear()
        tb = tb.tb_next


def mask_secret_like(text: str) -> str:
    """*text* with anything that looks like a key cut to its first four characters."""
    return _SECRET_LIKE.sub(lambda m: m.group(0)[:4] + "…" + HIDDEN, text)

"""The errors Alloy raises.

    AlloyError
    ├── ConfigurationError      a setting, a model name, a decorator or a missing key is wrong;
    │                           raised before any request is sent
    ├── CommandError            the answer never validated (or a contract on the command failed)
    │   └── ToolLoopLimitExceeded   the model kept asking for tools past ``max_tool_turns``
    ├── ToolError               a tool could not be called; inside a tool turn it goes back to the
    │                           model as text, it only escapes when a tool is called directly
    └── ProviderError           the provider refused or failed, after retries of transient errors

Messages say what happened, with the input that caused it (cut to a snippet), and what to do.
Nothing secret goes into them: keys never, whole prompts never.
"""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ._secrets import mask_secret_like
from ._usage import Usage

__all__ = [
    "AlloyError",
    "CommandError",
    "ConfigurationError",
    "ProviderError",
    "ToolError",
    "ToolLoopLimitExceeded",
]

SNIPPET = 200


def snippet(text: object, limit: int = SNIPPET) -> str:
    """A short, single-line rendering of *text* for error messages."""
    s = text if isinstance(text, str) else repr(text)
    s = " ".join(s.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def pydantic_detail(exc: BaseException) -> str:
    """The first sentence of a pydantic schema error, without its pages of advice."""
    first = str(exc).strip().split("\n", 1)[0]
    return snippet(first.split(". ", 1)[0].rstrip(".") + ".", 160)


def register_hint(tp: Any) -> str:
    """Alloy's own fix for a type pydantic cannot handle, named for *tp*."""
    name = getattr(tp, "__name__", None) or snippet(repr(tp), 60)
    return f"alloy.register_type({name}, json_schema=..., parse=...)"


class AlloyError(Exception):
    """Base class of every error Alloy raises."""


class ConfigurationError(AlloyError, ValueError):
    """A setting, model name, decorator use or credential is wrong. Nothing was sent.

    A value in the message that looks like a key (one pasted into the wrong setting, such as
    ``ALLOY_MODEL=sk-...``) is cut to its first characters.
    """

    def __init__(self, message: str = "") -> None:
        super().__init__(mask_secret_like(message))


class CommandError(AlloyError):
    """The model's answer could not be turned into the declared output.

    Attributes:
        raw: the last answer the model gave (text), or ``None`` if it gave none.
        errors: the validation or contract errors of the last attempt, as text.
        attempts: how many answers were asked for (1 + re-asks).
        usage: the tokens and requests spent on the call before it failed (all of them: tool
            turns and re-asks included), as ``Result.usage`` would have been.
        cost: the estimated cost in USD of ``usage``, where the model's price is known.
    """

    def __init__(
        self,
        message: str,
        *,
        raw: str | None = None,
        errors: Sequence[str] = (),
        attempts: int = 0,
        usage: Usage | None = None,
        cost: float | None = None,
    ) -> None:
        super().__init__(message)
        self.raw = raw
        self.errors = list(errors)
        self.attempts = attempts
        self.usage = usage if usage is not None else Usage()
        self.cost = cost


class ToolLoopLimitExceeded(CommandError):
    """The model asked for tools in more than ``max_tool_turns`` turns.

    Attributes:
        max_turns: the limit in force.
        turns_taken: model turns that asked for tools (all executed but the last).
        partial_text: any text the model produced along the way.
    """

    def __init__(
        self, *, max_turns: int, turns_taken: int, partial_text: str = "", usage: Usage | None = None
    ) -> None:
        super().__init__(
            f"The model asked for tools again after {turns_taken} tool turns "
            f"(max_tool_turns={max_turns}). Raise max_tool_turns (ALLOY_MAX_TOOL_TURNS) if the task "
            "needs more steps, or make the prompt say when to stop.",
            raw=partial_text or None,
            attempts=1,
            usage=usage,
        )
        self.max_turns = max_turns
        self.turns_taken = turns_taken
        self.partial_text = partial_text


class ToolError(AlloyError):
    """A tool call failed: bad arguments, a contract, or an exception inside the tool."""

    def __init__(self, message: str, *, tool: str = "") -> None:
        super().__init__(message)
        self.tool = tool


class ProviderError(AlloyError):
    """The provider answered with an error, or could not be reached.

    Attributes:
        provider: ``"openai"``, ``"anthropic"``, …
        status_code: the HTTP status, or ``None`` for a connection error or timeout.
        retryable: whether the error is transient (429, 408, 409, 5xx, timeouts, connection errors).
        retry_after: seconds the provider asked us to wait, if it said.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after
        self.body = body

    def __str__(self) -> str:
        status = f" (HTTP {self.status_code})" if self.status_code is not None else ""
        return f"{self.provider}{status}: {self.args[0]}"


def malformed(provider: str, what: Exception | str) -> ProviderError:
    """The ``ProviderError`` of an answer that could not be read (not JSON, or not the shape the
    provider answers with): retryable, since the next answer may well be fine.

    Args:
        provider: who answered.
        what: the exception reading it raised, or what was wrong with it.
    """
    detail = f"{type(what).__name__}: {snippet(str(what), 200)}" if isinstance(what, Exception) else what
    return ProviderError(
        f"the answer could not be read ({detail}): it is not JSON, or not the shape {provider} "
        f"answers with. If this persists, check that the base URL serves the {provider} API.",
        provider=provider,
        retryable=True,
    )


def is_retryable_status(status: int | None) -> bool:
    """The one rule of which HTTP statuses are transient, shared by every adapter."""
    return status is None or status in (408, 409, 429) or status >= 500


def read_retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds the provider asked to wait, the one reading of every adapter.

    ``retry-after-ms`` (milliseconds) wins over ``retry-after``, which is seconds or an HTTP date.
    A date in the past is 0; a missing or unreadable header is ``None`` (the backoff decides).
    The cap at ``retry_wait_max`` is the retry layer's.
    """
    if not headers:
        return None
    for name, scale in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            seconds = float(value) / scale
        except ValueError:
            seconds = _http_date(value) if scale == 1.0 else None
        if seconds is not None and math.isfinite(seconds):
            return max(seconds, 0.0)
    return None


def _http_date(value: str) -> float | None:
    try:
        return email.utils.parsedate_to_datetime(value).timestamp() - time.time()
    except (TypeError, ValueError, IndexError):
        return None

"""The retry policy: which errors are retried, how long to wait, and the first-try fast path."""

from __future__ import annotations

import email.utils
import time

import pytest

from alloy import ProviderError, ask, override
from alloy._errors import is_retryable_status, read_retry_after
from alloy._retry import _backoff  # pyright: ignore[reportPrivateUsage]
from alloy._settings import resolve
from alloy.testing import ScriptedModel


@pytest.mark.parametrize(
    ("status", "retryable"),
    [
        (429, True),
        (408, True),
        (409, True),
        (500, True),
        (503, True),
        (529, True),
        (None, True),
        (400, False),
        (401, False),
        (404, False),
    ],
)
def test_transient_statuses(status: int | None, retryable: bool) -> None:
    """429, 408, 409, 5xx and connection errors (no status) are transient; other 4xx are not."""
    assert is_retryable_status(status) is retryable


def test_retry_after_is_honoured_and_capped() -> None:
    """A Retry-After wait is used as the backoff, capped at retry_wait_max."""
    on = _backoff(resolve(call={"retry_wait_max": 5}))
    assert on(ProviderError("busy", provider="p", status_code=429, retryable=True, retry_after=2)) == 2
    assert on(ProviderError("busy", provider="p", status_code=429, retryable=True, retry_after=60)) == 5


def test_backoff_without_retry_after_and_non_retryable() -> None:
    """Without Retry-After stamina's own backoff applies; non-retryable errors are not retried."""
    on = _backoff(resolve())
    assert on(ProviderError("busy", provider="p", status_code=503, retryable=True)) is True
    assert on(ProviderError("bad", provider="p", status_code=400)) is False
    assert on(ValueError("not ours")) is False


def test_one_attempt_means_no_retry() -> None:
    """retry_attempts=1: a transient error is raised after the single request."""
    busy = ProviderError("busy", provider="p", status_code=503, retryable=True)
    model = ScriptedModel([busy, "never sent"])
    with override(model=model, retry_attempts=1), pytest.raises(ProviderError):
        ask("x")
    assert len(model.requests) == 1


def test_transient_failures_get_the_remaining_attempts() -> None:
    """The first try runs outside stamina; a transient failure then gets the remaining attempts."""
    busy = ProviderError("busy", provider="p", status_code=503, retryable=True)
    model = ScriptedModel([busy, busy, "fine"])
    with override(model=model, retry_attempts=3):
        assert ask("x") == "fine"
    assert len(model.requests) == 3


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "3"}, 3.0),
        ({"retry-after": "0.5"}, 0.5),
        ({"retry-after-ms": "1500", "retry-after": "2"}, 1.5),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # in the past: no wait
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "x", "retry-after": "2"}, 2.0),
        ({"retry-after": "nan"}, None),
        ({}, None),
        (None, None),
    ],
)
def test_one_retry_after_reading(headers: dict[str, str] | None, seconds: float | None) -> None:
    """Every adapter reads Retry-After with this: ms first, then seconds or an HTTP date."""
    assert read_retry_after(headers) == seconds


def test_retry_after_http_date_in_the_future() -> None:
    """An HTTP date is the seconds from now until then."""
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28 <= (read_retry_after({"retry-after": when}) or 0) <= 30

"""Telemetry on against off: the ``openai`` target's Alloy side, with and without OpenTelemetry spans.

Its columns hold other things than the other targets' (see ``NOTE``): "raw SDK" is the ``openai``
target's raw side, "same request" is its Alloy side as it is (telemetry off), and "Alloy" is the
same command with ``telemetry=True``, so Alloy/same is the cost of telemetry, on over off. An
OpenTelemetry SDK ``TracerProvider`` with no span processor is set globally: every span is made,
given its attributes and ended, and nothing is exported. It is set on the first call of the
telemetry side, so a process measuring only the other sides never imports OpenTelemetry.
"""

from __future__ import annotations

from invoice import PROMPT, Invoice

from targets import Target
from targets import openai as chat

ROUTES: dict[str, bytes] = {}  # served by targets/openai.py
NOTE = "'same request' is the `openai` row's Alloy (telemetry off), 'Alloy' the same with telemetry on"


def _trace() -> None:
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    trace.set_tracer_provider(TracerProvider())  # no span processor: spans are made, none exported


def make(base_url: str, with_alloy: bool = True) -> Target:
    off = chat.make(base_url, with_alloy)  # also configures Alloy's key and base URL
    if not with_alloy:
        return Target("openai_telemetry", off.raw, off.raw_async)

    import alloy

    @alloy.command(output=Invoice, model=f"openai:{chat.MODEL}", telemetry=True)
    def extract(text: str) -> str:
        return text

    traced: list[bool] = []

    def on() -> Invoice:
        if not traced:  # the first call of this side (the answer's check) comes before any async one
            _trace()
            traced.append(True)
        return extract(PROMPT)

    return Target(
        "openai_telemetry",
        off.raw,
        off.raw_async,
        on,
        lambda: extract.async_(PROMPT),
        off.alloy,
        off.alloy_async,
    )

"""What the tool round-trip targets (``*_tools.py``) share: the tool, its result, the fake's route.

The workload is the same extraction as every target, with one tool round trip first: the model
calls ``lookup_customer`` with the name on the invoice, the caller runs it and sends its result
back, and the model then answers with the ``Invoice``. The fake server answers a target's path
with the tool call, and the request that carries the tool's result (it holds ``CUSTOMER_ID``,
which nothing else sent does) with the canned invoice (``round_trip``). Each tool target serves
its routes under ``PREFIX`` (its SDK's base URL ends in it), so they do not collide with the
plain targets' routes of the same API.

The hand-written loops run the tools with ``run``, and from async code with ``arun``, which runs a
sync tool in a worker thread (``asyncio.to_thread``) as Alloy does in an async call: a sync tool
may block (a database, an HTTP call), and on the event loop it would stall every other call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from invoice import ANSWER

PREFIX = "/tools"
CUSTOMER = str(ANSWER["customer"])
CUSTOMER_ID = "C-1042"
ARGUMENTS = {"name": CUSTOMER}
"""The arguments the fake model calls the tool with."""
NAME = "lookup_customer"
DESCRIPTION = "Look up a customer's record (id and country) by the name on the invoice."
PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "description": "The customer's name as written on the invoice."}
    },
    "required": ["name"],
    "additionalProperties": False,
}
"""The tool's parameters as the raw side writes them by hand (Alloy derives its own from the signature)."""


def lookup_customer(name: str) -> dict[str, str]:
    """Look up a customer's record (id and country) by the name on the invoice.

    Args:
        name: The customer's name as written on the invoice.
    """
    return {"name": name, "id": CUSTOMER_ID, "country": "DE"}


FUNCTIONS: dict[str, Callable[..., Any]] = {NAME: lookup_customer}
"""The tools by name, as a hand-written loop finds them."""


Calls = list[tuple[str, str, dict[str, Any]]]
"""The tool calls of an answer: (call id, tool name, arguments)."""


def run(calls: Calls) -> dict[str, Any]:
    """Each call's result by call id, the tool found by name and run here (sync code)."""
    return {call_id: FUNCTIONS[name](**arguments) for call_id, name, arguments in calls}


async def arun(calls: Calls) -> dict[str, Any]:
    """The same from async code: a sync tool runs in a worker thread, so however long it takes it
    cannot block the event loop (and the other calls on it). Alloy does the same with a sync tool
    in an async call (SPEC §5.4), so both sides do the same work."""
    return {
        call_id: await asyncio.to_thread(FUNCTIONS[name], **arguments) for call_id, name, arguments in calls
    }


def round_trip(call: bytes, answer: bytes) -> Callable[[bytes], bytes]:
    """A route's reply: *call* (the tool call) to a first request, *answer* to the request that
    carries the tool's result."""
    marker = CUSTOMER_ID.encode()

    def reply(request: bytes) -> bytes:
        return answer if marker in request else call

    return reply

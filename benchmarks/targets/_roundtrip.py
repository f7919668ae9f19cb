"""What the tool round-trip targets (``*_tools.py``) share: the tool, its result, the fake's route.

The workload is the same extraction as every target, with one tool round trip first: the model
calls ``lookup_customer`` with the name on the invoice, the caller runs it and sends its result
back, and the model then answers with the ``Invoice``. The fake server answers a target's path
with the tool call, and the request that carries the tool's result (it holds ``CUSTOMER_ID``,
which nothing else sent does) with the canned invoice (``round_trip``). Each tool target serves
its routes under ``PREFIX`` (its SDK's base URL ends in it), so they do not collide with the
plain targets' routes of the same API.
"""

from __future__ import annotations

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


def round_trip(call: bytes, answer: bytes) -> Callable[[bytes], bytes]:
    """A route's reply: *call* (the tool call) to a first request, *answer* to the request that
    carries the tool's result."""
    marker = CUSTOMER_ID.encode()

    def reply(request: bytes) -> bytes:
        return answer if marker in request else call

    return reply

"""The main job: one real typed call, with a tool, on the configured provider.

Uses ALLOY_MODEL if set, else the first provider whose key is configured (environment or .env),
else the offline `fake` model (a schema-valid answer, no tool call) — and says which.
"""

from __future__ import annotations

import os

import pydantic

import alloy
from alloy import command, tool


class LineItem(pydantic.BaseModel):
    description: str
    quantity: int
    unit_price: float


class Invoice(pydantic.BaseModel):
    """An invoice extracted from free text."""

    number: str
    customer: str
    items: list[LineItem]
    total: float = pydantic.Field(description="Sum of quantity * unit_price over the items")


@tool
def customer_name(customer_id: str) -> str:
    """Look up a customer's name by id.

    Args:
        customer_id: an id such as C-7.
    """
    return {"C-7": "Ada Lovelace"}.get(customer_id, "unknown customer")


@command(output=Invoice, tools=[customer_name])
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from this text. Resolve the customer id to a name with the tool.\n\n{text}"


def pick_model() -> tuple[str, str]:
    settings = alloy.get_settings()  # arguments, environment and .env, resolved
    if os.environ.get("ALLOY_MODEL") or settings.model != alloy.Settings.model_fields["model"].default:
        return str(settings.model), "from ALLOY_MODEL"
    for model, key in (
        ("openai:gpt-5-mini", settings.openai_api_key),
        ("anthropic:claude-sonnet-4-5", settings.anthropic_api_key),
        ("gemini:gemini-2.5-flash", settings.gemini_api_key),
    ):
        if key is not None:
            return model, "its API key is set"
    return (
        "fake",
        "no provider key set: the offline fake model, which calls no tools "
        "(set OPENAI_API_KEY or ALLOY_MODEL for a real one)",
    )


def main() -> None:
    model, why = pick_model()
    print(f"Model: {model}  ({why})")
    text = "Invoice INV-42 for customer C-7: 2 x widget at $3.50, 1 x gadget at $10.00."
    result = extract_invoice.with_options(model=model).run(text)
    invoice = result.output
    assert isinstance(invoice, Invoice)
    print(invoice.model_dump_json(indent=2))
    print(
        f"{result.usage.requests} request(s), {result.usage.total_tokens} tokens, {result.attempts} attempt(s)"
    )


if __name__ == "__main__":
    main()

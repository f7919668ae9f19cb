"""Typed extraction with a re-ask: the first answer misses a field, the second is right.

Runs offline: a ScriptedModel stands in for the provider. Swap it for model="openai:gpt-5-mini".
"""

import pydantic

from alloy import command
from alloy.testing import ScriptedModel


class LineItem(pydantic.BaseModel):
    description: str
    quantity: int
    unit_price: float


class Invoice(pydantic.BaseModel):
    number: str
    items: list[LineItem]
    total: float


model = ScriptedModel(
    [
        '{"number": "INV-42", "items": [{"description": "widget", "quantity": 2}], "total": 7}',
        '```json\n{"number": "INV-42", "items": [{"description": "widget", "quantity": 2, '
        '"unit_price": "3.50"}], "total": 7}\n```',
    ]
)


@command(output=Invoice, model=model)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


result = extract_invoice.run("Invoice INV-42: 2 x widget at $3.50, total $7.00")
print(result.output)
print("attempts:", result.attempts, "requests:", result.usage.requests)
print("the re-ask said:")
print(model.requests[1].messages[-1].content)

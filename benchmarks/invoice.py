"""The workload every benchmark target runs: one small typed extraction, and its canned answer."""

from __future__ import annotations

import json

from pydantic import BaseModel


class LineItem(BaseModel):
    description: str
    quantity: int
    unit_price: float


class Invoice(BaseModel):
    number: str
    customer: str
    currency: str
    total: float
    items: list[LineItem]


PROMPT = (
    "Extract the invoice.\n\n"
    "INVOICE 2024-117 for Acme Robotics. 3 x servo motor at 42.50 EUR, 10 x M3 bolt at 0.20 EUR, "
    "1 x controller board at 89.00 EUR. Total due: 218.50 EUR."
)

ANSWER = {
    "number": "2024-117",
    "customer": "Acme Robotics",
    "currency": "EUR",
    "total": 218.5,
    "items": [
        {"description": "servo motor", "quantity": 3, "unit_price": 42.5},
        {"description": "M3 bolt", "quantity": 10, "unit_price": 0.2},
        {"description": "controller board", "quantity": 1, "unit_price": 89.0},
    ],
}
ANSWER_TEXT = json.dumps(ANSWER)
EXPECTED = Invoice.model_validate(ANSWER)

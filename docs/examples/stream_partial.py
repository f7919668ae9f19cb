"""Structured output as it arrives: stream_partial, stream_items and text, on a scripted model."""

import json

from pydantic import BaseModel

from alloy import command, override
from alloy.testing import ScriptedModel


class Line(BaseModel):
    item: str
    qty: int


class Invoice(BaseModel):
    number: str
    lines: list[Line]


@command(output=Invoice)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


@command(output=list[Line])
def extract_lines(text: str) -> str:
    return f"List the lines of: {text}"


answer = {"number": "INV-42", "lines": [{"item": "green tea", "qty": 2}, {"item": "scones", "qty": 6}]}

# A form filling in: each value is an Invoice built from the JSON received so far.
with override(model=ScriptedModel([json.dumps(answer)])):
    for invoice in extract_invoice.stream_partial("..."):
        print(invoice)

# A list appearing one element at a time, each validated as a Line.
with override(model=ScriptedModel([json.dumps({"value": answer["lines"]})])):
    for line in extract_lines.stream_items("..."):
        print("line:", line)

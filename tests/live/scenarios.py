"""The tasks every live provider test runs: a typed extraction and a tool call."""

from __future__ import annotations

from dataclasses import dataclass

from alloy import command, tool


@dataclass
class Invoice:
    number: str
    total: float
    line_items: dict[str, int]


@command(output=Invoice)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice. `line_items` maps each product to its quantity.\n\n{text}"


@tool
def exchange_rate(currency: str) -> float:
    """The value of one unit of *currency* in US dollars."""
    return {"EUR": 1.25, "GBP": 1.5}.get(currency.upper(), 1.0)


@command(output=float, tools=[exchange_rate])
def to_usd(amount: float, currency: str) -> str:
    return f"Convert {amount} {currency} to US dollars. Use the exchange_rate tool."

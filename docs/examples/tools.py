"""A command with two tools: a contract failure and a tool error go back to the model, which recovers.

Runs offline on a ScriptedModel; the printout is the conversation the model saw.
"""

import asyncio
from dataclasses import dataclass

from alloy import command, override, require, tool
from alloy.testing import ScriptedModel, ToolCall


@dataclass
class Order:
    sku: str
    quantity: int
    total: float


@tool
@require(lambda sku: sku.startswith("SKU-"), "sku must look like SKU-123")
def price(sku: str) -> float:
    """Unit price of a product."""
    if sku == "SKU-0":
        raise LookupError("SKU-0 is discontinued")
    return 2.5


@tool
async def stock(sku: str) -> int:
    """Units in stock."""
    await asyncio.sleep(0)
    return 7


@command(output=Order, tools=[price, stock])
def make_order(text: str) -> str:
    return f"Make an order from: {text}"


model = ScriptedModel(
    [
        ToolCall("price", {"sku": "1"}, id="a"),
        ToolCall("price", {"sku": "SKU-0"}, id="b"),
        [ToolCall("price", {"sku": "SKU-1"}, id="c"), ToolCall("stock", {"sku": "SKU-1"}, id="d")],
        '{"sku": "SKU-1", "quantity": 2, "total": 5.0}',
    ]
)

with override(model=model):
    order = make_order("two of SKU-1")

for message in model.requests[-1].messages:
    calls = ", ".join(f"{c.name}({c.arguments})" for c in message.tool_calls)
    print(f"{message.role:>9}: {message.content or calls}")
print(order)

"""The ReAct loop, for models without native tool calling: JSON steps and Observation messages."""

from alloy import command, tool
from alloy.testing import ScriptedModel


@tool
def lookup_customer(name: str) -> str:
    """Find a customer id by name."""
    return "C-7"


@tool
def count_orders(customer_id: str) -> int:
    """Count a customer's orders."""
    return 3


model = ScriptedModel(
    [
        '{"thought": "I need the id", "action": "lookup_customer", "action_input": {"name": "Ada"}}',
        '{"thought": "Now count", "action": "count_orders", "action_input": {"customer_id": "C-7"}}',
        '{"thought": "Done", "action": "final_answer", "action_input": 3}',
    ],
    native_tools=False,  # tool_mode="auto" picks ReAct for such a model
)


@command(output=int, tools=[lookup_customer, count_orders], model=model)
def orders_of(name: str) -> str:
    return f"How many orders has {name} placed?"


print("plan:", orders_of.explain().tool_mode)
print("answer:", orders_of("Ada"))
for message in model.requests[-1].messages[1:]:
    print(f"{message.role:>9}: {message.content}")

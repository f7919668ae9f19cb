"""A fallback chain: a cheap model first, a stronger one when its answer does not validate."""

from dataclasses import dataclass

from alloy import ProviderError, command
from alloy.testing import ScriptedModel


@dataclass
class Invoice:
    number: str
    total: float


# Stand-ins for two real models (say "ollama:llama3.2" and "openai:gpt-5-mini"): the small one
# answers badly twice (the first try and its one re-ask), the strong one answers well.
small = ScriptedModel(['{"number": 42}', '{"number": "42", "total": "a lot"}'], name="small")
strong = ScriptedModel(['{"number": "42", "total": 99.5}'], name="strong")


@command(output=Invoice, model=[small, strong], retry=1)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


print(extract_invoice.explain().chain)
result = extract_invoice.run("Invoice #42, total $99.50")
print(result.output)
print("answered by:", result.model)
print(f"requests: {result.usage.requests} (small {len(small.requests)}, strong {len(strong.requests)})")

# When every model fails, the last error is raised, with a note per earlier model.
down = ScriptedModel([ProviderError("invalid api key", provider="scripted", status_code=401)], name="a")
also_down = ScriptedModel([ProviderError("model not found", provider="scripted", status_code=404)], name="b")
try:
    extract_invoice.with_options(model=[down, also_down])("Invoice #43")
except ProviderError as exc:
    print("raised:", exc)
    for note in exc.__notes__:
        print("  ", note)

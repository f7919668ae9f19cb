"""Many inputs with map on the offline fake model: order, failures, a checkpoint a rerun resumes."""

from dataclasses import dataclass
from pathlib import Path

from alloy import command, require


@dataclass
class Invoice:
    number: str
    total: float


@require(lambda text: text.strip() != "", "the document is empty")
@command(output=Invoice, model="fake")
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


texts = ["Invoice #1, total $10", "", "Invoice #3, total $30"]
result = extract_invoice.map(texts, concurrency=8, checkpoint="run.jsonl")
for outcome in result:
    print(outcome.index, outcome.ok, outcome.output if outcome.ok else outcome.error)
print("failed:", [o.index for o in result.failed], "requests:", result.usage.requests)

lines = Path("run.jsonl").read_text().splitlines()
print(len(lines), "lines in the checkpoint (a header and one per item)")

# A rerun with the same path and items takes items 0 and 2 from the file; item 1 runs again.
again = extract_invoice.map(texts, checkpoint="run.jsonl")
print("rerun:", [o.ok for o in again], again[0].output == result[0].output)

"""A provider batch job: submit many invoices at once, collect them later, every one validated.

Runs offline on the fake model, which answers batch jobs at once. Swap it for
model="openai:gpt-5-mini" (or an Anthropic or Gemini model) to run a real batch at half price.
"""

from dataclasses import dataclass

from alloy import command


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice, model="fake")
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


texts = ["Invoice #42, total $99.50", "Invoice #7, total $12.00", "Invoice #9, total $3.00"]

# Submit: the requests are uploaded as one job; keep job.id to collect it from another process.
job = extract_invoice.submit_batch(texts)
print("provider:", job.provider, "| items:", len(job))
print("status:", job.status().status, "| done:", job.status().done)

# Later, perhaps in another process: the same command gets the job back by its id.
again = extract_invoice.batch_job(job.id)
results = again.results(poll=1.0)
for outcome in results:
    print(outcome.index, outcome.ok, outcome.output)
print("requests:", results.usage.requests, "| failed:", len(results.failed))

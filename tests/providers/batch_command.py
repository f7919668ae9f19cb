"""The command the batch tests submit, importable by a second process that collects the job.

Run as a script, it collects the job whose id is its first argument and prints each item's output
(or error) as one JSON line; the model and endpoint come from the environment.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from dataclasses import dataclass

from alloy import command


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice)
def extract(text: str) -> str:
    return f"Extract the invoice from: {text}"


if __name__ == "__main__":
    job = extract.batch_job(sys.argv[1])
    for outcome in job.results(poll=0.001, progress=False):
        shown = dataclasses.asdict(outcome.output) if outcome.output else str(outcome.error)
        print(json.dumps({"index": outcome.index, "output": shown, "requests": outcome.usage.requests}))

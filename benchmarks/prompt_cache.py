"""Prompt caching on a real server: time to first token with and without a cached prefix.

    scripts/local-llm.sh cache-bench                  # builds and starts llama-server, runs this, stops it
    python benchmarks/prompt_cache.py --url http://127.0.0.1:8080 [--rounds 5] [--rules 60]

Against a local ``llama-server`` (see ``scripts/local-llm.sh``), through Alloy's public API on Chat
Completions: a long system prompt (a numbered rule book, ~1,800 tokens with the default 60 rules)
and a short question. Each round starts a new rule book (a fresh first line, so no earlier request
shares its prefix) and streams two questions through it:

- **without the cache**: the first question; the server has never seen the prefix and prefills it
  all;
- **with the cache**: a second, different question over the same rule book; the server reuses the
  prefix it computed for the first (its KV cache) and prefills only the question.

Time to first token is measured from the call to the first text delta the caller gets. Then one
pair of ``run`` calls shows what the server reports: ``Usage.cached_input_tokens`` (llama-server's
``prompt_tokens_details.cached_tokens``) is 0 on the first call and about the rule book's length on
the second. The numbers depend on the machine and its load; the ratio is the point.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from alloy import Usage, command, override

QUESTIONS = ("Which rule is about refunds?", "Which rule is about shipping?")


def rule_book(rules: int, session: str) -> str:
    """A long, stable system prompt; *session* on its first line makes each book's prefix new."""
    lines = [f"Support policy, edition {session}. Answer questions about these rules in one sentence."]
    topics = ("refunds", "shipping", "returns", "warranty", "invoices", "discounts")
    for i in range(1, rules + 1):
        topic = topics[i % len(topics)]
        lines.append(
            f"Rule {i}: for {topic}, an order of more than {10 * i} dollars placed on day {i % 28 + 1} of "
            f"the month needs approval by a supervisor of team {i % 7 + 1} before it is handled."
        )
    return "\n".join(lines)


@command
def support(question: str) -> str:
    return question


def ttft(system: str, question: str) -> float:
    """Seconds from the call to the first text delta."""
    start = time.perf_counter()
    for delta in support.with_options(system=system, max_tokens=8).stream(question):
        if delta:
            return time.perf_counter() - start
    raise RuntimeError("the stream ended without text")


def usage_of(system: str, question: str) -> Usage:
    return support.with_options(system=system, max_tokens=8).run(question).usage


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", required=True, help="llama-server's URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("--rounds", type=int, default=5, help="rule books to time (default 5)")
    parser.add_argument(
        "--rules", type=int, default=60, help="rules per book: the prefix length (default 60)"
    )
    args = parser.parse_args()
    url = args.url.rstrip("/")
    alias = httpx.get(f"{url}/v1/models", timeout=10).raise_for_status().json()["data"][0]["id"]
    settings = {
        "model": f"openai:{alias}",
        "openai_base_url": f"{url}/v1",
        "openai_api_key": "sk-local",
        "openai_api": "chat",
        "temperature": 0.0,
        "timeout": 120,
    }
    cold: list[float] = []
    warm: list[float] = []
    with override(**settings):
        ttft(rule_book(4, "warm-up"), QUESTIONS[0])  # load the model's pages, compile nothing later
        for _ in range(args.rounds):
            book = rule_book(args.rules, uuid.uuid4().hex[:8])
            cold.append(ttft(book, QUESTIONS[0]))
            warm.append(ttft(book, QUESTIONS[1]))
        book = rule_book(args.rules, uuid.uuid4().hex[:8])
        first, second = usage_of(book, QUESTIONS[0]), usage_of(book, QUESTIONS[1])

    ms = lambda xs: f"{statistics.median(xs) * 1000:,.0f} ms"  # noqa: E731
    print(f"llama-server at {url} ({alias}), {args.rounds} rounds, a rule book of {args.rules} rules")
    print(f"prompt: {first.input_tokens:,} tokens (the question ~10 of them)")
    print("| | time to first token (median) | input tokens | cached_input_tokens |")
    print("| --- | --- | --- | --- |")
    print(
        f"| without the cache (a new prefix) | {ms(cold)} | {first.input_tokens:,} | {first.cached_input_tokens:,} |"
    )
    print(
        f"| with the cache (the same prefix) | {ms(warm)} | {second.input_tokens:,} | {second.cached_input_tokens:,} |"
    )
    print(f"speed-up: {statistics.median(cold) / statistics.median(warm):.1f}x")
    print("all runs (ms): without", [round(x * 1000) for x in cold], "with", [round(x * 1000) for x in warm])


if __name__ == "__main__":
    main()

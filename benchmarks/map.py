"""``map`` against a hand-written ``asyncio.gather`` with a semaphore over the raw SDK.

    python benchmarks/map.py            # 2,000 items at concurrency 64 (about a minute)
    python benchmarks/map.py --quick    # 200 items: a smoke run

Both sides extract the benchmark ``Invoice`` from every item through the OpenAI SDK's Chat
Completions, against the fake server (``fake_server.py``, its own process) answering each request
after ``--latency`` seconds. Two scenarios:

- **plain**: throughput (items per second, best of ``--rounds``, sides taking turns) and peak RSS
  (``ru_maxrss``) of each side, each run in a fresh process;
- **storm**: the server allows ``--limit`` requests at once and answers the rest 429 with
  ``Retry-After: 1``. The hand-written loop keeps the SDK's defaults (2 retries, honouring
  Retry-After); Alloy keeps its own (``retry_attempts=4``, adaptive concurrency). Counted: items
  that ended without an output.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from invoice import PROMPT, Invoice  # noqa: E402
from overhead import fake_server  # noqa: E402  (one launcher of the fake server for every benchmark)

MODEL = "gpt-4.1-mini"
KEY = "sk-benchmark"


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10


def texts(count: int) -> list[str]:
    return [f"{PROMPT}\n\nDocument {i}." for i in range(count)]


# --- the two sides (each runs in its own process) --------------------------------------------------


def hand_written(url: str, items: list[str], concurrency: int) -> tuple[float, int]:
    """What users write today: one async client, a semaphore, gather, failures caught per item."""
    import openai
    from targets.openai import strict_schema

    schema = strict_schema(Invoice.model_json_schema())
    response_format: Any = {
        "type": "json_schema",
        "json_schema": {"name": "Invoice", "schema": schema, "strict": True},
    }

    async def main() -> tuple[float, int]:
        client = openai.AsyncOpenAI(api_key=KEY, base_url=f"{url}/v1")
        limit = asyncio.Semaphore(concurrency)

        async def one(text: str) -> Invoice | None:
            async with limit:
                try:
                    completion = await client.chat.completions.create(
                        model=MODEL,
                        messages=[{"role": "user", "content": text}],
                        response_format=response_format,
                    )
                    return Invoice.model_validate_json(completion.choices[0].message.content or "")
                except Exception:
                    return None

        await one(items[0])  # warm: the client's first connection, the SDK's lazy imports
        started = time.perf_counter()
        results = await asyncio.gather(*(one(t) for t in items))
        elapsed = time.perf_counter() - started
        await client.close()
        return elapsed, sum(r is None for r in results)

    return asyncio.run(main())


def with_alloy(url: str, items: list[str], concurrency: int) -> tuple[float, int]:
    import alloy

    alloy.configure(openai_api_key=KEY, openai_base_url=f"{url}/v1")

    @alloy.command(output=Invoice, model=f"openai:{MODEL}")
    def extract(text: str) -> str:
        return text

    extract.map(items[:1])  # warm: the SDK's import, the plan (a new event loop gets its own client)
    started = time.perf_counter()
    result = extract.map(items, concurrency=concurrency, progress=False)
    elapsed = time.perf_counter() - started
    return elapsed, len(result.failed)


SIDES = {"hand": hand_written, "alloy": with_alloy}


def worker(side: str, url: str, count: int, concurrency: int) -> None:
    elapsed, failed = SIDES[side](url, texts(count), concurrency)
    print(json.dumps({"seconds": elapsed, "failed": failed, "rss_mb": _peak_rss_mb()}))


# --- the parent -----------------------------------------------------------------------------------


def run(side: str, url: str, count: int, concurrency: int) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", side, url, str(count), str(concurrency)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="200 items, one round")
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--worker", nargs=4, metavar=("SIDE", "URL", "COUNT", "CONCURRENCY"))
    args = parser.parse_args()
    if args.worker:
        side, url, count, concurrency = args.worker
        worker(side, url, int(count), int(concurrency))
        return
    if args.quick:
        args.items, args.rounds = 200, 1
    n, c = args.items, args.concurrency

    plain: dict[str, list[dict[str, float]]] = {side: [] for side in SIDES}
    with fake_server("--latency", str(args.latency)) as url:
        for _ in range(args.rounds):
            for side in SIDES:  # sides take turns: drift of a shared machine hits both alike
                plain[side].append(run(side, url, n, c))
    best = {side: min(runs, key=lambda r: r["seconds"]) for side, runs in plain.items()}
    with fake_server("--latency", str(args.latency), "--limit", str(args.limit)) as url:
        storm = {side: run(side, url, n, c) for side in SIDES}

    print(f"map: {n} items at concurrency {c}, fake server latency {args.latency * 1000:.0f} ms")
    print()
    print("| | hand-written gather | Alloy map | ratio |")
    print("| --- | --- | --- | --- |")
    hand, ours = best["hand"], best["alloy"]
    print(
        f"| throughput (items/s, best of {args.rounds}) | {n / hand['seconds']:,.0f} | "
        f"{n / ours['seconds']:,.0f} | {hand['seconds'] / ours['seconds']:.2f}x |"
    )
    print(f"| peak RSS (MB) | {hand['rss_mb']:.0f} | {ours['rss_mb']:.0f} | |")
    print(f"| failed items | {hand['failed']:.0f} | {ours['failed']:.0f} | |")
    print(
        f"| 429 storm (limit {args.limit}): failed items | {storm['hand']['failed']:.0f} | "
        f"{storm['alloy']['failed']:.0f} | |"
    )
    print(f"| 429 storm: seconds | {storm['hand']['seconds']:.1f} | {storm['alloy']['seconds']:.1f} | |")


if __name__ == "__main__":
    main()

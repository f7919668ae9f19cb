"""What Alloy costs on top of the raw provider SDK, for the same typed extraction.

    python benchmarks/overhead.py            # the full run (a few minutes)
    python benchmarks/overhead.py --quick    # a smoke run: a few calls, one round (CI)

A fake provider server runs in its own process (``fake_server.py``), so the client's CPU time
(``getrusage(RUSAGE_SELF)``, user + system) holds only the client's work. Each (target, side)
measurement runs in a fresh worker process, so peak RSS (``ru_maxrss``) is that side's own; the
workers alternate round by round and the table shows the best round of each (interference from
other processes only ever adds time, so the best round is the steadiest estimate).
CPU time per call is the figure to compare: wall time also holds the fake server's share of the
machine. Every call's answer is validated into the ``Invoice`` (checked once per worker).

Targets live in ``targets/``, one module per provider (see ``targets/__init__.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

SIDES = ("raw", "same_request", "alloy")


# --- worker: one side of one target, in its own process ---------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


def worker(args: argparse.Namespace) -> dict[str, float]:
    from invoice import EXPECTED
    from targets import modules

    target = modules()[args.target].make(args.url)
    call: Callable[[], Any] | None = getattr(target, args.side)
    acall: Callable[[], Any] | None = getattr(target, f"{args.side}_async")
    if call is None or acall is None:
        return {}  # this target does not offer this side
    if call() != EXPECTED:
        raise SystemExit(f"{args.target}/{args.side}: the answer did not validate to the expected Invoice")
    for _ in range(args.warmup):
        call()

    with _profiled(args.profile):
        cpu, wall = _cpu(), time.perf_counter()
        for _ in range(args.calls):
            call()
        sync_cpu, sync_wall = _cpu() - cpu, time.perf_counter() - wall

    async def concurrent() -> tuple[float, float, float]:
        limit = asyncio.Semaphore(args.concurrency)

        async def one() -> None:
            async with limit:
                await acall()

        await asyncio.gather(*(acall() for _ in range(args.concurrency)))  # open the pool, warm the loop
        cpu, wall = _cpu(), time.perf_counter()
        await asyncio.gather(*(one() for _ in range(args.async_calls)))
        cpu, wall = _cpu() - cpu, time.perf_counter() - wall
        with _counting() as count:
            for _ in range(20):
                await acall()
        return cpu, wall, count[0] / 20

    with _counting() as count:
        for _ in range(20):
            call()
    async_cpu, async_wall, async_count = asyncio.run(concurrent())
    return {
        "calls": count[0] / 20,
        "async_calls": async_count,
        "sync_cpu": sync_cpu / args.calls,
        "sync_wall": sync_wall / args.calls,
        "async_cpu": async_cpu / args.async_calls,
        "async_wall": async_wall / args.async_calls,
        "rss": _peak_rss_mb(),
    }


@contextmanager
def _counting() -> Generator[list[int]]:
    """Counts Python and C function calls in this thread (``count[0]``): a count is the same on a
    busy machine as on an idle one, where CPU times are not."""
    count = [0]

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            count[0] += 1

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)


@contextmanager
def _profiled(enabled: bool) -> Generator[None]:
    """With ``--profile``: cProfile the sync loop and print where the time goes (to stderr)."""
    if not enabled:
        yield
        return
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        yield
    finally:
        profile.disable()
        stats = pstats.Stats(profile, stream=sys.stderr).strip_dirs()
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)


# --- parent: server, workers, import time, table ------------------------------------------------------


@contextmanager
def fake_server() -> Generator[str]:
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_server.py"), "--until-stdin-closes"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("PORT "):
            raise SystemExit(f"the fake server did not start (it said {line!r})")
        yield f"http://127.0.0.1:{line.split()[1]}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def run_worker(
    args: argparse.Namespace, url: str, target: str, side: str, *, profile: bool = False
) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--worker", target, side, "--url", url]
    cmd += ["--calls", str(args.calls), "--async-calls", str(args.async_calls)]
    cmd += ["--concurrency", str(args.concurrency), "--warmup", str(args.warmup)]
    cmd += ["--profile"] if profile else []
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def import_time(statement: str, runs: int) -> float:
    """Seconds to run ``python -c statement`` minus ``python -c pass``, each the fastest of *runs*."""

    def fastest(code: str) -> float:
        times: list[float] = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True)
            times.append(time.perf_counter() - start)
        return min(times)

    return fastest(statement) - fastest("pass")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few calls, one round: proves it runs")
    parser.add_argument("--calls", type=int, default=2000, help="sequential sync calls per worker")
    parser.add_argument("--async-calls", type=int, default=2000, help="async calls per worker")
    parser.add_argument("--concurrency", type=int, default=64, help="async calls in flight at once")
    parser.add_argument("--rounds", type=int, default=3, help="worker rounds per side; the best is shown")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls first")
    parser.add_argument("--targets", default="", help="comma-separated target names (default: all)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile Alloy's sync loop and print hot spots"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--worker", nargs=2, metavar=("TARGET", "SIDE"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        args.target, args.side = args.worker
        print(json.dumps(worker(args)))
        return
    if args.quick:
        args.calls, args.async_calls, args.rounds, args.warmup = 20, 64, 1, 3

    from targets import modules

    names = [n for n in args.targets.split(",") if n] or sorted(modules())
    results: dict[str, dict[str, list[dict[str, float]]]] = {n: {s: [] for s in SIDES} for n in names}
    with fake_server() as url:
        if args.profile:
            for name in names:
                run_worker(args, url, name, "alloy", profile=True)
            return
        for name in names:
            for r in range(args.rounds):
                for side in SIDES if r % 2 == 0 else reversed(SIDES):
                    if measured := run_worker(args, url, name, side):
                        results[name][side].append(measured)

    imports = {
        stmt: import_time(stmt, 3 if args.quick else 7)
        for stmt in ("import alloy", "import openai", "import pydantic")
    }
    table = render(args, results, imports)
    print(table)
    if args.json:
        args.json.write_text(json.dumps({"results": results, "imports": imports}, indent=2))


def render(
    args: argparse.Namespace, results: dict[str, dict[str, list[dict[str, float]]]], imports: dict[str, float]
) -> str:
    rows = [
        ("client CPU / call, sync", "sync_cpu", "µs"),
        ("wall / call, sync", "sync_wall", "µs"),
        (f"client CPU / call, async (c={args.concurrency})", "async_cpu", "µs"),
        (f"wall / call, async (c={args.concurrency})", "async_wall", "µs"),
        ("function calls / call, sync", "calls", "calls"),
        ("function calls / call, async", "async_calls", "calls"),
        ("peak RSS", "rss", "MB"),
    ]
    out = [
        f"Alloy vs the raw SDK: {args.calls} sync calls and {args.async_calls} async calls per worker, "
        f"best of {args.rounds} round(s). 'same request': the raw SDK sending exactly Alloy's request.",
        "",
        f"| {'target':<18} | {'measure':<34} | {'raw SDK':>10} | {'same request':>12} | {'Alloy':>10} "
        f"| {'Alloy/raw':>9} | {'Alloy/same':>10} |",
        f"|{'-' * 20}|{'-' * 36}|{'-' * 11}:|{'-' * 13}:|{'-' * 11}:|{'-' * 10}:|{'-' * 11}:|",
    ]
    for name, sides in results.items():
        for label, key, unit in rows:
            raw, same, alloy = (min(r[key] for r in sides[s]) if sides[s] else None for s in SIDES)
            assert raw is not None and alloy is not None
            same_cells = (_show(same, unit), f"{alloy / same:.2f}x") if same else ("–", "–")
            out.append(
                f"| {name:<18} | {label:<34} | {_show(raw, unit):>10} | {same_cells[0]:>12} "
                f"| {_show(alloy, unit):>10} | {alloy / raw:>8.2f}x | {same_cells[1]:>10} |"
            )
    out += ["", "Import time (fresh interpreter, fastest run, minus `python -c pass`):", ""]
    out += [f"- `{stmt}`: {seconds * 1000:.0f} ms" for stmt, seconds in imports.items()]
    return "\n".join(out)


def _show(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value * 1e6:,.0f} µs"
    return f"{value:,.0f}" if unit == "calls" else f"{value:.1f} {unit}"


if __name__ == "__main__":
    main()

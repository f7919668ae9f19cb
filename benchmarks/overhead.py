"""What Alloy costs on top of the raw provider SDK, for the same typed extraction.

    python benchmarks/overhead.py            # the full run (a few minutes)
    python benchmarks/overhead.py --quick    # a smoke run: a few calls (CI)

A fake provider server runs in its own process (``fake_server.py``), so the client's CPU time
(``getrusage(RUSAGE_SELF)``, user + system) holds only the client's work.

Three sides per target: the raw SDK as a user would write it, the raw SDK sending exactly the
request Alloy sends ("same request"), and Alloy. Timings come from one worker process per
target in which the sides take turns, block by block (50 sync calls, or 256 async calls at
concurrency 64), and the table shows the median block of each side. Taking turns matters on a
shared machine, where the speed of the CPU drifts by tens of percent within a minute: any drift
hits all three sides alike. Function calls per call are counted (``sys.setprofile``), which no
load changes. Peak RSS (``ru_maxrss``) comes from a separate fresh process per side. Cold start
is a fresh process to its first validated answer (imports, client set-up, one call), the fastest
of ``--cold-runs``, with that process's peak RSS, for the raw SDK and Alloy. Every answer is
validated into the ``Invoice``; each side's first answer is checked.

``--chart PATH`` also draws client CPU per call against the raw SDK (``chart.py``, matplotlib);
``benchmarks/peers.py`` runs instructor and pydantic-ai through the same loop (``take_turns``).

Targets live in ``targets/``, one module per provider (see ``targets/__init__.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Generator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

SIDES = ("raw", "same_request", "alloy")
IMPORTS = ("import alloy", "import openai", "import anthropic", "import google.genai", "import pydantic")
Results = dict[str, dict[str, dict[str, float]]]  # target -> side -> measure -> value


# --- workers (each in its own process) -------------------------------------------------------------


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _peak_rss_mb() -> float:
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / 2**20 if sys.platform == "darwin" else rss / 2**10  # bytes on macOS, KiB on Linux


@contextmanager
def _counting() -> Generator[list[int]]:
    """Counts Python and C function calls made in this thread into ``count[0]``."""
    count = [0]

    def profile(_frame: Any, event: str, _arg: Any) -> None:
        if event in ("call", "c_call"):
            count[0] += 1

    sys.setprofile(profile)
    try:
        yield count
    finally:
        sys.setprofile(None)


def _sides(args: argparse.Namespace) -> dict[str, tuple[Callable[[], Any], Callable[[], Awaitable[Any]]]]:
    """The target's sides (sync and async call), each checked once against the expected answer."""
    from invoice import EXPECTED
    from targets import modules

    # The raw side alone is made without Alloy, so its process never imports it.
    target = modules()[args.target].make(args.url, with_alloy=args.side != "raw")
    sides: dict[str, tuple[Callable[[], Any], Callable[[], Awaitable[Any]]]] = {}
    for side in [args.side] if args.side else SIDES:
        call, acall = getattr(target, side), getattr(target, f"{side}_async")
        if call is None or acall is None:
            continue  # this target does not offer this side
        if call() != EXPECTED:
            raise SystemExit(f"{args.target}/{side}: the answer did not validate to the expected Invoice")
        sides[side] = (call, acall)
    return sides


def timing_worker(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Every side of one target, taking turns block by block; medians of the blocks."""
    return take_turns(_sides(args), args)


def take_turns(
    sides: dict[str, tuple[Callable[[], Any], Callable[[], Awaitable[Any]]]], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """The sides' (sync call, async call) taking turns block by block; each measure's median block.

    Measures: ``sync_cpu``, ``sync_wall``, ``async_cpu``, ``async_wall`` (seconds per call),
    ``calls`` and ``async_calls`` (function calls per call). ``benchmarks/peers.py`` runs its peers
    through this same loop.
    """
    names = list(sides)
    blocks: dict[str, dict[str, list[float]]] = {s: {} for s in names}

    def record(side: str, key: str, value: float) -> None:
        blocks[side].setdefault(key, []).append(value)

    for call, _ in sides.values():
        for _ in range(args.warmup):
            call()
    for b in range(max(1, args.calls // args.block)):
        for side in names[b % len(names) :] + names[: b % len(names)]:
            call = sides[side][0]
            cpu, wall = _cpu(), time.perf_counter()
            for _ in range(args.block):
                call()
            record(side, "sync_cpu", (_cpu() - cpu) / args.block)
            record(side, "sync_wall", (time.perf_counter() - wall) / args.block)
    for side, (call, _) in sides.items():
        with _counting() as count:
            for _ in range(20):
                call()
        record(side, "calls", count[0] / 20)

    async def concurrent() -> None:
        limit = asyncio.Semaphore(args.concurrency)

        async def one(acall: Callable[[], Awaitable[Any]]) -> None:
            async with limit:
                await acall()

        for _, acall in sides.values():  # open each pool, warm the loop
            await asyncio.gather(*(acall() for _ in range(args.concurrency)))
        for b in range(max(1, args.async_calls // args.async_block)):
            for side in names[b % len(names) :] + names[: b % len(names)]:
                acall = sides[side][1]
                cpu, wall = _cpu(), time.perf_counter()
                await asyncio.gather(*(one(acall) for _ in range(args.async_block)))
                record(side, "async_cpu", (_cpu() - cpu) / args.async_block)
                record(side, "async_wall", (time.perf_counter() - wall) / args.async_block)
        for side, (_, acall) in sides.items():
            with _counting() as count:
                for _ in range(20):
                    await acall()
            record(side, "async_calls", count[0] / 20)

    asyncio.run(concurrent())
    return {side: {k: statistics.median(v) for k, v in measures.items()} for side, measures in blocks.items()}


def rss_worker(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Peak RSS of one side alone, after its warm-up and a run of calls, sync and async."""
    sides = _sides(args)
    for side, (call, acall) in sides.items():
        for _ in range(args.warmup + args.block):
            call()

        async def batch(acall: Callable[[], Awaitable[Any]] = acall) -> None:
            await asyncio.gather(*(acall() for _ in range(args.concurrency)))

        asyncio.run(batch())
        return {side: {"rss": _peak_rss_mb()}}
    return {}


@contextmanager
def _profiled() -> Generator[None]:
    """cProfile the block and print where the time goes (to stderr)."""
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


def profile_worker(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    call, _ = _sides(args)["alloy"]
    for _ in range(args.warmup):
        call()
    with _profiled():
        for _ in range(args.calls):
            call()
    return {}


# --- the parent: server, workers, import time, table -----------------------------------------------


@contextmanager
def fake_server(*flags: str) -> Generator[str]:
    """The loopback fake server in a child process (*flags*: fake_server.py's options); its URL."""
    proc = subprocess.Popen(
        [sys.executable, str(HERE / "fake_server.py"), "--until-stdin-closes", *flags],
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


def run_worker(args: argparse.Namespace, url: str, kind: str, target: str, side: str = "") -> Any:
    cmd = [sys.executable, __file__, "--worker", kind, target, side or "-", "--url", url]
    for flag in ("calls", "block", "async_calls", "async_block", "concurrency", "warmup"):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


COLD = """\
import time
start = time.perf_counter()
import sys
sys.path.insert(0, {here!r})
from targets import {target} as module
if {alloy}:
    from invoice import PROMPT
    answer = module.alloy_command({url!r})(PROMPT)
else:
    answer = module.make({url!r}, with_alloy=False).raw()
elapsed = time.perf_counter() - start
from invoice import EXPECTED
assert answer == EXPECTED, "the first answer did not validate to the expected Invoice"
import json, resource
usage = resource.getrusage(resource.RUSAGE_SELF)
rss = usage.ru_maxrss / 2**20 if sys.platform == "darwin" else usage.ru_maxrss / 2**10
print(json.dumps([elapsed, rss, usage.ru_utime + usage.ru_stime]))
"""


def cold_start(url: str, target: str, runs: int, python: str = sys.executable) -> dict[str, dict[str, float]]:
    """A fresh process to its first validated answer, raw SDK and Alloy: seconds and peak RSS (MB).

    The clock starts at the process's first statement (the interpreter's own start-up is the same
    for every side) and stops when the answer is validated: it holds the imports, the client's
    set-up and the first call. The raw side is the target's ``make(with_alloy=False)``; the Alloy
    side is its ``alloy_command`` alone (``import alloy``, ``configure``, ``@command``), nothing
    of the raw side made. The sides alternate, *runs* processes each; each keeps its fastest.
    ``cold_cpu`` is the CPU time (user + system) of the whole process, interpreter start-up
    included, which a loaded machine changes much less than the wall time.

    Both sides import from bytecode, as an installed package does (pip compiles it at install):
    every process writes and reads its ``.pyc`` files in one fresh cache directory
    (``PYTHONPYCACHEPREFIX``), and one untimed process per side fills it first. Without that, a
    shell with ``PYTHONDONTWRITEBYTECODE`` set, or a source checkout whose ``__pycache__`` is stale,
    compiles every Alloy module in every run (about 100 ms more) while the SDKs' bytecode came with pip.
    """
    seen: dict[str, list[list[float]]] = {"raw": [], "alloy": []}
    with tempfile.TemporaryDirectory(prefix="alloy-bench-pyc-") as pycache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env |= {"PYTHONHASHSEED": "0", "PYTHONPYCACHEPREFIX": pycache}
        for run in range(runs + 1):
            for side, done in seen.items():
                code = COLD.format(here=str(HERE), target=target, url=url, alloy=side == "alloy")
                out = subprocess.run(
                    [python, "-c", code], stdout=subprocess.PIPE, text=True, check=True, env=env
                )
                if run:  # the first run of each side only compiled the bytecode
                    done.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        side: {
            "cold": min(r[0] for r in done),
            "rss_first": min(r[1] for r in done),
            "cold_cpu": min(r[2] for r in done),
        }
        for side, done in seen.items()
    }


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
    parser.add_argument("--quick", action="store_true", help="a few calls: proves it runs")
    parser.add_argument("--calls", type=int, default=2000, help="sync calls per side")
    parser.add_argument("--block", type=int, default=50, help="sync calls per turn")
    parser.add_argument("--async-calls", type=int, default=2048, help="async calls per side")
    parser.add_argument("--async-block", type=int, default=256, help="async calls per turn")
    parser.add_argument("--concurrency", type=int, default=64, help="async calls in flight at once")
    parser.add_argument("--warmup", type=int, default=50, help="untimed calls per side first")
    parser.add_argument("--targets", default="", help="comma-separated target names (default: all)")
    parser.add_argument("--profile", action="store_true", help="cProfile Alloy's sync calls, print hot spots")
    parser.add_argument("--cold-runs", type=int, default=7, help="fresh processes per side for cold start")
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--chart", type=Path, help="also draw client CPU per call as a PNG here (matplotlib)")
    parser.add_argument("--worker", nargs=3, metavar=("KIND", "TARGET", "SIDE"), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        kind, args.target, side = args.worker
        args.side = "" if side == "-" else side
        workers = {"timing": timing_worker, "rss": rss_worker, "profile": profile_worker}
        print(json.dumps(workers[kind](args)))
        return
    if args.quick:
        args.calls, args.block, args.async_calls, args.async_block, args.warmup = 20, 10, 128, 64, 3
        args.cold_runs = 1

    from targets import modules

    names = [n for n in args.targets.split(",") if n] or sorted(modules())
    results: Results = {}
    with fake_server() as url:
        for name in names:
            if args.profile:
                run_worker(args, url, "profile", name, "alloy")
                continue
            results[name] = run_worker(args, url, "timing", name)
            if getattr(modules()[name], "TIMING_ONLY", False):  # targets/__init__.py
                continue
            for side in results[name]:
                results[name][side].update(run_worker(args, url, "rss", name, side)[side])
            if hasattr(modules()[name], "alloy_command"):
                for side, measures in cold_start(url, name, args.cold_runs).items():
                    results[name][side].update(measures)
    if args.profile:
        return
    runs = 3 if args.quick else 7
    imports = {stmt: import_time(stmt, runs) for stmt in IMPORTS}
    notes = {name: note for name in results if (note := getattr(modules()[name], "NOTE", None))}
    print(render(args, results, imports, notes))
    saved = {"results": results, "imports": imports}
    if args.json:
        args.json.write_text(json.dumps(saved, indent=2))
    if args.chart:
        from chart import draw

        draw(saved, args.chart)


def render(
    args: argparse.Namespace, results: Results, imports: dict[str, float], notes: dict[str, str] | None = None
) -> str:
    rows = [
        ("client CPU / call, sync", "sync_cpu", "µs"),
        ("wall / call, sync", "sync_wall", "µs"),
        (f"client CPU / call, async (c={args.concurrency})", "async_cpu", "µs"),
        (f"wall / call, async (c={args.concurrency})", "async_wall", "µs"),
        ("function calls / call, sync", "calls", "calls"),
        ("function calls / call, async", "async_calls", "calls"),
        ("peak RSS", "rss", "MB"),
        ("cold start, to first answer", "cold", "ms"),
        ("cold start CPU (whole process)", "cold_cpu", "ms"),
        ("peak RSS, first answer", "rss_first", "MB"),
    ]
    out = [
        f"{args.calls} sync calls and {args.async_calls} async calls per side, the sides taking turns; "
        "medians of the turns. 'same request': the raw SDK sending exactly Alloy's request.",
        "",
        f"| {'target':<18} | {'measure':<34} | {'raw SDK':>10} | {'same request':>12} | {'Alloy':>10} "
        f"| {'Alloy/raw':>9} | {'Alloy/same':>10} |",
        f"|{'-' * 20}|{'-' * 36}|{'-' * 11}:|{'-' * 13}:|{'-' * 11}:|{'-' * 10}:|{'-' * 11}:|",
    ]
    for name, sides in results.items():
        for label, key, unit in rows:
            if key not in sides["raw"] or key not in sides["alloy"]:
                continue
            raw, alloy = sides["raw"][key], sides["alloy"][key]
            same = sides.get("same_request", {}).get(key)
            same_cells = (_show(same, unit), f"{alloy / same:.2f}x") if same else ("–", "–")
            out.append(
                f"| {name:<18} | {label:<34} | {_show(raw, unit):>10} | {same_cells[0]:>12} "
                f"| {_show(alloy, unit):>10} | {alloy / raw:>8.2f}x | {same_cells[1]:>10} |"
            )
    if notes:
        out += [""] + [f"- `{name}`: {note}." for name, note in notes.items()]
    out += ["", *targets_met(results)]
    out += ["", "Import time (fresh interpreter, fastest run, minus `python -c pass`):", ""]
    out += [f"- `{stmt}`: {seconds * 1000:.0f} ms" for stmt, seconds in imports.items()]
    return "\n".join(out)


def targets_met(results: Results) -> list[str]:
    """Issue 20's start-up and memory targets, per target: cold start ≤ raw SDK, peak RSS ≤ raw + 5 MB."""
    out = ["Cold start (fastest fresh process) and peak RSS, against the targets:", ""]
    for name, sides in results.items():
        raw, alloy = sides["raw"], sides["alloy"]
        if "cold" not in raw or "cold" not in alloy:
            continue
        cold_ok = alloy["cold"] <= raw["cold"]
        extra = alloy["rss"] - raw["rss"]
        out.append(
            f"- `{name}`: cold start {alloy['cold'] * 1000:,.0f} ms against {raw['cold'] * 1000:,.0f} ms "
            f"({'met' if cold_ok else 'not met'}: ≤ the raw SDK; CPU {alloy['cold_cpu'] * 1000:,.0f} against "
            f"{raw['cold_cpu'] * 1000:,.0f} ms); peak RSS {alloy['rss']:.1f} MB against "
            f"{raw['rss']:.1f} MB, {extra:+.1f} MB ({'met' if extra <= 5 else 'not met'}: ≤ +5 MB)"
        )
    return out


def _show(value: float, unit: str) -> str:
    if unit == "µs":
        return f"{value * 1e6:,.0f} µs"
    if unit == "ms":
        return f"{value * 1000:,.0f} ms"
    return f"{value:,.0f}" if unit == "calls" else f"{value:.1f} {unit}"


if __name__ == "__main__":
    main()

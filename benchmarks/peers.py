"""Alloy beside its peers, instructor, pydantic-ai and magentic, in the harness of ``overhead.py``.

    pip install -r benchmarks/requirements-peers.txt      # once (or: nox -s bench_peers)
    python benchmarks/peers.py --json .cache/peers.json --chart docs/assets/peers.png
    python benchmarks/peers.py --quick                    # a smoke run: a few calls
    python benchmarks/chart.py .cache/peers.json docs/assets/peers.png   # the chart from a saved run

Same fake server (``fake_server.py``), same workload (``invoice.py``), same method as
``overhead.py``: in one worker process per provider and environment, the raw SDK, Alloy and each
peer take turns block by block (``overhead.take_turns``), and each measure is the median block;
client CPU is ``getrusage`` of the worker. Every side's first answer must validate to the
expected ``Invoice``. instructor and pydantic-ai are set to the provider's native JSON-schema
output, the request the raw side makes (instructor ``Mode.JSON_SCHEMA``, or ``Mode.JSON`` for
google-genai; pydantic-ai ``NativeOutput``), since the fake answers in text. magentic has one way:
it always streams and returns a pydantic model through a forced tool call, so the fake server
streams it a canned tool call (``STREAM_ROUTES`` in ``targets/openai.py``).

Environments: pydantic-ai and magentic install beside Alloy's own SDK versions and run in this
interpreter (``requirements-peers.txt``). instructor 1.17 needs an older openai SDK (its ``jiter<0.15``
against openai's ``jiter>=0.16`` from 3.4 on), so it runs in its own venv,
``.cache/bench-peers/instructor``, made here from ``requirements-peers-instructor.txt`` on first
use (and again when that file changes), with Alloy from this checkout; the raw SDK and Alloy are
measured again in that venv, beside instructor, so every ratio is to the raw SDK of its own
process. A peer whose package is missing, or that does not serve a provider, is left out and
named under the table.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys
import venv
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from overhead import fake_server, take_turns  # noqa: E402

PROVIDERS = ("openai", "anthropic", "gemini")
LABELS = {
    "raw": "raw SDK",
    "alloy": "Alloy",
    "instructor": "instructor",
    "pydantic_ai": "pydantic-ai",
    "magentic": "magentic",
}
PACKAGES = {"instructor": "instructor", "pydantic_ai": "pydantic-ai-slim", "magentic": "magentic"}
SDKS = {"openai": "openai", "anthropic": "anthropic", "gemini": "google-genai"}
# environment -> (requirements file for its own venv, or None for this interpreter; its peers)
ENVIRONMENTS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "dev": (None, ("pydantic_ai", "magentic")),
    "instructor": ("requirements-peers-instructor.txt", ("instructor",)),
}
Pair = tuple[Callable[[], Any], Callable[[], Awaitable[Any]]]
Peer = Pair | str  # its (sync call, async call) for a provider, or why it is left out
Results = dict[str, dict[str, dict[str, dict[str, Any]]]]  # provider -> environment -> side -> measures


# --- the peers, each as a user of it would write the call -------------------------------------------


def _lazy_async(make_client: Callable[[], Any], call: Callable[[Any], Awaitable[Any]]) -> Callable[[], Any]:
    """An async call whose client is made on first use, inside the benchmark's event loop."""
    clients: dict[str, Any] = {}

    async def acall() -> Any:
        client = clients.get("c") or clients.setdefault("c", make_client())
        return await call(client)

    return acall


def instructor_pair(provider: str, url: str) -> Peer:
    import instructor
    from invoice import PROMPT, Invoice

    messages: Any = [{"role": "user", "content": PROMPT}]
    if provider == "openai":
        import openai
        from targets.openai import KEY, MODEL

        def oclient(cls: Any) -> Any:
            return instructor.from_openai(
                cls(api_key=KEY, base_url=f"{url}/v1"), mode=instructor.Mode.JSON_SCHEMA
            )

        client = oclient(openai.OpenAI)
        kwargs: dict[str, Any] = {"model": MODEL, "messages": messages, "response_model": Invoice}
        return (
            lambda: client.chat.completions.create(**kwargs),
            _lazy_async(lambda: oclient(openai.AsyncOpenAI), lambda c: c.chat.completions.create(**kwargs)),
        )
    if provider == "anthropic":
        import anthropic
        from targets.anthropic import KEY, MODEL

        def aclient(cls: Any) -> Any:
            return instructor.from_anthropic(cls(api_key=KEY, base_url=url), mode=instructor.Mode.JSON_SCHEMA)

        client = aclient(anthropic.Anthropic)
        kwargs = {"model": MODEL, "max_tokens": 1024, "messages": messages, "response_model": Invoice}
        return (
            lambda: client.messages.create(**kwargs),
            _lazy_async(lambda: aclient(anthropic.AsyncAnthropic), lambda c: c.messages.create(**kwargs)),
        )
    if provider == "gemini":
        from google import genai
        from google.genai import types
        from targets.gemini import KEY, MODEL

        def gclient(use_async: bool) -> Any:
            options = types.HttpOptions(base_url=url, api_version="v1beta")
            raw = genai.Client(api_key=KEY, http_options=options)
            return instructor.from_genai(raw, mode=instructor.Mode.JSON, use_async=use_async)

        client = gclient(False)
        kwargs = {"model": MODEL, "messages": messages, "response_model": Invoice}
        return (
            lambda: client.chat.completions.create(**kwargs),
            _lazy_async(lambda: gclient(True), lambda c: c.chat.completions.create(**kwargs)),
        )
    return f"no {provider} here"


def pydantic_ai_pair(provider: str, url: str) -> Peer:
    from invoice import PROMPT, Invoice
    from pydantic_ai import Agent, NativeOutput

    def agent() -> Any:
        if provider == "openai":
            from pydantic_ai.models.openai import OpenAIChatModel
            from pydantic_ai.providers.openai import OpenAIProvider
            from targets.openai import KEY, MODEL

            model: Any = OpenAIChatModel(MODEL, provider=OpenAIProvider(base_url=f"{url}/v1", api_key=KEY))
        else:
            from pydantic_ai.models.anthropic import AnthropicModel
            from pydantic_ai.providers.anthropic import AnthropicProvider
            from targets.anthropic import KEY, MODEL

            model = AnthropicModel(MODEL, provider=AnthropicProvider(api_key=KEY, base_url=url))
            # max_tokens as the raw side sends it (pydantic-ai's default, the model's maximum, streams).
            return Agent(model, output_type=NativeOutput(Invoice), model_settings={"max_tokens": 1024})
        return Agent(model, output_type=NativeOutput(Invoice))

    if provider not in ("openai", "anthropic"):
        return "pydantic-ai's google extra wants google-genai < 3, beside Alloy's google-genai 3"
    sync_agent = agent()

    async def arun(a: Any) -> Any:
        return (await a.run(PROMPT)).output

    return lambda: sync_agent.run_sync(PROMPT).output, _lazy_async(agent, arun)


def magentic_pair(provider: str, url: str) -> Peer:
    if provider == "anthropic":
        return "magentic 0.41.1 passes temperature=, which anthropic 2.x's messages.stream() no longer takes"
    if provider != "openai":
        return "magentic reaches Gemini only through LiteLLM"
    from invoice import PROMPT, Invoice
    from magentic import OpenaiChatModel, prompt
    from targets.openai import KEY, MODEL

    def model() -> Any:
        return OpenaiChatModel(MODEL, api_key=KEY, base_url=f"{url}/v1")

    def text(text: str) -> Invoice: ...

    async def atext(text: str) -> Invoice: ...

    for function in (text, atext):  # magentic reads the real annotations (this module defers them)
        function.__annotations__ = {"text": str, "return": Invoice}
    extract = prompt("{text}", model=model())(text)

    def make_async() -> Any:
        return prompt("{text}", model=model())(atext)

    async def acall(aextract: Any) -> Any:
        return await aextract(PROMPT)

    return lambda: extract(PROMPT), _lazy_async(make_async, acall)


PEERS: dict[str, Callable[[str, str], Peer]] = {
    "instructor": instructor_pair,
    "pydantic_ai": pydantic_ai_pair,
    "magentic": magentic_pair,
}


# --- the worker: one provider, one environment ------------------------------------------------------


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def worker(args: argparse.Namespace) -> dict[str, Any]:
    """Raw SDK, Alloy and the peers for one provider, taking turns; their measures and what was left out."""
    from invoice import EXPECTED, Invoice
    from targets import modules

    target = modules()[args.worker].make(args.url)
    sides: dict[str, Pair] = {"raw": (target.raw, target.raw_async)}
    if target.alloy is not None and target.alloy_async is not None:
        sides["alloy"] = (target.alloy, target.alloy_async)
    left_out: dict[str, str] = {}
    for peer in filter(None, args.peers.split(",")):
        try:
            pair = PEERS[peer](args.worker, args.url)
        except ImportError as error:
            left_out[peer] = f"not installed here ({error})"
            continue
        if isinstance(pair, str):
            left_out[peer] = pair
            continue
        sides[peer] = pair
    for side, (call, _) in sides.items():
        answer = call()  # instructor answers with a subclass of Invoice: compare the values
        if not isinstance(answer, Invoice) or answer.model_dump() != EXPECTED.model_dump():
            raise SystemExit(f"{args.worker}/{side}: the answer did not validate to the expected Invoice")
    measures = take_turns(sides, args)
    from alloy import __version__

    packages = [SDKS[args.worker], "pydantic"] + [PACKAGES[p] for p in sides if p in PACKAGES]
    versions = {"alloy (this checkout)": __version__} | {p: _version(p) for p in packages}
    return {"sides": measures, "left_out": left_out, "versions": versions}


# --- the parent: environments, server, workers, table ------------------------------------------------


def python_of(environment: str) -> str:
    """The interpreter of *environment*: this one, or its venv's (made or refreshed here)."""
    requirements = ENVIRONMENTS[environment][0]
    if requirements is None:
        return sys.executable
    wanted = (HERE / requirements).read_text()
    home = ROOT / ".cache" / "bench-peers" / environment
    python = home / "bin" / "python"
    stamp = home / "requirements.txt"
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        print(f"making {home} from benchmarks/{requirements} (once; a minute or two)", file=sys.stderr)
        venv.create(home, with_pip=True, clear=True)
        pip = [str(python), "-m", "pip", "install", "-qq", "--disable-pip-version-check"]
        subprocess.run([*pip, "-r", str(HERE / requirements)], check=True)
        stamp.write_text(wanted)
    return str(python)


def run_worker(args: argparse.Namespace, python: str, url: str, provider: str, peers: tuple[str, ...]) -> Any:
    cmd = [python, __file__, "--worker", provider, "--peers", ",".join(peers), "--url", url]
    for flag in ("calls", "block", "async_calls", "async_block", "concurrency", "warmup"):
        cmd += [f"--{flag.replace('_', '-')}", str(getattr(args, flag))]
    # Alloy from this checkout, in every environment.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": path}
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=True, env=env)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a few calls: proves it runs")
    parser.add_argument("--calls", type=int, default=500, help="sync calls per side")
    parser.add_argument("--block", type=int, default=25, help="sync calls per turn")
    parser.add_argument("--async-calls", type=int, default=768, help="async calls per side")
    parser.add_argument("--async-block", type=int, default=128, help="async calls per turn")
    parser.add_argument("--concurrency", type=int, default=64, help="async calls in flight at once")
    parser.add_argument("--warmup", type=int, default=20, help="untimed calls per side first")
    parser.add_argument("--providers", default=",".join(PROVIDERS), help="comma-separated (default: all)")
    parser.add_argument(
        "--environments", default=",".join(ENVIRONMENTS), help="comma-separated (default: all)"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    parser.add_argument("--chart", type=Path, help="also draw the chart as a PNG here (matplotlib)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--peers", default="", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        print(json.dumps(worker(args)))
        return
    if args.quick:
        args.calls, args.block, args.async_calls, args.async_block, args.warmup = 10, 5, 128, 64, 2

    results: Results = {}
    left_out: dict[str, dict[str, dict[str, str]]] = {}
    versions: dict[str, dict[str, str]] = {}
    environments = [e for e in args.environments.split(",") if e]
    pythons = {environment: python_of(environment) for environment in environments}
    with fake_server() as url:
        for provider in filter(None, args.providers.split(",")):
            for environment in environments:
                print(f"{provider} in {environment}...", file=sys.stderr, flush=True)
                out = run_worker(args, pythons[environment], url, provider, ENVIRONMENTS[environment][1])
                results.setdefault(provider, {})[environment] = out["sides"]
                left_out.setdefault(provider, {})[environment] = out["left_out"]
                versions.setdefault(environment, {}).update(out["versions"])
    saved = {"results": results, "left_out": left_out, "versions": versions, "concurrency": args.concurrency}
    print(render(args, saved))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(saved, indent=2))
    if args.chart:
        from chart import draw

        draw(saved, args.chart)
        print(f"\nchart: {args.chart}")


def render(args: argparse.Namespace, saved: dict[str, Any]) -> str:
    results: Results = saved["results"]
    out = [
        f"{args.calls} sync calls and {args.async_calls} async calls (concurrency {args.concurrency}) per side, "
        "the sides of one process taking turns; medians of the turns. Ratios are to the raw SDK of the same process.",
        "",
        f"| {'provider':<10} | {'side':<34} | {'CPU/call, sync':>14} | {'x raw':>6} "
        f"| {'CPU/call, async':>15} | {'x raw':>6} | {'calls/call, sync':>16} | {'x raw':>6} |",
        f"|{'-' * 12}|{'-' * 36}|{'-' * 15}:|{'-' * 7}:|{'-' * 16}:|{'-' * 7}:|{'-' * 17}:|{'-' * 7}:|",
    ]
    for provider, environments in results.items():
        for environment, sides in environments.items():
            raw = sides["raw"]
            for side, m in sides.items():
                label = LABELS.get(side, side)
                if environment != "dev":
                    label += f" ({environment}'s venv)"
                out.append(
                    f"| {provider:<10} | {label:<34} | {m['sync_cpu'] * 1e6:>11,.0f} µs "
                    f"| {m['sync_cpu'] / raw['sync_cpu']:>5.2f}x | {m['async_cpu'] * 1e6:>12,.0f} µs "
                    f"| {m['async_cpu'] / raw['async_cpu']:>5.2f}x | {m['calls']:>16,.0f} "
                    f"| {m['calls'] / raw['calls']:>5.2f}x |"
                )
    out += ["", "Versions:", ""]
    out += [
        f"- {environment}: " + ", ".join(f"{p} {v}" for p, v in sorted(packages.items()))
        for environment, packages in saved["versions"].items()
    ]
    gaps = [
        f"- {provider}, {LABELS.get(peer, peer)}: {why}"
        for provider, environments in saved["left_out"].items()
        for reasons in environments.values()
        for peer, why in reasons.items()
    ]
    return "\n".join(out + (["", "Left out:", "", *gaps] if gaps else []))


if __name__ == "__main__":
    main()

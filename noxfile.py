"""Developer tasks. ``nox`` runs the default sessions: tests, typecheck, lint.

Sessions run in the current environment (``python=False``): install once with
``pip install -e '.[dev]'``, then ``nox`` is the whole check, as in CI.
"""

from __future__ import annotations

import sys

import nox

nox.options.sessions = ["tests", "typecheck", "lint", "docs", "bench_quick"]
PY = sys.executable  # the environment nox itself was installed into


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """Unit and wire-level tests, with coverage of alloy/ (live tiers skip without keys)."""
    session.run(PY, "-m", "pytest", "--cov=alloy", "--cov-report=term-missing:skip-covered", *session.posargs)


@nox.session(python=False)
def typecheck(session: nox.Session) -> None:
    """pyright strict on alloy/ and the typing tests in tests/typing/."""
    session.run(PY, "-m", "pyright")


@nox.session(python=False)
def lint(session: nox.Session) -> None:
    """ruff lint and format check."""
    session.run(PY, "-m", "ruff", "check", ".")
    session.run(PY, "-m", "ruff", "format", "--check", ".")


@nox.session(python=False)
def docs(session: nox.Session) -> None:
    """The docs site, built strict: a broken link or a missing API reference fails."""
    session.run(
        PY, "-m", "mkdocs", "build", "--strict", "--site-dir", ".cache/site", env={"NO_MKDOCS_2_WARNING": "1"}
    )


@nox.session(python=False)
def bench_quick(session: nox.Session) -> None:
    """A few calls of the overhead benchmark, to prove it runs (numbers from it mean little)."""
    session.run(PY, "benchmarks/overhead.py", "--quick")
    session.run(PY, "benchmarks/streaming.py", "--quick")


@nox.session(python=False)
def bench(session: nox.Session) -> None:
    """The overhead benchmark against a local fake server (``-- --quick`` for a smoke run)."""
    session.run(PY, "benchmarks/overhead.py", *session.posargs)


@nox.session(python=False)
def bench_peers(session: nox.Session) -> None:
    """Alloy beside instructor, pydantic-ai and magentic in the overhead harness; writes docs/assets/peers.png.

    Not a default session: it installs benchmarks/requirements-peers.txt here (pydantic-ai, magentic, matplotlib)
    and makes instructor's own venv in .cache/bench-peers/ on first use. ``-- --quick`` for a smoke run.
    """
    session.run(PY, "-m", "pip", "install", "--quiet", "-r", "benchmarks/requirements-peers.txt")
    chart = ["--json", ".cache/peers.json", "--chart", "docs/assets/peers.png"]
    session.run(PY, "benchmarks/peers.py", *chart, *session.posargs)


@nox.session(python=False)
def local_llm(session: nox.Session) -> None:
    """A real model: build llama-server (once), start it, run the local_llm tests, stop it.

    Not a default session: the first run compiles llama.cpp for several minutes.
    """
    session.run("bash", "scripts/local-llm.sh", "test", *session.posargs, env={"PYTHON": PY}, external=True)


@nox.session(python=False)
def local_litellm(session: nox.Session) -> None:
    """The local model behind a real gateway: a LiteLLM proxy (its own venv) in front of llama-server.

    Not a default session: it installs LiteLLM into .cache/local-llm/litellm and starts two servers.
    """
    session.run(
        "bash", "scripts/local-llm.sh", "litellm-test", *session.posargs, env={"PYTHON": PY}, external=True
    )


@nox.session(python=False)
def distributed(session: nox.Session) -> None:
    """Commands on a real local Dask cluster with worker processes, against the loopback fake server.

    Not a default session: it installs Dask (tests/distributed/requirements.txt) and starts a cluster.
    """
    session.run(PY, "-m", "pip", "install", "--quiet", "-r", "tests/distributed/requirements.txt")
    session.run(
        PY, "-m", "pytest", "tests/distributed", *session.posargs, env={"ALLOY_TEST_DISTRIBUTED": "1"}
    )

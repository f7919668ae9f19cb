"""What ``import alloy`` loads: nothing heavy until a name is used, and every public name as before.

Each check runs in a fresh interpreter (``sys.modules`` of this test process already holds
everything). These are behaviour tests, not timings: they fail when a heavy module is imported
again where it was deferred.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import alloy

from .providers.server import FakeServer, Reply

ROOT = Path(__file__).resolve().parent.parent

SDKS = ("openai", "anthropic", "google", "ollama", "httpx", "httpx2")
"""Provider SDKs and their transports: loaded by the first call to that provider, never before."""
LATER = ("stamina", "tenacity", "docstring_parser", "opentelemetry")
"""Loaded at the first retry, the first tool with a docstring, the first traced call."""
HEAVY = (*SDKS, *LATER, "pydantic", "pydantic_core", "pydantic_settings", "dotenv", "asyncio")
"""None of these is needed by ``import alloy`` itself."""
NOT_FOR_A_CALL = (
    *(f"alloy.{m}" for m in ("_batch", "_batch_record", "_map", "_checkpoint", "_progress", "_reference")),
    "alloy._partial",
    "pickle",
    "difflib",
)
"""What a plain call does not use: batch jobs, ``map`` and its checkpoints, pickling, partial
streaming, did-you-mean hints. Each loads with its first use."""


def loaded_after(code: str) -> list[str]:
    """The top-level packages in ``sys.modules`` after *code* ran in a fresh interpreter, and
    Alloy's own modules by their full names."""
    script = textwrap.dedent(code) + (
        "\nimport sys\nprint(*sorted({m if m.startswith('alloy.') else m.split('.')[0] for m in sys.modules}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOY_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def test_import_alloy_loads_nothing_heavy() -> None:
    """``import alloy`` loads no alloy module, no pydantic, no settings machinery, no SDK."""
    loaded = loaded_after("import alloy")
    assert "alloy" in loaded
    assert not [m for m in loaded if m.startswith("alloy.")]
    assert not [m for m in HEAVY if m in loaded]


def test_defining_commands_loads_no_settings_machinery() -> None:
    """Importing a module of commands (decorated, settings checked, not called) loads neither
    pydantic-settings nor python-dotenv: they load with the first read of the settings (the tool's
    docstring parser is loaded: it reads the docstring at decoration)."""
    loaded = loaded_after(
        """
        from alloy import command, configure, tool

        @tool
        def double(n: int) -> int:
            return 2 * n

        @command(output=int, tools=[double], model="fake", temperature=0.2, retry=1)
        def count(text: str) -> str:
            return text

        configure(max_tokens=100)
        """
    )
    assert "alloy._command" in loaded and "alloy._setting_fields" in loaded
    assert not [
        m
        for m in ("pydantic_settings", "dotenv", "alloy._settings_class", *SDKS, "stamina", "opentelemetry")
        if m in loaded
    ]


def test_a_first_call_loads_no_sdk_and_nothing_it_does_not_use() -> None:
    """A command called on the fake model reads the settings (pydantic-settings loads then) and
    loads no provider SDK, no retry library, no docstring parser and no OpenTelemetry (each loads
    with its first use)."""
    loaded = loaded_after(
        """
        from alloy import command

        @command(output=int, model="fake")
        def count(text: str) -> str:
            return text

        assert isinstance(count("x"), int)
        """
    )
    assert "pydantic_settings" in loaded  # the settings were read: the call really ran
    assert not [m for m in (*SDKS, *LATER) if m in loaded]
    assert not [m for m in NOT_FOR_A_CALL if m in loaded]


def test_a_chat_completions_call_loads_neither_responses_nor_batches() -> None:
    """A first call on Chat Completions (a base URL that is not OpenAI's) loads the Chat
    translation only: not the Responses API's lean models, not the stream's, not the batch lines, nor anything
    of ``NOT_FOR_A_CALL`` (cold start: a fresh process pays for every module it loads)."""
    server = FakeServer().start()
    message = {"role": "assistant", "content": '{"value": 3}', "refusal": None}
    choice = {"index": 0, "finish_reason": "stop", "message": message}
    server.replies.append(Reply(200, {"id": "c", "object": "chat.completion", "choices": [choice]}))
    try:
        loaded = loaded_after(
            f"""
            import alloy

            @alloy.command(output=int, model="openai:gpt-4.1-mini", openai_api_key="sk-test",
                           openai_base_url="{server.url}/v1")
            def count(text: str) -> str:
                return text

            assert count("x") == 3
            """
        )
    finally:
        server.stop()
    assert len(server.requests) == 1 and server.requests[0].path.endswith("/chat/completions")
    assert "alloy.providers._openai_chat" in loaded  # the call went through Chat Completions
    unused = (
        *(f"alloy.providers._openai_{m}" for m in ("responses", "batch", "chat_stream")),
        *NOT_FOR_A_CALL,
    )
    assert not [m for m in unused if m in loaded]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
def test_an_adapter_loads_no_batch_lines(provider: str) -> None:
    """Each adapter with a batch API loads its batch translation with the first batch call only."""
    pytest.importorskip({"openai": "openai", "anthropic": "anthropic", "gemini": "google.genai"}[provider])
    loaded = loaded_after(f"import alloy.providers.{provider}")
    assert f"alloy.providers.{provider}" in loaded
    assert not [m for m in loaded if m.startswith("alloy.providers.") and m.endswith("_batch")]
    assert not [m for m in NOT_FOR_A_CALL if m.startswith("alloy.") and m in loaded]  # SDKs may use pickle


def test_the_pytest_plugin_loads_nothing_heavy() -> None:
    """pytest imports the plugin in every run of a project that has Alloy installed: it loads no
    Alloy module beyond itself, no pydantic and no SDK until a test uses the ``cassette`` fixture."""
    loaded = loaded_after("import alloy.testing.pytest_plugin")
    assert [m for m in loaded if m.startswith("alloy.")] == ["alloy.testing", "alloy.testing.pytest_plugin"]
    assert not [m for m in HEAVY if m in loaded]


def test_testing_names_load_when_used_and_cassette_stays_the_function() -> None:
    """``alloy.testing``'s names work in any order, and ``alloy.testing.cassette`` is the function
    even when its submodule was imported first."""
    loaded = loaded_after(
        """
        import alloy.testing.cassette
        from alloy.testing.cassette import Cassette
        import alloy.testing as testing
        assert callable(testing.cassette) and not isinstance(testing.cassette, type(testing)), testing.cassette
        assert testing.Cassette is Cassette
        assert testing.ScriptedModel.__module__ == "alloy.testing"
        ns = {}
        exec("from alloy.testing import *", ns)
        assert ns["cassette"] is testing.cassette and ns["ScriptedModel"] is testing.ScriptedModel
        assert sorted(testing._WHERE) == sorted(testing.__all__) and set(testing.__all__) <= set(dir(testing))
        """
    )
    assert not [m for m in (*SDKS, *LATER) if m in loaded]


@pytest.mark.parametrize("name", alloy.__all__)
def test_every_public_name_is_there_as_before(name: str) -> None:
    """Each name of ``__all__`` is importable from ``alloy``, listed by ``dir``, and is the object
    its module defines; a class shows ``alloy`` as its module (tracebacks, docs, pickling)."""
    obj = getattr(alloy, name)
    assert name in dir(alloy)
    module = alloy._WHERE[name]  # pyright: ignore[reportPrivateUsage]
    assert getattr(sys.modules[f"alloy.{module}"], name) is obj
    if isinstance(obj, type):
        assert obj.__module__ == "alloy"


def test_all_names_are_mapped_to_their_modules() -> None:
    """The lazy table and ``__all__`` list the same names, and an unknown name is still an error."""
    assert sorted(alloy._WHERE) == alloy.__all__  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        alloy.nope  # pyright: ignore[reportAttributeAccessIssue]  # noqa: B018


def test_star_import_and_version_in_a_fresh_process() -> None:
    """``from alloy import *`` binds every public name; a class taken first is already ``alloy``'s."""
    loaded_after(
        """
        import alloy
        assert alloy.ConfigurationError.__module__ == "alloy", alloy.ConfigurationError.__module__
        assert alloy.__version__
        ns = {}
        exec("from alloy import *", ns)
        missing = [n for n in alloy.__all__ if n not in ns]
        assert not missing, missing
        """
    )


def test_public_objects_pickle_by_reference() -> None:
    """Pickled classes and values go through the public ``alloy`` names and come back equal."""
    usage = alloy.Usage(input_tokens=3, output_tokens=4, requests=1)
    assert pickle.loads(pickle.dumps(usage)) == usage
    assert pickle.loads(pickle.dumps(alloy.ConfigurationError)) is alloy.ConfigurationError

"""The pytest plugin: a ``cassette`` fixture named after the test, and ``--alloy-record``."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

# The entry point (name "alloy") may be installed or not: block it and load the module by name.
PLUGIN = ("-p", "no:alloy", "-p", "alloy.testing.pytest_plugin")

TEST_FILE = """
from alloy import ask, override
from alloy.testing import ScriptedModel

def test_answer(cassette):
    model = ScriptedModel(["recorded answer"])
    with override(model=model):
        assert ask("What is recorded?") == "recorded answer"
    print("MODE", cassette.mode, "CALLS", len(model.requests))

class TestGroup:
    def test_in_class(self, cassette):
        assert cassette.path.name == "TestGroup.test_in_class.json"

@__import__("pytest").mark.parametrize("n", [1])
def test_param(cassette, n):
    assert cassette.path.name == "test_param[1].json"
"""


def test_fixture_records_then_replays_and_the_option_records_again(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """First run records tests/cassettes/<module>/<test>.json; the next replays; --alloy-record calls again."""
    pytester.makepyfile(test_plugged=TEST_FILE)
    first = pytester.runpytest(*PLUGIN, "-s")
    first.assert_outcomes(passed=3)
    first.stdout.fnmatch_lines(["*MODE once CALLS 1*"])
    path = pytester.path / "tests" / "cassettes" / "test_plugged" / "test_answer.json"
    assert json.loads(path.read_text())["interactions"][0]["response"]["text"] == "recorded answer"

    monkeypatch.setenv("ALLOY_CASSETTE_MODE", "replay")  # as CI runs it
    again = pytester.runpytest(*PLUGIN, "-s")
    again.assert_outcomes(passed=3)
    again.stdout.fnmatch_lines(["*MODE replay CALLS 0*"])

    forced = pytester.runpytest(*PLUGIN, "-s", "--alloy-record")  # beats ALLOY_CASSETTE_MODE
    forced.assert_outcomes(passed=3)
    forced.stdout.fnmatch_lines(["*MODE record CALLS 1*"])


def test_replay_without_a_recording_fails_the_test(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In CI (replay), a test whose cassette was never recorded fails with CassetteMiss, sending nothing."""
    pytester.makepyfile(test_plugged=TEST_FILE)
    monkeypatch.setenv("ALLOY_CASSETTE_MODE", "replay")
    result = pytester.runpytest(*PLUGIN, "-k", "test_answer")
    result.assert_outcomes(failed=1, deselected=2)
    result.stdout.fnmatch_lines(["*CassetteMiss*does not exist*"])


def test_option_is_listed_in_help(pytester: pytest.Pytester) -> None:
    """--alloy-record shows in pytest --help."""
    result = pytester.runpytest(*PLUGIN, "--help")
    result.stdout.fnmatch_lines(["*--alloy-record*"])

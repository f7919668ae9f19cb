"""Every ```python block of the README and docs/ runs, offline, and the generated tables are current.

Blocks of one page run in order in one module namespace (later blocks use earlier names). A block
that uses a ScriptedModel runs as written; any other runs under ``override(model="fake")``, so
examples that name a real provider still run without a key. Top-level ``await`` is allowed.
"""

from __future__ import annotations

import ast
import asyncio
import inspect
import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

from alloy import override

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def blocks(page: Path) -> list[str]:
    return BLOCK.findall(page.read_text())


@pytest.mark.parametrize("page", [p for p in PAGES if blocks(p)], ids=lambda p: str(p.relative_to(ROOT)))
def test_page_examples_run(page: Path) -> None:
    """The page's Python examples run top to bottom without error."""
    module = types.ModuleType(f"docs_{page.stem.replace('-', '_')}")
    sys.modules[module.__name__] = module
    try:
        for number, source in enumerate(blocks(page), 1):
            code = compile(
                source, f"{page.name}[block {number}]", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
            )
            if "ScriptedModel" in source:
                _run(code, module)
            else:
                with override(model="fake"):
                    _run(code, module)
    finally:
        del sys.modules[module.__name__]


def _run(code: types.CodeType, module: types.ModuleType) -> None:
    result = eval(code, module.__dict__)  # our own docs, compiled above
    if inspect.iscoroutine(result):
        asyncio.run(result)


def test_generated_tables_are_current() -> None:
    """Tables generated from the code (settings, …) match it; run `python scripts/gen_docs.py` if not."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_docs

        assert gen_docs.stale() == []
    finally:
        sys.path.remove(str(ROOT / "scripts"))


def test_feature_matrix_claims_are_backed_by_wire_tests() -> None:
    """Every "yes" in the provider feature matrix has a wire-level test that exercises it."""
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_docs

        for provider, row in gen_docs.features().items():
            source = (ROOT / "tests" / "providers" / f"test_{provider}.py").read_text()
            names = re.findall(r"^(?:async )?def (test_\w+)", source, re.MULTILINE)
            for feature, pattern in gen_docs.EVIDENCE.items():
                if row[feature] != "no":
                    assert any(re.search(pattern, n) for n in names), (
                        f"{provider}: no wire test for {feature}"
                    )
    finally:
        sys.path.remove(str(ROOT / "scripts"))


EXAMPLES = sorted((ROOT / "docs" / "examples").glob("*.py"))


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_script_prints_its_expected_output(script: Path, tmp_path: Path) -> None:
    """Each complete example in docs/examples/ runs and prints exactly its .out file."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLOY_")}
    done = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    )
    assert done.stdout == script.with_suffix(".out").read_text()


FIRST_CONTACT = [ROOT / "README.md", ROOT / "docs" / "quickstart.md", ROOT / "docs" / "index.md"]


@pytest.mark.parametrize("page", FIRST_CONTACT, ids=lambda p: p.name)
def test_first_contact_examples_paste_into_a_file(page: Path) -> None:
    """The examples a newcomer copies first are plain modules: no top-level ``await``."""
    for number, source in enumerate(blocks(page), 1):
        compile(source, f"{page.name}[block {number}]", "exec")  # SyntaxError on a top-level await


@pytest.mark.parametrize("page", FIRST_CONTACT, ids=lambda p: p.name)
def test_install_instructions_install_this_project(page: Path) -> None:
    """``pip install alloy-ai`` fetches an unrelated package from PyPI: the pages install the checkout."""
    text = page.read_text()
    commands = [line for line in text.splitlines() if re.match(r"\s*(\.venv/bin/)?pip install", line)]
    assert not [c for c in commands if "alloy-ai" in c]
    assert "pip install -e" in text
    assert "not on PyPI" in text or "not published on PyPI" in text


def test_version_follows_the_roadmap() -> None:
    """The v0.2-v0.7 milestones are done (SPEC §17 Version)."""
    from packaging.version import Version

    import alloy

    assert Version(alloy.__version__) >= Version("0.7")


def test_architecture_page_is_a_rendered_diagram_linked_for_contributors() -> None:
    """docs/architecture.md has a Mermaid diagram that mkdocs-material renders (custom fence), names
    the module of each step, sits in the nav and is linked from CONTRIBUTING.md."""
    page = (ROOT / "docs" / "architecture.md").read_text()
    assert "```mermaid\nsequenceDiagram" in page
    for module in ("_command.py", "_plan.py", "_engine.py", "_drivers.py", "_retry.py", "providers/"):
        assert module in page
    assert "Imports run downwards" in page and "wrap" in page
    config = (ROOT / "mkdocs.yml").read_text()
    assert re.search(r"custom_fences:\s*\n\s*- name: mermaid\s*\n\s*class: mermaid", config)
    assert "architecture.md" in config
    assert "docs/architecture.md" in (ROOT / "CONTRIBUTING.md").read_text()

"""Regenerate the docs' tables from the code, so they cannot drift: ``python scripts/gen_docs.py``.

Each generated table sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->`` in a docs
page; ``tests/test_docs.py`` fails when a page is out of date.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from pydantic import AliasChoices

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alloy import Settings  # noqa: E402


def settings_table() -> str:
    rows = ["| setting | environment | default | meaning |", "| --- | --- | --- | --- |"]
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            env = " or ".join(f"`{c}`" for c in alias.choices if isinstance(c, str))
        else:
            env = f"`ALLOY_{name.upper()}`"
        default = field.default
        shown = "none" if default is None else f"`{default}`" if default != {} else "`{}`"
        description = (field.description or "").split(" Env: ")[0]
        rows.append(f"| `{name}` | {env} | {shown} | {description} |")
    return "\n".join(rows)


EXAMPLE_MODELS = {
    "openai": "gpt-5-mini",
    "anthropic": "claude-sonnet-4-5",
    "gemini": "gemini-2.5-flash",
    "ollama": "llama3.2",
}
_MODES = {
    "native_strict": "strict JSON schema",
    "native": "JSON schema",
    "tool": "forced tool",
    "prompt": "JSON asked for in the prompt",
}
# Each "yes" in the matrix must be backed by a wire test whose name matches (tests/test_docs.py).
EVIDENCE = {
    "structured output": r"typed|output|schema",
    "native tools": r"tool",
    "parallel tool calls": r"parallel|two_.*(calls|tools)|two_function",
    "streaming": r"stream",
    "usage": r"usage",
}


def features() -> dict[str, dict[str, str]]:
    """What each provider's adapter declares, for a typical model (capabilities are data)."""
    from alloy._registry import adapter
    from alloy.providers import Adapter

    settings = Settings()
    rows: dict[str, dict[str, str]] = {}
    for provider, model in EXAMPLE_MODELS.items():
        a = adapter(provider)
        caps = a.capabilities(model, settings)
        streams = type(a).stream is not Adapter.stream and type(a).astream is not Adapter.astream
        rows[provider] = {
            "structured output": f"{_MODES[caps.output_mode]} (`{caps.schema_dialect}` dialect)",
            "when a type cannot be strict": _MODES[caps.nonstrict_output_mode],
            "native tools": "yes" if caps.native_tools else "no",
            "strict tool schemas": "yes" if caps.strict_tools else "no",
            "parallel tool calls": "yes" if caps.native_tools else "no",
            "streaming": "yes" if streams else "no",
            "usage": "yes",
        }
    return rows


def features_table() -> str:
    rows = features()
    columns = list(next(iter(rows.values())))
    lines = ["| provider | " + " | ".join(columns) + " |", "| --- " * (len(columns) + 1) + "|"]
    for provider, row in rows.items():
        lines.append(f"| {provider} | " + " | ".join(row[c] for c in columns) + " |")
    return "\n".join(lines)


def inputs_table() -> str:
    """Which parts each provider takes (``Capabilities.parts``), per wire API for OpenAI."""
    from alloy._parts import SHORT
    from alloy._registry import adapter

    rows = [
        ("openai (Responses)", "openai", Settings(openai_api="responses")),
        ("openai (Chat Completions)", "openai", Settings(openai_api="chat")),
        ("openai (`auto`)", "openai", Settings(openai_api="auto")),
        *((p, p, Settings()) for p in EXAMPLE_MODELS if p != "openai"),
    ]
    kinds = list(SHORT)
    lines = ["| provider | " + " | ".join(SHORT[k] for k in kinds) + " |", "| --- " * (len(kinds) + 1) + "|"]
    for label, provider, settings in rows:
        caps = adapter(provider).capabilities(EXAMPLE_MODELS[provider], settings)
        cells = ["yes" if k in caps.parts else "no" for k in kinds]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


TABLES: dict[str, tuple[str, Callable[[], str]]] = {
    "settings": ("docs/configuration.md", settings_table),
    "features": ("docs/providers/index.md", features_table),
    "inputs": ("docs/providers/index.md", inputs_table),
}


def render(text: str, name: str, table: str) -> str:
    pattern = re.compile(rf"(<!-- generated: {name} -->\n)(?:.*?\n)?(<!-- end: {name} -->)", re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"marker <!-- generated: {name} --> missing")
    return pattern.sub(lambda m: m.group(1) + table + "\n" + m.group(2), text)


def stale() -> list[str]:
    """Pages whose generated tables differ from the code."""
    out = []
    for name, (page, make) in TABLES.items():
        text = (ROOT / page).read_text()
        if render(text, name, make()) != text:
            out.append(page)
    return out


def main(argv: list[str]) -> int:
    """Write the generated tables into their pages; ``--check``: only list stale pages (exit 1 if any)."""
    if "--check" in argv:
        pages = stale()
        for page in pages:
            print(f"stale: {page} (run python scripts/gen_docs.py)")
        return 1 if pages else 0
    for name, (page, make) in TABLES.items():
        path = ROOT / page
        text = path.read_text()
        if (new := render(text, name, make())) != text:
            path.write_text(new)
            print(f"updated {page} ({name})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

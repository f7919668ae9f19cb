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


TABLES: dict[str, tuple[str, Callable[[], str]]] = {
    "settings": ("docs/configuration.md", settings_table),
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


def main() -> None:
    for name, (page, make) in TABLES.items():
        path = ROOT / page
        path.write_text(render(path.read_text(), name, make()))
        print(f"updated {page} ({name})")


if __name__ == "__main__":
    main()

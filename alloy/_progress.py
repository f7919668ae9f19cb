"""The progress bar of a ``map``: items done, failed, tokens and rate, on stderr, through tqdm.

tqdm is an optional dependency (``pip install 'alloy-ai[progress]'``): without it a ``map`` runs
the same, and says once on stderr how to get the bar. It is imported only when a bar is shown.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["Progress", "progress_bar"]

_hinted = False


class Progress:
    """Counts finished items; draws them when a bar is shown (the no-op base draws nothing)."""

    def __init__(self) -> None:
        self.failed = 0
        self.tokens = 0

    def update(self, *, ok: bool, tokens: int) -> None:
        self.failed += not ok
        self.tokens += tokens

    def close(self) -> None:
        pass


class _Bar(Progress):
    def __init__(self, bar: Any) -> None:
        super().__init__()
        self._bar = bar

    def update(self, *, ok: bool, tokens: int) -> None:
        super().update(ok=ok, tokens=tokens)
        self._bar.set_postfix_str(f"failed={self.failed}, tokens={self.tokens:,}", refresh=False)
        self._bar.update(1)

    def close(self) -> None:
        self._bar.close()


def progress_bar(show: bool | None, *, total: int, done: int, name: str) -> Progress:
    """A bar for *total* items (*done* of them already, from a checkpoint) if *show* says so.

    Args:
        show: ``True`` always, ``False`` never, ``None`` when stderr is a terminal.
    """
    global _hinted
    if show is None:
        isatty = getattr(sys.stderr, "isatty", None)
        show = bool(isatty and isatty())
    if not show:
        return Progress()
    try:
        from tqdm.auto import tqdm
    except ImportError:
        if not _hinted:
            _hinted = True
            print(
                "alloy: install tqdm for a progress bar of map(): pip install 'alloy-ai[progress]'",
                file=sys.stderr,
            )
        return Progress()
    bar = tqdm(total=total, initial=done, desc=name, unit="item", file=sys.stderr, dynamic_ncols=True)
    bar.set_postfix_str("failed=0, tokens=0", refresh=False)
    return _Bar(bar)

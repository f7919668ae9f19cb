"""Where Alloy keeps files of its own: the user's cache directory.

``$XDG_CACHE_HOME/alloy`` (else ``~/.cache/alloy``; ``%LOCALAPPDATA%\\alloy`` on Windows). Batch jobs
keep their records here, so that a job submitted by one process can be collected by another.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def cache_dir(*parts: str) -> Path:
    """``<the user's cache directory>/alloy/<parts>``, created if missing."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base and sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
    path = Path(base or Path.home() / ".cache", "alloy", *parts)
    path.mkdir(parents=True, exist_ok=True)
    return path

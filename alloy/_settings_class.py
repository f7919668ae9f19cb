"""``Settings``: the pydantic-settings class that reads ``ALLOY_*`` variables and ``.env``.

Imported with the first read of the settings (``alloy._settings``), not at ``import alloy``:
pydantic-settings loads all its sources (AWS, Azure, GCP, the command line, TOML, YAML ...), which
costs more than the rest of a first call's imports.
"""

from __future__ import annotations

from typing import Any

from pydantic_settings import BaseSettings, SettingsConfigDict

from ._secrets import scrub
from ._setting_fields import SettingFields

__all__ = ["Settings"]


# pydantic-settings' model_config is a SettingsConfigDict, pydantic's a ConfigDict: the one here is both.
class Settings(BaseSettings, SettingFields):  # pyright: ignore[reportIncompatibleVariableOverride]
    """Every Alloy setting, read from ``ALLOY_*`` variables and a ``.env`` file in the working directory.

    ``get_settings()`` gives the effective settings (every layer applied); ``Settings()`` reads
    only the environment, ``.env`` and the defaults. Instances are frozen.

    .. versionadded:: 0.1
    """

    model_config = SettingsConfigDict(
        env_prefix="ALLOY_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        extra="ignore",
        populate_by_name=True,
        frozen=True,
        hide_input_in_errors=True,
        enable_decoding=False,  # ``model`` and ``extra`` parse their own text (was NoDecode on each)
        defer_build=False,
    )

    def __repr_args__(self) -> Any:
        """As pydantic's, with any password written in a URL (``ollama_host``, a base URL) hidden."""
        for name, value in super().__repr_args__():
            yield name, scrub(value) if isinstance(value, str) else value

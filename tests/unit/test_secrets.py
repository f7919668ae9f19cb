"""The scrubbing rules: configured secrets, URL passwords, key-like values in messages."""

from __future__ import annotations

from alloy._secrets import mask_secret_like, scrub, secrets
from alloy._settings import resolve


def test_configured_keys_and_url_passwords_are_the_secrets() -> None:
    settings = resolve(
        call={
            "openai_api_key": "sk-abcdef123456",
            "ollama_host": "http://me:hunter22@host:11434",
            "gemini_api_key": "x",
        }
    )
    assert secrets(settings) == ("sk-abcdef123456", "hunter22")  # "x" is too short to scrub text with


def test_scrub_replaces_secrets_and_any_url_password() -> None:
    text = "key sk-abcdef123456 rejected at https://bob:pw9@proxy.local/v1"
    assert scrub(text, ("sk-abcdef123456",)) == "key *** rejected at https://bob:***@proxy.local/v1"


def test_key_like_values_are_cut_but_model_names_are_not() -> None:
    assert mask_secret_like("model 'sk-proj-Zq8vYb3KdLm0Np7RtWx2'") == "model 'sk-p…***'"
    assert mask_secret_like("AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY") == "AIza…***"
    for fine in ("claude-sonnet-4-5-20250929", "gemini-2.5-flash-preview-09-2025", "gpt-4.1-mini"):
        assert mask_secret_like(f"model {fine!r}") == f"model {fine!r}"

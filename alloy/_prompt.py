"""``Prompt``: what a prompt function (and ``ask``) may give, and how it becomes a conversation.

A ``str`` is one user message; a list of parts (``str``, ``Image``, ``Document``, ``Audio``) is one
user message of those parts in order; a list of ``Message`` is the conversation as given, which
must end with a user message. ``to_messages`` turns any of them into the ``tuple[Message, ...]``
the engine runs, and refuses anything else before a request is sent.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, TypeAlias

from ._errors import ConfigurationError, snippet
from ._messages import Message
from ._parts import PARTS, Part

__all__ = ["Prompt", "to_messages"]

Prompt: TypeAlias = str | Sequence[Part] | Sequence[Message]
"""What a prompt function returns: a ``str``, a list of parts, or a list of ``Message``."""

_FORMS = (
    "an alloy.Prompt: a str, a list of parts (str, alloy.Image, alloy.Document, alloy.Audio) "
    "or a list of alloy.Message"
)


def to_messages(prompt: Any, *, source: str) -> tuple[Message, ...]:
    """The conversation *prompt* stands for.

    Args:
        prompt: what the prompt function returned (or ``ask`` was given).
        source: who gave it and how, for the error: ``"The prompt function f returned"``,
            ``"ask() was given"``.

    Raises:
        ConfigurationError: *prompt* is not a ``Prompt``, is empty, mixes messages and parts, or is
            a conversation that does not end with a user message.
    """
    if isinstance(prompt, str):
        return (Message("user", prompt),)
    if isinstance(prompt, Sequence) and not isinstance(prompt, bytes | bytearray):
        items: list[Any] = list(prompt)  # pyright: ignore[reportUnknownArgumentType]
        if items and all(isinstance(m, Message) for m in items):
            return _conversation(items, source)
        bad = [p for p in items if not isinstance(p, (str, *PARTS))]
        if not bad:
            if parts := tuple(p for p in items if p != ""):  # empty text left out: providers refuse it
                return (Message("user", parts),)
            raise ConfigurationError(f"{source} an empty list (or only empty text); it must return {_FORMS}.")
        if any(isinstance(m, Message) for m in items):
            raise ConfigurationError(
                f"{source} a list that mixes alloy.Message and parts ({snippet(bad[0], 60)}); "
                "return either messages (wrap parts in Message.user(...)) or the parts of one message."
            )
        raise ConfigurationError(
            f"{source} a list holding {type(bad[0]).__name__} {snippet(bad[0], 60)}; it must return {_FORMS}."
        )
    hint = ""
    if isinstance(prompt, bytes | bytearray):
        hint = " Wrap binary content in alloy.Image(...), alloy.Document(...) or alloy.Audio(...)."
    elif isinstance(prompt, PARTS):
        hint = f" Put the part in a list: [{type(prompt).__name__}(...)] or ['text', part]."
    elif prompt is None:
        hint = " Did the function forget its return statement?"
    elif isinstance(prompt, Message):
        hint = " Put the message in a list: [Message.user(...)]."
    raise ConfigurationError(
        f"{source} {type(prompt).__name__} {snippet(prompt, 60)}; it must return {_FORMS}.{hint}"
    )


def _conversation(messages: list[Message], source: str) -> tuple[Message, ...]:
    for i, m in enumerate(messages, 1):
        content: Any = m.content
        if isinstance(content, str):
            continue
        parts: tuple[Any, ...] = content if isinstance(content, tuple) else (content,)  # pyright: ignore[reportUnknownVariableType]
        bad: list[Any] = [p for p in parts if not isinstance(p, (str, *PARTS))]
        if bad:
            raise ConfigurationError(
                f"{source} a conversation whose message {i} ({m.role}) has {type(bad[0]).__name__} "
                f"{snippet(bad[0], 60)} in its content; a message's content is a str or a tuple of "
                "parts (str, alloy.Image, alloy.Document, alloy.Audio)."
            )
    last = messages[-1]
    if last.role != "user":
        article = "an" if last.role[:1] in "aeiou" else "a"
        raise ConfigurationError(
            f"{source} a conversation that ends with {article} {last.role!r} message; it must end with a "
            "user message (the turn the model answers): append Message.user(...)."
        )
    return _named(messages)


def _named(messages: list[Message]) -> tuple[Message, ...]:
    """Each tool result carries its tool's name, taken from the call it answers where it has none
    (Gemini and Ollama send results by name; a history built by hand may leave it out)."""
    if all(m.role != "tool" or m.name for m in messages):
        return tuple(messages)
    names = {c.id: c.name for m in messages for c in m.tool_calls}
    return tuple(
        dataclasses.replace(m, name=names.get(m.tool_call_id, "")) if m.role == "tool" and not m.name else m
        for m in messages
    )


def with_context(messages: tuple[Message, ...], block: str) -> tuple[Message, ...]:
    """*messages* with the text *block* put before the last (user) message's content."""
    last = messages[-1]
    content = f"{block}{last.content}" if isinstance(last.content, str) else (block.strip(), *last.content)
    return (*messages[:-1], Message("user", content))

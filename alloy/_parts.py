"""Multimodal inputs: ``Image``, ``Document`` (PDF) and ``Audio`` (WAV, MP3).

Each part holds either bytes or a URL, and a media type: given, or taken from the bytes' signature
or the file's suffix. A type that cannot be told, or that the part does not take, is a
``ConfigurationError`` naming the accepted ones. Alloy never downloads a URL: it goes to the
provider as it is, where the provider takes URLs.

Parts are frozen and persist through pydantic (``TypeAdapter(list[alloy.Message])``): bytes travel
as base64 in JSON, and the ``type`` field tells the parts apart when they come back. Their
``repr`` and ``placeholder`` (``<image/png 12.3 kB>``) never show the bytes, so neither do logs,
spans or ``explain()``. Which provider takes which part is data in each adapter's ``Capabilities``;
nothing here knows a provider.
"""

from __future__ import annotations

import base64
import inspect
import os
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self, TypeAlias
from urllib.parse import urlsplit

from pydantic import ConfigDict, Field

from ._errors import ConfigurationError

__all__ = ["Audio", "Document", "Image", "Part", "PartKind", "placeholder"]

PartKind = Literal["image", "image_url", "document", "document_url", "audio", "audio_url"]
"""A part as a provider sees it: its kind, and whether it comes as bytes or as a URL."""

Kind = Literal["image", "document", "audio"]

_CONFIG = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

_SUFFIXES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".wav": "audio/wav",
    ".mp3": "audio/mpeg",
}
_ALIASES = {
    "image/jpg": "image/jpeg",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/mpeg3": "audio/mpeg",
    "audio/x-mp3": "audio/mpeg",
}


def sniff(data: bytes) -> str | None:
    """The media type the bytes' signature shows, if Alloy knows it."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    if data.startswith(b"%PDF-"):
        return "application/pdf"
    if data.startswith(b"ID3") or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    return None


def _from_suffix(name: str) -> str | None:
    return _SUFFIXES.get(os.path.splitext(name)[1].lower())


def human_size(n: int) -> str:
    if n < 1000:
        return f"{n} B"
    if n < 1_000_000:
        return f"{n / 1000:.1f} kB"
    return f"{n / 1_000_000:.1f} MB"


class _Part:
    """What the three parts share: construction checks, constructors, the placeholder."""

    __slots__ = ()
    kind: ClassVar[Kind]
    accepted: ClassVar[tuple[str, ...]]
    example: ClassVar[str]
    data: bytes
    media_type: str | None
    url: str | None

    def __post_init__(self) -> None:
        name = type(self).__name__
        if self.url is not None:
            if not isinstance(self.url, str) or not self.url.strip():  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(f"{name}.from_url() takes a URL string, not {self.url!r}.")
            if self.data:
                raise ConfigurationError(f"{name} holds bytes or a URL, not both.")
            told = self.media_type or _from_suffix(urlsplit(self.url).path) or self._default()
        else:
            if isinstance(self.data, bytearray | memoryview):
                object.__setattr__(self, "data", bytes(self.data))
            if not isinstance(self.data, bytes):  # pyright: ignore[reportUnnecessaryIsInstance]
                raise ConfigurationError(
                    f"{name}(data) takes bytes, not {type(self.data).__name__}: for a file use "
                    f"{name}.from_path(path), for a URL {name}.from_url(url)."
                )
            if not self.data:
                raise ConfigurationError(
                    f"{name}(data) got empty bytes: pass the {self.kind}'s content, e.g. {name}.from_path(path)."
                )
            told = self.media_type or sniff(self.data)
            if told is None:
                raise ConfigurationError(
                    f"{name}: cannot tell the media type of these bytes (they start {self.data[:8]!r}). "
                    f"Pass media_type=..., one of: {', '.join(self.accepted)}."
                )
        media = _ALIASES.get(told.lower().strip(), told.lower().strip()) if told else None
        if media is not None and media not in self.accepted:
            raise ConfigurationError(
                f"{name} takes {', '.join(self.accepted)}, not {media!r}. {self.example}"
            )
        object.__setattr__(self, "media_type", media)

    def _default(self) -> str | None:
        return None

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], media_type: str | None = None) -> Self:
        """The part read from a file; the media type from the bytes, else the suffix.

        Raises:
            ConfigurationError: no such file, an empty file, or a media type this part does not take.
        """
        p = Path(path)
        try:
            data = p.read_bytes()
        except FileNotFoundError:
            raise ConfigurationError(f"{cls.__name__}.from_path: there is no file at {str(p)!r}.") from None
        except OSError as exc:
            raise ConfigurationError(f"{cls.__name__}.from_path: cannot read {str(p)!r}: {exc}.") from None
        if not data:
            raise ConfigurationError(f"{cls.__name__}.from_path: the file {str(p)!r} is empty.")
        return cls(data, media_type or sniff(data) or _from_suffix(p.name))  # pyright: ignore[reportCallIssue]

    @classmethod
    def from_url(cls, url: str, media_type: str | None = None) -> Self:
        """The part as a URL that the provider fetches (Alloy never downloads it)."""
        return cls(b"", media_type, url)  # pyright: ignore[reportCallIssue]

    @property
    def kind_sent(self) -> PartKind:
        """This part's ``PartKind``: ``"image"`` for image bytes, ``"image_url"`` for an image URL, …"""
        return f"{self.kind}_url" if self.url is not None else self.kind  # pyright: ignore[reportReturnType]

    @property
    def base64(self) -> str:
        """The bytes in base64 (``""`` for a URL)."""
        return base64.b64encode(self.data).decode("ascii")

    @property
    def data_url(self) -> str:
        """The URL, or the bytes as a ``data:`` URL."""
        return self.url if self.url is not None else f"data:{self.media_type};base64,{self.base64}"

    @property
    def size(self) -> int:
        """Bytes held (0 for a URL)."""
        return len(self.data)

    @property
    def placeholder(self) -> str:
        """How the part shows in ``explain()``, spans and logs: ``<image/png 12.3 kB>``, never its bytes."""
        media = self.media_type or self.kind
        return f"<{media} {self.url}>" if self.url is not None else f"<{media} {human_size(len(self.data))}>"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.placeholder})"


@dataclass(frozen=True, slots=True, repr=False)
class Image(_Part):
    """An image (PNG, JPEG, GIF, WebP) as bytes or a URL: ``Image(data)``, ``Image.from_path(path)``,
    ``Image.from_url(url)``.

    Raises:
        ConfigurationError: empty bytes, or a media type that cannot be told or is not an image.
    """

    kind: ClassVar[Kind] = "image"
    accepted: ClassVar[tuple[str, ...]] = ("image/png", "image/jpeg", "image/gif", "image/webp")
    example: ClassVar[str] = "A PDF goes in alloy.Document, audio in alloy.Audio."
    __pydantic_config__: ClassVar[ConfigDict] = _CONFIG

    data: bytes = b""
    media_type: str | None = None
    url: str | None = None
    type: Literal["image"] = field(default="image", init=False)


@dataclass(frozen=True, slots=True, repr=False)
class Document(_Part):
    """A PDF document as bytes or a URL: ``Document(data)``, ``Document.from_path(path)``,
    ``Document.from_url(url)``.

    Raises:
        ConfigurationError: empty bytes, or bytes that are not a PDF.
    """

    kind: ClassVar[Kind] = "document"
    accepted: ClassVar[tuple[str, ...]] = ("application/pdf",)
    example: ClassVar[str] = "Send other text as a str; an image goes in alloy.Image."
    __pydantic_config__: ClassVar[ConfigDict] = _CONFIG

    data: bytes = b""
    media_type: str | None = None
    url: str | None = None
    type: Literal["document"] = field(default="document", init=False)

    def _default(self) -> str | None:
        return "application/pdf"


@dataclass(frozen=True, slots=True, repr=False)
class Audio(_Part):
    """Audio (WAV, MP3) as bytes or a URL: ``Audio(data)``, ``Audio.from_path(path)``,
    ``Audio.from_url(url)``.

    Raises:
        ConfigurationError: empty bytes, or a media type that cannot be told or is not WAV or MP3.
    """

    kind: ClassVar[Kind] = "audio"
    accepted: ClassVar[tuple[str, ...]] = ("audio/wav", "audio/mpeg")
    example: ClassVar[str] = "Convert other audio to WAV or MP3 first."
    __pydantic_config__: ClassVar[ConfigDict] = _CONFIG

    data: bytes = b""
    media_type: str | None = None
    url: str | None = None
    type: Literal["audio"] = field(default="audio", init=False)


Binary: TypeAlias = Annotated[Image | Document | Audio, Field(discriminator="type")]
"""A non-text part; the ``type`` field picks the class when a stored history is validated."""

Part: TypeAlias = str | Binary
"""One piece of a user message: text, an image, a PDF or audio."""

PARTS = (Image, Document, Audio)


def evaluate_annotations(*classes: type) -> None:
    """Replace each class's own string annotations by the types they name.

    ``alloy/__init__`` sets the public classes' ``__module__`` to ``alloy``, where pydantic could
    no longer resolve names such as ``Part``; evaluated here, a ``TypeAdapter`` needs none.
    """
    for cls in classes:
        hints = typing.get_type_hints(cls, include_extras=True)
        own: dict[str, Any] = inspect.get_annotations(cls)
        fields: dict[str, Any] = getattr(cls, "__dataclass_fields__", {})
        for name in own:
            own[name] = hints[name]
            if name in fields:
                fields[name].type = hints[name]
        cls.__annotations__ = own


evaluate_annotations(*PARTS)


NAMES: dict[PartKind, str] = {
    "image": "an image (as bytes)",
    "image_url": "an image URL",
    "document": "a PDF document (as bytes)",
    "document_url": "a PDF document URL",
    "audio": "audio (as bytes)",
    "audio_url": "an audio URL",
}
"""Each part kind in words, for errors."""
SHORT: dict[PartKind, str] = {
    "image": "image",
    "image_url": "image URL",
    "document": "PDF",
    "document_url": "PDF URL",
    "audio": "audio",
    "audio_url": "audio URL",
}
"""Each part kind in a word or two, for ``explain()`` and the provider matrix."""


def placeholder(part: Part) -> str:
    """Text as it is; any other part as its placeholder."""
    return part if isinstance(part, str) else part.placeholder

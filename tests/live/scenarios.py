"""The tasks every live provider test runs: a typed extraction, a tool call, an image."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Literal

from alloy import Image, Prompt, command, tool


@dataclass
class Invoice:
    number: str
    total: float
    line_items: dict[str, int]


@command(output=Invoice)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice. `line_items` maps each product to its quantity.\n\n{text}"


@tool
def exchange_rate(currency: str) -> float:
    """The value of one unit of *currency* in US dollars."""
    return {"EUR": 1.25, "GBP": 1.5}.get(currency.upper(), 1.0)


@command(output=float, tools=[exchange_rate])
def to_usd(amount: float, currency: str) -> str:
    return f"Convert {amount} {currency} to US dollars. Use the exchange_rate tool."


def solid_png(rgb: tuple[int, int, int], size: int = 32) -> bytes:
    """A PNG of one colour, *size* pixels square (a few hundred bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * size
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * size)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


@command(output=Literal["red", "green", "blue"])
def colour(scan: Image) -> Prompt:
    return ["Which colour fills this image: red, green or blue?", scan]


RED = Image(solid_png((230, 20, 20)))

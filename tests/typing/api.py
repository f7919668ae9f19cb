"""Checked by pyright in CI, never run: what type checkers must infer for every form in SPEC §2."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Literal, assert_type

import alloy
from alloy import AsyncCommand, Command, Result, ask, command, tool


@dataclass
class Invoice:
    number: str
    total: float


@command(output=Invoice)
def extract_invoice(text: str) -> str:
    return f"Extract the invoice from: {text}"


@command(output=Invoice)
async def aextract_invoice(text: str, *, strict: bool = False) -> str:
    return f"Extract the invoice from: {text}"


@command
def summarize(text: str) -> str:
    return text


@command
async def asummarize(text: str) -> str:
    return text


@command(model="fake", temperature=0.2)
def summarize_with_options(text: str) -> str:
    return text


@command(output=None)
def fire(n: int) -> str:
    return str(n)


@command(output=list[int])
def numbers(n: int) -> str:
    return str(n)


@command(output=list[Invoice])
async def anumbers(n: int) -> str:
    return str(n)


@tool
def lookup(sku: str) -> float:
    return 1.0


@command(output=int, tools=[lookup, extract_invoice])
def with_tools(sku: str) -> str:
    return sku


async def check_async() -> None:
    cmd: AsyncCommand[[str], str] = asummarize  # the decorator keeps the parameters and the output
    assert_type(await cmd("x"), str)
    assert_type(await aextract_invoice("x"), Invoice)
    assert_type(await aextract_invoice("x", strict=True), Invoice)
    assert_type(await aextract_invoice.async_("x"), Invoice)
    assert_type(await aextract_invoice.run("x"), Result[Invoice])
    assert_type(await aextract_invoice.run_async("x"), Result[Invoice])
    assert_type(aextract_invoice.stream("x"), AsyncIterator[str])
    assert_type(await extract_invoice.async_("x"), Invoice)
    assert_type(await extract_invoice.run_async("x"), Result[Invoice])
    assert_type(await ask.async_("x", output=Invoice), Invoice)
    assert_type(await ask.async_("x"), str)
    assert_type(ask.stream_async("x"), AsyncIterator[str])
    assert_type(aextract_invoice.stream_partial("x"), AsyncIterator[Invoice])
    assert_type(anumbers.stream_items(1), AsyncIterator[Invoice])
    assert_type(anumbers.stream_partial(1), AsyncIterator[list[Invoice]])
    assert_type(ask.stream_partial_async("x", output=Invoice), AsyncIterator[Invoice])
    assert_type(ask.stream_partial_async("x"), AsyncIterator[str])


def check_sync() -> None:
    cmd: Command[[str], Invoice] = extract_invoice  # the decorator keeps the parameters and the output
    assert_type(cmd("x"), Invoice)
    assert_type(extract_invoice("x"), Invoice)
    assert_type(extract_invoice.run("x"), Result[Invoice])
    assert_type(extract_invoice.run("x").output, Invoice)
    assert_type(extract_invoice.with_options(model="fake", retry=1)("x"), Invoice)
    assert_type(summarize("x"), str)
    assert_type(summarize.stream("x"), Iterator[str])
    assert_type(summarize_with_options("x"), str)
    assert_type(fire(1), None)
    assert_type(numbers(3), list[int])
    assert_type(with_tools("a"), int)
    assert_type(lookup("a"), float)
    assert_type(ask("x"), str)
    assert_type(ask("x", output=Invoice), Invoice)
    assert_type(ask("x", output=list[int], context={"a": 1}, model="fake"), list[int])
    assert_type(ask.stream("x"), Iterator[str])
    assert_type(extract_invoice.stream_partial("x"), Iterator[Invoice])
    assert_type(summarize.stream_partial("x"), Iterator[str])
    assert_type(numbers.stream_items(3), Iterator[int])
    assert_type(numbers.stream_partial(3), Iterator[list[int]])
    assert_type(ask.stream_partial("x", output=Invoice), Iterator[Invoice])
    assert_type(ask.stream_partial("x", output=list[int], tools=[lookup]), Iterator[list[int]])
    assert_type(ask.stream_partial("x"), Iterator[str])
    assert_type(extract_invoice.explain(), alloy.Plan)
    assert_type(extract_invoice.run("x").usage.total_tokens, int)
    assert_type(extract_invoice.run("x").model, str | None)
    assert_type(extract_invoice.with_options(model=["openai:gpt-5-mini", "fake"])("x"), Invoice)
    assert_type(ask("x", output=int, model=("openai:gpt-5-mini", "fake")), int)
    assert_type(extract_invoice.explain().chain, list[str])


def check_errors() -> None:
    extract_invoice(1)  # pyright: ignore[reportArgumentType]
    extract_invoice("x", "y")  # pyright: ignore[reportCallIssue]
    extract_invoice.with_options(temprature=1)  # pyright: ignore[reportCallIssue]
    extract_invoice.stream_items("x")  # pyright: ignore[reportAttributeAccessIssue, reportUnknownMemberType]  # not a list
    mode: Literal["auto"] = "auto"
    alloy.configure(tool_mode=mode)

"""Record and replay provider traffic: ``cassette(path)`` (SPEC §15).

``recorded(adapter, tape)`` wraps one adapter's ``send``/``asend``/``stream``/``astream``, the way
httpx stacks transports: recording, it calls the provider and keeps the neutral request and
response (stream deltas too); replaying, it answers from the file and never calls the provider. The
wrapper reaches the adapter through ``alloy._interpose``, so nothing in the drivers knows about
cassettes, and a cassette entered after a command already ran still applies.

    with cassette("tests/cassettes/invoice.json"):
        assert extract_invoice("Invoice #42, total $99.50").number == "42"
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, ParamSpec, TypeVar

from .._errors import ProviderError
from .._interpose import interposing
from .._messages import Request, Response
from .._settings import get_settings
from ..providers import Adapter, Capabilities, StreamItem
from ._tape import CassetteMiss, Mode, Tape, delta_of, neutral_request, response_of

if TYPE_CHECKING:
    from .._settings_class import Settings

__all__ = ["Cassette", "CassetteMiss", "cassette"]

P = ParamSpec("P")
R = TypeVar("R")


def cassette(path: str | os.PathLike[str], mode: Mode | None = None) -> Cassette:
    """Record provider traffic to *path* the first time; answer from it afterwards, offline.

    A context manager (``with cassette(path):``) and a decorator of sync and async functions.

    Args:
        path: the JSON file (relative paths are taken from the working directory).
        mode: ``"once"`` (the default: record when the file does not exist, replay when it does),
            ``"replay"`` (never reach a provider) or ``"record"`` (always call, rewrite the file).
            The ``cassette_mode`` setting (``ALLOY_CASSETTE_MODE``) overrides it.

    Raises (from calls made inside):
        CassetteMiss: replaying, a request the cassette does not hold; nothing is sent.

    .. versionadded:: 0.7
    """
    return Cassette(Path(path), mode)


class Cassette:
    """One cassette file in use; see ``cassette``.

    Attributes:
        path: the file.
        mode: the mode asked for (``None``: ``"once"``); inside the block, the mode in effect.
        interactions: inside the block, the interactions read from the file (replaying) or
            recorded so far (recording), each ``{"request": …, "response": …}`` (and ``"stream"``).
    """

    def __init__(self, path: Path, mode: Mode | None = None) -> None:
        self.path = path
        self.mode: Mode | None = mode
        self._asked: Mode | None = mode
        self._stack: list[tuple[Tape, AbstractContextManager[None]]] = []

    def __repr__(self) -> str:
        return f"cassette({str(self.path)!r}, mode={self.mode!r})"

    @property
    def recording(self) -> bool:
        """Inside the block: whether requests reach the provider and are recorded."""
        return bool(self._stack) and self._stack[-1][0].recording

    @property
    def interactions(self) -> list[dict[str, Any]]:
        if not self._stack:
            return []
        tape = self._stack[-1][0]
        return [s for s in tape.slots if s is not None] if tape.recording else list(tape.loaded)

    def __enter__(self) -> Cassette:
        mode: Mode = get_settings().cassette_mode or self._asked or "once"
        tape = Tape(self.path, mode)
        scope = interposing(lambda adapter: recorded(adapter, tape))
        scope.__enter__()
        self._stack.append((tape, scope))
        self.mode = mode
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        tape, scope = self._stack.pop()
        scope.__exit__(exc_type, exc, tb)
        self.mode = self._stack[-1][0].mode if self._stack else self._asked
        if tape.recording and exc_type is None:  # a run that failed half-way is not kept
            tape.save()

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        """Decorate a test function (sync or async): each call runs inside a fresh use of this cassette."""
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def arun(*args: Any, **kwargs: Any) -> Any:
                with Cassette(self.path, self._asked):
                    return await fn(*args, **kwargs)

            return arun  # pyright: ignore[reportReturnType]

        @functools.wraps(fn)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            with Cassette(self.path, self._asked):
                return fn(*args, **kwargs)

        return run


@functools.cache
def _recorded_class(provider: str) -> type[Recorded]:
    return type(f"Recorded_{provider}", (Recorded,), {"provider": provider})


def recorded(adapter: Adapter, tape: Tape) -> Adapter:
    """*adapter* recording to (or replaying from) *tape*; it keeps the adapter's ``provider``."""
    return _recorded_class(adapter.provider)(adapter, tape)


class Recorded(Adapter):
    """An adapter whose sends go through a cassette; everything else is the wrapped adapter's."""

    provider: ClassVar[str] = "recorded"

    def __init__(self, inner: Adapter, tape: Tape) -> None:
        self.inner = inner
        self.tape = tape
        self.name = inner.name

    def __getattr__(self, name: str) -> Any:  # what the seam does not name (batch functions, …)
        found = getattr(self.inner, name)
        if name.startswith("batch_") and callable(found) and not self.tape.recording:
            return functools.partial(_no_batch, self.tape)
        return found

    def __repr__(self) -> str:
        return f"<{self.inner!r} through cassette {str(self.tape.path)!r}>"

    def capabilities(self, model: str, settings: Settings) -> Capabilities:
        return self.inner.capabilities(model, settings)

    def classify(self, exc: Exception) -> ProviderError | None:
        return self.inner.classify(exc)

    def send(self, request: Request, settings: Settings) -> Response:
        neutral = neutral_request(self.inner.provider, request)
        if not self.tape.recording:
            return response_of(self.tape.play(neutral)["response"])
        slot = self.tape.reserve()
        response = self.inner.send(request, settings)
        self.tape.fill(slot, neutral, response, None, settings)
        return response

    async def asend(self, request: Request, settings: Settings) -> Response:
        neutral = neutral_request(self.inner.provider, request)
        if not self.tape.recording:
            return response_of(self.tape.play(neutral)["response"])
        slot = self.tape.reserve()
        response = await self.inner.asend(request, settings)
        self.tape.fill(slot, neutral, response, None, settings)
        return response

    def stream(self, request: Request, settings: Settings) -> Iterator[StreamItem]:
        neutral = neutral_request(self.inner.provider, request)
        if not self.tape.recording:
            yield from _replayed(self.tape.play(neutral))
            return
        slot = self.tape.reserve()
        deltas: list[Any] = []
        for item in self.inner.stream(request, settings):
            if isinstance(item, Response):
                self.tape.fill(slot, neutral, item, deltas, settings)
            else:
                deltas.append(item)
            yield item

    async def astream(self, request: Request, settings: Settings) -> AsyncIterator[StreamItem]:
        neutral = neutral_request(self.inner.provider, request)
        if not self.tape.recording:
            for item in _replayed(self.tape.play(neutral)):
                yield item
            return
        slot = self.tape.reserve()
        deltas: list[Any] = []
        async for item in self.inner.astream(request, settings):
            if isinstance(item, Response):
                self.tape.fill(slot, neutral, item, deltas, settings)
            else:
                deltas.append(item)
            yield item


def _no_batch(tape: Tape, *args: Any, **kwargs: Any) -> Any:
    raise CassetteMiss(
        f"Cassette {tape.path} is replaying (mode {tape.mode!r}), and cassettes do not record batch jobs, "
        "so nothing was sent. Test batch code with model='fake' (it runs batch jobs offline) or "
        "run it outside the cassette.",
        path=tape.path,
        request={},
    )


def _replayed(interaction: dict[str, Any]) -> Iterator[Any]:
    """A recorded interaction as a stream: its deltas (the whole text if it was not streamed), then the response."""
    response = response_of(interaction["response"])
    if "stream" in interaction:
        yield from (delta_of(d) for d in interaction["stream"])
    elif response.text:
        yield response.text
    yield response

"""The asyncio client: :class:`AsyncClient`, with the same methods as :class:`rctclient.client.Client`.

::

    async with AsyncClient("192.168.0.10") as rct:
        soc = await rct.read("battery.soc")

Concurrent calls (``asyncio.gather``) share the connection and are pipelined by the request core;
the answers are read as they arrive, so other clients' traffic on the shared bus keeps
:meth:`AsyncClient.last_value` fresh even between calls.
"""

from __future__ import annotations

import asyncio
import logging
import time
from types import TracebackType
from typing import TypeVar

from ._clientbase import FEED_PIECE, RX_CAP, AsyncClientBase
from .protocol import Call, Op, Request, Sleep

__all__ = ["AsyncClient"]

log = logging.getLogger("rctclient.aio")

T = TypeVar("T")

_MAX_WAIT = 0.5


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Stream(asyncio.Protocol):
    """Hands received bytes to the client, which feeds them to the request core and wakes the waiting calls."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client._received(self, data)

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost(self)


class AsyncClient(AsyncClientBase):
    """The asyncio twin of :class:`rctclient.client.Client`: same parameters, same methods (awaitable).

    Concurrent calls share the connection; each call's deadline counts from the call, also while its
    requests wait behind the others'.
    """

    _log = log

    def _init_transport(self) -> None:
        self._stream: _Stream | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._connect_lock: asyncio.Lock | None = None
        self._pump: asyncio.Handle | None = None
        self._paused: _Stream | None = None  # the stream whose reading is paused (RX_CAP reached)

    # -- connection -------------------------------------------------------------------------------

    async def __aenter__(self) -> AsyncClient:
        await self.connect()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._stream is not None

    def _lock(self) -> asyncio.Lock:
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        return self._connect_lock

    async def connect(self) -> None:
        """Connect now (one attempt). Raises RctConnectionError if the device cannot be reached."""
        async with self._lock():
            if self._stream is None:
                await self._try_connect(time.monotonic(), self.connect_timeout, raise_error=True)

    async def close(self) -> None:
        """Close the connection; the client connects again if it is used after this."""
        stream = self._stream
        self._stream = None
        if self._pump is not None:
            self._pump.cancel()
            self._pump = None
        if stream is not None and stream.transport is not None:
            stream.transport.close()
            await asyncio.sleep(0)  # let the transport finish closing
        if stream is not None:
            self._connection_ended(time.monotonic(), deliberate=True)
        self._wake()

    def _lost(self, stream: _Stream) -> None:
        if self._stream is stream:
            self._stream = None
            self._connection_ended(time.monotonic())
        self._wake()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            _resolve(fut)

    async def _try_connect(self, now: float, timeout: float, *, raise_error: bool = False) -> bool:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(max(0.01, timeout)):
                _, stream = await loop.create_connection(lambda: _Stream(self), self.host, self.port)
        except (OSError, TimeoutError) as exc:
            self._connect_failed(time.monotonic(), str(exc) or type(exc).__name__, exc, raise_error=raise_error)
            return False
        self._stream = stream
        self._connected(time.monotonic())
        return True

    async def _reconnect(self, reqs: list[Request]) -> None:
        """Not connected: connect (or wait for the backoff, or fail what cannot wait), not past ``reqs``' deadline.

        Another call may be connecting already: waiting for it ends at our own first deadline too.
        """
        deadline = min(req.deadline for req in reqs if not req.done)
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())), self._lock():
                if self._stream is not None:
                    return
                now = time.monotonic()
                wait = self.reconnect.wait(now)
                budget = self._plan_reconnect(now)
                if budget is not None:
                    if wait > 0:
                        await asyncio.sleep(wait)
                    await self._try_connect(time.monotonic(), budget)
        except TimeoutError:
            now = time.monotonic()
            late = [req for req in reqs if not req.done and req.deadline <= now]
            self.protocol.fail(late, self._unreachable(self.reconnect.wait(now)))
        finally:
            self._wake()

    # -- receiving -------------------------------------------------------------------------------

    def _received(self, stream: _Stream, data: bytes) -> None:
        """Bytes from the device: fed at once when they are one piece, else a piece per turn of the event loop.

        Between the pieces, other callbacks and timers run (the calls whose deadline came), so a flood
        or crafted input costs bounded time per turn and holds no call past its deadline.
        """
        if stream is not self._stream:
            return
        if not self._rx and len(data) <= FEED_PIECE:
            self._feed(data)
            return
        self._rx += data
        if len(self._rx) >= RX_CAP and self._paused is None and stream.transport is not None:
            stream.transport.pause_reading()
            self._paused = stream
        if self._pump is None:
            self._pump = asyncio.get_running_loop().call_soon(self._feed_piece)

    def _feed(self, data: bytes) -> None:
        core = self.protocol
        stats = core.stats
        events = stats.frames + stats.crc_errors
        core.receive_data(data, time.monotonic())
        if stats.frames + stats.crc_errors != events:  # only an answer can finish a request or open the window
            self._wake()

    def _feed_piece(self) -> None:
        self._pump = None
        if self._rx:
            self._feed(self._take_piece())
        if self._rx:
            self._pump = asyncio.get_running_loop().call_soon(self._feed_piece)
            return
        paused, self._paused = self._paused, None
        if paused is not None and paused is self._stream and paused.transport is not None:
            paused.transport.resume_reading()

    # -- running operations -----------------------------------------------------------------------

    async def _execute(self, calls: list[Call]) -> list[Request]:
        core = self.protocol
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        reqs = [core.submit(call, now) for call in calls]
        try:
            while not all(req.done for req in reqs):
                now = time.monotonic()
                stream = self._stream
                if stream is None or stream.transport is None:
                    await self._reconnect(reqs)
                    continue
                out = core.data_to_send(now)
                if out:
                    stream.transport.write(out)
                if all(req.done for req in reqs):
                    break
                wake = core.next_wakeup(now)
                wait = _MAX_WAIT if wake is None else min(_MAX_WAIT, max(0.0, wake - now))
                # woken by an answer (_wake) or by the timer; a plain timer rather than wait_for, which
                # needs more turns of the event loop (each may carry a piece of received data to decode)
                fut: asyncio.Future[None] = loop.create_future()
                self._waiters.add(fut)
                timer = loop.call_later(wait, _resolve, fut)
                try:
                    await fut
                finally:
                    timer.cancel()
                    self._waiters.discard(fut)
        finally:
            core.cancel([req for req in reqs if not req.done])
        return reqs

    async def _run(self, op: Op[T]) -> T:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(await self._execute(step))
        except StopIteration as stop:
            result: T = stop.value
            return result

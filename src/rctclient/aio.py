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
from collections.abc import Iterable
from datetime import tzinfo
from types import TracebackType
from typing import Any

from .protocol import (
    BatteryStatus,
    Call,
    ClientBase,
    EventRecord,
    LastValue,
    OidRef,
    Op,
    ReadManyResult,
    Request,
    Sleep,
    TimeArg,
    WriteResult,
)
from .types import EventTable, Timeseries, TimeseriesPoint

__all__ = ["AsyncClient"]

log = logging.getLogger("rctclient.aio")

_MAX_WAIT = 0.5


class _Stream(asyncio.Protocol):
    """Feeds received bytes straight into the request core and wakes the waiting calls."""

    def __init__(self, client: AsyncClient) -> None:
        self.client = client
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.client.protocol.receive_data(data, time.monotonic())
        self.client._wake()

    def eof_received(self) -> bool | None:
        return None  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.client._lost(self)


class AsyncClient(ClientBase):
    """The asyncio twin of :class:`rctclient.client.Client`: same parameters, same methods (awaitable)."""

    _log = log

    def _init_transport(self) -> None:
        self._stream: _Stream | None = None
        self._waiters: set[asyncio.Future[None]] = set()
        self._connect_lock: asyncio.Lock | None = None

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
            if not fut.done():
                fut.set_result(None)

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

    async def _reconnect(self) -> None:
        async with self._lock():
            if self._stream is not None:
                return
            now = time.monotonic()
            wait = self.reconnect.wait(now)
            budget = self._plan_reconnect(now)
            if budget is not None:
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._try_connect(time.monotonic(), budget)
            self._wake()

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
                    await self._reconnect()
                    continue
                out = core.data_to_send(now)
                if out:
                    stream.transport.write(out)
                if all(req.done for req in reqs):
                    break
                wake = core.next_wakeup(now)
                wait = _MAX_WAIT if wake is None else min(_MAX_WAIT, max(0.0, wake - now))
                fut: asyncio.Future[None] = loop.create_future()
                self._waiters.add(fut)
                try:
                    await asyncio.wait_for(fut, wait)
                except TimeoutError:
                    pass
                finally:
                    self._waiters.discard(fut)
        finally:
            core.cancel([req for req in reqs if not req.done])
        return reqs

    async def _run(self, op: Op) -> Any:
        try:
            step = next(op)
            while True:
                if isinstance(step, Sleep):
                    await asyncio.sleep(step.seconds)
                    step = op.send(None)
                else:
                    step = op.send(await self._execute(step))
        except StopIteration as stop:
            return stop.value

    # -- the API (see rctclient.client.Client for the details) ------------------------------------

    async def read(self, oid: OidRef, *, timeout: float | None = None) -> Any:
        """The current value of ``oid``, decoded with its data type (RctTimeout, RctConnectionError)."""
        return await self._run(self._ops.read(oid, timeout))

    async def read_raw(self, oid: OidRef, *, timeout: float | None = None) -> bytes:
        """The payload of the answer (validated against the data type, not decoded)."""
        result: bytes = await self._run(self._ops.read_raw(oid, timeout))
        return result

    async def read_many(self, oids: Iterable[OidRef], *, timeout: float | None = None) -> ReadManyResult:
        """Read several OIDs at once (pipelined); failures are in ``.errors``."""
        result: ReadManyResult = await self._run(self._ops.read_many(oids, timeout))
        return result

    async def write(
        self,
        oid: OidRef,
        value: Any,
        *,
        force: bool = False,
        dry_run: bool = False,
        verify: bool = True,
    ) -> WriteResult:
        """Write and read back; see :meth:`rctclient.client.Client.write`."""
        result: WriteResult = await self._run(self._ops.write(oid, value, force=force, dry_run=dry_run, verify=verify))
        return result

    async def history(
        self, oid: OidRef, start: TimeArg, end: TimeArg, *, tz: tzinfo | None = None
    ) -> list[TimeseriesPoint]:
        """The logged points between ``start`` and ``end`` (inclusive), oldest first."""
        result: list[TimeseriesPoint] = await self._run(self._ops.history(oid, start, end, tz=tz))
        return result

    async def query(self, oid: OidRef, at: TimeArg, *, tz: tzinfo | None = None) -> Timeseries | EventTable:
        """One page of a time series or of the event table (see :meth:`rctclient.client.Client.query`)."""
        result: Timeseries | EventTable = await self._run(self._ops.query(oid, at, tz=tz))
        return result

    async def events(self, start: TimeArg, end: TimeArg, *, tz: tzinfo | None = None) -> list[EventRecord]:
        """The event table entries between ``start`` and ``end`` (inclusive), oldest first."""
        result: list[EventRecord] = await self._run(self._ops.events(start, end, tz=tz))
        return result

    async def battery_status(self) -> BatteryStatus:
        """``battery.bat_status``; show it before a write when it is not ``normal``."""
        result: BatteryStatus = await self._run(self._ops.battery_status())
        return result

    def last_value(self, oid: OidRef) -> LastValue | None:
        """The last good value seen for ``oid`` (ours and other clients'), with its age; no I/O."""
        return self._ops.last_value(oid, time.monotonic())

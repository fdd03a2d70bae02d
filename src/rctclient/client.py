"""The blocking client: :class:`Client`.

::

    from rctclient.client import Client

    with Client("192.168.0.10") as rct:
        soc = rct.read("battery.soc")                      # 0.53 (a fraction)
        values = rct.read_many(["battery.soc", "g_sync.p_ac_load_sum_lp"]).values
        rct.write("power_mng.soc_min", 0.1)                # allow-listed, verified by read-back

It is thread-safe (one request batch at a time) and shares its request core and operations with
:class:`rctclient.aio.AsyncClient` (see :mod:`rctclient.protocol`).
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
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
    _deadline_of,
)
from .types import EventTable, Timeseries, TimeseriesPoint

__all__ = ["Client"]

log = logging.getLogger("rctclient.client")

_RECV_SIZE = 65536
_MAX_WAIT = 0.5


class Client(ClientBase):
    """A blocking client for one device (or one device of a plant, with ``address``).

    The parameters are those of :class:`~rctclient.protocol.ClientBase`.

    Connecting happens on ``with`` (or :meth:`connect`) and again, with exponential backoff, whenever
    a request needs the connection after it was lost. While the backoff runs and a request's
    deadline would pass before the next attempt, the request fails at once with
    :class:`~rctclient.exceptions.RctConnectionError`: a device that is off costs nothing.
    """

    _log = log

    def _init_transport(self) -> None:
        self._sock: socket.socket | None = None
        self._lock = threading.RLock()
        self._closed = False

    # -- connection -------------------------------------------------------------------------------

    def __enter__(self) -> Client:
        self.connect()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def connect(self) -> None:
        """Connect now (one attempt). Raises RctConnectionError if the device cannot be reached."""
        with self._lock:
            self._closed = False
            if self._sock is None:
                self._try_connect(time.monotonic(), self.connect_timeout, raise_error=True)

    def close(self) -> None:
        """Close the connection; the client connects again if it is used after this."""
        with self._lock:
            self._closed = True
            self._drop(closed=True)

    def _drop(self, *, closed: bool = False) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.close()
            self._connection_ended(time.monotonic(), deliberate=closed)

    def _try_connect(self, now: float, timeout: float, *, raise_error: bool = False) -> bool:
        try:
            sock = socket.create_connection((self.host, self.port), timeout=max(0.01, timeout))
        except OSError as exc:
            self._connect_failed(time.monotonic(), str(exc), exc, raise_error=raise_error)
            return False
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        self._sock = sock
        self._connected(time.monotonic())
        return True

    def _reconnect(self, now: float) -> None:
        """Not connected and requests are open: connect, wait for the backoff, or fail what cannot wait."""
        wait = self.reconnect.wait(now)
        budget = self._plan_reconnect(now)
        if budget is None:
            return
        if wait > 0:
            time.sleep(wait)
        self._try_connect(time.monotonic(), budget)

    # -- running operations -----------------------------------------------------------------------

    def _drain(self) -> None:
        """Take in what arrived while idle (other clients' answers, late answers) before new requests."""
        sock = self._sock
        while sock is not None:
            try:
                data = sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self._drop()
                return
            if not data:
                self._drop()
                return
            self.protocol.receive_data(data, time.monotonic())

    def _execute(self, calls: list[Call]) -> list[Request]:
        core = self.protocol
        self._drain()
        now = time.monotonic()
        reqs = [core.submit(call, now) for call in calls]
        try:
            while not all(req.done for req in reqs):
                now = time.monotonic()
                sock = self._sock
                if sock is None:
                    self._reconnect(now)
                    continue
                out = core.data_to_send(now)
                if out:
                    try:
                        sock.sendall(out)
                    except (BlockingIOError, InterruptedError):
                        # the send buffer is full (a device that does not read): wait, but not past the deadline
                        sock.settimeout(max(0.01, min(_deadline_of(r) for r in reqs) - now))
                        try:
                            sock.sendall(out)
                        except OSError:
                            self._drop()
                            continue
                        finally:
                            sock.setblocking(False)
                    except OSError:
                        self._drop()
                        continue
                if all(req.done for req in reqs):
                    break
                wake = core.next_wakeup(now)
                wait = _MAX_WAIT if wake is None else min(_MAX_WAIT, max(0.0, wake - now))
                readable, _, _ = select.select([sock], [], [], wait)
                if readable:
                    try:
                        data = sock.recv(_RECV_SIZE)
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        self._drop()
                        continue
                    if not data:
                        self._drop()
                        continue
                    core.receive_data(data, time.monotonic())
        finally:
            core.cancel([req for req in reqs if not req.done])
        return reqs

    def _run(self, op: Op) -> Any:
        with self._lock:
            try:
                step = next(op)
                while True:
                    if isinstance(step, Sleep):
                        time.sleep(step.seconds)
                        step = op.send(None)
                    else:
                        step = op.send(self._execute(step))
            except StopIteration as stop:
                return stop.value

    # -- the API ----------------------------------------------------------------------------------

    def read(self, oid: OidRef, *, timeout: float | None = None) -> Any:
        """The current value of ``oid``, decoded with its data type.

        :raises RctTimeout: no valid answer within the deadline.
        :raises RctConnectionError: the device cannot be reached.
        :raises RegistryKeyError: unknown OID (with suggestions).
        """
        return self._run(self._ops.read(oid, timeout))

    def read_raw(self, oid: OidRef, *, timeout: float | None = None) -> bytes:
        """The payload of the answer (validated against the data type, not decoded)."""
        result: bytes = self._run(self._ops.read_raw(oid, timeout))
        return result

    def read_many(self, oids: Iterable[OidRef], *, timeout: float | None = None) -> ReadManyResult:
        """Read several OIDs at once (pipelined). Never raises for a single OID's failure: see ``.errors``."""
        result: ReadManyResult = self._run(self._ops.read_many(oids, timeout))
        return result

    def write(
        self,
        oid: OidRef,
        value: Any,
        *,
        force: bool = False,
        dry_run: bool = False,
        verify: bool = True,
    ) -> WriteResult:
        """Write ``value`` to ``oid`` and read it back.

        Only OIDs on the allow-list (:func:`rctclient.protocol.writable`) and values within their
        bounds are accepted unless ``force``. ``dry_run`` does no I/O and returns the frame.

        :raises UnsafeWrite, WriteOutOfBounds: the caller's mistake; nothing was sent.
        :raises WriteRefused: the device holds another value after the write.
        :raises WriteNotVerified: the value could not be read back.
        """
        result: WriteResult = self._run(self._ops.write(oid, value, force=force, dry_run=dry_run, verify=verify))
        return result

    def history(self, oid: OidRef, start: TimeArg, end: TimeArg, *, tz: tzinfo | None = None) -> list[TimeseriesPoint]:
        """The logged points of time series ``oid`` between ``start`` and ``end`` (inclusive), oldest first.

        Times are aware datetimes, dates (midnight in ``tz``, UTC if None) or UNIX times; a naive
        datetime needs ``tz`` (the device's time zone).
        """
        result: list[TimeseriesPoint] = self._run(self._ops.history(oid, start, end, tz=tz))
        return result

    def query(self, oid: OidRef, at: TimeArg, *, tz: tzinfo | None = None) -> Timeseries | EventTable:
        """One page of a time series or of the event table: the device's answer to the timestamp ``at``.

        This is what the device does for one request (data logged before ``at``, as much as it
        sends at once); :meth:`history` and :meth:`events` page through a whole range.
        """
        result: Timeseries | EventTable = self._run(self._ops.query(oid, at, tz=tz))
        return result

    def events(self, start: TimeArg, end: TimeArg, *, tz: tzinfo | None = None) -> list[EventRecord]:
        """The event table entries between ``start`` and ``end`` (inclusive), oldest first."""
        result: list[EventRecord] = self._run(self._ops.events(start, end, tz=tz))
        return result

    def battery_status(self) -> BatteryStatus:
        """``battery.bat_status``; show it before a write when it is not ``normal``."""
        result: BatteryStatus = self._run(self._ops.battery_status())
        return result

    def last_value(self, oid: OidRef) -> LastValue | None:
        """The last good value seen for ``oid`` (our answers and other clients'), with its age; no I/O."""
        with self._lock:
            self._drain()
            return self._ops.last_value(oid, time.monotonic())

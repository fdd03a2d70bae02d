"""The blocking client: :class:`Client`.

::

    from rctclient.client import Client

    with Client("192.168.0.10") as rct:
        soc = rct.read("battery.soc")                      # 0.53 (a fraction)
        values = rct.read_many(["battery.soc", "g_sync.p_ac_load_sum_lp"]).values
        rct.write("power_mng.soc_min", 0.1)                # allow-listed, verified by read-back

It is thread-safe (one call at a time) and shares its request API (:mod:`rctclient._clientbase`) and its
request core (:mod:`rctclient.protocol`) with :class:`rctclient.aio.AsyncClient`; this module is only
the transport: a socket, ``select`` and the loop that runs an operation's requests.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
import time
from types import TracebackType
from typing import TypeVar

from ._clientbase import FEED_PIECE, RX_CAP, SyncClientBase
from .exceptions import RctTimeout
from .protocol import Call, LastValue, OidRef, Op, Request, Sleep

__all__ = ["Client"]

log = logging.getLogger("rctclient.client")

T = TypeVar("T")

_RECV_SIZE = 65536
_MAX_WAIT = 0.5


class Client(SyncClientBase):
    """A blocking client for one device (or one device of a plant, with ``address``).

    The parameters and the request methods (``read``, ``read_many``, ``write``, ``history``, ``query``,
    ``events``, ``battery_status``, ``last_value``) are those of :class:`~rctclient._clientbase.ClientBase`.

    Connecting happens on ``with`` (or :meth:`connect`) and again, with exponential backoff, whenever
    a request needs the connection after it was lost. While the backoff runs and a request's
    deadline would pass before the next attempt, the request fails at once with
    :class:`~rctclient.exceptions.RctConnectionError`: a device that is off costs nothing.

    It is thread-safe: one call at a time uses the connection; a call from another thread waits for
    its turn, and its deadline runs meanwhile.
    """

    _log = log

    def _init_transport(self) -> None:
        self._sock: socket.socket | None = None
        self._lock = threading.RLock()

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
            if self._sock is None:
                self._try_connect(time.monotonic(), self.connect_timeout, raise_error=True)

    def close(self) -> None:
        """Close the connection; the client connects again if it is used after this."""
        with self._lock:
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

    # -- receiving -------------------------------------------------------------------------------

    def _receive_idle(self) -> None:
        """Take in what arrived while no call ran (other clients' answers, late answers), up to RX_CAP bytes."""
        sock = self._sock
        while sock is not None and len(self._rx) < RX_CAP:
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
            self._rx += data

    def _feed(self, until: float) -> None:
        """Feed the received bytes to the request core piece by piece, until used up or the clock reaches ``until``."""
        core = self.protocol
        while self._rx:
            now = time.monotonic()
            if now >= until:
                return
            core.receive_data(self._take_piece(), now)

    def _send(self, sock: socket.socket, data: bytes, pending: list[Request]) -> bool:
        """Send ``data``; False if the connection is gone."""
        try:
            sock.sendall(data)
        except (BlockingIOError, InterruptedError):
            # the send buffer is full (a device that does not read): wait, but not past the first deadline
            sock.settimeout(max(0.01, min(req.deadline for req in pending) - time.monotonic()))
            try:
                sock.sendall(data)
            except OSError:
                self._drop()
                return False
            finally:
                sock.setblocking(False)
        except OSError:
            self._drop()
            return False
        return True

    # -- running operations -----------------------------------------------------------------------

    def _execute(self, calls: list[Call], submitted: float) -> list[Request]:
        core = self.protocol
        reqs = [core.submit(call, submitted) for call in calls]
        try:
            self._receive_idle()
            while True:
                pending = [req for req in reqs if not req.done]
                if not pending:
                    break
                if self._rx:
                    # What was received goes in first (before our requests go out, an answer in it is
                    # someone else's), piece by piece and not past the first deadline.
                    self._feed(min(req.deadline for req in pending))
                    core.poll(time.monotonic())
                    continue
                now = time.monotonic()
                sock = self._sock
                if sock is None:
                    self._reconnect(now)
                    continue
                out = core.data_to_send(now)
                if out and not self._send(sock, out, pending):
                    continue
                if all(req.done for req in reqs):
                    break
                wake = core.next_wakeup(now)
                wait = _MAX_WAIT if wake is None else min(_MAX_WAIT, max(0.0, wake - now))
                readable, _, _ = select.select([sock], [], [], wait)
                if not readable:
                    continue
                try:
                    data = sock.recv(_RECV_SIZE)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    self._drop()
                    continue
                if not data:
                    self._drop()
                elif len(data) <= FEED_PIECE:
                    core.receive_data(data, time.monotonic())
                else:
                    self._rx += data
        finally:
            core.cancel([req for req in reqs if not req.done])
        return reqs

    def _run(self, op: Op[T]) -> T:
        started = time.monotonic()
        try:
            step = next(op)
        except StopIteration as stop:  # needed no request (a dry run)
            done: T = stop.value
            return done
        # One call at a time uses the connection; the first requests' deadlines count from the call, so
        # a call waits for another thread's no longer than that.
        if not self._lock.acquire(blocking=False):
            default = self.protocol.timeout
            limit = -1.0 if isinstance(step, Sleep) else max(default if c.timeout is None else c.timeout for c in step)
            if not self._lock.acquire(timeout=limit):
                op.close()
                raise RctTimeout(
                    f"no request sent within {limit:g} s: another thread's call held the connection all that time"
                )
        try:
            submitted = started
            while True:
                if isinstance(step, Sleep):
                    time.sleep(step.seconds)
                    step = op.send(None)
                else:
                    reqs = self._execute(step, submitted)
                    step = op.send(reqs)
                submitted = time.monotonic()
        except StopIteration as stop:
            result: T = stop.value
            return result
        finally:
            self._lock.release()

    def last_value(self, oid: OidRef) -> LastValue | None:
        """The last good value seen for ``oid`` (our answers and other clients'), with its age; no I/O."""
        with self._lock:
            self._receive_idle()
            self._feed(time.monotonic() + self.protocol.timeout)
            return super().last_value(oid)

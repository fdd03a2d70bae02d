"""The request core of the clients, without I/O: one object that both :class:`~rctclient.client.Client` and
:class:`~rctclient.aio.AsyncClient` drive.

:class:`ClientProtocol` is told the time and fed the received bytes by its caller, and hands out the
bytes to send. It

* builds request frames and matches the answers: by command kind (RESPONSE or LONG_RESPONSE for READ
  and WRITE, the PLANT\\_ forms with the client's plant address), object ID and, for time series and
  event table queries, the timestamp that the answer's header echoes;
* treats answers nobody asked for (other clients on the shared bus, answers that arrive late) as
  updates of a cache of last good values, not as errors;
* validates every payload against its data type: a truncated payload is asked for again, never
  decoded;
* owns the deadlines: a per-attempt timeout, a bounded number of retries with jittered exponential
  delays (seeded RNG for tests) and a deadline per request, after which it fails with
  :class:`~rctclient.exceptions.RctTimeout`;
* pipelines: at most ``max_in_flight`` requests on the wire, sent in bursts with a pause in between;
* counts what happens (:class:`Stats`).

The higher-level operations (verified writes, paging through history and the event table, reading
many values) are generators (``*_op`` below) that yield the requests they need and get the finished
requests back; each client runs them with a small driver. So no retry or paging loop is written twice.

:class:`ReconnectPolicy` decides when to try to connect again (exponential backoff) and when to log
about it, so that a device that is off at night costs one connection attempt per backoff period and
one log line now and then.
"""

from __future__ import annotations

import logging
import math
import random
import struct
import tomllib
from collections import deque
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import Enum
from types import MappingProxyType
from typing import Any, Final, TypeAlias

from .exceptions import (
    PayloadDecodeError,
    RctClientException,
    RctConnectionError,
    RctTimeout,
    UnsafeWrite,
    ValueEncodeError,
    WriteNotVerified,
    WriteOutOfBounds,
    WriteRefused,
)
from .faults import Fault
from .frame import CRCMismatch, Frame, FrameDecoder, Garbage, command_for, make_frame
from .registry import REGISTRY, ObjectInfo, Registry
from .types import INTEGER_TYPES, Command, DataType, EventEntry, EventTable, Timeseries, TimeseriesPoint
from .utils import decode_lossless, decode_value, encode_value

__all__ = [
    "BatteryStatus",
    "Call",
    "ClientProtocol",
    "EventRecord",
    "LastValue",
    "OidRef",
    "ReadManyResult",
    "ReconnectPolicy",
    "Request",
    "Sleep",
    "Stats",
    "WritableSpec",
    "WritePlan",
    "WriteResult",
    "battery_status_op",
    "events_op",
    "history_op",
    "parse_value",
    "prepare_write",
    "read_many_op",
    "read_op",
    "resolution_of",
    "to_unix",
    "writable",
    "write_op",
]

#: What the clients accept to name an OID: a name, an object ID, a ``"0x..."`` string or an ObjectInfo.
OidRef: TypeAlias = str | int | ObjectInfo

_NO_ADDRESS: Final = -1
_U32 = struct.Struct(">I")
_F32 = struct.Struct(">f")
_QUERY_TYPES: Final = (DataType.TIMESERIES, DataType.EVENT_TABLE)
EVENT_LOG_OID: Final = "logger.error_log_time_stamp"
BATTERY_STATUS_OID: Final = "battery.bat_status"


# --------------------------------------------------------------------------------------------------
# Counters
# --------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Stats:
    """Counters of a client (all since it was made; never reset by reconnects)."""

    #: Requests submitted, answered with a valid payload, failed for good.
    requests: int = 0
    answered: int = 0
    failed: int = 0
    #: Frames sent (each attempt counts) and bytes on the wire.
    frames_sent: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    #: Frames received with a good CRC, with a bad one, and garbage events (cut-off frames, bad commands).
    frames: int = 0
    crc_errors: int = 0
    garbage: int = 0
    #: Good frames that answered none of our requests: other clients' traffic, late answers, anything else.
    foreign_frames: int = 0
    #: Answers whose payload did not fit the data type (re-requested, never decoded).
    truncated: int = 0
    #: Attempts that got no valid answer in time, re-sends, and requests that ran out of time.
    timeouts: int = 0
    retries: int = 0
    deadlines_missed: int = 0
    #: Connections made, attempts that failed, connections lost.
    connects: int = 0
    connect_failures: int = 0
    connection_losses: int = 0
    #: Latency of answered requests (first send to valid answer), seconds.
    latency_count: int = 0
    latency_total: float = 0.0
    latency_max: float = 0.0
    latency_last: float = 0.0

    @property
    def latency_mean(self) -> float:
        return self.latency_total / self.latency_count if self.latency_count else 0.0

    def as_dict(self) -> dict[str, int | float]:
        result: dict[str, int | float] = {name: getattr(self, name) for name in self.__slots__}
        result["latency_mean"] = self.latency_mean
        return result


# --------------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Call:
    """A request that an operation wants made: a READ (``payload`` None) or a WRITE of ``payload``.

    ``stamp`` is the timestamp of a time series or event table query; only an answer whose header
    echoes it is taken. ``timeout`` overrides the client's per-request deadline.
    """

    info: ObjectInfo
    payload: bytes | None = None
    stamp: int | None = None
    timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Sleep:
    """An operation wants to wait (for example before reading back a write)."""

    seconds: float


class _State(Enum):
    QUEUED = "queued"  # waiting for a slot on the wire
    SENT = "sent"  # on the wire, waiting for the answer
    WAITING = "waiting"  # the attempt failed; re-sent at retry_at
    DONE = "done"
    FAILED = "failed"


class Request:
    """One request in the core: its frame, its state, and once finished its value or its error."""

    __slots__ = (
        "address",
        "attempt_deadline",
        "attempts",
        "call",
        "deadline",
        "error",
        "first_sent",
        "frame",
        "info",
        "key",
        "latency",
        "max_attempts",
        "raw",
        "retry_at",
        "sent_at",
        "state",
        "submitted",
        "timeout",
        "truncated",
        "value",
    )

    def __init__(self, call: Call, address: int | None, timeout: float, max_attempts: int, now: float) -> None:
        info = call.info
        self.call = call
        self.info = info
        self.address = address
        payload = b"" if call.payload is None else call.payload
        command = command_for("read" if call.payload is None else "write", len(payload), plant=address is not None)
        self.frame = make_frame(command, info.object_id, payload, address or 0)
        self.key = (_NO_ADDRESS if address is None else address, info.object_id)
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.state = _State.QUEUED
        self.submitted = now
        self.attempts = 0
        self.truncated = 0
        self.first_sent = 0.0
        self.sent_at = 0.0
        self.attempt_deadline = 0.0
        self.deadline = math.inf
        self.retry_at = 0.0
        self.latency = 0.0
        self.value: Any = None
        self.raw = b""
        self.error: RctClientException | None = None

    def __repr__(self) -> str:
        return f"<Request {self.info.name} {self.state.value} attempts={self.attempts}>"

    @property
    def done(self) -> bool:
        """Finished: answered or failed."""
        return self.state is _State.DONE or self.state is _State.FAILED

    @property
    def ok(self) -> bool:
        return self.state is _State.DONE

    def result(self) -> Any:
        """The decoded value, or raise the error."""
        if self.error is not None:
            raise self.error
        if self.state is not _State.DONE:
            raise RuntimeError(f"request for {self.info.name} is not finished")
        return self.value


def _decode(info: ObjectInfo, data: bytes) -> Any:
    """Decode an answer's payload strictly; raises PayloadDecodeError if it does not fit the data type."""
    return decode_lossless(info.response_data_type, data)


@dataclass(frozen=True, slots=True)
class _Cached:
    value: Any
    raw: bytes
    at: float  # the caller's clock


@dataclass(frozen=True, slots=True)
class LastValue:
    """The last good value seen for an OID (answer to us or to anyone on the bus) and how old it is."""

    name: str
    value: Any
    #: Seconds since it was received.
    age: float
    #: When it was received (UTC, from the client's wall clock).
    received_at: datetime


class ClientProtocol:
    """The sans-I/O request/response core. All times are seconds on one monotonic clock of the caller.

    :param timeout: deadline of a request, from its first send to its valid answer.
    :param retries: how many times a request is sent again (after a timeout, a truncated payload
        or a lost connection) before it fails.
    :param attempt_timeout: how long one attempt waits for its answer; defaults to
        ``timeout / (retries + 1)``.
    :param address: the plant address: requests are then sent with the PLANT\\_ commands and only
        answers from that address count. None for a single device (the usual case).
    :param max_in_flight: the most requests on the wire at once.
    :param burst_pause: after a burst of several requests, the next one waits this long unless the
        device has answered the whole burst already (a busy device cuts answers off when more
        requests arrive); a lone request, as in sequential reads, is never held back.
    :param retry_delay: base of the exponential delay before a re-send, randomised by ``jitter``
        (a fraction, 0.5 = ±50 %).
    :param rng: random source of the jitter (pass ``random.Random(seed)`` in tests).
    """

    def __init__(
        self,
        *,
        timeout: float = 3.0,
        retries: int = 3,
        attempt_timeout: float | None = None,
        address: int | None = None,
        registry: Registry = REGISTRY,
        max_in_flight: int = 8,
        burst_pause: float = 0.005,
        retry_delay: float = 0.05,
        jitter: float = 0.5,
        rng: random.Random | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        if retries < 0:
            raise ValueError("retries must be >= 0")
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be >= 1")
        self.timeout = timeout
        self.retries = retries
        self.attempt_timeout = attempt_timeout if attempt_timeout is not None else timeout / (retries + 1)
        self.address = address
        self.registry = registry
        self.max_in_flight = max_in_flight
        self.burst_pause = burst_pause
        self.retry_delay = retry_delay
        self.jitter = jitter
        self.rng = rng if rng is not None else random.Random()
        self.stats = Stats()
        self.connected = False
        self._decoder = FrameDecoder(registry=registry)
        self._queue: deque[Request] = deque()
        self._inflight: dict[int, Request] = {}  # id(request) -> request, state SENT
        self._waiting: dict[int, Request] = {}  # id(request) -> request, state WAITING
        self._active: dict[tuple[int, int], list[Request]] = {}  # sent at least once and not finished
        self._open: dict[int, Request] = {}  # every unfinished request
        self._next_burst = 0.0
        self._last_burst = 0  # frames of the last burst; the pause only follows pipelined bursts
        # Congestion window: devices cut answers off when requests arrive while they answer, so
        # after a lost or broken answer fewer requests go on the wire at once (halved), growing
        # back by one per window of good answers (AIMD).
        self.window = float(max_in_flight)
        self._cache: dict[tuple[int, int], _Cached] = {}
        # When the last good frame arrived (from anyone): a request that runs out of time without any
        # frame since it was first sent means a silent device, and everything else waiting fails too.
        self._last_frame_at = -math.inf

    # -- requests ---------------------------------------------------------------------------------

    def submit(self, call: Call, now: float) -> Request:
        """Queue a request; it goes on the wire with the next :meth:`data_to_send`."""
        timeout = call.timeout if call.timeout is not None else self.timeout
        req = Request(call, self.address, timeout, self.retries + 1, now)
        self._queue.append(req)
        self._open[id(req)] = req
        self.stats.requests += 1
        return req

    @property
    def pending(self) -> int:
        """Requests not finished yet."""
        return len(self._open)

    def open_requests(self) -> list[Request]:
        return list(self._open.values())

    def cancel(self, requests: Iterable[Request]) -> None:
        """Forget requests whose caller gave up (they fail with an RctTimeout if anyone looks)."""
        for req in requests:
            if not req.done:
                self._finish(req, _State.FAILED, error=RctTimeout(f"request for {req.info.name} was cancelled"))

    def fail(self, requests: Iterable[Request], error: RctClientException) -> None:
        """Fail unfinished requests with ``error`` (used when the device cannot be reached)."""
        for req in requests:
            if not req.done:
                self._finish(req, _State.FAILED, error=error)

    def _finish(self, req: Request, state: _State, *, error: RctClientException | None = None) -> None:
        key = id(req)
        self._inflight.pop(key, None)
        self._waiting.pop(key, None)
        self._open.pop(key, None)
        active = self._active.get(req.key)
        if active is not None and req in active:
            active.remove(req)
            if not active:
                del self._active[req.key]
        req.state = state
        if state is _State.FAILED:
            req.error = error
            self.stats.failed += 1

    def _retry_or_fail(self, req: Request, now: float, why: str) -> None:
        """The attempt failed: schedule a re-send if attempts and time are left, else fail the request."""
        self._inflight.pop(id(req), None)
        if why != "connection":
            self.window = max(1.0, self.window / 2.0)
        delay = self.retry_delay * (2 ** max(0, req.attempts - 1))
        delay = min(delay, 1.0) * (1.0 + self.jitter * (2.0 * self.rng.random() - 1.0))
        if req.attempts < req.max_attempts and now + delay < req.deadline:
            req.state = _State.WAITING
            req.retry_at = now + delay
            self._waiting[id(req)] = req
            self.stats.retries += 1
            return
        name = req.info.name
        if why == "connection":
            error: RctClientException = RctConnectionError(
                f"connection lost while reading {name} ({req.attempts} attempts)"
            )
        else:
            detail = f", {req.truncated} truncated answers" if req.truncated else ""
            error = RctTimeout(
                f"no valid answer for {name} within {req.timeout:g} s ({req.attempts} attempts{detail})",
                name=name,
                attempts=req.attempts,
                truncated=req.truncated,
            )
        self.stats.deadlines_missed += 1
        self._finish(req, _State.FAILED, error=error)
        if why != "connection" and self._last_frame_at < req.first_sent:
            self._device_silent(req, now)

    def _device_silent(self, failed: Request, now: float) -> None:
        """``failed`` ran out of time and nothing at all arrived meanwhile: the device is silent (off, asleep).

        Every other open request fails now rather than each waiting for its own deadline in turn (with
        the congestion window down to one, a ``read_many`` of N values would take N deadlines).
        """
        silent_for = now - failed.first_sent
        for req in list(self._open.values()):
            name = req.info.name
            self.stats.deadlines_missed += 1
            self._finish(
                req,
                _State.FAILED,
                error=RctTimeout(
                    f"no valid answer for {name}: the device sent nothing for {silent_for:.1f} s",
                    name=name,
                    attempts=req.attempts,
                    truncated=req.truncated,
                ),
            )

    # -- time -------------------------------------------------------------------------------------

    def poll(self, now: float) -> None:
        """Handle the timeouts and due re-sends up to ``now``."""
        for req in list(self._inflight.values()):
            if now >= req.attempt_deadline and not req.done:  # done: failed with a silent device meanwhile
                self.stats.timeouts += 1
                self._retry_or_fail(req, now, "timeout")
        due = [req for req in self._waiting.values() if now >= req.retry_at]
        for req in sorted(due, key=lambda r: r.retry_at, reverse=True):
            del self._waiting[id(req)]
            req.state = _State.QUEUED
            self._queue.appendleft(req)  # re-sends go before new requests
        for req in list(self._open.values()):
            if now >= req.deadline and not req.done:
                self._retry_or_fail(req, now, "timeout")

    def next_wakeup(self, now: float) -> float | None:
        """When :meth:`poll`/:meth:`data_to_send` have something to do next, if nothing arrives before."""
        times = [req.attempt_deadline for req in self._inflight.values()]
        times += [req.retry_at for req in self._waiting.values()]
        times += [req.deadline for req in self._open.values() if req.deadline != math.inf]
        if self.connected and len(self._inflight) < int(self.window) and any(not r.done for r in self._queue):
            times.append(max(now, self._next_burst) if self._last_burst > 1 and self._inflight else now)
        return min(times) if times else None

    # -- connection -------------------------------------------------------------------------------

    def connection_made(self, now: float) -> None:
        """A new connection: decoding starts afresh."""
        self.connected = True
        self._decoder = FrameDecoder(registry=self.registry)
        self.stats.connects += 1

    def connection_lost(self, now: float, *, closed: bool = False) -> None:
        """The connection is gone: what was on the wire is sent again once connected (if attempts are left).

        ``closed`` says the client closed it on purpose, which is not counted as a loss.
        """
        if self.connected and not closed:
            self.stats.connection_losses += 1
        self.connected = False
        for req in list(self._inflight.values()):
            self._retry_or_fail(req, now, "connection")

    # -- bytes ------------------------------------------------------------------------------------

    def data_to_send(self, now: float) -> bytes:
        """The frames due now (first handles timeouts). Empty when nothing is due or not connected."""
        self.poll(now)
        if not self.connected or (self._last_burst > 1 and now < self._next_burst and self._inflight):
            return b""
        room = int(self.window) - len(self._inflight)
        out: list[bytes] = []
        queue = self._queue
        while room > 0 and queue:
            req = queue.popleft()
            if req.state is not _State.QUEUED:
                continue
            if req.attempts == 0:
                req.first_sent = now
                req.deadline = now + req.timeout
                self._active.setdefault(req.key, []).append(req)
            req.attempts += 1
            req.sent_at = now
            req.attempt_deadline = min(now + self.attempt_timeout, req.deadline)
            req.state = _State.SENT
            self._inflight[id(req)] = req
            out.append(req.frame)
            room -= 1
        if not out:
            return b""
        self._next_burst = now + self.burst_pause
        self._last_burst = len(out)
        data = b"".join(out)
        self.stats.frames_sent += len(out)
        self.stats.bytes_sent += len(data)
        return data

    def receive_data(self, data: bytes, now: float) -> None:
        """Bytes received from the device (never an empty string: report EOF with connection_lost)."""
        if not data:
            return
        self.stats.bytes_received += len(data)
        decoder = self._decoder
        decoder.feed(data)
        for event in decoder.events():
            if isinstance(event, Frame):
                self.stats.frames += 1
                self._last_frame_at = now
                self._on_frame(event, now)
            elif isinstance(event, CRCMismatch):
                self.stats.crc_errors += 1
                self._last_frame_at = now  # a damaged frame: the device is not silent
                self._on_corrupt(event, now)
            elif isinstance(event, Garbage):
                self.stats.garbage += 1

    def _key_of(self, command: int, address: int, oid: int) -> tuple[int, int] | None:
        """The matching key of an answer, or None if it is no answer for this client's kind of address."""
        if not Command.is_response(command):
            return None
        if Command.is_plant(command):
            return (address, oid) if self.address is not None else None
        return (_NO_ADDRESS, oid) if self.address is None else None

    def _on_corrupt(self, event: CRCMismatch, now: float) -> None:
        # The fields of a corrupt frame are not to be trusted, but if they name one of our requests on the
        # wire, re-sending it now beats waiting for its timeout.
        key = self._key_of(event.command, event.address, event.id)
        for req in list(self._active.get(key, ())) if key is not None else ():
            if req.state is _State.SENT:
                self._retry_or_fail(req, now, "corrupt")

    def _on_frame(self, frame: Frame, now: float) -> None:
        key = self._key_of(frame.command, frame.address, frame.id)
        if key is None:
            self.stats.foreign_frames += 1
            return
        data = frame.data
        matched = False
        value: Any = None
        decoded = False
        for req in list(self._active.get(key, ())):
            stamp = req.call.stamp
            if stamp is not None and (len(data) < 4 or _U32.unpack_from(data)[0] != stamp):
                continue
            matched = True
            try:
                if not decoded:
                    value = _decode(req.info, data)
                    decoded = True
            except PayloadDecodeError:
                req.truncated += 1
                self.stats.truncated += 1
                if req.state is _State.SENT:
                    self._retry_or_fail(req, now, "truncated")
                continue
            req.value = value
            req.raw = data
            req.latency = now - req.first_sent
            stats = self.stats
            stats.answered += 1
            stats.latency_count += 1
            stats.latency_total += req.latency
            stats.latency_last = req.latency
            stats.latency_max = max(stats.latency_max, req.latency)
            self.window = min(float(self.max_in_flight), self.window + 1.0 / self.window)
            self._finish(req, _State.DONE)
        if not matched:
            self.stats.foreign_frames += 1
            if frame.id not in self.registry:
                return
            try:
                value = _decode(self.registry.get_by_id(frame.id), data)
            except PayloadDecodeError:
                self.stats.truncated += 1
                return
            decoded = True
        if decoded:
            self._cache[key] = _Cached(value, data, now)

    # -- cache ------------------------------------------------------------------------------------

    def cached(self, info: ObjectInfo) -> tuple[Any, bytes, float] | None:
        """(value, payload, time received) of the last good answer for ``info``, from anyone; None if none."""
        address = _NO_ADDRESS if self.address is None else self.address
        entry = self._cache.get((address, info.object_id))
        return None if entry is None else (entry.value, entry.raw, entry.at)


# --------------------------------------------------------------------------------------------------
# Reconnecting
# --------------------------------------------------------------------------------------------------


class ReconnectPolicy:
    """Exponential backoff between connection attempts, and rate-limited logging of failures.

    After a failure the next attempt is due ``initial * factor**(failures-1)`` seconds later (at most
    ``maximum``, jittered by ±10 %); a success resets it. :meth:`should_log` says whether a failure
    deserves a log line: the first one, then at most one per ``log_interval`` seconds.
    """

    def __init__(
        self,
        *,
        initial: float = 0.1,
        factor: float = 2.0,
        maximum: float = 60.0,
        log_interval: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.log_interval = log_interval
        self.rng = rng if rng is not None else random.Random()
        self.failures = 0
        self.next_attempt = 0.0
        self.suppressed = 0
        self._last_log = -math.inf

    def failed(self, now: float) -> float:
        """Record a failed attempt (or a lost connection); returns the delay until the next attempt."""
        self.failures += 1
        delay = min(self.maximum, self.initial * self.factor ** (self.failures - 1))
        delay *= 1.0 + 0.1 * (2.0 * self.rng.random() - 1.0)
        self.next_attempt = now + delay
        return delay

    def succeeded(self) -> int:
        """Record a connection; returns how many failures came before it.

        The backoff is not reset yet: only a connection that carried a valid frame resets it (see
        :meth:`lost`), so that a device (or a proxy) that accepts connections and drops them at once
        does not cause a storm of reconnects.
        """
        self.next_attempt = 0.0
        return self.failures

    def lost(self, now: float, *, useful: bool) -> float:
        """Record the end of a connection; returns the delay until the next attempt.

        ``useful``: a valid frame arrived on it. Then the backoff starts over; otherwise the
        connection counts as a failed attempt.
        """
        if useful:
            self.failures = 0
            self.next_attempt = 0.0
            return 0.0
        return self.failed(now)

    def wait(self, now: float) -> float:
        """Seconds until the next attempt is allowed (0 if now)."""
        return max(0.0, self.next_attempt - now)

    def should_log(self, now: float) -> bool:
        """Whether to log this failure; if not, it is counted in ``suppressed``."""
        if now - self._last_log >= self.log_interval:
            self._last_log = now
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count


# --------------------------------------------------------------------------------------------------
# Safe writes
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WritableSpec:
    """An OID known to be writable in practice (from ``rctclient/data/writable.toml``)."""

    name: str
    kind: str  # bool, enum, fraction, power, number
    meaning: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    related: tuple[str, ...] = ()

    def check(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if self.min is not None and value < self.min:
            return f"{value!r} is below the minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{value!r} is above the maximum {self.max:g}"
        return None


_writable: Mapping[str, WritableSpec] | None = None


def writable() -> Mapping[str, WritableSpec]:
    """The OIDs known to be writable in practice, by name (read-only mapping, loaded once)."""
    global _writable  # noqa: PLW0603 - a lazily loaded constant
    if _writable is None:
        from importlib.resources import files  # noqa: PLC0415 - only needed when writing

        text = files("rctclient").joinpath("data", "writable.toml").read_text(encoding="utf-8")
        specs: dict[str, WritableSpec] = {}
        for name, row in tomllib.loads(text).items():
            specs[name] = WritableSpec(
                name=name,
                kind=str(row["kind"]),
                meaning=str(row["meaning"]),
                unit=str(row.get("unit", "")),
                min=row.get("min"),
                max=row.get("max"),
                decimals=row.get("decimals"),
                related=tuple(row.get("related", ())),
            )
        _writable = MappingProxyType(specs)
    return _writable


@dataclass(frozen=True, slots=True)
class WritePlan:
    """A checked, encoded write: what :func:`prepare_write` returns and a dry run shows."""

    info: ObjectInfo
    spec: WritableSpec | None
    #: The value as given, and as it will be stored (rounded, and to single precision for FLOAT).
    requested: Any
    written: Any
    payload: bytes
    #: The bytes that go on the wire.
    frame: bytes


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to a write.

    ``answered``: the device answered the WRITE (None for a dry run); ``answer`` is the value it
    answered with. ``read_back`` is the value read after the write; ``verified`` is True when it
    equals the written value (within single-precision tolerance for floats), None when not checked.
    """

    name: str
    object_id: int
    requested: Any
    written: Any
    frame: bytes
    dry_run: bool = False
    answered: bool | None = None
    answer: Any = None
    read_back: Any = None
    verified: bool | None = None
    spec: WritableSpec | None = None


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r} (use true/false, 1/0, on/off)")


def parse_value(oid: OidRef, text: str, *, registry: Registry = REGISTRY) -> Any:
    """Turn a value typed by a person into the value to write to ``oid`` (for the CLI).

    Booleans: true/false, 1/0, yes/no, on/off. Integers and enums: decimal or ``0x`` hex, or an enum
    label (case-insensitive). Floats: a number; for fractions (SOC values and the like, which the
    registry gives the unit %), ``50%`` means 0.5. Raises :class:`WriteOutOfBounds` (a ValueError)
    when the text cannot be read.
    """
    info = registry.resolve(oid)
    data_type = info.request_data_type
    value_text = text.strip()
    try:
        if data_type is DataType.BOOL:
            return _parse_bool(value_text)
        if data_type is DataType.FLOAT:
            if value_text.endswith("%"):
                spec = writable().get(info.name)
                if info.unit != "%" and (spec is None or spec.kind != "fraction"):
                    raise ValueError("a percentage is only accepted for fractions such as SOC values")
                return float(value_text[:-1]) / 100.0
            return float(value_text)
        if data_type is DataType.STRING:
            return text
        if data_type in (DataType.UNKNOWN,):
            return bytes.fromhex(value_text.removeprefix("0x"))
        if info.enum_map:
            for number, label in info.enum_map.items():
                if label.lower() == value_text.lower():
                    return number
        return int(value_text, 0)
    except ValueError as exc:
        raise WriteOutOfBounds(f"cannot read {text!r} as a value of {info.name} ({data_type.name}): {exc}") from None


def prepare_write(
    oid: OidRef,
    value: Any,
    *,
    force: bool = False,
    address: int | None = None,
    registry: Registry = REGISTRY,
) -> WritePlan:
    """Check and encode a write, without any I/O.

    The OID must be on the allow-list (:func:`writable`) and the value within its bounds, unless
    ``force`` is given, which skips both (the value must still fit the data type).

    :raises UnsafeWrite: the OID is not known to be safe to write (and not ``force``).
    :raises WriteOutOfBounds: the value is out of bounds or of the wrong kind.
    :raises RegistryKeyError: the OID is unknown.
    """
    info = registry.resolve(oid)
    spec = writable().get(info.name)
    data_type = info.request_data_type
    if spec is None and not force:
        raise UnsafeWrite(
            f"{info.name} is not on the list of OIDs known to be safe to write; pass force=True to write it anyway"
        )
    written = value
    if data_type is DataType.BOOL:
        if not isinstance(value, bool) and value not in (0, 1):
            raise WriteOutOfBounds(f"{info.name} takes a boolean, not {value!r}")
        written = bool(value)
    elif data_type is DataType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise WriteOutOfBounds(f"{info.name} takes a finite number, not {value!r}")
        written = float(value)
        if spec is not None and spec.decimals is not None:
            written = round(written, spec.decimals)
    elif data_type in (DataType.STRING, DataType.UNKNOWN) or data_type in _QUERY_TYPES:
        pass
    elif isinstance(value, bool) or not isinstance(value, int):
        raise WriteOutOfBounds(f"{info.name} takes an integer, not {value!r}")
    elif not force and data_type is DataType.ENUM and info.enum_map and value not in info.enum_map:
        known = ", ".join(f"{k}={v}" for k, v in sorted(info.enum_map.items()))
        raise WriteOutOfBounds(f"{value!r} is not a value of {info.name} (known: {known})")
    if spec is not None and not force and isinstance(written, int | float) and not isinstance(written, bool):
        problem = spec.check(written)
        if problem is not None:
            raise WriteOutOfBounds(f"{info.name}: {problem}{f' {spec.unit}' if spec.unit else ''}")
    try:
        payload = encode_value(data_type, written)
    except ValueEncodeError as exc:
        raise WriteOutOfBounds(f"{info.name}: {exc}") from None
    if data_type in (DataType.FLOAT, DataType.BOOL) or data_type in INTEGER_TYPES:
        written = decode_value(data_type, payload)
    command = command_for("write", len(payload), plant=address is not None)
    frame = make_frame(command, info.object_id, payload, address or 0)
    return WritePlan(info=info, spec=spec, requested=value, written=written, payload=payload, frame=frame)


def _same(read: Any, written: Any) -> bool:
    """Whether a read-back value equals the written one (floats within single-precision tolerance)."""
    if isinstance(written, float) and isinstance(read, int | float) and not isinstance(read, bool):
        expected = _F32.unpack(_F32.pack(written))[0]
        return math.isclose(read, expected, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(written, bool):
        return bool(read) == written
    return bool(read == written)


# --------------------------------------------------------------------------------------------------
# Operations: generators that yield the requests they need (or a Sleep) and return the result
# --------------------------------------------------------------------------------------------------

#: An operation: yields a list of calls (and gets back the finished requests, in the same order)
#: or a Sleep (and gets back None); returns its result.
Op: TypeAlias = Generator[list[Call] | Sleep, list[Request] | None, Any]


def read_op(info: ObjectInfo, timeout: float | None = None) -> Op:
    reqs = yield [Call(info, timeout=timeout)]
    assert reqs is not None
    return reqs[0].result()


def read_raw_op(info: ObjectInfo, timeout: float | None = None) -> Op:
    reqs = yield [Call(info, timeout=timeout)]
    assert reqs is not None
    reqs[0].result()
    return reqs[0].raw


@dataclass(frozen=True, slots=True)
class ReadManyResult:
    """Values read by ``read_many``: ``values`` by name; ``errors`` by name for those that failed."""

    values: dict[str, Any]
    errors: dict[str, RctClientException]

    @property
    def ok(self) -> bool:
        return not self.errors

    def __getitem__(self, name: str) -> Any:
        if name in self.errors:
            raise self.errors[name]
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def __len__(self) -> int:
        return len(self.values)


def read_many_op(infos: Iterable[ObjectInfo], timeout: float | None = None) -> Op:
    unique = list(dict.fromkeys(infos))
    reqs = yield [Call(info, timeout=timeout) for info in unique]
    assert reqs is not None
    values: dict[str, Any] = {}
    errors: dict[str, RctClientException] = {}
    for req in reqs:
        if req.ok:
            values[req.info.name] = req.value
        else:
            assert req.error is not None
            errors[req.info.name] = req.error
    return ReadManyResult(values, errors)


def write_op(plan: WritePlan, *, verify: bool = True, verify_attempts: int = 3, verify_delay: float = 0.2) -> Op:
    """Write and read back. Raises WriteRefused or WriteNotVerified (with the result attached)."""
    info = plan.info
    reqs = yield [Call(info, payload=plan.payload)]
    assert reqs is not None
    write = reqs[0]
    if write.error is not None and write.attempts == 0:
        raise write.error  # never sent: nothing happened
    answered = write.ok
    base = WriteResult(
        name=info.name,
        object_id=info.object_id,
        requested=plan.requested,
        written=plan.written,
        frame=plan.frame,
        answered=answered,
        answer=write.value if answered else None,
        spec=plan.spec,
    )
    if not verify:
        return base
    read_back: Any = None
    got_value = False
    last_error: RctClientException | None = None
    for attempt in range(verify_attempts):
        if attempt or not answered:
            yield Sleep(verify_delay)
        reqs = yield [Call(info)]
        assert reqs is not None
        if not reqs[0].ok:
            last_error = reqs[0].error
            continue
        read_back, got_value = reqs[0].value, True
        if _same(read_back, plan.written):
            return _replace(base, read_back=read_back, verified=True)
    result = _replace(base, read_back=read_back, verified=False)
    if got_value:
        raise WriteRefused(
            f"{info.name}: wrote {_fmt(plan.written)} but the device holds {_fmt(read_back)}"
            f" ({'answered' if answered else 'no answer to the write'})",
            result,
        )
    raise WriteNotVerified(f"{info.name}: the write could not be read back: {last_error}", result)


def _fmt(value: Any) -> str:
    """A value for a message: floats with single precision's 7 significant digits."""
    return f"{value:.7g}" if isinstance(value, float) else repr(value)


def _replace(result: WriteResult, **changes: Any) -> WriteResult:
    return replace(result, **changes)


@dataclass(frozen=True, slots=True)
class BatteryStatus:
    """``battery.bat_status``: 0 is normal operation; anything else (calibration, balancing...) is not."""

    value: int

    @property
    def normal(self) -> bool:
        return self.value == 0

    def __str__(self) -> str:
        if self.normal:
            return "battery in normal operation (bat_status 0)"
        return f"battery not in normal operation (bat_status {self.value}, e.g. calibration or balancing)"


def battery_status_op(registry: Registry = REGISTRY, timeout: float | None = None) -> Op:
    info = registry.resolve(BATTERY_STATUS_OID)
    reqs = yield [Call(info, timeout=timeout)]
    assert reqs is not None
    return BatteryStatus(int(reqs[0].result()))


# -- history ----------------------------------------------------------------------------------------

_RESOLUTIONS: Final = {
    "minutes": timedelta(minutes=5),
    "day": timedelta(days=1),
    "month": timedelta(days=28),
    "year": timedelta(days=365),
}


def resolution_of(info: ObjectInfo) -> timedelta | None:
    """The nominal spacing of the points of a time series OID (``logger.<resolution>_..._log_ts``).

    5 minutes for ``minutes_*`` (the device default ``logger.log_rate``), a day, a month (given as
    28 days, the shortest) or a year. None if ``info`` is no time series OID.
    """
    if info.response_data_type is not DataType.TIMESERIES:
        return None
    head = info.name.removeprefix("logger.").split("_", 1)[0]
    return _RESOLUTIONS.get(head, timedelta(minutes=5))


TimeArg: TypeAlias = datetime | date | int | float


def to_unix(when: TimeArg, tz: tzinfo | None = None) -> int:
    """A UNIX time from a datetime, a date or a number.

    An aware datetime is taken as it is. A naive datetime is local time of ``tz`` (the device's
    time zone) and needs it: without ``tz`` it raises ValueError rather than guess. A date means
    its midnight in ``tz`` (UTC if None). Numbers are UNIX times.
    """
    if isinstance(when, datetime):
        if when.tzinfo is None:
            if tz is None:
                raise ValueError(f"naive datetime {when.isoformat()}: pass an aware datetime or tz=")
            when = when.replace(tzinfo=tz)
        return math.floor(when.timestamp())
    if isinstance(when, date):
        return math.floor(datetime(when.year, when.month, when.day, tzinfo=tz or UTC).timestamp())
    if isinstance(when, bool) or not isinstance(when, int | float):
        raise TypeError(f"a time is a datetime, a date or a UNIX time, not {type(when).__name__}")
    return math.floor(when)


def _pages(
    info: ObjectInfo, start: int, end: int, max_pages: int, timeout: float | None
) -> Generator[list[Call] | Sleep, list[Request] | None, list[Timeseries | EventTable]]:
    """Query ``info`` with timestamps from ``end`` backwards until ``start`` is covered; the answers.

    The device's timestamps are unsigned 32-bit seconds (its request is a signed one): a range
    reaching before 1970 or after 2038 is cut to what the device can hold.
    """
    pages: list[Timeseries | EventTable] = []
    seen: set[tuple[Any, ...]] = set()
    start = max(start, 0)
    stamp = min(end, _MAX_STAMP)
    if stamp < start:
        return pages
    for _ in range(max_pages):
        payload = encode_value(DataType.INT32, stamp)
        reqs = yield [Call(info, payload=payload, stamp=stamp, timeout=timeout)]
        assert reqs is not None
        page: Timeseries | EventTable = reqs[0].result()
        pages.append(page)
        items = page.points if isinstance(page, Timeseries) else page.entries
        if not items:
            return pages
        keys = {_item_key(item) for item in items}
        new = keys - seen
        seen |= keys
        oldest = min(to_unix(item.timestamp) for item in items)
        if oldest < start:
            return pages
        if oldest == start and (isinstance(page, Timeseries) or not new or oldest >= stamp):
            # Time series have one point per timestamp; event table entries at ``start`` may have been
            # cut off by the end of the page, so those are asked for once more below.
            return pages
        # Ask again at the oldest timestamp (another entry may share it); when that brings nothing
        # new, go one second before it.
        nxt = oldest if new and oldest < stamp else oldest - 1
        if nxt >= stamp:
            nxt = stamp - 1
        if nxt < 0:
            return pages
        stamp = nxt
    raise RctTimeout(f"{info.name}: the device's answers did not cover the range after {max_pages} queries")


#: The last timestamp a query can carry (its payload is an INT32).
_MAX_STAMP: Final = 2**31 - 1


def _item_key(item: TimeseriesPoint | EventEntry) -> tuple[Any, ...]:
    if isinstance(item, TimeseriesPoint):
        return (item.timestamp,)
    return (item.entry_type, item.timestamp, item.element2, item.element3, item.element4)


def query_op(info: ObjectInfo, at: int, *, timeout: float | None = None) -> Op:
    """One answer of time series or event table ``info`` to the timestamp ``at``, as the device gives it."""
    if info.response_data_type not in (DataType.TIMESERIES, DataType.EVENT_TABLE):
        raise ValueError(f"{info.name} is neither a time series nor the event table")
    reqs = yield [Call(info, payload=encode_value(DataType.INT32, at), stamp=at, timeout=timeout)]
    assert reqs is not None
    return reqs[0].result()


def history_op(
    info: ObjectInfo, start: int, end: int, *, max_pages: int | None = None, timeout: float | None = None
) -> Op:
    """The points of time series ``info`` with start <= timestamp <= end, oldest first, one per timestamp."""
    if info.response_data_type is not DataType.TIMESERIES:
        raise ValueError(f"{info.name} is not a time series (its answer is {info.response_data_type.name})")
    if end < start:
        raise ValueError("the end of the range is before its start")
    if max_pages is None:
        step = resolution_of(info) or timedelta(minutes=5)
        span = min(end, _MAX_STAMP) - max(start, 0)
        max_pages = max(0, span) // max(1, int(step.total_seconds())) + 16
    pages = yield from _pages(info, start, end, max_pages, timeout)
    points: dict[datetime, float] = {}
    for page in pages:
        assert isinstance(page, Timeseries)
        for point in page.points:
            if start <= to_unix(point.timestamp) <= end:
                points.setdefault(point.timestamp, point.value)  # newest query first: keep its value
    return [TimeseriesPoint(stamp, points[stamp]) for stamp in sorted(points)]


@dataclass(frozen=True, slots=True)
class EventRecord(EventEntry):
    """An event table entry with the faults it refers to, where that can be told (else empty)."""

    faults: tuple[Fault, ...] = ()


#: Entry types whose ``element3`` is taken as a fault bit number (0..127): ``F`` (fault). This follows
#: the simulator's model of the table; the meaning of the elements on real devices is not documented,
#: so other entries stay raw.
FAULT_ENTRY_TYPES: Final = frozenset({ord("F")})


def _event_faults(entry: EventEntry) -> tuple[Fault, ...]:
    bit = entry.element3
    if entry.entry_type in FAULT_ENTRY_TYPES and bit is not None and 0 <= bit < 128:
        return (Fault.for_bit(bit),)
    return ()


def events_op(
    start: int, end: int, *, registry: Registry = REGISTRY, max_pages: int = 1000, timeout: float | None = None
) -> Op:
    """The event table entries with start <= timestamp <= end, oldest first, without duplicates."""
    if end < start:
        raise ValueError("the end of the range is before its start")
    info = registry.resolve(EVENT_LOG_OID)
    pages = yield from _pages(info, start, end, max_pages, timeout)
    entries: dict[tuple[Any, ...], EventEntry] = {}
    for page in pages:
        assert isinstance(page, EventTable)
        for entry in page.entries:
            if start <= to_unix(entry.timestamp) <= end:
                entries.setdefault(_item_key(entry), entry)
    ordered = sorted(entries.values(), key=lambda e: (e.timestamp, e.entry_type))
    return [
        EventRecord(e.entry_type, e.timestamp, e.element2, e.element3, e.element4, faults=_event_faults(e))
        for e in ordered
    ]


def make_last_value(info: ObjectInfo, cached: tuple[Any, bytes, float] | None, now: float) -> LastValue | None:
    """A :class:`LastValue` from :meth:`ClientProtocol.cached` (the clients' ``last_value``)."""
    if cached is None:
        return None
    value, _raw, at = cached
    age = max(0.0, now - at)
    return LastValue(info.name, value, age, datetime.now(UTC) - timedelta(seconds=age))


# --------------------------------------------------------------------------------------------------
# What both clients share above the I/O
# --------------------------------------------------------------------------------------------------


class ClientOps:
    """The part of the clients above the I/O: argument handling and the operations they run.

    :class:`~rctclient.client.Client` and :class:`~rctclient.aio.AsyncClient` run the generator
    returned by each method with their own driver (blocking or async).
    """

    def __init__(self, protocol: ClientProtocol, registry: Registry) -> None:
        self.protocol = protocol
        self.registry = registry

    def resolve(self, oid: OidRef) -> ObjectInfo:
        return self.registry.resolve(oid)

    def read(self, oid: OidRef, timeout: float | None = None) -> Op:
        return read_op(self.resolve(oid), timeout)

    def read_raw(self, oid: OidRef, timeout: float | None = None) -> Op:
        return read_raw_op(self.resolve(oid), timeout)

    def read_many(self, oids: Iterable[OidRef], timeout: float | None = None) -> Op:
        if isinstance(oids, str | ObjectInfo):
            oids = [oids]
        return read_many_op([self.resolve(oid) for oid in oids], timeout)

    def write(
        self,
        oid: OidRef,
        value: Any,
        *,
        force: bool = False,
        dry_run: bool = False,
        verify: bool = True,
        verify_attempts: int = 3,
        verify_delay: float = 0.2,
    ) -> Op:
        plan = prepare_write(oid, value, force=force, address=self.protocol.address, registry=self.registry)
        if dry_run:
            return _value_op(
                WriteResult(
                    name=plan.info.name,
                    object_id=plan.info.object_id,
                    requested=plan.requested,
                    written=plan.written,
                    frame=plan.frame,
                    dry_run=True,
                    spec=plan.spec,
                )
            )
        return write_op(plan, verify=verify, verify_attempts=verify_attempts, verify_delay=verify_delay)

    def history(
        self,
        oid: OidRef,
        start: TimeArg,
        end: TimeArg,
        *,
        tz: tzinfo | None = None,
        timeout: float | None = None,
    ) -> Op:
        return history_op(self.resolve(oid), to_unix(start, tz), to_unix(end, tz), timeout=timeout)

    def query(self, oid: OidRef, at: TimeArg, *, tz: tzinfo | None = None, timeout: float | None = None) -> Op:
        return query_op(self.resolve(oid), to_unix(at, tz), timeout=timeout)

    def events(self, start: TimeArg, end: TimeArg, *, tz: tzinfo | None = None, timeout: float | None = None) -> Op:
        return events_op(to_unix(start, tz), to_unix(end, tz), registry=self.registry, timeout=timeout)

    def battery_status(self, timeout: float | None = None) -> Op:
        return battery_status_op(self.registry, timeout)

    def last_value(self, oid: OidRef, now: float) -> LastValue | None:
        info = self.resolve(oid)
        return make_last_value(info, self.protocol.cached(info), now)


def _deadline_of(req: Request) -> float:
    """A request's deadline; one never sent yet counts from its submission."""
    return req.deadline if req.deadline != math.inf else req.submitted + req.timeout


def _value_op(value: Any) -> Op:
    return value
    yield  # a generator that needs no request


class ClientBase:
    """What :class:`~rctclient.client.Client` and :class:`~rctclient.aio.AsyncClient` share.

    The parameters, the request core (:class:`ClientProtocol`), the reconnect policy and the
    operations (:class:`ClientOps`) are set up here once; a subclass adds only its transport and
    the loop that runs the operations' steps (blocking, or with asyncio).

    :param host: host name or IP address of the device.
    :param port: TCP port (8899).
    :param timeout: deadline of one request in seconds (all of its attempts).
    :param retries: re-sends of a request before it fails.
    :param connect_timeout: deadline of one connection attempt.
    :param address: plant address; None for a single device.
    :param registry: where OID names and data types come from.
    :param max_in_flight: requests on the wire at once (``read_many``, and concurrent async calls).
    :param burst_pause: pause between bursts of requests.
    :param reconnect_max: the longest backoff between connection attempts.
    :param rng: random source for the jitter (tests pass a seeded one).
    """

    def __init__(
        self,
        host: str,
        port: int = 8899,
        *,
        timeout: float = 3.0,
        retries: int = 3,
        connect_timeout: float = 3.0,
        address: int | None = None,
        registry: Registry = REGISTRY,
        max_in_flight: int = 16,
        burst_pause: float = 0.005,
        reconnect_max: float = 60.0,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        rng = rng if rng is not None else random.Random()
        self.protocol = ClientProtocol(
            timeout=timeout,
            retries=retries,
            address=address,
            registry=registry,
            max_in_flight=max_in_flight,
            burst_pause=burst_pause,
            rng=rng,
        )
        self.reconnect = ReconnectPolicy(maximum=reconnect_max, rng=rng)
        self._ops = ClientOps(self.protocol, registry)
        self._frames_at_connect = 0
        self._init_transport()

    def _connection_opened(self, now: float) -> int:
        """A connection was made; returns how many failed attempts came before it (for the log)."""
        failures = self.reconnect.succeeded()
        self._frames_at_connect = self.protocol.stats.frames
        self.protocol.connection_made(now)
        return failures

    def _connection_ended(self, now: float, *, deliberate: bool = False) -> None:
        """The connection ended: lost (counted against the backoff unless it carried frames) or closed by us."""
        useful = self.protocol.stats.frames > self._frames_at_connect
        if not deliberate or useful:
            self.reconnect.lost(now, useful=useful)
        self.protocol.connection_lost(now, closed=deliberate)

    def _init_transport(self) -> None:
        """Set up the subclass's connection state (called at the end of ``__init__``)."""

    #: The subclass's logger (connection failures, reconnects).
    _log: logging.Logger = logging.getLogger("rctclient")

    def _connect_failed(self, now: float, reason: str, exc: BaseException, *, raise_error: bool) -> None:
        """A connection attempt failed: back off, log (rate-limited), and raise RctConnectionError if asked."""
        delay = self.reconnect.failed(now)
        if self.reconnect.should_log(now):
            suppressed = self.reconnect.take_suppressed()
            extra = f"; {suppressed} similar failures not logged" if suppressed else ""
            self._log.warning(
                "cannot connect to %s:%d: %s (next attempt in %.1f s%s)", self.host, self.port, reason, delay, extra
            )
        if raise_error:
            raise RctConnectionError(
                f"cannot connect to {self.host}:{self.port}: {reason}", host=self.host, port=self.port, retry_in=delay
            ) from exc

    def _connected(self, now: float) -> None:
        failures = self._connection_opened(now)
        if failures:
            self._log.info("connected to %s:%d after %d failed attempts", self.host, self.port, failures)

    def _plan_reconnect(self, now: float) -> float | None:
        """Not connected and requests are open: how long the next connection attempt may take, or None.

        Requests whose deadline passes before the backoff allows the next attempt fail now (None is
        returned); else the caller waits ``reconnect.wait(now)`` and then connects within the time returned.
        """
        wait = self.reconnect.wait(now)
        open_requests = self.protocol.open_requests()
        if not open_requests:
            return None
        hopeless = [r for r in open_requests if _deadline_of(r) <= now + wait]
        if hopeless:
            error = RctConnectionError(
                f"{self.host}:{self.port} is not reachable (next connection attempt in {wait:.1f} s)",
                host=self.host,
                port=self.port,
                retry_in=wait,
            )
            self.protocol.fail(hopeless, error)
            return None
        remaining = min(_deadline_of(r) for r in open_requests) - (now + wait)
        return min(self.connect_timeout, max(0.01, remaining))

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"

    @property
    def stats(self) -> Stats:
        """Counters: frames, CRC errors, foreign frames, truncated payloads, timeouts, retries, latency..."""
        return self.protocol.stats

    def resolve(self, oid: OidRef) -> ObjectInfo:
        """The registry entry of a name, object ID, ``"0x..."`` string (RegistryKeyError if unknown)."""
        return self._ops.resolve(oid)

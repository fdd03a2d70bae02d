"""The request core: requests, their matching to answers, retries and deadlines, pipelining, counters.

:class:`ClientProtocol` is told the time and fed the received bytes by its caller, and hands out the
bytes to send. It

* builds request frames and matches the answers: by command kind (RESPONSE or LONG_RESPONSE for READ
  and WRITE, the PLANT\\_ forms with the client's plant address), object ID and, for time series and
  event table queries, the timestamp that the answer's header echoes;
* treats answers nobody asked for (other clients on the shared bus, answers that arrive late) as
  updates of a cache of last good values, not as errors;
* validates every payload against its data type: a truncated payload is asked for again, never
  decoded;
* owns the deadlines: a request's deadline runs from its submission (time spent queued behind other
  requests counts), each attempt has a timeout, a bounded number of retries follow jittered
  exponential delays (seeded RNG for tests); at the deadline the request fails with
  :class:`~rctclient.exceptions.RctTimeout`, sent or not;
* pipelines: at most ``max_in_flight`` requests on the wire, sent in bursts with a pause in between;
* counts what happens (:class:`Stats`).

An *operation* (:data:`Op`) is a generator that yields the requests it needs (a list of
:class:`Call`) or a :class:`Sleep`, gets the finished :class:`Request` objects back, and returns its
result; the clients run operations with a small driver each (see :mod:`rctclient._clientbase`).
"""

from __future__ import annotations

import heapq
import math
import random
import struct
from collections import deque
from collections.abc import Generator, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Final, TypeAlias, TypeVar

from ..exceptions import PayloadDecodeError, RctClientException, RctConnectionError, RctTimeout
from ..frame import CRCMismatch, Frame, FrameDecoder, Garbage, command_for, make_frame
from ..registry import REGISTRY, ObjectInfo, Registry
from ..types import Command, EventTable, Timeseries
from ..utils import DecodedValue, decode_lossless

__all__ = ["Call", "ClientProtocol", "OidRef", "Op", "Request", "RetryReason", "Sleep", "Stats", "Value"]

#: What the clients accept to name an OID: a name, an object ID, a ``"0x..."`` string or an ObjectInfo.
OidRef: TypeAlias = str | int | ObjectInfo

#: A decoded answer (:func:`rctclient.utils.decode_lossless`): which of these depends on the OID's data type.
Value: TypeAlias = DecodedValue | Timeseries | EventTable

_NO_ADDRESS: Final = -1
_U32 = struct.Struct(">I")

T = TypeVar("T")


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
    #: Of the good frames, the answers (RESPONSE and LONG_RESPONSE, to us or to anyone): what shows that the
    #: device is awake. Other clients' requests on the shared bus (the vendor portal's, for one) do not.
    responses: int = 0
    #: Good frames that answered none of our requests: other clients' traffic, late answers, anything else.
    foreign_frames: int = 0
    #: Answers whose payload did not fit the data type (re-requested, never decoded).
    truncated: int = 0
    #: Attempts that got no valid answer in time, re-sends, and requests that ran out of time.
    timeouts: int = 0
    retries: int = 0
    deadlines_missed: int = 0
    #: Of those that ran out of time, the ones never sent: queued behind others until their deadline.
    expired_unsent: int = 0
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


class RetryReason(Enum):
    """Why an attempt of a request failed; the reason decides what follows."""

    #: No valid answer within the attempt's timeout.
    TIMEOUT = "timeout"
    #: The answer's payload did not fit the data type (cut short under a valid CRC).
    TRUNCATED = "truncated"
    #: A damaged frame (bad CRC) that names the request.
    CORRUPT = "corrupt"
    #: The connection was lost with the request on the wire.
    CONNECTION = "connection"

    @property
    def congestion(self) -> bool:
        """A sign that the device is overwhelmed: fewer requests go on the wire at once (not for a lost connection)."""
        return self is not RetryReason.CONNECTION


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
        "done",
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
        #: Finished: answered or failed (an attribute, not a property: the drivers look at it in their loops).
        self.done = False
        self.submitted = now
        #: The request fails at this time on the caller's clock, whether it was sent or not.
        self.deadline = now + timeout
        self.attempts = 0
        self.truncated = 0
        self.first_sent = 0.0
        self.sent_at = 0.0
        self.attempt_deadline = 0.0
        self.retry_at = 0.0
        self.latency = 0.0
        self.value: Value | None = None
        self.raw = b""
        self.error: RctClientException | None = None

    def __repr__(self) -> str:
        return f"<Request {self.info.name} {self.state.value} attempts={self.attempts}>"

    @property
    def ok(self) -> bool:
        return self.state is _State.DONE

    def result(self) -> Value:
        """The decoded value, or raise the error."""
        if self.error is not None:
            raise self.error
        if self.state is not _State.DONE or self.value is None:
            raise RuntimeError(f"request for {self.info.name} is not finished")
        return self.value


#: An operation: yields a list of calls (and gets back the finished requests, in the same order)
#: or a Sleep (and gets back None); returns its result, of type ``T``.
Op: TypeAlias = Generator[list[Call] | Sleep, list[Request] | None, T]


def _timeout(req: Request, message: str) -> RctTimeout:
    return RctTimeout(message, name=req.info.name, attempts=req.attempts, truncated=req.truncated)


@dataclass(frozen=True, slots=True)
class _Cached:
    value: Value
    raw: bytes
    at: float  # the caller's clock


class ClientProtocol:
    """The sans-I/O request/response core. All times are seconds on one monotonic clock of the caller.

    :param timeout: deadline of a request, from its submission to its valid answer (time spent
        queued behind other requests counts).
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
        self._queued = 0  # requests in _queue that are still QUEUED (finished ones are skipped when popped)
        self._inflight: dict[int, Request] = {}  # id(request) -> request, state SENT
        self._waiting: dict[int, Request] = {}  # id(request) -> request, state WAITING
        self._active: dict[tuple[int, int], list[Request]] = {}  # sent at least once and not finished
        self._open: dict[int, Request] = {}  # every unfinished request
        # (deadline, submission number, request) of the open requests; finished ones are dropped when on top
        self._deadlines: list[tuple[float, int, Request]] = []
        self._submitted = 0
        self._next_burst = 0.0
        self._last_burst = 0  # frames of the last burst; the pause only follows pipelined bursts
        # Congestion window: devices cut answers off when requests arrive while they answer, so
        # after a lost or broken answer fewer requests go on the wire at once (halved), growing
        # back by one per window of good answers (AIMD).
        self.window = float(max_in_flight)
        self._cache: dict[tuple[int, int], _Cached] = {}
        # When the last answer arrived (to anyone; other clients' requests do not count): a request that
        # runs out of time without any answer since it was first sent, at least an attempt's timeout
        # before, means a silent device, and everything else waiting fails too. (A request sent just
        # before its deadline, after waiting its turn, says nothing about the device.)
        self._last_answer_at = -math.inf

    # -- requests ---------------------------------------------------------------------------------

    def submit(self, call: Call, now: float) -> Request:
        """Queue a request; it goes on the wire with the next :meth:`data_to_send`. Its deadline starts now."""
        timeout = call.timeout if call.timeout is not None else self.timeout
        req = Request(call, self.address, timeout, self.retries + 1, now)
        self._queue.append(req)
        self._queued += 1
        self._open[id(req)] = req
        self._submitted += 1
        heapq.heappush(self._deadlines, (req.deadline, self._submitted, req))
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
        if req.state is _State.QUEUED:
            self._queued -= 1
        self._inflight.pop(key, None)
        self._waiting.pop(key, None)
        self._open.pop(key, None)
        active = self._active.get(req.key)
        if active is not None and req in active:
            active.remove(req)
            if not active:
                del self._active[req.key]
        req.state = state
        req.done = True
        if state is _State.FAILED:
            req.error = error
            self.stats.failed += 1

    def _attempt_failed(self, req: Request, now: float, reason: RetryReason) -> None:
        """The attempt failed: schedule a re-send if attempts and time are left, else fail the request."""
        self._inflight.pop(id(req), None)
        if reason.congestion:
            self.window = max(1.0, self.window / 2.0)
        delay = self.retry_delay * (2 ** max(0, req.attempts - 1))
        delay = min(delay, 1.0) * (1.0 + self.jitter * (2.0 * self.rng.random() - 1.0))
        if req.attempts < req.max_attempts and now + delay < req.deadline:
            req.state = _State.WAITING
            req.retry_at = now + delay
            self._waiting[id(req)] = req
            self.stats.retries += 1
            return
        self._out_of_time(req, now, reason)

    def _out_of_time(self, req: Request, now: float, reason: RetryReason) -> None:
        """No attempt or no time left: the request fails for good."""
        name = req.info.name
        self.stats.deadlines_missed += 1
        if reason is RetryReason.CONNECTION:
            self._finish(
                req,
                _State.FAILED,
                error=RctConnectionError(f"connection lost while reading {name} ({req.attempts} attempts)"),
            )
            return
        if req.attempts == 0:
            self.stats.expired_unsent += 1
            error: RctClientException
            if self.connected:
                error = _timeout(
                    req,
                    f"no answer for {name} within {req.timeout:g} s: it was never sent, the requests ahead of it"
                    " took the whole time (the device answers more slowly than they come)",
                )
            else:
                error = RctConnectionError(f"not connected to the device within {req.timeout:g} s (reading {name})")
            self._finish(req, _State.FAILED, error=error)
            return
        detail = f", {req.truncated} truncated answers" if req.truncated else ""
        self._finish(
            req,
            _State.FAILED,
            error=_timeout(
                req, f"no valid answer for {name} within {req.timeout:g} s ({req.attempts} attempts{detail})"
            ),
        )
        if (
            reason is RetryReason.TIMEOUT
            and self._last_answer_at < req.first_sent
            and now - req.first_sent >= self.attempt_timeout
        ):
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
                error=_timeout(req, f"no valid answer for {name}: the device sent nothing for {silent_for:.1f} s"),
            )

    # -- time -------------------------------------------------------------------------------------

    def poll(self, now: float) -> None:
        """Handle the timeouts, deadlines and due re-sends up to ``now``."""
        for req in list(self._inflight.values()):
            if now >= req.attempt_deadline and not req.done:  # done: failed with a silent device meanwhile
                self.stats.timeouts += 1
                self._attempt_failed(req, now, RetryReason.TIMEOUT)
        deadlines = self._deadlines
        while deadlines and (deadlines[0][2].done or now >= deadlines[0][0]):
            req = heapq.heappop(deadlines)[2]
            if not req.done:
                # queued (sent before or not) or waiting for a re-send: no time is left
                self._out_of_time(req, now, RetryReason.TIMEOUT)
        due = [req for req in self._waiting.values() if now >= req.retry_at]
        for req in sorted(due, key=lambda r: r.retry_at, reverse=True):
            del self._waiting[id(req)]
            req.state = _State.QUEUED
            self._queued += 1
            self._queue.appendleft(req)  # re-sends go before new requests

    def next_wakeup(self, now: float) -> float | None:
        """When :meth:`poll`/:meth:`data_to_send` have something to do next, if nothing arrives before."""
        times = [req.attempt_deadline for req in self._inflight.values()]
        times += [req.retry_at for req in self._waiting.values()]
        deadlines = self._deadlines
        while deadlines and deadlines[0][2].done:
            heapq.heappop(deadlines)
        if deadlines:
            times.append(deadlines[0][0])
        if self.connected and len(self._inflight) < int(self.window) and self._queued:
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
            self._attempt_failed(req, now, RetryReason.CONNECTION)

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
            self._queued -= 1
            if req.attempts == 0:
                req.first_sent = now
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
        """Bytes received from the device (never an empty string: report EOF with connection_lost).

        The work is proportional to ``len(data)``; a caller that must keep deadlines feeds what it
        received in bounded pieces and looks at its clock in between.
        """
        if not data:
            return
        self.stats.bytes_received += len(data)
        decoder = self._decoder
        decoder.feed(data)
        for event in decoder.events():
            if isinstance(event, Frame):
                self.stats.frames += 1
                if Command.is_response(event.command):
                    self.stats.responses += 1
                    self._last_answer_at = now
                self._on_frame(event, now)
            elif isinstance(event, CRCMismatch):
                self.stats.crc_errors += 1
                if Command.is_response(event.command):
                    self._last_answer_at = now  # a damaged answer: the device is not silent
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
                self._attempt_failed(req, now, RetryReason.CORRUPT)

    def _on_frame(self, frame: Frame, now: float) -> None:
        key = self._key_of(frame.command, frame.address, frame.id)
        if key is None:
            self.stats.foreign_frames += 1
            return
        data = frame.data
        matched = False
        value: Value | None = None
        bad = False
        for req in list(self._active.get(key, ())):
            stamp = req.call.stamp
            if stamp is not None and (len(data) < 4 or _U32.unpack_from(data)[0] != stamp):
                continue
            matched = True
            if value is None and not bad:
                try:
                    value = decode_lossless(req.info.response_data_type, data)
                except PayloadDecodeError:
                    bad = True
            if value is None:
                req.truncated += 1
                self.stats.truncated += 1
                if req.state is _State.SENT:
                    self._attempt_failed(req, now, RetryReason.TRUNCATED)
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
                value = decode_lossless(self.registry.get_by_id(frame.id).response_data_type, data)
            except PayloadDecodeError:
                self.stats.truncated += 1
                return
        if value is not None:
            self._cache[key] = _Cached(value, data, now)

    # -- cache ------------------------------------------------------------------------------------

    def cached(self, info: ObjectInfo) -> tuple[Value, bytes, float] | None:
        """(value, payload, time received) of the last good answer for ``info``, from anyone; None if none."""
        address = _NO_ADDRESS if self.address is None else self.address
        entry = self._cache.get((address, info.object_id))
        return None if entry is None else (entry.value, entry.raw, entry.at)

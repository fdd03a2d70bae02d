"""One client connection of the simulator: its input, its flow control and its share of the bus.

Input is handled a slice at a time (a 10 MB flood in one segment must not stall the other clients)
and only while the client reads its answers: when the transport's write buffer passes its high-water
mark (``pause_writing``), the connection stops reading and handling requests, and gets no foreign
frames, until the buffer drains (``resume_writing``). What one client can make the simulator hold
is thus bounded on every event loop (uvloop keeps its own, larger, per-write buffers): about
WRITE_HIGH bytes plus one slice's answers, and never more than MAX_WRITE_BUFFER.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from typing import TYPE_CHECKING

from ..describe import describe_event
from ..frame import CRCMismatch, Event, Frame, FrameDecoder, Garbage
from .bus import Bus, fanout_share

if TYPE_CHECKING:
    from .server import Simulator

__all__ = ["MAX_REQUEST_PAYLOAD", "MAX_WRITE_BUFFER", "WRITE_HIGH", "WRITE_LOW", "Connection"]

log = logging.getLogger("rctclient.simulator")

#: Largest request payload waited for; anything promising more is garbage (caps the input buffer).
MAX_REQUEST_PAYLOAD = 1024
#: The write buffer's high-water mark: above it the connection's requests wait (flow control).
WRITE_HIGH = 64 * 1024
#: ... and below this they are handled again.
WRITE_LOW = 16 * 1024
#: A connection whose write buffer still passes this is dropped (a safety net behind flow control).
MAX_WRITE_BUFFER = 256 * 1024
#: Bytes of a segment handled per loop iteration.
_SLICE = 8192
#: Answers are written once this many bytes wait, so that flow control can stop a long burst early.
_FLUSH_BYTES = 16 * 1024
#: Distinct single-request segments remembered with their decoded frame (the fast path).
_MAX_CACHED_REQUESTS = 4096


class Connection(asyncio.Protocol):
    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.transport: asyncio.Transport | None = None
        self.peer = "?"
        self.decoder = FrameDecoder(max_payload=MAX_REQUEST_PAYLOAD)
        self.bus = sim._shared if sim._shared is not None else Bus(sim.counters)
        self.accepted = False
        #: the transport asked us to stop writing (the client does not read what it gets)
        self.paused = False
        self.paused_since = 0.0
        #: data_received calls so far, and what the idle check saw of them (see Simulator._sweep)
        self.received = 0
        self.seen = 0
        self.quiet_since = time.monotonic()
        #: foreign frames waiting to be written (see bus.py)
        self.outbox: list[bytes] = []
        self.outbox_len = 0
        self._fan_tokens = 1.0
        self._fan_time = self.quiet_since
        self._inbox: deque[bytes] = deque()  # segments not handled yet
        self._inbox_pos = 0  # how much of the first one was
        self._backlog: deque[Event] = deque()  # decoded events not handled yet (writing paused)
        self._reading = True
        self._scheduled = False

    # -- the transport's callbacks ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a stream transport (asyncio's own or another loop's, such as uvloop's, which do not subclass it)
        self.transport = transport  # type: ignore[assignment]
        sim = self.sim
        if len(sim._conns) >= sim.max_clients:
            sim._refuse()
            transport.close()
            return
        self.accepted = True
        peer = transport.get_extra_info("peername")
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        transport.set_write_buffer_limits(high=WRITE_HIGH, low=WRITE_LOW)  # type: ignore[attr-defined]
        self.bus.conns.add(self)
        sim._conns.add(self)
        sim.counters.connections += 1
        log.debug("%s connected", self.peer)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.accepted:
            return
        sim = self.sim
        self.bus.conns.discard(self)
        sim._conns.discard(self)
        if sim._shared is None:
            self.bus.clear()
        for regs in sim._periodic.values():
            for conns in regs.values():
                conns.discard(self)
        self.outbox = []
        self._inbox.clear()
        self._backlog.clear()
        log.debug("%s disconnected", self.peer)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def pause_writing(self) -> None:
        self.paused = True
        self.paused_since = time.monotonic()
        self._stop_reading()

    def resume_writing(self) -> None:
        self.paused = False
        if self._inbox or self._backlog:
            self._schedule()
        else:
            self._start_reading()

    def data_received(self, data: bytes) -> None:
        self.received += 1
        # Reading is paused while input waits (a big segment's slices, requests held while the client
        # does not read): what still arrives joins the queue. Otherwise a segment is handled at once.
        if self._reading and len(data) <= _SLICE:
            self._receive(data)
            return
        self._inbox.append(data)
        self._stop_reading()
        self._schedule()

    # -- input -----------------------------------------------------------------------------------

    def _stop_reading(self) -> None:
        if self._reading and self.transport is not None and not self.transport.is_closing():
            self._reading = False
            self.transport.pause_reading()

    def _start_reading(self) -> None:
        if not self._reading and self.transport is not None and not self.transport.is_closing():
            self._reading = True
            self.transport.resume_reading()

    def _schedule(self) -> None:
        if not self._scheduled and not self.paused:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        """Handle the next slice of the waiting input (one per loop iteration, so that others are served too)."""
        self._scheduled = False
        transport = self.transport
        if transport is None or transport.is_closing() or self.paused:
            return
        if self._backlog:
            events = list(self._backlog)
            self._backlog.clear()
            self._run(events)
        elif self._inbox:
            self._receive(self._next_slice())
        if self.paused:
            return  # resume_writing() goes on
        if self._inbox or self._backlog:
            self._schedule()
        else:
            self._start_reading()

    def _next_slice(self) -> bytes:
        inbox = self._inbox
        head = inbox[0]
        start = self._inbox_pos
        end = start + _SLICE
        if end >= len(head):
            inbox.popleft()
            self._inbox_pos = 0
            return head[start:] if start else head
        self._inbox_pos = end
        return head[start:end]

    def _receive(self, data: bytes) -> None:
        sim = self.sim
        sim.counters.bytes_in += len(data)
        decoder = self.decoder
        requests = sim._requests
        # Fast path: a segment that is exactly one request seen before (a client polling values)
        # skips the decoder; the decoder is idle then, so nothing it holds is passed over.
        frame = requests.get(data)
        if frame is not None and not decoder.buffered:
            sim._handle(self, frame)
            self.bus.flush()
            return
        idle = not decoder.buffered
        decoder.feed(data)
        events = list(decoder.events())
        if (
            idle
            and len(events) == 1
            and type(events[0]) is Frame
            and not decoder.buffered
            and len(requests) < _MAX_CACHED_REQUESTS
        ):
            requests[bytes(data)] = events[0]
        if len(events) > 1 and sim.faults.unsolicited:  # asked for before their answers are queued
            sim._note_asked(events)
        self._run(events)

    def _run(self, events: list[Event]) -> None:
        """Handle decoded events until they are done or the client stops reading (the rest wait)."""
        sim = self.sim
        handle = sim._handle
        bus = self.bus
        it = iter(events)
        for event in it:
            if type(event) is Frame:
                handle(self, event)
                if bus.pending_bytes > _FLUSH_BYTES:
                    bus.flush()
                    if self.paused:
                        self._backlog.extend(it)
                        break
            elif isinstance(event, CRCMismatch | Garbage):
                sim.counters.bad_frames += 1
                if log.isEnabledFor(logging.DEBUG):
                    log.debug("%s ignored: %s", self.peer, describe_event(event).text or event)
            # KeepAlive and Extension: accepted and ignored, as the devices do
        bus.flush()

    # -- output ----------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            self.drop_slow("does not read its answers")
            return
        transport.write(data)
        self.sim.counters.bytes_out += len(data)

    def write_all(self, parts: list[bytes]) -> None:
        """Write frames in one go."""
        self.write(parts[0] if len(parts) == 1 else b"".join(parts))

    def take_outbox(self) -> list[bytes]:
        """The foreign frames waiting for this connection (they are no longer waiting)."""
        parts = self.outbox
        self.outbox = []
        self.outbox_len = 0
        return parts

    def spend_fanout(self, conns: int) -> bool:
        """Whether the others may hear one more of this connection's answers (see bus.py)."""
        rate = fanout_share(conns)
        now = time.monotonic()
        tokens = min(max(1.0, rate), self._fan_tokens + (now - self._fan_time) * rate)
        self._fan_time = now
        if tokens < 1.0:
            self._fan_tokens = tokens
            return False
        self._fan_tokens = tokens - 1.0
        return True

    def drop_slow(self, why: str) -> None:
        self.sim.counters.slow_clients_dropped += 1
        log.info("%s %s: dropped", self.peer, why)
        if self.transport is not None:
            self.transport.abort()

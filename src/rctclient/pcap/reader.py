"""The capture reader: records → segments → connections → one decoder per direction → :class:`CaptureEvent`.

:class:`CaptureReader` runs the layers of the package for each packet: :mod:`.records` reads
the file, :mod:`.packets` finds the TCP segment of the device's port, :mod:`.tcp` puts each
direction of each connection back in order, a :class:`~rctclient.frame.FrameDecoder` per
direction finds the frames, and :mod:`.answers` matches answers to requests. Each decoder event
comes out as a :class:`CaptureEvent` placed at the packet that brought its last byte.

The connections are kept in the order of their last packet, so that the least recently active
one is at hand when :class:`CaptureLimits` says one must go (too many open, too much held) or when
it has been idle long enough.
"""

from __future__ import annotations

import functools
from collections import OrderedDict, deque
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import IO, Final

from ..describe import EventDescription, describe_event
from ..frame import CRCMismatch, Event, Frame, FrameDecoder, KeepAlive
from ..registry import REGISTRY, Registry
from ..types import Command
from .answers import PendingRequests
from .model import (
    DEFAULT_PORT,
    MAX_OBJECT_IDS,
    CaptureEvent,
    CaptureLimits,
    CaptureStats,
    Direction,
    Evicted,
    Flag,
    FlagKind,
    Flow,
    FlowStats,
    Gap,
)
from .packets import TCP_ACK, TCP_RST, TCP_SYN, Segment, parse_segment
from .records import open_records
from .tcp import TcpStream

__all__ = ["CaptureReader", "read_capture"]

_PLANT_COMMANDS: Final = frozenset(c for c in Command if Command.is_plant(c))
_RESPONSES: Final = frozenset(c for c in Command if Command.is_response(c))
_PERIODIC: Final = frozenset({Command.READ_PERIODICALLY, Command.PLANT_READ_PERIODICALLY})
_UNSOLICITED: Final = (Flag(FlagKind.UNSOLICITED_ANSWER),)
_WRONG_DIRECTION: Final = (Flag(FlagKind.WRONG_DIRECTION),)
#: Capture seconds between two looks for idle connections.
_SWEEP_EVERY: Final = 60.0
#: Segment positions kept per direction to tell which packet completed an event (see _Side).
_MAX_SEGMAP: Final = 4096

_KINDS: Final = {k.value: k for k in FlagKind if k is not FlagKind.OTHER}


@functools.lru_cache(maxsize=256)
def flag_of(text: str) -> Flag:
    """A flag of :func:`~rctclient.describe.describe_event` as a :class:`Flag`.

    describe writes ``kind``, ``kind: detail`` or ``kind (detail)``; anything else is kept whole as
    :attr:`FlagKind.OTHER`. Cached: most flags (keep-alive, noise, unknown oid) repeat word for word.
    """
    kind = _KINDS.get(text)
    if kind is not None:
        return Flag(kind)
    for sep, end in ((": ", ""), (" (", ")")):
        head, found, rest = text.partition(sep)
        kind = _KINDS.get(head)
        if found and kind is not None and rest.endswith(end):
            return Flag(kind, rest[: len(rest) - len(end)])
    return Flag(FlagKind.OTHER, text)


class _Side:
    """One direction of a connection: its reassembly, its decoder and where its bytes came from."""

    __slots__ = ("dec_base", "decoder", "direction", "held", "segmap", "stream")

    def __init__(self, direction: Direction, decoder: FrameDecoder, limits: CaptureLimits) -> None:
        self.direction = direction
        self.stream = TcpStream(limits.max_out_of_order)
        self.decoder = decoder
        self.dec_base = 0  # stream offset of the decoder's offset 0 (a new decoder starts after each gap)
        # (stream offset, packet, time) of the data fed to the decoder that it may still hold: tells
        # which packet brought an event's last byte. At most _MAX_SEGMAP: beyond, every other entry
        # is dropped, so that the event of a frame fed in thousands of tiny segments may be placed
        # at an earlier segment of the same frame.
        self.segmap: deque[tuple[int, int, float]] = deque()
        self.held = 0  # what this side counts towards max_held_bytes


class _Conn:
    __slots__ = ("flow", "from_device", "key", "requests", "stats", "to_device")

    def __init__(
        self,
        key: tuple[bytes, int, bytes, int],
        to_device: _Side,
        from_device: _Side,
        requests: PendingRequests,
        stats: FlowStats,
    ) -> None:
        self.key = key
        self.to_device = to_device
        self.from_device = from_device
        self.requests = requests
        self.stats = stats
        self.flow = stats.flow  # stats.last_time is the time of the connection's last packet


class CaptureReader:
    """Iterate over the :class:`CaptureEvent` of a capture file; see :func:`read_capture`.

    The events of the connections come out in the order of the packets that complete them; what
    is still held when a connection closes (a frame cut off, out-of-order data behind a hole) comes
    out then, and at the end of the file for connections that stay open. ``stats`` is complete once
    the iteration is over; ``flows`` has per-connection counters when ``flow_stats=True``.
    """

    def __init__(
        self,
        source: str | Path | IO[bytes],
        port: int = DEFAULT_PORT,
        *,
        registry: Registry = REGISTRY,
        report_noise: bool = False,
        flow_stats: bool = False,
        limits: CaptureLimits | None = None,
    ) -> None:
        self.port = port
        self.limits = limits = limits or CaptureLimits()
        self.stats = CaptureStats()
        self.flows: list[FlowStats] = []
        self._registry = registry
        self._report_noise = report_noise
        self._flow_stats = flow_stats
        # least recently active first
        self._conns: OrderedDict[tuple[bytes, int, bytes, int], _Conn] = OrderedDict()
        self._held = 0  # sum of the _Side.held of the open connections
        self._out: list[CaptureEvent] = []
        self._packet = 0  # number of the packet at hand, from 1
        self._max_held = limits.max_held_bytes
        self._owned: IO[bytes] | None = None
        self._started = False
        self._file: IO[bytes]
        if isinstance(source, str | Path):
            self._owned = self._file = open(source, "rb")  # noqa: SIM115 - closed by close()/__exit__
        else:
            self._file = source
        try:
            self._records = open_records(self._file, self.stats, limits.max_packet)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the file if the reader opened it."""
        if self._owned is not None:
            self._owned.close()
            self._owned = None

    def __enter__(self) -> CaptureReader:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __iter__(self) -> Iterator[CaptureEvent]:
        if self._started:
            raise RuntimeError("a CaptureReader can be iterated only once")
        self._started = True
        return self._iterate()

    @property
    def open_flows(self) -> int:
        """Connections open now (at most ``limits.max_flows``)."""
        return len(self._conns)

    @property
    def held_bytes(self) -> int:
        """What the open connections hold now, as counted against ``limits.max_held_bytes``."""
        return self._held

    # -- the main loop ----------------------------------------------------------------------------

    def _iterate(self) -> Iterator[CaptureEvent]:
        out = self._out
        stats = self.stats
        port = self.port
        sweep_time = 0.0  # capture time of the last look for idle connections
        for time, link, data in self._records:
            self._packet += 1
            stats.packets += 1
            segment = parse_segment(link, data, port, stats)
            if segment is not None:
                self._segment(segment, time)
            # both ways: a capture whose clock jumps back still gets its idle connections closed
            since = time - sweep_time
            if since > _SWEEP_EVERY or since < -_SWEEP_EVERY:
                self._sweep(time)
                sweep_time = time
            if out:
                yield from out
                out.clear()
        while self._conns:
            self._close(next(iter(self._conns.values())))
            yield from out
            out.clear()
        self.close()

    def _sweep(self, now: float) -> None:
        """Close connections idle for ``idle_timeout``, from the least recently active up to the first that is not."""
        timeout = self.limits.idle_timeout
        while self._conns:
            conn = next(iter(self._conns.values()))
            if now - conn.stats.last_time <= timeout:
                break
            self._close(conn)

    def _segment(self, segment: Segment, time: float) -> None:
        key, to_device, seq, ack, flags, payload, wire = segment
        conn = self._conns.get(key)
        if conn is not None:
            if flags & TCP_SYN and not flags & TCP_ACK and to_device:
                stream = conn.to_device.stream
                if stream.next_seq is not None and stream.unwrap(seq) != stream.base - 1:
                    self._close(conn)  # a new connection on the same ports
                    conn = None
            if conn is not None:
                self._conns.move_to_end(key)
        if conn is None:
            if not payload and not flags & TCP_SYN:
                # the last ACK of a closed connection, or a connection whose data we never see
                self.stats.skipped += 1
                return
            conn = self._open(key, time)
        fs = conn.stats
        fs.packets += 1
        fs.last_time = time
        side, other = (conn.to_device, conn.from_device) if to_device else (conn.from_device, conn.to_device)
        stream = side.stream
        packet = self._packet
        offset = stream.segment(seq, flags, payload, wire, packet, time)
        if offset >= 0:  # the common case: the next data, whole
            self._feed(conn, side, offset, payload, packet, time)
        elif stream.pieces:
            self._deliver(conn, side)
        if flags & TCP_ACK:
            other_stream = other.stream
            other_stream.ack(ack)
            if other_stream.pieces:
                self._deliver(conn, other)
            if other.held:  # an acknowledged hole lets held data go (or be dropped as seen before)
                self._account(other)
        if flags & TCP_RST or (
            stream.fin_seq is not None and other.stream.fin_seq is not None and stream.closed and other.stream.closed
        ):
            self._close(conn)
            return
        # what this side holds now, counted towards max_held_bytes
        held = stream.held_bytes + side.decoder.buffered
        if held != side.held:
            self._held += held - side.held
            side.held = held
        if self._held > self._max_held:
            while self._held > self._max_held and len(self._conns) > 1:
                # the least recently active first; the connection of this packet is the most recent
                self._evict(f"{self._held:,} bytes held by the open connections (max_held_bytes)", time)

    def _open(self, key: tuple[bytes, int, bytes, int], time: float) -> _Conn:
        limits = self.limits
        if len(self._conns) >= limits.max_flows:
            n = len(self._conns)
            self._evict(f"{n:,} connection{'s' if n != 1 else ''} open (max_flows)", time)
        stats = self.stats
        stats.flows += 1
        flow = Flow(stats.flows, _address(key[0]), key[1], _address(key[2]), key[3])
        conn = _Conn(
            key,
            _Side(Direction.TO_DEVICE, self._new_decoder(), limits),
            _Side(Direction.FROM_DEVICE, self._new_decoder(), limits),
            PendingRequests(limits, self._unanswered),
            FlowStats(flow, time, time),
        )
        self._conns[key] = conn
        if self._flow_stats:
            self.flows.append(conn.stats)
        return conn

    def _new_decoder(self) -> FrameDecoder:
        return FrameDecoder(registry=self._registry, report_noise=self._report_noise)

    def _account(self, side: _Side) -> None:
        held = side.stream.held_bytes + side.decoder.buffered
        self._held += held - side.held
        side.held = held

    def _deliver(self, conn: _Conn, side: _Side) -> None:
        """Feed the stream's new pieces to the decoder, in order; a gap ends the decoder's stream."""
        pieces = side.stream.pieces
        for offset, data, missing, packet, time in pieces:
            if data:
                self._feed(conn, side, offset, data, packet, time)
            else:
                self._gap(conn, side, offset, missing, packet, time)
        pieces.clear()

    def _feed(self, conn: _Conn, side: _Side, offset: int, data: bytes, packet: int, time: float) -> None:
        """Decode the next data of a direction, which starts at ``offset`` in its stream."""
        segmap = side.segmap
        segmap.append((offset, packet, time))
        if len(segmap) > _MAX_SEGMAP:
            side.segmap = _thin(segmap)
        self.stats.payload_bytes += len(data)
        if side.direction is Direction.TO_DEVICE:
            conn.stats.bytes_to_device += len(data)
        else:
            conn.stats.bytes_from_device += len(data)
        side.decoder.feed(data)
        self._drain(conn, side)

    def _gap(self, conn: _Conn, side: _Side, offset: int, size: int, packet: int, time: float) -> None:
        """``size`` bytes at ``offset`` are not in the capture: end the decoder's stream, start a new one after."""
        decoder = side.decoder
        decoder.feed(b"")
        self._drain(conn, side, packet, time)
        self._collect(decoder)
        text = f"{size} bytes missing from the capture"
        desc = EventDescription(offset=offset, kind="gap", text=text, flags=(f"gap: {size} bytes",))
        flags = (Flag(FlagKind.GAP, f"{size} bytes"),)
        self._out.append(CaptureEvent(time, packet, conn.flow, side.direction, Gap(offset, size), desc, flags))
        side.decoder = self._new_decoder()
        side.dec_base = offset + size
        side.segmap.clear()
        stats, fs = self.stats, conn.stats
        stats.gaps += 1
        stats.gap_bytes += size
        fs.gaps += 1
        fs.gap_bytes += size

    def _collect(self, decoder: FrameDecoder) -> None:
        s, d = self.stats, decoder.stats
        s.frames += d.frames
        s.crc_errors += d.crc_errors
        s.garbage_bytes += d.garbage_bytes
        s.keepalives += d.keepalives
        s.extensions += d.extensions

    def _close(self, conn: _Conn, evicted: str | None = None, time: float = 0.0) -> None:
        """Close a connection: what it holds comes out (holes given up, frames cut off), its requests are unanswered."""
        del self._conns[conn.key]
        stats, fs = self.stats, conn.stats
        for side in (conn.to_device, conn.from_device):
            self._held -= side.held
            side.held = 0
            stream = side.stream
            if stream.next_seq is None:
                continue
            stream.finish()
            self._deliver(conn, side)
            side.decoder.feed(b"")
            self._drain(conn, side, stream.last_packet, stream.last_time)
            self._collect(side.decoder)
            stats.retransmitted_bytes += stream.retransmitted
            stats.out_of_order += stream.out_of_order
            stats.cut_packets += stream.cut_packets
            fs.retransmitted_bytes += stream.retransmitted
        conn.requests.close()
        if evicted is not None:
            stats.evicted_flows += 1
            fs.evicted = True
            # the direction of the connection's last packet
            to, fro = conn.to_device, conn.from_device
            side = to if to.stream.last_packet > fro.stream.last_packet else fro
            offset = side.stream.offset
            desc = EventDescription(
                offset=offset,
                kind="evicted",
                text="closed early to bound memory",
                flags=(f"flow evicted: {evicted}",),
            )
            flags = (Flag(FlagKind.FLOW_EVICTED, evicted),)
            event = Evicted(offset, evicted)
            self._out.append(CaptureEvent(time, self._packet, conn.flow, side.direction, event, desc, flags))

    def _evict(self, reason: str, time: float) -> None:
        """Close the least recently active connection early, at the packet at hand (of capture time ``time``)."""
        self._close(next(iter(self._conns.values())), reason, time)

    def _unanswered(self, object_id: int, n: int) -> None:
        counter = self.stats.unanswered
        if object_id in counter or object_id in self._registry or len(counter) < MAX_OBJECT_IDS:
            counter[object_id] += n
        else:
            self.stats.unanswered_other += n

    # -- events -----------------------------------------------------------------------------------

    def _drain(self, conn: _Conn, side: _Side, packet: int | None = None, time: float | None = None) -> None:
        segmap = side.segmap
        base = side.dec_base
        event = self._event
        for ev in side.decoder.events():
            # one type() instead of isinstance() per kind: this runs once per frame
            kind = type(ev)
            if kind is Frame or kind is CRCMismatch:
                size = ev.size  # type: ignore[union-attr] # narrowed by the test of kind
            elif kind is KeepAlive:
                size = 4
            else:
                size = len(ev.data)  # type: ignore[union-attr] # Garbage and Extension: the bytes themselves
            offset = ev.offset
            if base:
                offset += base
                ev = ev._replace(offset=offset)
            # the packet that holds the event's last byte
            while len(segmap) > 1 and segmap[1][0] <= offset:
                segmap.popleft()
            last = offset + size - 1 if size else offset
            ev_packet, ev_time = packet, time
            for seg_offset, seg_packet, seg_time in segmap:
                if seg_offset > last:
                    break
                ev_packet, ev_time = seg_packet, seg_time
            if ev_packet is None or ev_time is None:
                ev_packet, ev_time = side.stream.last_packet, side.stream.last_time
            event(conn, side, ev, ev_packet, ev_time)
        # No later event can start before the bytes the decoder still holds.
        if len(segmap) > 1:
            floor = side.stream.offset - side.decoder.buffered
            while len(segmap) > 1 and segmap[1][0] <= floor:
                segmap.popleft()

    def _event(self, conn: _Conn, side: _Side, ev: Event, packet: int, time: float) -> None:
        desc = describe_event(ev, self._registry)
        flags = tuple(map(flag_of, desc.flags)) if desc.flags else ()
        latency = None
        if type(ev) is Frame:
            fs = conn.stats
            fs.frames += 1
            if flags and any(f.kind is FlagKind.BAD_PAYLOAD for f in flags):
                fs.errors += 1
            command = ev.command
            key = (ev.id, ev.address if command in _PLANT_COMMANDS else None)
            to_device = side.direction is Direction.TO_DEVICE
            if command in _RESPONSES:
                if to_device:
                    flags += _WRONG_DIRECTION
                else:
                    latency = conn.requests.answer(key, time)
                    if latency is None and not conn.requests.is_periodic(key):
                        flags += _UNSOLICITED
                        self.stats.unsolicited += 1
            elif not to_device:
                flags += _WRONG_DIRECTION
            else:
                conn.requests.request(key, time, periodic=command in _PERIODIC)
        elif type(ev) is CRCMismatch:
            conn.stats.errors += 1
        self._out.append(CaptureEvent(time, packet, conn.flow, side.direction, ev, desc, flags, latency))


def _thin(segmap: deque[tuple[int, int, float]]) -> deque[tuple[int, int, float]]:
    """Every other entry, and the last: bounds the entries of a frame fed in very many tiny segments."""
    return deque([*list(segmap)[:-1:2], segmap[-1]])


@functools.lru_cache(maxsize=1024)
def _address(packed: bytes) -> str:
    """An IPv4 or IPv6 address as text (cached: a capture has few hosts and many connections)."""
    if len(packed) == 4:
        return ".".join(map(str, packed))
    import ipaddress  # noqa: PLC0415 - IPv6 only: its compressed form is not worth writing again

    return str(ipaddress.IPv6Address(packed))


def read_capture(
    source: str | Path | IO[bytes],
    port: int = DEFAULT_PORT,
    *,
    registry: Registry = REGISTRY,
    report_noise: bool = False,
    flow_stats: bool = False,
    limits: CaptureLimits | None = None,
) -> CaptureReader:
    """Open a pcap or pcapng capture and return a :class:`CaptureReader` over its decoded events.

    :param source: a path, or a binary file object (a pipe is fine: the file is read once, in order).
    :param port: the device's TCP port; segments *to* it are requests, *from* it answers.
    :param registry: for the OID names and data types.
    :param report_noise: also report the bytes between frames (see :class:`~rctclient.frame.FrameDecoder`).
    :param flow_stats: keep per-connection counters in ``reader.flows``.
    :param limits: how much state to keep at most (:class:`CaptureLimits`; the defaults suit any
        real capture).
    :raises CaptureError: when the file is not a capture, its header is cut short, or its link type
        is not supported. A file cut off later, or corrupt later, yields what came before and says
        so in ``stats.truncated`` / ``stats.error`` (see :meth:`CaptureStats.warnings`).
    """
    return CaptureReader(
        source, port, registry=registry, report_noise=report_noise, flow_stats=flow_stats, limits=limits
    )

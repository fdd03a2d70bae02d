"""Reading captures: pcap/pcapng files → TCP streams → the decoded conversation.

:func:`read_capture` reads a capture made by tcpdump, Wireshark or tshark, keeps the TCP
connections with the device's port (8899 by default), puts each direction of each connection back
together (ordered by sequence number, without retransmissions and overlaps, with the holes marked)
and feeds it to its own :class:`~rctclient.frame.FrameDecoder`. What comes out is a stream of
:class:`CaptureEvent`: the decoder's events with the time and packet number they completed in, the
connection and direction, a readable description and the flags of both the decoder and the capture
(``unsolicited answer``, ``gap`` and so on)::

    from rctclient.pcap import read_capture

    with read_capture("inverter.pcapng") as capture:
        for ev in capture:
            print(ev.time, ev.direction.value, ev.description.name, ev.description.text, ev.flags)
        print(capture.stats)

It streams: it keeps about one frame and the out-of-order segments of each open connection, so
memory does not grow with the size of the capture. File formats: pcap (micro- and nanosecond,
either byte order) and pcapng (several interfaces and sections). Link types: Ethernet (with VLAN
tags), Linux cooked capture v1 and v2 (``tcpdump -i any``), BSD loopback/null, raw IP; IPv4 and IPv6.

The pcap records and the link, IP and TCP headers are parsed here with :mod:`struct` (dpkt's
object per layer and packet took most of the time); `dpkt <https://pypi.org/project/dpkt/>`_, the
optional ``pcap`` extra (``pip install 'rctclient[pcap]'``), reads pcapng's interface blocks. This
module imports without it and raises :class:`ModuleNotFoundError` with that hint when a capture is
opened.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import struct
from collections import Counter, deque
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path
from types import ModuleType, TracebackType
from typing import IO, Any, Final

from .describe import EventDescription, describe_event
from .exceptions import RctClientException
from .frame import CRCMismatch, Event, Frame, FrameDecoder, KeepAlive
from .registry import REGISTRY, Registry
from .types import Command

__all__ = [
    "DEFAULT_PORT",
    "CaptureError",
    "CaptureEvent",
    "CaptureReader",
    "CaptureStats",
    "Direction",
    "Flow",
    "FlowStats",
    "Gap",
    "ObjectSummary",
    "read_capture",
    "summarize",
]

#: The TCP port of the inverters.
DEFAULT_PORT: Final = 8899

#: Out-of-order data held per direction before the hole in front of it is given up as a gap.
MAX_PENDING_BYTES: Final = 1 << 20
#: A request older than this (capture time, seconds) no longer waits for its answer.
ANSWER_TIMEOUT: Final = 30.0
#: A connection without packets for this long (capture time, seconds) is closed.
IDLE_TIMEOUT: Final = 600.0
#: Requests per object ID and connection that wait for an answer at most.
MAX_OUTSTANDING: Final = 16

_PCAP_MAGICS: Final = {
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x34\xcd\xb2\xa1",  # Kuznetsov's modified pcap
    b"\xa1\xb2\xcd\x34",
}
_PCAPNG_SHB: Final = b"\x0a\x0d\x0d\x0a"
_MAX_BLOCK: Final = 64 << 20
_CHUNK: Final = 1 << 16  # pcap records are read this much at a time

# Link types (https://www.tcpdump.org/linktypes.html)
_LINK_NULL: Final = 0
_LINK_ETHERNET: Final = 1
_LINK_LOOP: Final = 108
_LINK_SLL: Final = 113
_LINK_SLL2: Final = 276
_LINK_RAW: Final = frozenset({101, 12, 14, 228, 229})  # 12 and 14: DLT_RAW of some BSDs
_SUPPORTED_LINKS: Final = frozenset({_LINK_NULL, _LINK_ETHERNET, _LINK_LOOP, _LINK_SLL, _LINK_SLL2}) | _LINK_RAW
_LINK_NAMES: Final = {
    6: "Token Ring",
    9: "PPP",
    10: "FDDI",
    105: "IEEE 802.11",
    119: "802.11 Prism",
    127: "802.11 radiotap",
    147: "user 0",
    192: "PPI",
    220: "USB",
    249: "USBPcap",
}

_TCP_HEADER: Final = struct.Struct(">IIBB").unpack_from  # sequence and ack numbers, data offset, flags
_TCP_FIN: Final = 0x01
_TCP_SYN: Final = 0x02
_TCP_RST: Final = 0x04
_TCP_ACK: Final = 0x10
_TCP_SYN_FIN_RST: Final = _TCP_SYN | _TCP_FIN | _TCP_RST
_IPPROTO_TCP: Final = 6
_ETHERTYPE_IPV4: Final = 0x0800
_ETHERTYPE_IPV6: Final = 0x86DD
_ETHERTYPE_VLAN: Final = frozenset({0x8100, 0x88A8, 0x9100})  # 802.1Q, 802.1ad and the old QinQ
# IPv6 extension headers of the common layout (next header, length in 8 bytes not counting the first):
# hop-by-hop, routing, destination options, mobility, HIP, shim6, experiments
_IP6_EXTENSIONS: Final = frozenset({0, 43, 60, 135, 139, 140, 253, 254})
_IP6_FRAGMENT: Final = 44
_IP6_AH: Final = 51
_PLANT_COMMANDS: Final = frozenset(c for c in Command if Command.is_plant(c))
_RESPONSES: Final = frozenset(c for c in Command if Command.is_response(c))
_SEQ_MOD: Final = 1 << 32
_SEQ_HALF: Final = 1 << 31


class CaptureError(RctClientException):
    """The file is not a capture that can be read: not pcap/pcapng, cut off in its header, corrupt,
    or only link types this module does not know."""


class Direction(Enum):
    TO_DEVICE = "to device"
    FROM_DEVICE = "from device"


@dataclass(frozen=True, slots=True)
class Flow:
    """One TCP connection: the client's and the device's address and port.

    ``index`` counts connections in the order of their first packet, from 1; a connection that
    reuses the ports of an earlier one gets a new index.
    """

    index: int
    client: str
    client_port: int
    device: str
    device_port: int

    def __str__(self) -> str:
        return f"{_host(self.client)}:{self.client_port} > {_host(self.device)}:{self.device_port}"


def _utc_datetime(time: float) -> datetime | None:
    """The capture time ``time`` as a datetime in UTC; None when out of range (a corrupt time stamp)."""
    try:
        return datetime.fromtimestamp(time, UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@dataclass(frozen=True, slots=True)
class Gap:
    """Bytes of a TCP stream that are not in the capture (dropped by the capture, or cut by its snap length).

    ``offset`` is where they start in the direction's stream and ``size`` how many are missing. A
    frame that the gap cuts comes out as truncated garbage in front of it.
    """

    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class CaptureEvent:
    """One decoder event (or :class:`Gap`) of a capture, placed in time and connection."""

    #: Capture time (seconds since the epoch) of the packet that completed the event.
    time: float
    #: Number of that packet in the file, from 1 (as Wireshark counts).
    packet: int
    flow: Flow
    direction: Direction
    #: The decoder event; its offset is the position in this direction's TCP stream.
    event: Event | Gap
    description: EventDescription
    #: The description's flags, and the capture's: "unsolicited answer", "gap", "wrong direction".
    flags: tuple[str, ...]
    #: For an answer: seconds since the request it answers.
    latency: float | None = None

    @property
    def object_id(self) -> int | None:
        return self.description.object_id

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the description's fields plus time, packet, flow, direction and latency."""
        d = self.description.as_dict()
        when = _utc_datetime(self.time)
        out: dict[str, Any] = {
            "time": self.time,
            "timestamp": None if when is None else when.isoformat(),
            "packet": self.packet,
            "flow": str(self.flow),
            "flow_index": self.flow.index,
            "direction": self.direction.value,
        }
        out.update(d)
        out["flags"] = list(self.flags)
        out["latency"] = self.latency
        return out


@dataclass(slots=True)
class FlowStats:
    """What one connection carried (kept by the reader only when asked for: ``flow_stats=True``)."""

    flow: Flow
    first_time: float
    last_time: float
    packets: int = 0
    bytes_to_device: int = 0
    bytes_from_device: int = 0
    frames: int = 0
    errors: int = 0
    gaps: int = 0
    gap_bytes: int = 0
    retransmitted_bytes: int = 0

    def as_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["flow"] = str(self.flow)
        d["index"] = self.flow.index
        return d


@dataclass(slots=True)
class CaptureStats:
    """Counters of a :class:`CaptureReader`; final once the iteration is over."""

    link_type: int | None = None
    #: Packets (records) in the file.
    packets: int = 0
    #: TCP segments of the device's port.
    segments: int = 0
    #: Packets that are not IPv4/IPv6 TCP, TCP of other ports, IP fragments, or undecodable.
    skipped: int = 0
    #: Packets on interfaces whose link type is not supported (pcapng).
    unsupported_link: int = 0
    flows: int = 0
    payload_bytes: int = 0
    retransmitted_bytes: int = 0
    out_of_order: int = 0
    gaps: int = 0
    gap_bytes: int = 0
    #: Packets captured shorter than they were on the wire (snap length, or the file's last packet).
    cut_packets: int = 0
    #: The file ends inside a packet record.
    truncated: bool = False
    #: Why reading stopped before the end of the file (a corrupt block), if it did.
    error: str | None = None
    frames: int = 0
    crc_errors: int = 0
    garbage_bytes: int = 0
    keepalives: int = 0
    extensions: int = 0
    unsolicited: int = 0
    #: Requests never answered, per object ID.
    unanswered: Counter[int] = field(default_factory=Counter)
    #: TCP ports of the packets skipped for their port (to hint at a wrong ``port``).
    other_ports: Counter[int] = field(default_factory=Counter)

    def warnings(self) -> list[str]:
        """Problems of the capture itself worth telling the user about."""
        out = []
        if self.error:
            out.append(f"stopped reading: {self.error}")
        if self.truncated:
            out.append("the file ends inside a packet (capture cut short); decoded what came before it")
        if self.cut_packets:
            out.append(f"{self.cut_packets} packets were captured shorter than sent (snap length too small?)")
        if self.gaps:
            out.append(f"{self.gaps} gaps: {self.gap_bytes} bytes of TCP data are missing from the capture")
        if self.unsupported_link:
            out.append(f"{self.unsupported_link} packets on interfaces of unsupported link types skipped")
        return out


def _dpkt() -> ModuleType:
    try:
        import dpkt  # noqa: PLC0415 - the optional extra
        import dpkt.pcapng  # noqa: PLC0415
        import dpkt.sll  # noqa: PLC0415
        import dpkt.sll2  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise ModuleNotFoundError("reading captures needs dpkt: pip install 'rctclient[pcap]'", name=exc.name) from None
    module: ModuleType = dpkt
    return module


# --------------------------------------------------------------------------------------------------
# Capture files → (time, link type, packet bytes)
# --------------------------------------------------------------------------------------------------


def _read_exact(f: IO[bytes], n: int) -> bytes:
    """``n`` bytes, fewer only at the end of the file (a raw pipe may return less per read)."""
    data = f.read(n)
    while 0 < len(data) < n:
        more = f.read(n - len(data))
        if not more:
            break
        data += more
    return data


def _link_name(link: int) -> str:
    name = _LINK_NAMES.get(link)
    return f"{link} ({name})" if name else str(link)


def _open_records(f: IO[bytes], stats: CaptureStats) -> Iterator[tuple[float, int, bytes]]:
    """Check the file's header (raising :class:`CaptureError`) and return an iterator over its packets."""
    dpkt = _dpkt()
    magic = _read_exact(f, 4)
    if not magic:
        raise CaptureError("empty file, not a capture")
    if magic == _PCAPNG_SHB:
        return _pcapng_records(magic, f, stats, dpkt)
    if magic not in _PCAP_MAGICS:
        raise CaptureError(f"not a pcap or pcapng file (it starts with 0x{magic.hex()})")
    head = _read_exact(f, 20)
    if len(head) < 20:
        raise CaptureError("pcap file header cut short")
    little = magic[0] != 0xA1
    link = struct.unpack_from("<I" if little else ">I", head, 16)[0] & 0xFFFF  # the upper bits: is there an FCS
    if link not in _SUPPORTED_LINKS:
        raise CaptureError(f"unsupported link type {_link_name(link)}")
    stats.link_type = link
    return _pcap_records(f, magic, link, stats)


def _pcap_records(f: IO[bytes], magic: bytes, link: int, stats: CaptureStats) -> Iterator[tuple[float, int, bytes]]:
    """The records of a pcap file, read in chunks (``read1``: what a pipe has, without waiting for more)."""
    little = magic[0] != 0xA1
    scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
    hlen = 24 if magic in (b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34") else 16  # Kuznetsov's: 8 more bytes
    record = struct.Struct("<III" if little else ">III").unpack_from
    read = getattr(f, "read1", None) or f.read
    buf = b""
    pos = 0
    position = 24  # in the file, of buf[0]
    while True:
        avail = len(buf) - pos
        need = hlen
        if avail >= hlen:
            sec, frac, caplen = record(buf, pos)
            end = pos + hlen + caplen
            if end <= len(buf):
                yield sec + frac * scale, link, buf[pos + hlen : end]
                pos = end
                continue
            if caplen > _MAX_BLOCK:
                stats.error = f"corrupt pcap record at byte {position + pos} (length {caplen})"
                return
            need += caplen
        chunk = read(max(_CHUNK, need - avail))
        if not chunk:
            if avail:
                stats.truncated = True  # a record cut off: still worth decoding what there is of it
                if avail > hlen:
                    yield sec + frac * scale, link, buf[pos + hlen :]
            return
        position += pos
        buf = buf[pos:] + chunk
        pos = 0


def _pcapng_records(
    magic: bytes, f: IO[bytes], stats: CaptureStats, dpkt: ModuleType
) -> Iterator[tuple[float, int, bytes]]:
    ng = dpkt.pcapng
    # Check the first section header now, so that a bad file fails before the iteration starts.
    head = magic + f.read(8)
    if len(head) < 12:
        raise CaptureError("pcapng file header cut short")
    if head[8:12] not in (b"\x4d\x3c\x2b\x1a", b"\x1a\x2b\x3c\x4d"):
        raise CaptureError("not a pcapng file (bad byte-order magic)")
    return _pcapng_blocks(head, f, stats, ng)


def _pcapng_blocks(head: bytes, f: IO[bytes], stats: CaptureStats, ng: Any) -> Iterator[tuple[float, int, bytes]]:
    little = True
    unpack_epb = struct.Struct("<IIII").unpack_from
    unpack_pb = struct.Struct("<HHIII").unpack_from
    # Per interface of the current section: (link type, seconds per tick, offset in seconds)
    interfaces: list[tuple[int, float, int]] = []
    position = 0
    last_time = 0.0
    supported = 0
    while True:
        if not head:
            head = f.read(8)
            if not head:
                break
            if len(head) < 8:
                stats.truncated = True
                break
        if head[:4] == _PCAPNG_SHB:
            if len(head) < 12:
                head += f.read(12 - len(head))
                if len(head) < 12:
                    stats.truncated = True
                    break
            bom = head[8:12]
            if bom == b"\x4d\x3c\x2b\x1a":
                little = True
            elif bom == b"\x1a\x2b\x3c\x4d":
                little = False
            else:
                stats.error = f"corrupt pcapng section header at byte {position}"
                break
            interfaces = []
            unpack_epb = struct.Struct("<IIII" if little else ">IIII").unpack_from
            unpack_pb = struct.Struct("<HHIII" if little else ">HHIII").unpack_from
        block_type, length = struct.unpack("<II" if little else ">II", head[:8])
        if length < 12 or length % 4 or length > _MAX_BLOCK:
            stats.error = f"corrupt pcapng block at byte {position} (length {length})"
            break
        rest = f.read(length - len(head))
        if len(rest) < length - len(head):
            stats.truncated = True
            break
        buf = head + rest
        head = b""
        position += length
        try:
            if block_type == ng.PCAPNG_BT_IDB:
                idb = ng.InterfaceDescriptionBlockLE(buf) if little else ng.InterfaceDescriptionBlock(buf)
                tick, offset = 1e-6, 0
                for opt in idb.opts:
                    if opt.code == ng.PCAPNG_OPT_IF_TSRESOL and opt.data:
                        v = opt.data[0]
                        tick = 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -(v & 0x7F)
                    elif opt.code == ng.PCAPNG_OPT_IF_TSOFFSET and len(opt.data) >= 8:
                        offset = struct.unpack("<q" if little else ">q", opt.data[:8])[0]
                interfaces.append((idb.linktype, tick, offset))
                if stats.link_type is None:
                    stats.link_type = idb.linktype
                continue
            if block_type in (6, 2):  # enhanced packet block; the obsolete packet block
                if block_type == 6:
                    iface, ts_high, ts_low, caplen = unpack_epb(buf, 8)
                else:
                    iface, _, ts_high, ts_low, caplen = unpack_pb(buf, 8)
                if 28 + caplen > length - 4:
                    stats.error = f"corrupt pcapng block at byte {position - length} (packet length {caplen})"
                    break
                if iface >= len(interfaces):
                    stats.error = f"pcapng packet of undeclared interface {iface} at byte {position - length}"
                    break
                link, tick, offset = interfaces[iface]
                last_time = offset + ((ts_high << 32) | ts_low) * tick
                data = buf[28 : 28 + caplen]
            elif block_type == 3:  # simple packet block: interface 0, no time stamp
                if not interfaces:
                    stats.error = f"pcapng packet before any interface at byte {position - length}"
                    break
                link = interfaces[0][0]
                original = struct.unpack_from("<I" if little else ">I", buf, 8)[0]
                data = buf[12 : 12 + min(original, length - 16)]
            else:
                continue  # name resolution, statistics, custom blocks...
        except (ng.dpkt.UnpackError, struct.error, IndexError):
            stats.error = f"corrupt pcapng block at byte {position - length}"
            break
        if link not in _SUPPORTED_LINKS:
            stats.packets += 1
            stats.unsupported_link += 1
            continue
        supported += 1
        yield last_time, link, data
    if not supported and stats.unsupported_link:
        links = sorted({i[0] for i in interfaces if i[0] not in _SUPPORTED_LINKS})
        raise CaptureError(f"unsupported link type {', '.join(_link_name(x) for x in links) or 'of every interface'}")


# --------------------------------------------------------------------------------------------------
# Packets → TCP segments
# --------------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------------
# TCP reassembly and decoding
# --------------------------------------------------------------------------------------------------


class _Half:
    """One direction of a connection: reassembly state and its decoder."""

    __slots__ = (
        "acked",
        "base",
        "dec_base",
        "decoder",
        "direction",
        "fin_seq",
        "last_packet",
        "last_time",
        "next_seq",
        "pending",
        "pending_bytes",
        "segmap",
    )

    def __init__(self, direction: Direction, decoder: FrameDecoder) -> None:
        self.direction = direction
        self.next_seq: int | None = None  # unwrapped sequence number of the next byte expected
        self.base = 0  # unwrapped sequence number of stream offset 0
        self.acked: int | None = None  # highest unwrapped ack of the peer
        self.fin_seq: int | None = None
        # out-of-order segments: unwrapped seq -> (data, length on the wire, packet, time)
        self.pending: dict[int, tuple[bytes, int, int, float]] = {}
        self.pending_bytes = 0
        self.decoder = decoder
        self.dec_base = 0  # stream offset of the decoder's offset 0
        self.segmap: deque[tuple[int, int, float]] = deque()  # (stream offset, packet, time)
        self.last_packet = 0
        self.last_time = 0.0

    def unwrap(self, seq: int) -> int:
        if self.next_seq is None:
            return seq
        return self.next_seq + ((seq - self.next_seq + _SEQ_HALF) % _SEQ_MOD) - _SEQ_HALF

    @property
    def offset(self) -> int:
        assert self.next_seq is not None
        return self.next_seq - self.base


class _Conn:
    __slots__ = ("closed", "flow", "from_device", "last_time", "outstanding", "periodic", "stats", "to_device")

    def __init__(self, flow: Flow, new_decoder: Any, time: float, keep_stats: bool) -> None:
        self.flow = flow
        self.to_device = _Half(Direction.TO_DEVICE, new_decoder())
        self.from_device = _Half(Direction.FROM_DEVICE, new_decoder())
        # requests waiting for their answer: (object id, address) -> deque of (time, ...)
        self.outstanding: dict[tuple[int, int | None], deque[float]] = {}
        self.periodic: set[tuple[int, int | None]] = set()
        self.last_time = time
        self.closed = False
        self.stats = FlowStats(flow, time, time) if keep_stats else None


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
    ) -> None:
        self.port = port
        self.stats = CaptureStats()
        self.flows: list[FlowStats] = []
        self._registry = registry
        self._report_noise = report_noise
        self._flow_stats = flow_stats
        self._conns: dict[tuple[bytes, int, bytes, int], _Conn] = {}
        self._out: list[CaptureEvent] = []
        self._packet = 0
        self._sweep_time = 0.0
        self._owned: IO[bytes] | None = None
        self._started = False
        self._file: IO[bytes]
        if isinstance(source, str | Path):
            self._owned = self._file = open(source, "rb")  # noqa: SIM115 - closed by close()/__exit__
        else:
            self._file = source
        try:
            self._records = _open_records(self._file, self.stats)
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

    # -- the main loop ----------------------------------------------------------------------------

    def _iterate(self) -> Iterator[CaptureEvent]:
        out = self._out
        stats = self.stats
        decode_errors = (struct.error, IndexError)
        for time, link, data in self._records:
            self._packet += 1
            stats.packets += 1
            try:
                self._packet_in(time, link, data)
            except decode_errors:
                stats.skipped += 1
            if out:
                yield from out
                out.clear()
            if time - self._sweep_time > 60.0:
                self._sweep(time)
                if out:
                    yield from out
                    out.clear()
        for key in list(self._conns):
            self._close(key)
            yield from out
            out.clear()
        self.close()

    def _sweep(self, now: float) -> None:
        self._sweep_time = now
        for key, conn in list(self._conns.items()):
            if now - conn.last_time > IDLE_TIMEOUT:
                self._close(key)

    def _packet_in(self, time: float, link: int, data: bytes) -> None:
        """Parse the link, IP and TCP headers (by hand: building objects per layer costs more than the rest)."""
        stats = self.stats
        # link layer → the IP header at ``off``
        if link == _LINK_ETHERNET:
            off = 14
            ethertype = data[12] << 8 | data[13]
        elif link == _LINK_SLL:
            off = 16
            ethertype = data[14] << 8 | data[15]
        elif link == _LINK_SLL2:
            off = 20
            ethertype = data[0] << 8 | data[1]
        else:  # null/loop: the address family in either byte order; the IP version says it too
            off = 4 if link in (_LINK_NULL, _LINK_LOOP) else 0
            ethertype = 0
        if ethertype:
            while ethertype in _ETHERTYPE_VLAN:
                ethertype = data[off + 2] << 8 | data[off + 3]
                off += 4
            if ethertype not in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
                stats.skipped += 1
                return
        first = data[off]
        if first >> 4 == 4:
            ihl = (first & 0x0F) * 4
            # fragments (offset or more-fragments set) are never seen with TCP in practice
            if ihl < 20 or data[off + 9] != _IPPROTO_TCP or (data[off + 6] & 0x3F or data[off + 7]):
                stats.skipped += 1
                return
            total = data[off + 2] << 8 | data[off + 3]
            end = off + total if total else len(data)  # 0: TCP segmentation offload
            src = data[off + 12 : off + 16]
            dst = data[off + 16 : off + 20]
            off += ihl
        elif first >> 4 == 6:
            plen = data[off + 4] << 8 | data[off + 5]
            nxt = data[off + 6]
            src = data[off + 8 : off + 24]
            dst = data[off + 24 : off + 40]
            end = off + 40 + plen if plen else len(data)  # 0: a jumbogram, or TCP segmentation offload
            off += 40
            while nxt != _IPPROTO_TCP:
                if nxt in _IP6_EXTENSIONS:
                    size = (data[off + 1] + 1) * 8
                elif nxt == _IP6_AH:
                    size = (data[off + 1] + 2) * 4
                elif nxt == _IP6_FRAGMENT and not (data[off + 2] << 8 | data[off + 3]) & 0xFFF9:
                    size = 8  # an atomic fragment (offset 0, no more fragments): the whole packet
                else:
                    stats.skipped += 1
                    return
                nxt = data[off]
                off += size
        else:
            stats.skipped += 1
            return
        # TCP: the ports first, so that the packets of other connections cost little
        sport = data[off] << 8 | data[off + 1]
        dport = data[off + 2] << 8 | data[off + 3]
        port = self.port
        if dport == port:
            direction = Direction.TO_DEVICE
            key = (src, sport, dst, dport)
        elif sport == port:
            direction = Direction.FROM_DEVICE
            key = (dst, dport, src, sport)
        else:
            stats.skipped += 1
            if len(stats.other_ports) < 4096:
                stats.other_ports[sport] += 1  # the server's port is in every packet of a connection
                stats.other_ports[dport] += 1
            return
        if len(data) < off + 20:  # the snap length cut the TCP header
            stats.skipped += 1
            stats.cut_packets += 1
            return
        seq, ack, data_offset, flags = _TCP_HEADER(data, off + 4)
        start = off + (data_offset >> 4) * 4
        wire = end - start  # payload bytes on the wire
        if data_offset < 0x50 or wire < 0:  # a header shorter than 20 bytes, or longer than the packet
            stats.skipped += 1
            return
        payload = data[start:end]  # without the Ethernet padding of short frames
        stats.segments += 1
        conn = self._conns.get(key)
        if conn is not None and flags & _TCP_SYN and not flags & _TCP_ACK and direction is Direction.TO_DEVICE:
            half = conn.to_device
            if half.next_seq is not None and half.unwrap(seq) != half.base - 1:
                self._close(key)  # a new connection on the same ports
                conn = None
        if conn is None:
            if not payload and not flags & _TCP_SYN:
                # the last ACK of a closed connection, or a connection whose data we never see
                stats.skipped += 1
                return
            stats.flows += 1
            flow = Flow(
                stats.flows, str(ipaddress.ip_address(key[0])), key[1], str(ipaddress.ip_address(key[2])), key[3]
            )
            conn = _Conn(flow, self._new_decoder, time, self._flow_stats)
            self._conns[key] = conn
            if conn.stats is not None:
                self.flows.append(conn.stats)
        conn.last_time = time
        if conn.stats is not None:
            conn.stats.packets += 1
            conn.stats.last_time = time
        half, other = (
            (conn.to_device, conn.from_device)
            if direction is Direction.TO_DEVICE
            else (conn.from_device, conn.to_device)
        )
        half.last_packet = packet = self._packet
        half.last_time = time
        expected = half.next_seq
        if (
            expected is not None
            and seq == expected % _SEQ_MOD
            and wire
            and wire == len(payload)
            and not flags & _TCP_SYN_FIN_RST
            and not half.pending
        ):  # the common case: the next data of the stream, whole
            half.segmap.append((expected - half.base, packet, time))
            half.next_seq = expected + wire
            stats.payload_bytes += wire
            if conn.stats is not None:
                if direction is Direction.TO_DEVICE:
                    conn.stats.bytes_to_device += wire
                else:
                    conn.stats.bytes_from_device += wire
            half.decoder.feed(payload)
            self._drain(conn, half)
        else:
            self._segment(conn, half, seq, flags, payload, wire, time)
        if flags & _TCP_ACK and other.next_seq is not None:
            acked = other.unwrap(ack)
            if other.acked is None or acked > other.acked:
                other.acked = acked
                if other.pending:
                    self._settle(conn, other, time)
        if flags & _TCP_RST or (
            conn.to_device.fin_seq is not None
            and conn.from_device.fin_seq is not None
            and conn.to_device.next_seq == conn.to_device.fin_seq
            and conn.from_device.next_seq == conn.from_device.fin_seq
        ):
            self._close(key)

    def _new_decoder(self) -> FrameDecoder:
        return FrameDecoder(registry=self._registry, report_noise=self._report_noise)

    def _segment(self, conn: _Conn, half: _Half, seq: int, flags: int, payload: bytes, wire: int, time: float) -> None:
        if flags & _TCP_SYN:
            if half.next_seq is None:
                half.next_seq = half.base = (seq + 1) % _SEQ_MOD
            seq += 1
        if half.next_seq is None:
            half.next_seq = half.base = seq
        start = half.unwrap(seq % _SEQ_MOD)
        if flags & _TCP_FIN:
            half.fin_seq = start + wire
        if wire:
            stats = self.stats
            if start > half.next_seq:
                stats.out_of_order += 1
                held = half.pending.get(start)
                # of two copies keep the one with more captured data (a copy may be cut by the snap length)
                if held is None or (len(payload), wire) > (len(held[0]), held[1]):
                    if held is not None:
                        half.pending_bytes -= len(held[0])
                        self._retransmitted(conn, held[1])
                    half.pending[start] = (payload, wire, self._packet, time)
                    half.pending_bytes += len(payload)
                else:
                    self._retransmitted(conn, wire)
            else:
                self._accept(conn, half, start, payload, wire, self._packet, time)
        self._settle(conn, half, time)

    def _retransmitted(self, conn: _Conn, size: int) -> None:
        self.stats.retransmitted_bytes += size
        if conn.stats is not None:
            conn.stats.retransmitted_bytes += size

    def _accept(
        self, conn: _Conn, half: _Half, start: int, payload: bytes, wire: int, packet: int, time: float
    ) -> None:
        """Take a segment that starts at or before the next expected byte."""
        assert half.next_seq is not None
        skip = half.next_seq - start
        if skip >= wire:
            self._retransmitted(conn, wire)
            return
        if skip:
            self._retransmitted(conn, skip)
        data = payload[skip:]
        if data:
            half.segmap.append((half.offset, packet, time))
            half.next_seq += len(data)
            self.stats.payload_bytes += len(data)
            if conn.stats is not None:
                if half.direction is Direction.TO_DEVICE:
                    conn.stats.bytes_to_device += len(data)
                else:
                    conn.stats.bytes_from_device += len(data)
            half.decoder.feed(data)
            self._drain(conn, half)
        missing = wire - max(skip, len(payload))
        if missing > 0:
            self.stats.cut_packets += 1
            self._gap(conn, half, missing, packet, time)

    def _settle(self, conn: _Conn, half: _Half, time: float) -> None:
        """Deliver held segments that fit now; give up holes the peer has acknowledged or too much waits behind."""
        while half.pending:
            assert half.next_seq is not None
            first = min(half.pending)
            if first <= half.next_seq:
                payload, wire, packet, ptime = half.pending.pop(first)
                half.pending_bytes -= len(payload)
                self._accept(conn, half, first, payload, wire, packet, ptime)
            elif (half.acked is not None and half.acked >= first) or half.pending_bytes > MAX_PENDING_BYTES:
                _, packet, ptime = half.pending[first][1:]
                self._gap(conn, half, first - half.next_seq, packet, ptime)
            else:
                break

    def _gap(self, conn: _Conn, half: _Half, size: int, packet: int, time: float) -> None:
        """``size`` bytes at the next expected position are not in the capture."""
        decoder = half.decoder
        decoder.feed(b"")
        self._drain(conn, half, packet, time)
        self._collect(decoder)
        offset = half.offset
        gap = Gap(offset, size)
        desc = EventDescription(
            offset=offset, kind="gap", text=f"{size} bytes missing from the capture", flags=(f"gap: {size} bytes",)
        )
        self._out.append(CaptureEvent(time, packet, conn.flow, half.direction, gap, desc, desc.flags))
        assert half.next_seq is not None
        half.next_seq += size
        half.decoder = self._new_decoder()
        half.dec_base = half.offset
        self.stats.gaps += 1
        self.stats.gap_bytes += size
        if conn.stats is not None:
            conn.stats.gaps += 1
            conn.stats.gap_bytes += size

    def _collect(self, decoder: FrameDecoder) -> None:
        s, d = self.stats, decoder.stats
        s.frames += d.frames
        s.crc_errors += d.crc_errors
        s.garbage_bytes += d.garbage_bytes
        s.keepalives += d.keepalives
        s.extensions += d.extensions

    def _close(self, key: tuple[bytes, int, bytes, int]) -> None:
        conn = self._conns.pop(key)
        for half in (conn.to_device, conn.from_device):
            if half.next_seq is None:
                continue
            while half.pending:  # holes behind which data waits: they will not be filled any more
                first = min(half.pending)
                if first > half.next_seq:
                    self._gap(conn, half, first - half.next_seq, *half.pending[first][2:])
                self._settle(conn, half, half.last_time)
            # the peer acknowledged data that the capture does not have
            end = half.acked
            if end is not None and half.fin_seq is not None:
                end = min(end, half.fin_seq)
            if end is not None and end > half.next_seq:
                self._gap(conn, half, end - half.next_seq, half.last_packet, half.last_time)
            half.decoder.feed(b"")
            self._drain(conn, half, half.last_packet, half.last_time)
            self._collect(half.decoder)
        for oid_key, waiting in conn.outstanding.items():
            self.stats.unanswered[oid_key[0]] += len(waiting)
        conn.outstanding.clear()
        conn.closed = True

    # -- events -----------------------------------------------------------------------------------

    def _drain(self, conn: _Conn, half: _Half, packet: int | None = None, time: float | None = None) -> None:
        segmap = half.segmap
        base = half.dec_base
        event = self._event
        for ev in half.decoder.events():
            kind = type(ev)
            if kind is Frame or kind is CRCMismatch:
                size = ev.size  # type: ignore[union-attr]
            elif kind is KeepAlive:
                size = 4
            else:
                size = len(ev.data)  # type: ignore[union-attr]
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
                ev_packet, ev_time = half.last_packet, half.last_time
            event(conn, half, ev, ev_packet, ev_time)
        # No later event can start before the bytes the decoder still holds.
        if len(segmap) > 1:
            floor = half.offset - half.decoder.buffered if half.next_seq is not None else 0
            while len(segmap) > 1 and segmap[1][0] <= floor:
                segmap.popleft()

    def _event(self, conn: _Conn, half: _Half, ev: Event, packet: int, time: float) -> None:
        desc = describe_event(ev, self._registry)
        flags = desc.flags
        latency = None
        if type(ev) is Frame:
            if conn.stats is not None:
                conn.stats.frames += 1
                if flags:
                    conn.stats.errors += any(f.startswith("bad payload") for f in flags)
            command = ev.command
            key = (ev.id, ev.address if command in _PLANT_COMMANDS else None)
            to_device = half.direction is Direction.TO_DEVICE
            if command in _RESPONSES:
                if to_device:
                    flags += ("wrong direction",)
                else:
                    latency = self._answer(conn, key, time)
                    if latency is None and key not in conn.periodic:
                        flags += ("unsolicited answer",)
                        self.stats.unsolicited += 1
            elif not to_device:
                flags += ("wrong direction",)
            else:
                self._request(conn, key, command, time)
        elif isinstance(ev, CRCMismatch) and conn.stats is not None:
            conn.stats.errors += 1
        self._out.append(CaptureEvent(time, packet, conn.flow, half.direction, ev, desc, flags, latency))

    def _request(self, conn: _Conn, key: tuple[int, int | None], command: Command, time: float) -> None:
        if command in (Command.READ_PERIODICALLY, Command.PLANT_READ_PERIODICALLY):
            conn.periodic.add(key)
        waiting = conn.outstanding.get(key)
        if waiting is None:
            if len(conn.outstanding) >= 4096:  # a client asking for everything, never answered
                old_key = next(iter(conn.outstanding))
                self.stats.unanswered[old_key[0]] += len(conn.outstanding.pop(old_key))
            waiting = conn.outstanding[key] = deque()
        self._expire(key, waiting, time)
        if len(waiting) >= MAX_OUTSTANDING:
            waiting.popleft()
            self.stats.unanswered[key[0]] += 1
        waiting.append(time)

    def _expire(self, key: tuple[int, int | None], waiting: deque[float], time: float) -> None:
        while waiting and time - waiting[0] > ANSWER_TIMEOUT:
            waiting.popleft()
            self.stats.unanswered[key[0]] += 1

    def _answer(self, conn: _Conn, key: tuple[int, int | None], time: float) -> float | None:
        waiting = conn.outstanding.get(key)
        if not waiting:
            return None
        self._expire(key, waiting, time)
        if not waiting:
            return None
        latency = time - waiting.popleft()
        if not waiting:
            del conn.outstanding[key]
        return max(latency, 0.0)


def read_capture(
    source: str | Path | IO[bytes],
    port: int = DEFAULT_PORT,
    *,
    registry: Registry = REGISTRY,
    report_noise: bool = False,
    flow_stats: bool = False,
) -> CaptureReader:
    """Open a pcap or pcapng capture and return a :class:`CaptureReader` over its decoded events.

    :param source: a path, or a binary file object (a pipe is fine: the file is read once, in order).
    :param port: the device's TCP port; segments *to* it are requests, *from* it answers.
    :param registry: for the OID names and data types.
    :param report_noise: also report the bytes between frames (see :class:`~rctclient.frame.FrameDecoder`).
    :param flow_stats: keep per-connection counters in ``reader.flows``.
    :raises CaptureError: when the file is not a capture, its header is cut short, or its link type
        is not supported. A file cut off later, or corrupt later, yields what came before and says
        so in ``stats.truncated`` / ``stats.error`` (see :meth:`CaptureStats.warnings`).
    :raises ModuleNotFoundError: when the ``pcap`` extra (dpkt) is not installed.
    """
    return CaptureReader(source, port, registry=registry, report_noise=report_noise, flow_stats=flow_stats)


@dataclass(slots=True)
class ObjectSummary:
    """What a capture says about one object ID (see :func:`summarize`)."""

    object_id: int
    name: str | None
    requests: int = 0
    answers: int = 0
    unsolicited: int = 0
    unanswered: int = 0
    #: Frames with a CRC mismatch and payloads that do not fit the OID's data type.
    errors: int = 0
    latencies: int = 0
    latency_min: float | None = None
    latency_max: float | None = None
    latency_sum: float = 0.0

    @property
    def latency_avg(self) -> float | None:
        return self.latency_sum / self.latencies if self.latencies else None

    def as_dict(self) -> dict[str, Any]:
        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 3)

        return {
            "id": f"0x{self.object_id:08X}",
            "name": self.name,
            "requests": self.requests,
            "answers": self.answers,
            "unsolicited": self.unsolicited,
            "unanswered": self.unanswered,
            "errors": self.errors,
            "latency_min_ms": ms(self.latency_min),
            "latency_avg_ms": ms(self.latency_avg),
            "latency_max_ms": ms(self.latency_max),
        }


def summarize(
    events: Iterable[CaptureEvent], stats: CaptureStats | None = None, oids: Collection[int] | None = None
) -> list[ObjectSummary]:
    """Per object ID: requests, answers, errors and request→answer latency, sorted by object ID.

    ``events`` is typically a :class:`CaptureReader`; pass its ``stats`` (after the iteration, which
    this function does) to count the unanswered requests too. ``oids`` keeps only those object IDs.
    """
    found: dict[int, ObjectSummary] = {}

    def get(oid: int, name: str | None) -> ObjectSummary:
        s = found.get(oid)
        if s is None:
            s = found[oid] = ObjectSummary(oid, name)
        return s

    for ev in events:
        oid = ev.description.object_id
        if oid is None or (oids is not None and oid not in oids):
            continue
        s = get(oid, ev.description.name)
        inner = ev.event
        if isinstance(inner, CRCMismatch):
            s.errors += 1
            continue
        if not isinstance(inner, Frame):
            continue
        if any(f.startswith("bad payload") for f in ev.flags):
            s.errors += 1
        if Command.is_response(inner.command):
            s.answers += 1
            if "unsolicited answer" in ev.flags:
                s.unsolicited += 1
        else:
            s.requests += 1
        if ev.latency is not None:
            s.latencies += 1
            s.latency_sum += ev.latency
            s.latency_min = ev.latency if s.latency_min is None else min(s.latency_min, ev.latency)
            s.latency_max = ev.latency if s.latency_max is None else max(s.latency_max, ev.latency)
    if stats is not None:
        for oid, n in stats.unanswered.items():
            if oids is None or oid in oids:
                s = found.get(oid) or get(oid, None)
                s.unanswered += n
    return [found[k] for k in sorted(found)]

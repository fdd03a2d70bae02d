"""The values of the capture reader: what comes out (events, flags, connections, counters) and its limits.

Every other module of the package builds on this one; it imports nothing of theirs.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Final, NamedTuple

from ..describe import EventDescription
from ..exceptions import RctClientException
from ..frame import Event, GarbageReason

__all__ = [
    "DEFAULT_PORT",
    "MAX_OBJECT_IDS",
    "CaptureError",
    "CaptureEvent",
    "CaptureLimits",
    "CaptureStats",
    "Direction",
    "Evicted",
    "Flag",
    "FlagKind",
    "Flow",
    "FlowStats",
    "Gap",
    "utc_datetime",
]

#: The TCP port of the inverters.
DEFAULT_PORT: Final = 8899
#: Object IDs outside the registry counted one by one (``CaptureStats.unanswered``, :func:`summarize`);
#: a capture that names more (a hostile one: every 9-byte READ can name another) has them counted together.
MAX_OBJECT_IDS: Final = 4096


class CaptureError(RctClientException):
    """The file is not a capture that can be read: not pcap/pcapng, cut off in its header, corrupt,
    or only link types this package does not know."""


@dataclass(frozen=True, slots=True)
class CaptureLimits:
    """How much state the reader keeps at most, so that a hostile or broken capture cannot exhaust memory.

    The defaults are far above what captures of real devices need (a handful of connections, a few
    requests in flight, frames of at most a few kB); see ``docs/captures.md`` for the bound they give.
    """

    #: Connections open at once. One more closes the least recently active one, which is flagged
    #: ``flow evicted``; a later packet of it starts a new flow.
    max_flows: int = 1024
    #: Bytes held by all open connections together: out-of-order data waiting for a hole to be
    #: filled and incomplete frames inside the decoders. Above it, the least recently active
    #: connections (other than the one of the packet at hand) are closed as with ``max_flows``.
    max_held_bytes: int = 16 << 20
    #: Out-of-order data held per direction of a connection (each segment counts 128 bytes more
    #: for its bookkeeping); above it, the hole in front is given up as a gap.
    max_out_of_order: int = 256 << 10
    #: Requests waiting for their answer per connection; above it, the object ID that has waited
    #: longest is given up (its requests count as unanswered). Also bounds the object IDs a
    #: connection asked to be sent periodically.
    max_pending_requests: int = 1024
    #: A request older than this (capture time, seconds) no longer waits for its answer.
    answer_timeout: float = 30.0
    #: A connection without packets for this long (capture time, seconds) is closed.
    idle_timeout: float = 600.0
    #: The largest packet record (pcap) or packet block (pcapng) read; a longer length field is
    #: taken for a corrupt file. Blocks this package does not use are skipped whatever their size.
    max_packet: int = 1 << 20

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not value > 0:  # also catches NaN
                raise ValueError(f"CaptureLimits.{f.name} must be positive, not {value!r}")


class Direction(Enum):
    TO_DEVICE = "to device"
    FROM_DEVICE = "from device"


def _host(address: str) -> str:
    return f"[{address}]" if ":" in address else address


@dataclass(frozen=True, slots=True)
class Flow:
    """One TCP connection: the client's and the device's address and port.

    ``index`` counts connections in the order of their first packet, from 1; a connection that
    reuses the ports of an earlier one (or goes on after it was evicted) gets a new index.
    """

    index: int
    client: str
    client_port: int
    device: str
    device_port: int

    def __str__(self) -> str:
        return f"{_host(self.client)}:{self.client_port} > {_host(self.device)}:{self.device_port}"


class FlagKind(Enum):
    """What a :class:`Flag` says; the value is how it reads."""

    # The decoder's, as rctclient.describe explains its events
    CRC_MISMATCH = "crc mismatch"
    BAD_PAYLOAD = "bad payload"
    UNKNOWN_OID = "unknown oid"
    NOISE = GarbageReason.NOISE.value
    INVALID_COMMAND = GarbageReason.INVALID_COMMAND.value
    BAD_LENGTH = GarbageReason.BAD_LENGTH.value
    TRUNCATED = GarbageReason.TRUNCATED.value
    KEEP_ALIVE = "keep-alive"
    EXTENSION = "extension"
    # The capture's
    #: An answer that no earlier request on its connection asked for (the shared bus at work).
    UNSOLICITED_ANSWER = "unsolicited answer"
    #: A request sent by the device, or an answer sent to it.
    WRONG_DIRECTION = "wrong direction"
    #: Bytes of the TCP stream missing from the capture.
    GAP = "gap"
    #: The connection was closed early to bound the reader's memory (see :class:`CaptureLimits`).
    FLOW_EVICTED = "flow evicted"
    #: A remark of rctclient.describe that this package does not know (the detail is its text).
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class Flag:
    """A problem or remark about a :class:`CaptureEvent`: its kind, and details for people.

    ``str(flag)`` is how it reads: the kind, then ``: `` and the detail if there is one (``gap:
    6 bytes``, ``bad payload: ...``). Test the kind, not the text: ``flag.kind is FlagKind.GAP``.
    """

    kind: FlagKind
    detail: str = ""

    def __str__(self) -> str:
        if self.kind is FlagKind.OTHER:
            return self.detail
        return f"{self.kind.value}: {self.detail}" if self.detail else self.kind.value


@dataclass(frozen=True, slots=True)
class Gap:
    """Bytes of a TCP stream that are not in the capture (dropped by the capture, or cut by its snap length).

    ``offset`` is where they start in the direction's stream and ``size`` how many are missing. A
    frame that the gap cuts comes out as truncated garbage in front of it.
    """

    offset: int
    size: int


@dataclass(frozen=True, slots=True)
class Evicted:
    """The reader closed the connection early to bound its memory (see :class:`CaptureLimits`).

    ``offset`` is the position in the stream of the event's direction (that of the connection's
    last packet) where decoding stopped; ``reason`` says which limit was reached. What the
    connection held comes out before this event, as at any close.
    """

    offset: int
    reason: str


def utc_datetime(time: float) -> datetime | None:
    """The capture time ``time`` as a datetime in UTC; None when out of range (a corrupt time stamp)."""
    try:
        return datetime.fromtimestamp(time, UTC)
    except (OverflowError, ValueError, OSError):
        return None


class CaptureEvent(NamedTuple):
    """One decoder event (or :class:`Gap`, or :class:`Evicted`) of a capture, placed in time and connection.

    Immutable like the other values, but a named tuple rather than a frozen dataclass: one is made
    per frame, where that is three times cheaper (as for the decoder's events).
    """

    #: Capture time (seconds since the epoch) of the packet that completed the event.
    time: float
    #: Number of that packet in the file, from 1 (as Wireshark counts).
    packet: int
    flow: Flow
    direction: Direction
    #: The decoder event; its offset is the position in this direction's TCP stream.
    event: Event | Gap | Evicted
    description: EventDescription
    #: The decoder's flags (as the description has them) and the capture's.
    flags: tuple[Flag, ...]
    #: For an answer: seconds since the request it answers.
    latency: float | None = None

    @property
    def object_id(self) -> int | None:
        return self.description.object_id

    def has(self, kind: FlagKind) -> bool:
        """Whether one of the flags is of this kind."""
        return any(f.kind is kind for f in self.flags)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-able dict: the description's fields plus time, packet, flow, direction and latency."""
        d = self.description.as_dict()
        when = utc_datetime(self.time)
        out: dict[str, Any] = {
            "time": self.time,
            "timestamp": None if when is None else when.isoformat(),
            "packet": self.packet,
            "flow": str(self.flow),
            "flow_index": self.flow.index,
            "direction": self.direction.value,
        }
        out.update(d)
        out["flags"] = [str(f) for f in self.flags]
        out["latency"] = self.latency
        return out


@dataclass(slots=True)
class FlowStats:
    """What one connection carried (kept by the reader only when asked for: ``flow_stats=True``).

    Complete once the connection is closed (at the latest, at the end of the capture).
    """

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
    #: Closed early to bound memory (see :class:`CaptureLimits`).
    evicted: bool = False

    def as_dict(self) -> dict[str, Any]:
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        d["flow"] = str(self.flow)
        d["index"] = self.flow.index
        return d


@dataclass(slots=True)
class CaptureStats:
    """Counters of a :class:`~rctclient.pcap.CaptureReader`; final once the iteration is over."""

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
    #: Connections closed early to bound memory (see :class:`CaptureLimits`).
    evicted_flows: int = 0
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
    #: Requests never answered, per object ID: those of the registry, and others until
    #: MAX_OBJECT_IDS object IDs are counted here ...
    unanswered: Counter[int] = field(default_factory=Counter)
    #: ... and those of the further object IDs, together.
    unanswered_other: int = 0
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
        if self.evicted_flows:
            n = self.evicted_flows
            out.append(
                f"{n} connection{' was' if n == 1 else 's were'} closed early to bound memory "
                "(too many open at once, or too much data held; see the 'flow evicted' events)"
            )
        return out

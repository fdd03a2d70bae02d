"""rctclient.pcap under hostile captures: the state kept is bounded (CaptureLimits), and what is dropped is said.

Each test builds a capture that would make an unbounded reader grow (very many connections, a
connection holding many out-of-order segments, requests that are never answered, clocks that
jump) and asserts on counted state (open connections, bytes held, requests waiting) at every
event, and on the peak of traced memory; never on time.
"""

from __future__ import annotations

import io
import random
import tracemalloc

import pytest

from pcap_helpers import ACK, PSH, SYN, Conv, client_address, pcap_bytes, pcap_header, pcap_record, tcp_ip
from rctclient.frame import Frame, make_frame
from rctclient.pcap import (
    MAX_OBJECT_IDS,
    OTHER_OBJECTS,
    CaptureEvent,
    CaptureLimits,
    CaptureReader,
    Direction,
    Evicted,
    FlagKind,
    read_capture,
    summarize,
)
from rctclient.pcap.answers import MAX_PER_KEY, PendingRequests
from rctclient.pcap.tcp import SEGMENT_OVERHEAD
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value

DEVICE = "10.0.0.1"
T0 = 1_700_000_000.0
SOC = REGISTRY.get_by_name("battery.soc")
READ_SOC = make_frame(Command.READ, SOC.object_id)
ANSWER_SOC = make_frame(Command.RESPONSE, SOC.object_id, encode_value(SOC.response_data_type, 0.5))
#: A READ, then the start of a LONG_RESPONSE of an unknown OID promising 2,000 bytes: the decoder holds it.
HOLDING = READ_SOC + b"+\x06\x07\xd4\x12\x34\x56\x78" + bytes(1000)


def many_flows(n: int, payload: bytes = HOLDING) -> bytes:
    """A pcap of ``n`` connections from distinct clients, each a SYN and one segment of ``payload``."""
    out = [pcap_header()]
    t = T0
    for i in range(n):
        src, port = client_address(i), 1024 + i % 50000
        out.append(pcap_record(t, tcp_ip(src, DEVICE, port, 8899, 1000, 0, SYN, b"")))
        out.append(pcap_record(t + 1e-4, tcp_ip(src, DEVICE, port, 8899, 1001, 0, PSH | ACK, payload)))
        t += 2e-4
    return b"".join(out)


def read_watching(data: bytes, limits: CaptureLimits, watch: Watch) -> tuple[CaptureReader, int]:
    """Read a capture, calling ``watch`` at every event; returns the reader and the peak of traced memory."""
    with read_capture(io.BytesIO(many_flows(3))) as warm:  # caches filled before: not counted
        for _ in warm:
            pass
    tracemalloc.start()
    try:
        with read_capture(io.BytesIO(data), limits=limits) as reader:
            for ev in reader:
                watch(reader, ev)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return reader, peak


class Watch:
    """The most of ``open_flows`` and ``held_bytes`` seen at any event, and the evictions (their events)."""

    def __init__(self) -> None:
        self.open_flows = self.held_bytes = self.truncated = 0
        self.evicted: list[CaptureEvent] = []

    def __call__(self, reader: CaptureReader, ev: CaptureEvent) -> None:
        self.open_flows = max(self.open_flows, reader.open_flows)
        self.held_bytes = max(self.held_bytes, reader.held_bytes)
        self.truncated += ev.has(FlagKind.TRUNCATED)
        if isinstance(ev.event, Evicted):
            self.evicted.append(ev)


def test_open_connections_are_bounded_and_the_least_recently_active_is_evicted_and_flagged() -> None:
    n, limit = 600, 30
    watch = Watch()
    reader, peak = read_watching(many_flows(n), CaptureLimits(max_flows=limit), watch)
    evicted = watch.evicted
    assert watch.open_flows == limit and reader.stats.flows == n and reader.stats.evicted_flows == n - limit
    # the oldest go first, each when a new connection needs its place (at its SYN)
    assert [e.flow.index for e in evicted] == list(range(1, n - limit + 1))
    assert all(e.packet == 2 * (e.flow.index + limit) - 1 for e in evicted)
    first = evicted[0]
    assert len(first.flags) == 1 and first.flags[0].kind is FlagKind.FLOW_EVICTED
    assert str(first.flags[0]) == "flow evicted: 30 connections open (max_flows)"
    assert first.description.kind == "evicted" and first.as_dict()["flags"] == [str(first.flags[0])]
    assert first.direction is Direction.TO_DEVICE and first.event == Evicted(len(HOLDING), first.flags[0].detail)
    # what an evicted connection held comes out as at any close: its frame cut off, its request unanswered
    assert watch.truncated == n and sum(reader.stats.unanswered.values()) == n
    assert "closed early to bound memory" in " ".join(reader.stats.warnings())
    # about 10 kB per open connection (here with 1 kB held each) besides the reader's own: 600 open
    # would take about 5 MB
    assert peak < limit * 10_000 + 1_500_000, peak


def test_bytes_held_by_all_connections_together_are_bounded() -> None:
    limits = CaptureLimits(max_held_bytes=50_000)  # each connection holds about 1,000 bytes
    watch = Watch()
    reader, _ = read_watching(many_flows(300), limits, watch)
    assert 40_000 < watch.held_bytes <= 50_000 and watch.open_flows <= 50
    assert len(watch.evicted) == reader.stats.evicted_flows > 200
    assert "bytes held by the open connections (max_held_bytes)" in str(watch.evicted[0].flags[0])


def test_a_connection_holding_many_out_of_order_segments_is_bounded() -> None:
    """5,000 one-byte segments, each behind a hole: held until max_out_of_order, then the holes are given up."""
    limits = CaptureLimits(max_out_of_order=16 << 10)
    conv = Conv()
    conv.handshake()
    base = conv.c_next
    for i in range(5000):
        conv._add(True, base + 2 * i + 1, PSH | ACK, b"\x00", 0.0001)
    watch = Watch()
    reader, peak = read_watching(pcap_bytes(conv.packets), limits, watch)
    per_segment = 1 + SEGMENT_OVERHEAD
    assert (16 << 10) - per_segment < watch.held_bytes <= 16 << 10  # about 127 segments held at most
    assert reader.stats.gaps == 5000 and reader.stats.out_of_order == 5000
    assert reader.stats.payload_bytes == 5000 and reader.stats.gap_bytes == 5000
    assert peak < 1_000_000, peak


def test_requests_that_are_never_answered_are_bounded() -> None:
    """5,000 requests of distinct unknown object IDs on one connection: none answered."""
    ids = random.Random(1).sample(range(1 << 32), 5000)
    conv = Conv()
    conv.handshake()
    for i in range(0, len(ids), 500):
        conv.send(True, b"".join(make_frame(Command.READ, oid) for oid in ids[i : i + 500]))
    limits = CaptureLimits(max_pending_requests=1000)
    reader, peak = read_watching(pcap_bytes(conv.packets), limits, Watch())
    stats = reader.stats
    assert sum(stats.unanswered.values()) + stats.unanswered_other == 5000
    assert len(stats.unanswered) == 4096 and stats.unanswered_other == 5000 - 4096
    assert peak < 3_000_000, peak


def test_the_summary_of_very_many_object_ids_is_bounded() -> None:
    """Unknown object IDs beyond MAX_OBJECT_IDS are summarized together; the registry's always one by one."""
    ids = random.Random(2).sample(range(1 << 32), MAX_OBJECT_IDS + 100)
    conv = Conv()
    conv.handshake()
    conv.send(True, b"".join(make_frame(Command.READ, oid) for oid in ids) + READ_SOC)
    conv.send(False, ANSWER_SOC)
    with read_capture(io.BytesIO(pcap_bytes(conv.packets))) as reader:
        rows = summarize(reader, reader.stats)
    assert len(rows) == MAX_OBJECT_IDS + 2
    other, soc = rows[-1], next(r for r in rows if r.name == "battery.soc")
    assert (other.object_id, other.requests, other.unanswered) == (OTHER_OBJECTS, 100, 100)
    assert other.as_dict()["id"] == "other" and other.name == "(other object IDs)"
    assert (soc.requests, soc.answers, soc.unanswered) == (1, 1, 0)
    assert sum(r.unanswered for r in rows) == MAX_OBJECT_IDS + 100


def test_pending_requests_bounds() -> None:
    given_up: list[tuple[int, int]] = []
    pending = PendingRequests(CaptureLimits(max_pending_requests=100), lambda o, n: given_up.append((o, n)))
    for t in range(MAX_PER_KEY + 2):
        pending.request((1, None), float(t))
    assert len(pending) == MAX_PER_KEY and given_up == [(1, 1), (1, 1)]
    given_up.clear()
    pending = PendingRequests(
        CaptureLimits(max_pending_requests=4, answer_timeout=10.0), lambda o, n: given_up.append((o, n))
    )
    for oid in (1, 1, 2, 3):
        pending.request((oid, None), 0.0)
    pending.request((4, None), 1.0)  # one too many: the key that waited longest (1) goes, both its requests
    assert len(pending) == 3 and given_up == [(1, 2)]
    assert pending.answer((1, None), 2.0) is None
    assert pending.answer((2, None), 2.5) == 2.5
    assert pending.answer((3, None), 20.0) is None and given_up[-1] == (3, 1)  # waited past answer_timeout
    assert pending.answer((4, None), 0.5) == 0.0  # a clock that went back: never negative
    assert len(pending) == 0
    for oid in range(10):  # READ_PERIODICALLY keys are bounded too
        pending.request((oid, None), 30.0, periodic=True)
        pending.answer((oid, None), 30.0)
    assert [pending.is_periodic((oid, None)) for oid in range(10)] == [False] * 6 + [True] * 4
    pending.request((7, 9), 31.0)
    pending.close()
    assert given_up[-1] == (7, 1) and len(pending) == 0


def test_timestamps_that_jump_forward_and_back() -> None:
    """A clock that jumps a year ahead and back: connections idle by the clock are closed (their requests
    unanswered), nothing crashes, no latency is negative, every request is counted once."""
    a = Conv(time=T0)
    b = Conv(client="10.0.0.3", time=T0 + 365 * 86400)  # a year later
    for conv in (a, b):
        conv.handshake()
        conv.send(True, READ_SOC)
    a.send(False, ANSWER_SOC)  # back: at T0
    b.send(False, ANSWER_SOC)  # forward again
    c = Conv(client="10.0.0.4", time=T0 - 3600)  # an hour before the start
    c.handshake()
    c.send(True, READ_SOC)
    c.send(False, ANSWER_SOC, dt=-1.0)  # answered "before" the request
    packets = a.packets[:4] + b.packets[:4] + a.packets[4:] + b.packets[4:] + c.packets
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        events = list(reader)
    frames = [(e.flow.index, e.event.command.name, e.latency) for e in events if isinstance(e.event, Frame)]
    # a's request waited "a year" when b's packets came: a was closed as idle; its answer opens flow 3
    assert frames == [
        (1, "READ", None),
        (2, "READ", None),
        (3, "RESPONSE", None),
        (2, "RESPONSE", pytest.approx(0.001, abs=1e-5)),
        (4, "READ", None),
        (4, "RESPONSE", 0.0),
    ]
    assert [e.has(FlagKind.UNSOLICITED_ANSWER) for e in events if isinstance(e.event, Frame)] == [
        False,
        False,
        True,
        False,
        False,
        False,
    ]
    assert sum(reader.stats.unanswered.values()) == 1 and reader.stats.evicted_flows == 0


@pytest.mark.parametrize("name", ["max_flows", "max_held_bytes", "answer_timeout", "idle_timeout", "max_packet"])
@pytest.mark.parametrize("value", [0, -1, float("nan")])
def test_limits_must_be_positive(name: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"CaptureLimits.{name} must be positive"):
        CaptureLimits(**{name: value})  # type: ignore[arg-type] # floats for the int fields too: checked all the same

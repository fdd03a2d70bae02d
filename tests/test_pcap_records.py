"""rctclient.pcap.records: pcap and pcapng files read with struct, against files written by hand.

dpkt's writers (tests/test_pcap.py) cover the common layout; these cover what they cannot write:
big-endian and several sections, time stamp resolutions and offsets, the simple and the obsolete
packet block, blocks to skip, corrupt and enormous length fields.
"""

from __future__ import annotations

import io
import os
import struct
import threading
import tracemalloc
from collections.abc import Callable

import pytest

from pcap_helpers import (
    ETHERNET,
    RAW,
    SLL2,
    Conv,
    link,
    ng_block,
    ng_epb,
    ng_idb,
    ng_shb,
    ng_spb,
    pcap_bytes,
    pcap_header,
    pcap_record,
    pcapng_bytes,
)
from rctclient.frame import Frame, make_frame
from rctclient.pcap import CaptureError, CaptureLimits, CaptureStats, Direction, read_capture
from rctclient.pcap.records import open_records
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value

SOC = REGISTRY.get_by_name("battery.soc")
REQ = make_frame(Command.READ, SOC.object_id)
RESP = make_frame(Command.RESPONSE, SOC.object_id, encode_value(SOC.response_data_type, 0.5))


def conversation() -> Conv:
    conv = Conv()
    conv.handshake()
    conv.send(True, REQ)
    conv.send(False, RESP)
    conv.close()
    return conv


def records(data: bytes, max_packet: int = 1 << 20) -> tuple[list[tuple[float, int, bytes]], CaptureStats]:
    stats = CaptureStats()
    return list(open_records(io.BytesIO(data), stats, max_packet)), stats


def decoded(data: bytes) -> list[tuple[Direction, bytes]]:
    with read_capture(io.BytesIO(data)) as reader:
        return [(e.direction, e.event.data) for e in reader if isinstance(e.event, Frame)]


EXPECTED = [(Direction.TO_DEVICE, b""), (Direction.FROM_DEVICE, encode_value(SOC.response_data_type, 0.5))]


def test_sections_of_both_byte_orders_each_with_its_own_interfaces_and_time_stamp_resolution() -> None:
    p = conversation().packets
    t0 = 1_700_000_000
    data = b"".join(
        [
            # section 1, big-endian: interface 0 in nanoseconds (10**-9), interface 1 in 2**-20 s with an offset
            ng_shb(little=False),
            ng_idb(ETHERNET, tsresol=9, little=False),
            ng_idb(RAW, tsresol=0x80 | 20, tsoffset=t0, little=False),
            *(ng_epb(0, round(t * 1e9), link(ETHERNET, ip), little=False) for t, ip in p[:3]),
            ng_epb(1, round((p[3][0] - t0) * 2**20), p[3][1], little=False),
            # section 2, little-endian: its interfaces start from 0 again; the obsolete packet block
            ng_shb(),
            ng_idb(SLL2),
            *(ng_epb(0, round(t * 1e6), link(SLL2, ip), obsolete=True) for t, ip in p[4:]),
        ]
    )
    recs, stats = records(data)
    assert [(link_type, len(d)) for _, link_type, d in recs] == [
        *((ETHERNET, 14 + len(ip)) for _, ip in p[:3]),
        (RAW, len(p[3][1])),
        *((SLL2, 20 + len(ip)) for _, ip in p[4:]),
    ]
    assert [t for t, _, _ in recs] == pytest.approx([t for t, _ in p], abs=2e-6)
    assert stats.link_type == ETHERNET and stats.error is None and not stats.truncated
    assert decoded(data) == EXPECTED


def test_nanosecond_time_stamps_keep_their_precision() -> None:
    data = ng_shb() + ng_idb(RAW, tsresol=9) + ng_epb(0, 1_700_000_000_123_456_789, b"x")
    ((t, _, _),) = records(data)[0]
    assert t == 1_700_000_000_123_456_789 / 10**9  # correctly rounded: no 1e-9 multiplied in


def test_simple_packet_blocks_take_the_interface_snap_length_and_the_previous_time() -> None:
    p = conversation().packets
    frame = link(ETHERNET, p[3][1])
    data = ng_shb() + ng_idb(ETHERNET, snaplen=40) + ng_epb(0, 5_000_000, link(ETHERNET, p[0][1])) + ng_spb(frame)
    (first, second), stats = records(data)
    assert second == (5.0, ETHERNET, frame[:40]) and first[0] == 5.0
    assert stats.error is None


def test_blocks_to_skip_are_not_held_whatever_their_size() -> None:
    p = conversation().packets
    big_custom = ng_block(0x40000BAD, struct.pack("<I", 32473) + bytes(8 << 20))  # 8 MB, larger than max_packet
    name_resolution = ng_block(4, bytes(4))
    statistics = ng_block(5, bytes(12))
    body = [ng_epb(0, round(t * 1e6), link(ETHERNET, ip)) for t, ip in p]
    data = b"".join([ng_shb(), big_custom, ng_idb(ETHERNET), name_resolution, *body[:4], statistics, *body[4:]])
    source = io.BytesIO(data)
    tracemalloc.start()
    try:
        with read_capture(source) as reader:
            found = [(e.direction, e.event.data) for e in reader if isinstance(e.event, Frame)]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert found == EXPECTED and reader.stats.error is None
    assert peak < 1 << 20  # the 8 MB block was read in 64 kB chunks and dropped


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-4] + b"\x99\x00\x00\x00", "lengths before and after it differ"),
        (lambda b: b[:4] + struct.pack("<I", 0xFFFFFFF0) + b[8:], "length 4294967280"),
        (lambda b: b[:4] + struct.pack("<I", 30) + b[8:], "length 30"),  # not a multiple of 4
        (lambda b: b[:8] + struct.pack("<I", 7) + b[12:], "undeclared interface 7"),
        (lambda b: b[:20] + struct.pack("<I", 0x7FFFFFF0) + b[24:], "packet length 2147483632"),
    ],
)
def test_corrupt_packet_blocks_stop_reading_with_an_error(damage: Callable[[bytes], bytes], message: str) -> None:
    p = conversation().packets
    good = [ng_epb(0, round(t * 1e6), link(ETHERNET, ip)) for t, ip in p]
    bad = damage(good[4])
    data = b"".join([ng_shb(), ng_idb(ETHERNET), *good[:4], bad, *good[5:]])
    recs, stats = records(data)
    assert len(recs) == 4 and stats.error is not None and message in stats.error
    assert str(len(b"".join([ng_shb(), ng_idb(ETHERNET), *good[:4]]))) in stats.error  # where


def test_pcapng_structure_errors() -> None:
    epb = ng_epb(0, 0, b"x")
    assert "before any interface" in (records(ng_shb() + ng_spb(b"x"))[1].error or "")
    assert "undeclared interface 0" in (records(ng_shb() + epb)[1].error or "")
    second = records(ng_shb() + ng_idb(RAW) + epb + ng_shb(major=2) + ng_idb(RAW) + epb)
    assert len(second[0]) == 1 and "unsupported version 2" in (second[1].error or "")
    with pytest.raises(CaptureError, match=r"pcapng version 2\.0 is not supported"):
        records(ng_shb(major=2))
    with pytest.raises(CaptureError, match="header cut short"):
        records(ng_shb()[:14])
    with pytest.raises(CaptureError, match="bad byte-order magic"):
        records(ng_shb()[:8] + b"abcd" + ng_shb()[12:])


def test_pcapng_cut_anywhere_yields_the_packets_before_and_says_so() -> None:
    p = conversation().packets
    blocks = [ng_shb(), ng_idb(ETHERNET), *(ng_epb(0, round(t * 1e6), link(ETHERNET, ip)) for t, ip in p)]
    data = b"".join(blocks)
    full = len(records(data)[0])
    boundaries = {sum(map(len, blocks[:i])) for i in range(len(blocks))}
    for cut in range(len(blocks[0]) + len(blocks[1]) + 1, len(data)):
        if cut in boundaries:
            continue
        recs, stats = records(data[:cut])
        assert stats.truncated and stats.error is None and len(recs) < full, cut


def test_enormous_snap_lengths_and_record_lengths() -> None:
    """A snap length field of 4 GB is fine (it is not used); a record or block promising more than
    ``max_packet`` is corruption: reading stops there, without allocating what it promises."""
    p = conversation().packets
    body = b"".join(pcap_record(t, ip) for t, ip in p)
    assert decoded(pcap_header(snaplen=0xFFFFFFFF) + body) == EXPECTED
    ng = ng_shb() + ng_idb(ETHERNET, snaplen=0xFFFFFFFF)
    ng += b"".join(ng_epb(0, round(t * 1e6), link(ETHERNET, ip)) for t, ip in p)
    assert decoded(ng) == EXPECTED
    huge_record = struct.pack("<IIII", 1, 0, 0xFFFFFFF0, 0xFFFFFFF0) + bytes(1000)
    huge_block = struct.pack("<II", 6, 0xFFFFFFF0) + bytes(1000)
    for data in (pcap_header() + body + huge_record, ng + huge_block):
        tracemalloc.start()
        try:
            recs, stats = records(data)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert len(recs) == len(p) and stats.error is not None and "corrupt" in stats.error and peak < 256 << 10


def test_max_packet_is_a_parameter() -> None:
    p = conversation().packets
    data = pcap_bytes(p)
    longest = max(len(link(ETHERNET, ip)) for _, ip in p)
    assert records(data, max_packet=longest)[1].error is None
    recs, stats = records(data, max_packet=longest - 1)
    assert stats.error is not None and recs == records(data)[0][: len(recs)]
    with read_capture(io.BytesIO(data), limits=CaptureLimits(max_packet=60)) as reader:
        list(reader)
    assert reader.stats.error is not None and "corrupt pcap record" in reader.stats.error


@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_a_pipe_is_decoded_as_it_comes_not_when_it_ends(fmt: str) -> None:
    """``tcpdump -U -w - | rctclient read-pcap -`` (and dumpcap's pcapng): no waiting for a full read buffer."""
    p = conversation().packets
    data = pcap_bytes(p) if fmt == "pcap" else pcapng_bytes([(t, ip, 0) for t, ip in p], [ETHERNET])
    r, w = os.pipe()
    with os.fdopen(r, "rb") as pipe, os.fdopen(w, "wb", buffering=0) as writer:
        writer.write(data[: len(data) - 120])  # up to the answer, and the writer stays open
        it = iter(read_capture(pipe))
        timer = threading.Timer(10, writer.close)  # were the reader to wait for more, end the pipe: the test fails
        timer.start()
        first = next(it)
        assert timer.is_alive()
        timer.cancel()
        assert isinstance(first.event, Frame) and first.direction is Direction.TO_DEVICE
        writer.write(data[len(data) - 120 :])
        writer.close()
        assert [(e.direction, e.event.data) for e in [first, *it] if isinstance(e.event, Frame)] == EXPECTED

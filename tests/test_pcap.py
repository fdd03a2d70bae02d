"""rctclient.pcap and ``rctclient read-pcap``: captures written from known byte streams decode back to them."""

from __future__ import annotations

import io
import json
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from pcap_helpers import (
    ACK,
    ETHERNET,
    FIN,
    LOOP,
    NULL,
    PSH,
    RAW,
    SLL,
    SLL2,
    SYN,
    Conv,
    link,
    pcap_bytes,
    pcap_bytes_cut,
    pcap_frames,
    pcapng_bytes,
)
from rctclient.cli import cli
from rctclient.cli._common import EXIT_BAD_INPUT
from rctclient.frame import CRCMismatch, Event, Frame, Garbage, GarbageReason, make_frame
from rctclient.pcap import CaptureError, CaptureEvent, Direction, Flag, FlagKind, Gap, read_capture, summarize
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value

SOC = REGISTRY.get_by_name("battery.soc")
NAME = REGISTRY.get_by_name("android_description")
POWER = REGISTRY.get_by_name("g_sync.p_ac_load_sum_lp")


def read(soc: float) -> tuple[bytes, bytes]:
    """A READ of battery.soc and its answer."""
    return make_frame(Command.READ, SOC.object_id), make_frame(
        Command.RESPONSE, SOC.object_id, encode_value(SOC.response_data_type, soc)
    )


def events(data: bytes, port: int = 8899) -> list[CaptureEvent]:
    with read_capture(io.BytesIO(data), port) as reader:
        return list(reader)


def frames(evs: list[CaptureEvent]) -> list[tuple[str, str, int, bytes]]:
    return [
        (e.direction.value, e.event.command.name, e.event.id, e.event.data) for e in evs if isinstance(e.event, Frame)
    ]


def simple_conversation(chunks_req: list[int] | None = None, chunks_resp: list[int] | None = None) -> Conv:
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req, chunks=chunks_req)
    conv.send(False, resp, chunks=chunks_resp)
    conv.close()
    return conv


EXPECTED = [
    ("to device", "READ", SOC.object_id, b""),
    ("from device", "RESPONSE", SOC.object_id, encode_value(SOC.response_data_type, 0.5)),
]


# -- basics ------------------------------------------------------------------------------------------


def test_request_and_answer_with_time_packet_flow_and_latency() -> None:
    conv = simple_conversation()
    evs = events(pcap_bytes(conv.packets))
    assert frames(evs) == EXPECTED
    req, resp = evs
    assert req.packet == 4 and resp.packet == 5  # handshake is packets 1-3
    assert req.time == pytest.approx(conv.packets[3][0]) and resp.time == pytest.approx(conv.packets[4][0])
    assert resp.latency == pytest.approx(0.001, abs=1e-6) and req.latency is None
    assert str(req.flow) == "10.0.0.2:50000 > 10.0.0.1:8899" and req.flow is resp.flow
    assert resp.description.text == "0.5 (50.0 %)" and resp.flags == ()
    d = resp.as_dict()
    assert d["direction"] == "from device" and d["name"] == "battery.soc" and d["value"] == 0.5
    json.dumps(d)


@pytest.mark.parametrize("linktype", [ETHERNET, NULL, LOOP, RAW, SLL, SLL2])
@pytest.mark.parametrize("v6", [False, True])
def test_link_types_and_ip_versions(linktype: int, v6: bool) -> None:
    conv = Conv(client="fd00::2", device="fd00::1") if v6 else Conv()
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req)
    conv.send(False, resp)
    evs = events(pcap_bytes(conv.packets, linktype))
    assert frames(evs) == EXPECTED
    if v6:
        assert str(evs[0].flow) == "[fd00::2]:50000 > [fd00::1]:8899"


def test_pcapng_with_two_interfaces_of_different_link_types_and_nanosecond_pcap() -> None:
    conv = simple_conversation()
    ng = pcapng_bytes([(t, ip, i % 2) for i, (t, ip) in enumerate(conv.packets)], [ETHERNET, SLL2])
    evs = events(ng)
    assert frames(evs) == EXPECTED
    assert evs[1].time == pytest.approx(conv.packets[4][0], abs=1e-6)
    nano = events(pcap_bytes(conv.packets, nano=True))
    assert frames(nano) == EXPECTED and isinstance(nano[0].time, float)


# -- reassembly --------------------------------------------------------------------------------------


def test_frames_split_across_segments_byte_by_byte() -> None:
    req, resp = read(0.5)
    conv = simple_conversation([1] * len(req), [2] * (len(resp) // 2) + [1] * (len(resp) % 2))
    evs = events(pcap_bytes(conv.packets))
    assert frames(evs) == EXPECTED
    # the answer completes in its last segment
    assert evs[1].packet == 3 + len(req) + (len(resp) + 1) // 2


def test_several_frames_per_segment_and_keepalive_and_extension() -> None:
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req + req + b"+<\xe1" + req)
    conv.send(False, b"\x00" + resp + b"AT+\r" + resp + resp)
    evs = events(pcap_bytes(conv.packets))
    kinds = [(e.direction.value, e.description.kind) for e in evs]
    assert kinds == [("to device", "frame")] * 2 + [("to device", "extension"), ("to device", "frame")] + [
        ("from device", "frame"),
        ("from device", "keep-alive"),
        ("from device", "frame"),
        ("from device", "frame"),
    ]
    assert evs[2].flags == (Flag(FlagKind.EXTENSION),) and evs[5].has(FlagKind.KEEP_ALIVE)
    # three requests, three answers: each answers one request, none unsolicited
    assert not any(e.has(FlagKind.UNSOLICITED_ANSWER) for e in evs)
    assert [e.latency is not None for e in evs if e.direction is Direction.FROM_DEVICE and e.description.command] == [
        True,
        True,
        True,
    ]
    assert [e.event.offset for e in evs if e.direction is Direction.TO_DEVICE] == [0, 9, 18, 21]


def _shuffle_data_packets(conv: Conv, seed: int) -> list[tuple[float, bytes]]:
    """Reorder the data packets after the handshake (the order in the file; times stay with their packets)."""
    head, body, tail = conv.packets[:3], conv.packets[3:-3], conv.packets[-3:]
    random.Random(seed).shuffle(body)
    return head + body + tail


def test_out_of_order_segments() -> None:
    req, resp = read(0.5)
    conv = simple_conversation([3, 3, len(req) - 6], [4, 4, len(resp) - 8])
    packets = [*conv.packets[:3], conv.packets[5], conv.packets[3], conv.packets[4], *conv.packets[6:]]
    packets = [*packets[:6], packets[8], packets[7], packets[6], *packets[9:]]
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        evs = list(reader)
    assert frames(evs) == EXPECTED
    assert reader.stats.out_of_order >= 2 and reader.stats.gaps == 0 and reader.stats.retransmitted_bytes == 0


def test_retransmitted_and_overlapping_segments_are_dropped() -> None:
    req, resp = read(0.5)
    conv = simple_conversation([5, len(req) - 5], [6, len(resp) - 6])
    p = conv.packets
    # exact duplicate of the first request segment, and one resending the whole answer after its first part
    full = Conv(client_isn=conv.client_isn, device_isn=conv.device_isn)
    full.c_next = conv.client_isn + 1 + len(req)
    overlap = full._add(False, conv.device_isn + 1, 0x18, resp, 0.0)
    packets = [*p[:4], p[3], p[4], p[5], overlap, p[6], *p[7:]]
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        evs = list(reader)
    assert frames(evs) == EXPECTED
    assert reader.stats.retransmitted_bytes == 5 + 6 + (len(resp) - 6)


def test_escapes_split_between_escape_and_escaped_byte() -> None:
    # 43.0 is 0x422C0000 and 2.0 0x40000000; find a value whose encoding holds a '+' (0x2B) or '-' (0x2D)
    payload = encode_value(POWER.response_data_type, 42.75)  # 0x422B0000
    assert b"+" in payload
    answer = make_frame(Command.RESPONSE, POWER.object_id, payload)
    k = answer.index(b"-+")
    conv = Conv()
    conv.handshake()
    conv.send(True, make_frame(Command.READ, POWER.object_id))
    conv.send(False, answer, chunks=[k + 1, len(answer) - k - 1])
    evs = events(pcap_bytes(conv.packets))
    assert frames(evs)[1] == ("from device", "RESPONSE", POWER.object_id, payload)
    assert isinstance(evs[1].event, Frame) and evs[1].event.size == len(answer)


def test_crc_error_is_flagged_and_decoding_goes_on() -> None:
    req, resp = read(0.5)
    bad = bytearray(resp)
    bad[-1] ^= 0xFF
    conv = Conv()
    conv.handshake()
    conv.send(True, req + req)
    conv.send(False, bytes(bad) + resp)
    evs = events(pcap_bytes(conv.packets))
    assert isinstance(evs[2].event, CRCMismatch)
    assert evs[2].description.kind == "crc-mismatch" and evs[2].flags[0].kind is FlagKind.CRC_MISMATCH
    assert str(evs[2].flags[0]).startswith("crc mismatch: received 0x")
    assert isinstance(evs[3].event, Frame) and evs[3].latency is not None and evs[3].flags == ()


def test_two_clients_interleaved_and_unsolicited_answers() -> None:
    a = Conv(client="10.0.0.2", client_port=40000)
    b = Conv(client="10.0.0.3", client_port=40001, client_isn=5, device_isn=4294967000)  # wraps around 2**32
    a.handshake()
    b.handshake()
    req, resp = read(0.5)
    _, other = read(0.25)
    b.send(True, req)
    a.send(False, resp)  # unsolicited: a asked for nothing
    for _ in range(60):
        a.send(True, req)
        b.send(False, other, chunks=[7, len(other) - 7])
        a.send(False, resp)
        b.send(True, req)
    packets = sorted(a.packets + b.packets, key=lambda p: p[0])
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        evs = list(reader)
        stats = reader.stats
    by_flow: dict[int, list[CaptureEvent]] = {e.flow.index: [] for e in evs}
    for e in evs:
        by_flow[e.flow.index].append(e)
    assert sorted(by_flow) == [1, 2] and stats.flows == 2
    flow_a = next(f for f, es in by_flow.items() if es[0].flow.client == "10.0.0.2")
    evs_a, evs_b = by_flow[flow_a], by_flow[3 - flow_a]
    assert len(frames(evs_a)) == 121 and len(frames(evs_b)) == 121
    assert evs_a[0].flags == (Flag(FlagKind.UNSOLICITED_ANSWER),)
    assert not any(e.has(FlagKind.UNSOLICITED_ANSWER) for e in evs_a[1:] + evs_b)
    assert {d for direction, _, _, d in frames(evs_b) if direction == "from device"} == {
        encode_value(SOC.response_data_type, 0.25)
    }
    assert stats.gaps == 0 and stats.unsolicited == 1
    assert sum(stats.unanswered.values()) == 1  # b's last request
    (soc,) = summarize(evs, stats)
    assert (soc.requests, soc.answers, soc.unsolicited, soc.unanswered) == (121, 121, 1, 1)
    assert soc.latency_min is not None and soc.latency_min > 0


def test_port_reuse_after_close_is_a_new_connection_and_rst_closes() -> None:
    first = simple_conversation()
    second = Conv(time=first.time + 1, client_isn=99999)
    second.handshake()
    req, resp = read(0.5)
    second.send(True, req)
    second.send(False, resp[:5])
    second._add(False, second.d_next + 5, 0x04 | 0x10, b"", 0.001)  # RST with a frame cut off
    evs = events(pcap_bytes(first.packets + second.packets))
    assert [e.flow.index for e in evs] == [1, 1, 2, 2]
    assert isinstance(evs[3].event, Garbage) and evs[3].event.reason is GarbageReason.TRUNCATED


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.floats(0, 1, allow_nan=False, width=32), min_size=1, max_size=8),
    cuts=st.lists(st.integers(1, 40), min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
    isn=st.integers(0, 2**32 - 1),
)
def test_any_segmentation_order_and_duplication_decodes_the_same(
    values: list[float], cuts: list[int], seed: int, isn: int
) -> None:
    rnd = random.Random(seed)
    stream = b"".join(
        make_frame(Command.RESPONSE, SOC.object_id, encode_value(SOC.response_data_type, v)) for v in values
    )
    sizes = []
    left = len(stream)
    for c in cuts * (1 + len(stream) // sum(cuts)):
        if left <= 0:
            break
        sizes.append(min(c, left))
        left -= sizes[-1]
    conv = Conv(device_isn=isn)
    conv.handshake()
    conv.send(False, stream, chunks=sizes)
    body = conv.packets[3:]
    # a local reordering (as the network does it) plus duplicates
    for _ in range(len(body)):
        i = rnd.randrange(len(body))
        j = min(len(body) - 1, i + rnd.randrange(4))
        body[i], body[j] = body[j], body[i]
    body += [body[rnd.randrange(len(body))] for _ in range(rnd.randrange(4))]
    rnd.shuffle(body[-3:])
    evs = events(pcap_bytes(conv.packets[:3] + body))
    expected = [encode_value(SOC.response_data_type, v) for v in values]
    assert [e.event.data for e in evs if isinstance(e.event, Frame)] == expected
    assert all(isinstance(e.event, Frame) for e in evs)


# -- holes in the capture ----------------------------------------------------------------------------


def test_missing_segment_acknowledged_by_the_peer_is_a_gap() -> None:
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    indexes = []
    for _ in range(3):
        conv.send(True, req)
        indexes += conv.send(False, resp, chunks=[6, len(resp) - 6])
    conv.send(True, req)  # acknowledges everything the device sent
    lost = indexes[2]  # the first part of the second answer
    packets = [p for i, p in enumerate(conv.packets) if i != lost]
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        evs = list(reader)
    from_device = [e for e in evs if e.direction is Direction.FROM_DEVICE]
    kinds = [e.description.kind for e in from_device]
    assert kinds == ["frame", "gap", "frame"]  # what is left of the cut answer has no start token: noise
    gap = from_device[1].event
    assert isinstance(gap, Gap) and gap.offset == len(resp) and gap.size == 6
    assert from_device[1].flags == (Flag(FlagKind.GAP, "6 bytes"),) and str(from_device[1].flags[0]) == "gap: 6 bytes"
    assert from_device[2].event.offset == 2 * len(resp) and from_device[2].latency is not None
    assert reader.stats.gaps == 1 and reader.stats.gap_bytes == 6
    assert "gaps" in " ".join(reader.stats.warnings())


def test_snaplen_cut_packets_are_gaps() -> None:
    conv = simple_conversation()
    # Ethernet 14 + IP 20 + TCP 20: keep 4 payload bytes of each packet
    data = pcap_bytes_cut(conv.packets, 14 + 20 + 20 + 4)
    with read_capture(io.BytesIO(data)) as reader:
        evs = list(reader)
    assert not frames(evs)
    assert reader.stats.cut_packets == 2 and reader.stats.gaps == 2
    # each frame is cut off where the gap starts
    assert [e.description.kind for e in evs] == ["garbage", "gap", "garbage", "gap"]
    assert (
        isinstance(evs[0].event, Garbage)
        and evs[0].event.data == read(0.5)[0][:4]
        and evs[1].event == Gap(4, len(read(0.5)[0]) - 4)
    )


# -- bad and cut-off files ---------------------------------------------------------------------------


def test_file_cut_inside_the_last_packet_yields_what_came_before() -> None:
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    for _ in range(3):
        conv.send(True, req)
        conv.send(False, resp)
    data = pcap_bytes(conv.packets)
    for cut in (len(data) - 5, len(data) - 16 - 14 - 30):  # inside the last packet, inside its record header
        with read_capture(io.BytesIO(data[:cut])) as reader:
            evs = list(reader)
        assert len(frames(evs)) == 5
        assert reader.stats.truncated or reader.stats.cut_packets
        assert reader.stats.warnings()
    ng = pcapng_bytes([(t, ip, 0) for t, ip in conv.packets], [ETHERNET])
    with read_capture(io.BytesIO(ng[:-7])) as reader:
        assert len(frames(list(reader))) == 5
    assert reader.stats.truncated


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"GET / HTTP/1.1\r\n", "not a pcap or pcapng file"),
        (b"\xd4\xc3\xb2\xa1\x02\x00", "header cut short"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00", "header cut short"),
        (b"\x0a\x0d\x0d\x0a\x1c\x00\x00\x00\x00\x00\x00\x00", "bad byte-order magic"),
    ],
)
def test_bad_files_raise_capture_error(data: bytes, message: str) -> None:
    with pytest.raises(CaptureError, match=message):
        read_capture(io.BytesIO(data))


def test_unsupported_link_type() -> None:
    conv = simple_conversation()
    with pytest.raises(CaptureError, match=r"unsupported link type 105 \(IEEE 802.11\)"):
        read_capture(io.BytesIO(pcap_bytes(conv.packets, 105)))
    ng = pcapng_bytes([(t, ip, 0) for t, ip in conv.packets], [127])
    reader = read_capture(io.BytesIO(ng))
    with pytest.raises(CaptureError, match="unsupported link type 127"):
        list(reader)


# -- the command line --------------------------------------------------------------------------------


@pytest.fixture
def capture_file(tmp_path: Path) -> Path:
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req)
    conv.send(False, resp)
    conv.send(True, make_frame(Command.READ, NAME.object_id))
    conv.send(False, make_frame(Command.RESPONSE, NAME.object_id, b"inverter"))
    conv.send(False, resp)
    path = tmp_path / "c.pcap"
    path.write_bytes(pcap_bytes(conv.packets))
    return path


def test_cli_table(capture_file: Path) -> None:
    result = CliRunner().invoke(cli, ["read-pcap", str(capture_file)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["TIME", "(UTC)", "FLOW"] and len(lines) == 6
    assert "10.0.0.2:50000 > 10.0.0.1:8899" in lines[1] and "to device" in lines[1] and "battery.soc" in lines[1]
    assert "from device" in lines[2] and "0.5 (50.0 %)" in lines[2] and "after 1.0 ms" in lines[2]
    assert "'inverter'" in lines[4]
    assert "unsolicited answer" in lines[5]


def test_cli_json_name_filter_and_stdin(capture_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["read-pcap", "--json", "--name", "battery.*", "-"], input=capture_file.read_bytes())
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [(r["direction"], r["command"], r["name"], r["value"]) for r in rows] == [
        ("to device", "READ", "battery.soc", None),
        ("from device", "RESPONSE", "battery.soc", 0.5),
        ("from device", "RESPONSE", "battery.soc", 0.5),
    ]
    assert rows[2]["flags"] == ["unsolicited answer"] and rows[1]["latency"] == pytest.approx(0.001, abs=1e-6)
    result = runner.invoke(cli, ["read-pcap", "--json", "--name", "no_such_thing*", str(capture_file)])
    assert result.exit_code == 3 and "no OID name matches" in result.output


def test_cli_summary(capture_file: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["read-pcap", "--summary", "--json", str(capture_file)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    soc = next(o for o in summary["objects"] if o["name"] == "battery.soc")
    assert (soc["requests"], soc["answers"], soc["unsolicited"]) == (1, 2, 1)
    assert soc["latency_avg_ms"] == pytest.approx(1.0)
    assert summary["totals"]["frames"] == 5 and summary["flows"][0]["frames"] == 5
    table = runner.invoke(cli, ["read-pcap", "--summary", "--name", "android_description", str(capture_file)])
    assert table.exit_code == 0 and "android_description" in table.stdout and "battery.soc" not in table.stdout


def test_cli_wrong_port_hints_at_the_ports_seen(capture_file: Path) -> None:
    result = CliRunner().invoke(cli, ["read-pcap", "--port", "502", str(capture_file)])
    assert result.exit_code == 0 and result.stdout == ""
    assert "no TCP traffic on port 502" in result.stderr and "8899" in result.stderr


@pytest.mark.parametrize(
    "data", [b"", b"hello, world", b"\xd4\xc3\xb2\xa1\x02\x00\x04\x00", pcap_bytes([], linktype=105)]
)
def test_cli_bad_files_one_line_and_exit_code(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bad.pcap"
    path.write_bytes(data)
    result = CliRunner().invoke(cli, ["read-pcap", str(path)])
    assert result.exit_code == EXIT_BAD_INPUT
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1 and result.stderr.startswith("Error: ")
    missing = CliRunner().invoke(cli, ["read-pcap", str(tmp_path / "nope.pcap")])
    assert missing.exit_code == EXIT_BAD_INPUT and "No such file" in missing.stderr


def test_cli_truncated_capture_warns_and_succeeds(tmp_path: Path, capture_file: Path) -> None:
    path = tmp_path / "cut.pcap"
    path.write_bytes(capture_file.read_bytes()[:-3])
    result = CliRunner().invoke(cli, ["read-pcap", str(path)])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 7  # header, the first four frames, the cut one, the gap
    assert "truncated" in lines[5] and "gap: 3 bytes" in lines[6]
    assert result.stderr.startswith("warning: ")


def test_reading_needs_no_dpkt(capture_file: Path, tmp_path: Path) -> None:
    """pcap and pcapng are read with the standard library: dpkt (used by these tests to write files) is not imported."""
    ng = tmp_path / "c.pcapng"
    ng.write_bytes(pcapng_bytes([(t, ip, 0) for t, ip in simple_conversation().packets], [ETHERNET]))
    code = (
        "import sys; sys.modules['dpkt'] = None; from rctclient.pcap import read_capture; "
        f"print([len(list(read_capture(p))) for p in ({str(capture_file)!r}, {str(ng)!r})])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False)
    assert (out.returncode, out.stdout, out.stderr) == (0, "[5, 2]\n", "")


# -- review: headers, TCP corner cases, files ----------------------------------------------------------


def _noisy_events(data: bytes) -> list[CaptureEvent]:
    with read_capture(io.BytesIO(data), report_noise=True) as reader:
        return list(reader)


TIMESTAMPS = b"\x01\x01\x08\x0a" + bytes(8)  # NOP NOP timestamps: the usual 12 bytes of options


@pytest.mark.parametrize("linktype", [ETHERNET, SLL, RAW])
def test_tcp_options_and_ipv4_header_options(linktype: int) -> None:
    conv = Conv(options={"tcp_options": TIMESTAMPS, "ip_options": b"\x94\x04\x00\x00"})  # router alert: IHL 6
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req)
    conv.send(False, resp, chunks=[7, len(resp) - 7])
    assert frames(_noisy_events(pcap_bytes(conv.packets, linktype))) == EXPECTED


def test_ipv6_extension_headers() -> None:
    hop_by_hop = b"\x00" + b"\x01\x04" + bytes(4)  # length 0 (8 bytes), PadN
    routing = b"\x02\x00\x00" + bytes(4) + bytes(16)  # length 2 (24 bytes): type 0, no segments left
    destination = b"\x00" + b"\x01\x04" + bytes(4)
    conv = Conv(
        client="fd00::2", device="fd00::1", options={"ext_headers": ((0, hop_by_hop), (43, routing), (60, destination))}
    )
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req)
    conv.send(False, resp)
    with read_capture(io.BytesIO(pcap_bytes(conv.packets)), report_noise=True) as reader:
        assert frames(list(reader)) == EXPECTED
    assert reader.stats.gaps == reader.stats.cut_packets == reader.stats.garbage_bytes == 0


def test_vlan_tags() -> None:
    conv = simple_conversation()
    tagged = []
    for t, ip in conv.packets:
        frame = link(ETHERNET, ip)
        tagged.append((t, frame[:12] + b"\x88\xa8\x00\x05" + b"\x81\x00\x00\x07" + frame[12:]))  # QinQ
    assert frames(events(pcap_frames(tagged))) == EXPECTED


def test_ethernet_padding_is_not_payload() -> None:
    """Frames shorter than 60 bytes are padded by the sender: a keep-alive of 1 byte comes with 5 zeros."""
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req)
    conv.send(False, resp)
    conv._add(True, conv.c_next - 1, ACK, req[-1:], 0.5)  # a keep-alive with 1 byte of old data
    conv.send(True, b"AT+\r")  # 4 bytes: padded too
    conv.send(True, req)
    padded = [(t, f + bytes(max(0, 60 - len(f)))) for t, f in ((t, link(ETHERNET, ip)) for t, ip in conv.packets)]
    with read_capture(io.BytesIO(pcap_frames(padded)), report_noise=True) as reader:
        evs = list(reader)
    assert [e.description.kind for e in evs] == ["frame", "frame", "keep-alive", "frame"]
    assert reader.stats.garbage_bytes == 0 and reader.stats.retransmitted_bytes == 1


def test_keepalive_with_one_byte_of_old_data_and_zero_window_probes() -> None:
    conv = Conv()
    conv.handshake()
    req, resp = read(0.5)
    conv.send(True, req)
    conv._add(True, conv.c_next - 1, ACK, req[-1:], 1.0)  # keep-alive: 1 byte of old data
    conv._add(True, conv.c_next - 1, ACK, b"\x00", 1.0)  # Windows keep-alive: a zero byte
    conv._add(False, conv.d_next - 1, ACK, b"", 1.0)  # Linux zero-window probe: no data, sequence number - 1
    conv._add(True, conv.c_next, ACK, req[:1], 0.2)  # zero-window probes: the next byte, again and again
    conv._add(True, conv.c_next, ACK, req[:1], 0.4)
    conv.send(True, req)  # then the whole frame once the window opens
    conv.send(False, resp + resp)
    with read_capture(io.BytesIO(pcap_bytes(conv.packets)), report_noise=True) as reader:
        evs = list(reader)
    assert [(e.direction.value, e.description.kind) for e in evs] == [("to device", "frame")] * 2 + [
        ("from device", "frame")
    ] * 2
    assert reader.stats.garbage_bytes == 0 and reader.stats.gaps == 0
    assert not any(e.has(FlagKind.UNSOLICITED_ANSWER) for e in evs)


def test_syn_carrying_data_tcp_fast_open() -> None:
    conv = Conv()
    req, resp = read(0.5)
    conv._add(True, conv.client_isn, SYN, req, 0.001)
    conv.c_next += len(req)
    conv._add(False, conv.device_isn, SYN | ACK, b"", 0.001)
    conv._add(True, conv.c_next, ACK, b"", 0.001)
    conv.send(False, resp)
    conv.close()
    assert frames(events(pcap_bytes(conv.packets))) == EXPECTED


def test_data_and_fin_in_one_segment_and_fin_before_the_data_it_follows() -> None:
    req, resp = read(0.5)
    conv = Conv()
    conv.handshake()
    conv._add(True, conv.c_next, PSH | ACK | FIN, req, 0.001)
    conv.c_next += len(req) + 1
    last = conv.send(False, resp, chunks=[5, len(resp) - 5])[-1]
    conv._add(False, conv.d_next, FIN | ACK, b"", 0.001)
    conv.d_next += 1
    conv._add(True, conv.c_next, ACK, b"", 0.001)
    packets = list(conv.packets)
    packets.insert(last + 1, packets.pop(last))  # the device's FIN is captured before its last data
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        assert frames(list(reader)) == EXPECTED
    assert reader.stats.gaps == 0


def test_sequence_numbers_wrap_around_in_both_directions() -> None:
    req, resp = read(0.5)
    conv = Conv(client_isn=(1 << 32) - 1, device_isn=(1 << 32) - 10)
    conv.handshake()
    for _ in range(3):
        conv.send(True, req, chunks=[3, len(req) - 3])
        conv.send(False, resp, chunks=[4, len(resp) - 4])
    conv.close()
    conv2 = Conv(client_isn=(1 << 32) - 1, device_isn=5, client_port=50001, time=conv.time + 1)
    conv2.handshake()  # the same ISN on other ports, and a retransmitted SYN
    conv2.packets.insert(1, conv2.packets[0])
    conv2.send(True, req)
    conv2.send(False, resp)
    with read_capture(io.BytesIO(pcap_bytes(conv.packets + conv2.packets))) as reader:
        evs = list(reader)
    assert frames(evs) == EXPECTED * 4
    assert reader.stats.flows == 2 and reader.stats.gaps == 0


def test_capture_starting_mid_stream_without_the_syn() -> None:
    req, resp = read(0.5)
    conv = Conv()
    conv.handshake()
    conv.send(True, req)
    conv.send(False, resp, chunks=[6, len(resp) - 6])
    conv.send(True, req)
    conv.send(False, resp)
    conv.close()
    packets = conv.packets[5:]  # from the second part of the first answer
    with read_capture(io.BytesIO(pcap_bytes(packets)), report_noise=True) as reader:
        evs = list(reader)
    assert [e.description.kind for e in evs] == ["garbage", "frame", "frame"]
    assert frames(evs) == EXPECTED and reader.stats.flows == 1 and reader.stats.gaps == 0


def test_pcapng_with_unknown_and_custom_blocks() -> None:
    conv = simple_conversation()
    ng = pcapng_bytes([(t, ip, 0) for t, ip in conv.packets], [ETHERNET])
    unknown = struct.pack("<II", 0x00000BAD, 16) + b"abcd" + struct.pack("<I", 16)
    custom = struct.pack("<III", 0x40000BAD, 20, 32473) + b"zzzz" + struct.pack("<I", 20)
    nrb = struct.pack("<II", 4, 16) + bytes(4) + struct.pack("<I", 16)  # name resolution: just the end record
    shb_len = struct.unpack_from("<I", ng, 4)[0]
    idb_len = struct.unpack_from("<I", ng, shb_len + 4)[0]
    at = shb_len + idb_len
    data = ng[:at] + unknown + custom + nrb + ng[at:]
    with read_capture(io.BytesIO(data)) as reader:
        assert frames(list(reader)) == EXPECTED
    assert reader.stats.error is None and not reader.stats.warnings()


def test_snaplen_cut_inside_the_tcp_header_is_counted_as_cut() -> None:
    conv = simple_conversation()
    with read_capture(io.BytesIO(pcap_bytes_cut(conv.packets, 14 + 20 + 12))) as reader:
        assert list(reader) == []
    assert reader.stats.cut_packets == len(conv.packets)
    assert "snap length" in " ".join(reader.stats.warnings())


def test_retransmission_with_more_of_the_data_than_a_cut_copy_replaces_it() -> None:
    """An out-of-order segment captured short, then captured whole: the whole copy is used."""
    req, resp = read(0.5)
    conv = Conv()
    conv.handshake()
    conv.send(True, req)
    first, second = conv.send(False, resp, chunks=[5, len(resp) - 5])
    p = conv.packets
    cut = (p[second][0], p[second][1][: 40 + 2])  # IP + TCP + 2 bytes of the payload
    packets = [*p[:first], cut, p[second], p[first]]
    with read_capture(io.BytesIO(pcap_bytes(packets))) as reader:
        assert frames(list(reader)) == EXPECTED
    assert reader.stats.gaps == 0


def test_corrupt_pcap_record_length_stops_with_an_error() -> None:
    conv = simple_conversation()
    data = bytearray(pcap_bytes(conv.packets))
    struct.pack_into("<II", data, 24 + 8, 0x7FFFFFF0, 0x7FFFFFF0)  # the first record's lengths
    with read_capture(io.BytesIO(bytes(data))) as reader:
        assert list(reader) == []
    assert reader.stats.error is not None and "corrupt" in reader.stats.error


def test_cli_timestamps_out_of_range_are_no_traceback(tmp_path: Path) -> None:
    conv = simple_conversation()
    far = [(t + 1e13 if i == 4 else t, ip, 0) for i, (t, ip) in enumerate(conv.packets)]  # year 300000
    path = tmp_path / "far.pcapng"
    path.write_bytes(pcapng_bytes(far, [ETHERNET]))
    for args in ([], ["--json"]):
        result = CliRunner().invoke(cli, ["read-pcap", *args, str(path)])
        assert result.exit_code == 0, result.output
        assert result.exception is None


# -- flags -------------------------------------------------------------------------------------------


def test_every_flag_of_describe_has_its_kind() -> None:
    """rctclient.describe writes its flags as text; the reader turns each into a Flag of a known kind."""
    from rctclient.describe import describe_event
    from rctclient.frame import Extension, KeepAlive
    from rctclient.pcap.reader import flag_of

    frame = Frame(Command.RESPONSE, SOC.object_id, 0, b"\x00", 0, 10)  # 1 byte for a FLOAT: bad payload
    events: list[tuple[Event, FlagKind]] = [
        (CRCMismatch(Command.READ, SOC.object_id, 0, b"", 0x1234, 0xABCD, 0, 9), FlagKind.CRC_MISMATCH),
        (frame, FlagKind.BAD_PAYLOAD),
        (frame._replace(id=0x12345678), FlagKind.UNKNOWN_OID),
        (KeepAlive(0), FlagKind.KEEP_ALIVE),
        (Extension(b"+<\xe1", 0), FlagKind.EXTENSION),
        *((Garbage(reason, b"x", 0), FlagKind(reason.value)) for reason in GarbageReason),
    ]
    for event, kind in events:
        (text,) = describe_event(event).flags
        flag = flag_of(text)
        assert flag.kind is kind, text
        assert str(flag) == text.replace(" (", ": ").rstrip(")") if kind is FlagKind.CRC_MISMATCH else text
    assert str(flag_of("crc mismatch (received 0x1234, calculated 0xABCD)")) == (
        "crc mismatch: received 0x1234, calculated 0xABCD"
    )
    assert flag_of("something new: 3") == Flag(FlagKind.OTHER, "something new: 3")
    assert str(flag_of("something new: 3")) == "something new: 3"


def test_a_frame_fed_in_more_tiny_segments_than_are_remembered_is_placed_at_its_last_one() -> None:
    """Positions of at most 4,096 segments are kept per direction; beyond, every other one is dropped."""
    payload = bytes(range(256)) * 20  # every byte value: escapes included
    answer = make_frame(Command.LONG_RESPONSE, 0x12345678, payload)
    conv = Conv()
    conv.handshake()
    conv.send(True, make_frame(Command.READ, 0x12345678))
    last = conv.send(False, answer, chunks=[1] * len(answer))[-1]
    with read_capture(io.BytesIO(pcap_bytes(conv.packets))) as reader:
        evs = [e for e in reader if isinstance(e.event, Frame)]
    assert len(answer) > 5000 and [e.event.data for e in evs if isinstance(e.event, Frame)] == [b"", payload]
    assert evs[1].packet == last + 1 and evs[1].latency is not None


def test_cli_max_flows_evicts_flags_and_warns(tmp_path: Path) -> None:
    a, b = Conv(client_port=40000), Conv(client_port=40001)
    req, resp = read(0.5)
    for conv in (a, b):
        conv.handshake()
        conv.send(True, req)
    for conv in (a, b):
        conv.send(False, resp)
    path = tmp_path / "two.pcap"
    path.write_bytes(pcap_bytes(a.packets[:4] + b.packets[:4] + a.packets[4:] + b.packets[4:]))
    runner = CliRunner()
    result = runner.invoke(cli, ["read-pcap", "--max-flows", "1", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    # b's SYN evicts a; a's answer (a new flow: 3) evicts b; b's answer evicts flow 3
    evicted = [line for line in lines if "[evicted]" in line]
    # flags too long for the line (160 columns into a pipe) go on a line of their own, below
    flags = lines[lines.index(evicted[0]) + 1]
    assert len(evicted) == 3 and flags.strip() == "↳ flow evicted: 1 connection open (max_flows)"
    assert "3 connections were closed early to bound memory" in result.stderr
    summary = json.loads(runner.invoke(cli, ["read-pcap", "--max-flows", "1", "--summary", "--json", str(path)]).stdout)
    assert summary["totals"]["evicted_flows"] == 3 and summary["totals"]["unanswered"] == 2
    assert [f["evicted"] for f in summary["flows"]] == [True, True, True, False]
    table = runner.invoke(cli, ["read-pcap", "--max-flows", "1", "--summary", str(path)]).stdout
    assert "EVICTED" in table.splitlines()[0]  # one header style: upper case
    default = runner.invoke(cli, ["read-pcap", str(path)]).stdout
    assert "[evicted]" not in default and default.count("after 1.0 ms") == 2
    from rctclient.cli.commands.pcap import read_pcap
    from rctclient.pcap import CaptureLimits

    option = next(p for p in read_pcap.params if p.name == "max_flows")
    assert option.default == CaptureLimits().max_flows  # the CLI's default is the library's

"""Build capture files from known byte streams, for the tests of :mod:`rctclient.pcap`.

Packets are built by hand (IPv4/IPv6, TCP and the link layers); files are written with dpkt's
writers (an implementation independent of the reader's, which uses only struct) and, for the cases
they do not cover (big-endian pcapng sections, time stamp resolutions, simple and obsolete packet
blocks, corrupt blocks, many connections), by hand.
"""

from __future__ import annotations

import io
import ipaddress
import struct
from dataclasses import dataclass, field
from typing import Any

import dpkt
import dpkt.pcapng

SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10
ETHERNET, NULL, RAW, LOOP, SLL, SLL2 = 1, 0, 101, 108, 113, 276


def tcp_ip(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    seq: int,
    ack: int,
    flags: int,
    payload: bytes,
    *,
    tcp_options: bytes = b"",
    ip_options: bytes = b"",
    ext_headers: tuple[tuple[int, bytes], ...] = (),
) -> bytes:
    """An IPv4 or IPv6 packet with a TCP segment (checksums left zero: captures often have them wrong).

    ``tcp_options`` and ``ip_options`` (IPv4) are padded to 4 bytes; ``ext_headers`` are IPv6 extension
    headers in order, each (its type, its bytes after the next-header byte: length byte included).
    """
    tcp_options += b"\x00" * (-len(tcp_options) % 4)
    ip_options += b"\x00" * (-len(ip_options) % 4)
    off = (20 + len(tcp_options)) // 4
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq % (1 << 32), ack % (1 << 32), off << 4, flags, 65535, 0, 0)
    a, b = ipaddress.ip_address(src), ipaddress.ip_address(dst)
    body = tcp + tcp_options + payload
    if a.version == 4:
        ihl = 5 + len(ip_options) // 4
        head = struct.pack(">BBHHHBBH4s4s", 0x40 | ihl, 0, ihl * 4 + len(body), 1, 0x4000, 64, 6, 0, a.packed, b.packed)
        return head + ip_options + body
    types = [t for t, _ in ext_headers] + [6]
    for (_, ext), nxt in zip(reversed(ext_headers), reversed(types[1:]), strict=True):
        body = bytes([nxt]) + ext + body
    return struct.pack(">IHBB16s16s", 6 << 28, len(body), types[0], 64, a.packed, b.packed) + body


def link(linktype: int, ip: bytes) -> bytes:
    v6 = ip[0] >> 4 == 6
    ethertype = 0x86DD if v6 else 0x0800
    if linktype == ETHERNET:
        return b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02" + struct.pack(">H", ethertype) + ip
    if linktype == NULL:  # host byte order (little-endian here); BSD's AF_INET6 is 24, 28 or 30
        return struct.pack("<I", 30 if v6 else 2) + ip
    if linktype == LOOP:  # network byte order
        return struct.pack(">I", 24 if v6 else 2) + ip
    if linktype == SLL:
        return struct.pack(">HHH8sH", 0, 1, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00", ethertype) + ip
    if linktype == SLL2:
        return struct.pack(">HHIHBB8s", ethertype, 0, 1, 1, 0, 6, b"\x02\x00\x00\x00\x00\x01\x00\x00") + ip
    return ip


@dataclass
class Conv:
    """One TCP connection between a client and a device; records packets in the order they are made."""

    client: str = "10.0.0.2"
    client_port: int = 50000
    device: str = "10.0.0.1"
    device_port: int = 8899
    client_isn: int = 1000
    device_isn: int = 700000
    time: float = 1700000000.0
    packets: list[tuple[float, bytes]] = field(default_factory=list)  # (time, IP packet)
    #: Given to :func:`tcp_ip` for every packet.
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.c_next = self.client_isn + 1  # next sequence number the client sends
        self.d_next = self.device_isn + 1

    def _add(self, to_device: bool, seq: int, flags: int, payload: bytes, dt: float) -> tuple[float, bytes]:
        self.time += dt
        if to_device:
            ip = tcp_ip(
                self.client,
                self.device,
                self.client_port,
                self.device_port,
                seq,
                self.d_next,
                flags,
                payload,
                **self.options,
            )
        else:
            ip = tcp_ip(
                self.device,
                self.client,
                self.device_port,
                self.client_port,
                seq,
                self.c_next,
                flags,
                payload,
                **self.options,
            )
        pkt = (self.time, ip)
        self.packets.append(pkt)
        return pkt

    def handshake(self) -> None:
        self._add(True, self.client_isn, SYN, b"", 0.001)
        self._add(False, self.device_isn, SYN | ACK, b"", 0.001)
        self._add(True, self.c_next, ACK, b"", 0.001)

    def send(self, to_device: bool, data: bytes, *, chunks: list[int] | None = None, dt: float = 0.001) -> list[int]:
        """Send ``data`` in segments of the sizes ``chunks`` (one segment by default); returns their packet indexes."""
        sizes = chunks or [len(data)]
        indexes = []
        pos = 0
        for size in sizes:
            part = data[pos : pos + size]
            seq = (self.c_next if to_device else self.d_next) + pos
            self._add(to_device, seq, PSH | ACK, part, dt)
            indexes.append(len(self.packets) - 1)
            pos += size
        assert pos == len(data), "chunks must add up to the data"
        if to_device:
            self.c_next += len(data)
        else:
            self.d_next += len(data)
        return indexes

    def close(self) -> None:
        self._add(True, self.c_next, FIN | ACK, b"", 0.001)
        self.c_next += 1
        self._add(False, self.d_next, FIN | ACK, b"", 0.001)
        self.d_next += 1
        self._add(True, self.c_next, ACK, b"", 0.001)


def pcap_bytes(packets: list[tuple[float, bytes]], linktype: int = ETHERNET, *, nano: bool = False) -> bytes:
    """A pcap file (dpkt's writer) of IP ``packets`` wrapped in ``linktype``."""
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, snaplen=65535, linktype=linktype, nano=nano)
    for t, ip in packets:
        writer.writepkt(link(linktype, ip), t)
    return buf.getvalue()


def pcap_bytes_cut(packets: list[tuple[float, bytes]], snaplen: int) -> bytes:
    """A big-endian pcap file (by hand) whose records keep at most ``snaplen`` bytes of each Ethernet frame."""
    out = [struct.pack(">IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, ETHERNET)]
    for t, ip in packets:
        frame = link(ETHERNET, ip)
        kept = frame[:snaplen]
        out.append(struct.pack(">IIII", int(t), round(t % 1 * 1e6), len(kept), len(frame)) + kept)
    return b"".join(out)


def pcapng_bytes(packets: list[tuple[float, bytes, int]], linktypes: list[int]) -> bytes:
    """A pcapng file (dpkt's writer) with one interface per link type; packets are (time, IP, interface)."""
    buf = io.BytesIO()
    idbs = [dpkt.pcapng.InterfaceDescriptionBlockLE(snaplen=65535, linktype=lt) for lt in linktypes]
    writer = dpkt.pcapng.Writer(buf, idb=idbs)
    for t, ip, iface in packets:
        ts = round(t * 1e6)
        epb = dpkt.pcapng.EnhancedPacketBlockLE(
            iface_id=iface, ts_high=ts >> 32, ts_low=ts & 0xFFFFFFFF, pkt_data=link(linktypes[iface], ip)
        )
        writer.writepkt(epb)
    return buf.getvalue()


def pcap_frames(frames: list[tuple[float, bytes]], linktype: int = ETHERNET) -> bytes:
    """A pcap file (dpkt's writer) of link-layer ``frames`` as they are."""
    buf = io.BytesIO()
    writer = dpkt.pcap.Writer(buf, snaplen=65535, linktype=linktype)
    for t, frame in frames:
        writer.writepkt(frame, t)
    return buf.getvalue()


# -- pcapng by hand (the cases dpkt's writer does not cover: big-endian sections, time stamp
# resolutions and offsets, simple and obsolete packet blocks, corrupt blocks) ---------------------


def ng_block(block_type: int, body: bytes, *, little: bool = True) -> bytes:
    """A pcapng block: type, length, the body padded to 4 bytes, length."""
    body += b"\x00" * (-len(body) % 4)
    order = "<" if little else ">"
    length = 12 + len(body)
    return struct.pack(order + "II", block_type, length) + body + struct.pack(order + "I", length)


def ng_options(options: list[tuple[int, bytes]], *, little: bool = True) -> bytes:
    order = "<" if little else ">"
    out = b"".join(struct.pack(order + "HH", code, len(v)) + v + b"\x00" * (-len(v) % 4) for code, v in options)
    return out + struct.pack(order + "HH", 0, 0) if options else b""


def ng_shb(*, little: bool = True, major: int = 1) -> bytes:
    order = "<" if little else ">"
    return ng_block(0x0A0D0D0A, struct.pack(order + "IHHq", 0x1A2B3C4D, major, 0, -1), little=little)


def ng_idb(
    linktype: int, *, snaplen: int = 0, tsresol: int | None = None, tsoffset: int = 0, little: bool = True
) -> bytes:
    order = "<" if little else ">"
    options = []
    if tsresol is not None:
        options.append((9, bytes([tsresol])))
    if tsoffset:
        options.append((14, struct.pack(order + "q", tsoffset)))
    body = struct.pack(order + "HHI", linktype, 0, snaplen) + ng_options(options, little=little)
    return ng_block(1, body, little=little)


def ng_epb(iface: int, ticks: int, data: bytes, *, little: bool = True, obsolete: bool = False) -> bytes:
    """An enhanced packet block (or the obsolete packet block, type 2) with a time stamp of ``ticks`` units."""
    order = "<" if little else ">"
    high, low = ticks >> 32, ticks & 0xFFFFFFFF
    if obsolete:
        head = struct.pack(order + "HHIIII", iface, 0, high, low, len(data), len(data))
        return ng_block(2, head + data, little=little)
    return ng_block(6, struct.pack(order + "IIIII", iface, high, low, len(data), len(data)) + data, little=little)


def ng_spb(data: bytes, *, original: int | None = None, little: bool = True) -> bytes:
    order = "<" if little else ">"
    return ng_block(3, struct.pack(order + "I", len(data) if original is None else original) + data, little=little)


# -- many connections, quickly ----------------------------------------------------------------------


def pcap_header(linktype: int = ETHERNET, snaplen: int = 65535) -> bytes:
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)


def pcap_record(t: float, ip: bytes) -> bytes:
    """One record of an Ethernet pcap (little-endian, microseconds)."""
    frame = link(ETHERNET, ip)
    return struct.pack("<IIII", int(t), round(t % 1 * 1e6) % 1000000, len(frame), len(frame)) + frame


def client_address(i: int) -> str:
    """The i-th of many client addresses (10.128.0.0/9)."""
    return f"10.{128 + (i >> 16) % 128}.{(i >> 8) & 255}.{i & 255}"

"""Packet bytes → TCP segments of the device's port: the link, IP and TCP headers.

Link types: Ethernet (with 802.1Q/802.1ad VLAN tags), Linux cooked capture v1 and v2
(``tcpdump -i any``), BSD loopback/null (either byte order), raw IP. IPv4 with header options,
IPv6 with extension headers. IP fragments are skipped (TCP is not fragmented in practice).

Headers are read by hand, without an object per layer: for the packets of other connections only
the ports are looked at, and this runs once per packet.
"""

from __future__ import annotations

import struct
from typing import Final

from .model import CaptureStats
from .records import LINK_ETHERNET, LINK_LOOP, LINK_NULL, LINK_SLL, LINK_SLL2

__all__ = ["TCP_ACK", "TCP_FIN", "TCP_RST", "TCP_SYN", "Segment", "parse_segment"]

TCP_FIN: Final = 0x01
TCP_SYN: Final = 0x02
TCP_RST: Final = 0x04
TCP_ACK: Final = 0x10

_TCP_HEADER: Final = struct.Struct(">IIBB").unpack_from  # sequence and ack numbers, data offset, flags
_IPPROTO_TCP: Final = 6
_ETHERTYPE_IPV4: Final = 0x0800
_ETHERTYPE_IPV6: Final = 0x86DD
_ETHERTYPE_VLAN: Final = frozenset({0x8100, 0x88A8, 0x9100})  # 802.1Q, 802.1ad and the old QinQ
# IPv6 extension headers of the common layout (next header, length in 8 bytes not counting the first):
# hop-by-hop, routing, destination options, mobility, HIP, shim6, experiments
_IP6_EXTENSIONS: Final = frozenset({0, 43, 60, 135, 139, 140, 253, 254})
_IP6_FRAGMENT: Final = 44
_IP6_AH: Final = 51
_MAX_OTHER_PORTS: Final = 4096


#: A TCP segment to or from the device's port (a plain tuple: one is made per packet):
#: (key, to_device, seq, ack, flags, payload, wire) where key is (client address, client port, device
#: address, device port) with the addresses as packed bytes, payload the data captured (without the
#: Ethernet padding of short frames) and wire how many bytes of data the segment had on the wire
#: (more than the payload when the capture cut it).
Segment = tuple[tuple[bytes, int, bytes, int], bool, int, int, int, bytes, int]


def parse_segment(link: int, data: bytes, port: int, stats: CaptureStats) -> Segment | None:
    """The TCP segment in a packet, or None (counted in ``stats``) when it is none of the device's port."""
    try:
        # link layer → the IP header at ``off``
        if link == LINK_ETHERNET:
            off = 14
            ethertype = data[12] << 8 | data[13]
        elif link == LINK_SLL:
            off = 16
            ethertype = data[14] << 8 | data[15]
        elif link == LINK_SLL2:
            off = 20
            ethertype = data[0] << 8 | data[1]
        else:  # null/loop: the address family in either byte order; the IP version says it too
            off = 4 if link in (LINK_NULL, LINK_LOOP) else 0
            ethertype = 0
        if ethertype:
            while ethertype in _ETHERTYPE_VLAN:
                ethertype = data[off + 2] << 8 | data[off + 3]
                off += 4
            if ethertype not in (_ETHERTYPE_IPV4, _ETHERTYPE_IPV6):
                stats.skipped += 1
                return None
        first = data[off]
        if first >> 4 == 4:
            ihl = (first & 0x0F) * 4
            # fragments (offset or more-fragments set) are never seen with TCP in practice
            if ihl < 20 or data[off + 9] != _IPPROTO_TCP or (data[off + 6] & 0x3F or data[off + 7]):
                stats.skipped += 1
                return None
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
                    return None
                nxt = data[off]
                off += size
        else:
            stats.skipped += 1
            return None
        # TCP: the ports first, so that the packets of other connections cost little
        sport = data[off] << 8 | data[off + 1]
        dport = data[off + 2] << 8 | data[off + 3]
        if dport == port:
            to_device = True
            key = (src, sport, dst, dport)
        elif sport == port:
            to_device = False
            key = (dst, dport, src, sport)
        else:
            stats.skipped += 1
            if len(stats.other_ports) < _MAX_OTHER_PORTS:
                stats.other_ports[sport] += 1  # the server's port is in every packet of a connection
                stats.other_ports[dport] += 1
            return None
        if len(data) < off + 20:  # the snap length cut the TCP header
            stats.skipped += 1
            stats.cut_packets += 1
            return None
        seq, ack, data_offset, flags = _TCP_HEADER(data, off + 4)
        start = off + (data_offset >> 4) * 4
        wire = end - start  # payload bytes on the wire
        if data_offset < 0x50 or wire < 0:  # a header shorter than 20 bytes, or longer than the packet
            stats.skipped += 1
            return None
        stats.segments += 1
        return key, to_device, seq, ack, flags, data[start:end], wire
    except (IndexError, struct.error):  # a header cut short
        stats.skipped += 1
        return None

"""Capture files → packet records: (capture time, link type, the packet's captured bytes).

Both formats are read here with :mod:`struct`, streaming (the file is read once, in order, so a
pipe works) and with bounded memory:

- pcap (what tcpdump writes): micro- and nanosecond time stamps, either byte order, and
  Kuznetsov's modified format. Records are read in chunks with ``read1`` (what a pipe has, without
  waiting for more), so ``tcpdump -U -w - | rctclient read-pcap -`` decodes as packets come.
- pcapng (what Wireshark and dumpcap write): sections of either byte order, each with its own
  interfaces; each interface with its link type, time stamp resolution (``if_tsresol``, decimal
  or binary) and offset (``if_tsoffset``), and snap length (for simple packet blocks). Enhanced,
  simple and the obsolete packet blocks are read; every other block (name resolution,
  statistics, custom, decryption secrets...) is skipped without being held, whatever its size.

A length field larger than :attr:`CaptureLimits.max_packet` is taken for a corrupt file: reading
stops there (``stats.error``) instead of allocating what it promises. A file that ends inside a
record sets ``stats.truncated``, and the part of the packet that is there is still returned.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO, Final

from .model import CaptureError, CaptureStats

__all__ = ["Record", "link_name", "open_records"]

#: (capture time in seconds since the epoch, link type, the packet's captured bytes)
Record = tuple[float, int, bytes]

# Link types (https://www.tcpdump.org/linktypes.html); the ones packets.py reads
LINK_NULL: Final = 0
LINK_ETHERNET: Final = 1
LINK_LOOP: Final = 108
LINK_SLL: Final = 113
LINK_SLL2: Final = 276
LINK_RAW: Final = frozenset({101, 12, 14, 228, 229})  # 12 and 14: DLT_RAW of some BSDs
SUPPORTED_LINKS: Final = frozenset({LINK_NULL, LINK_ETHERNET, LINK_LOOP, LINK_SLL, LINK_SLL2}) | LINK_RAW
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

_PCAP_MICRO: Final = frozenset({b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4"})
_PCAP_NANO: Final = frozenset({b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"})
_PCAP_KUZNETSOV: Final = frozenset({b"\x34\xcd\xb2\xa1", b"\xa1\xb2\xcd\x34"})  # 8 more bytes per record
_PCAP_MAGICS: Final = _PCAP_MICRO | _PCAP_NANO | _PCAP_KUZNETSOV

_SHB: Final = 0x0A0D0D0A  # the same in both byte orders
_SHB_MAGIC: Final = b"\x0a\x0d\x0d\x0a"
_BOM_LITTLE: Final = b"\x4d\x3c\x2b\x1a"
_BOM_BIG: Final = b"\x1a\x2b\x3c\x4d"
_IDB: Final = 1
_PB: Final = 2  # the obsolete packet block
_SPB: Final = 3
_EPB: Final = 6
#: The shortest block of each type that holds its fixed fields.
_MIN_LENGTH: Final = {_SHB: 28, _IDB: 20, _EPB: 32, _PB: 32, _SPB: 16}
_OPT_END: Final = 0
_OPT_TSRESOL: Final = 9
_OPT_TSOFFSET: Final = 14
#: Room for the options (comments, flags, hashes) of a packet block, on top of the packet.
_OPTIONS_ROOM: Final = 1 << 16

_CHUNK: Final = 1 << 16  # the file is read this much at a time


def link_name(link: int) -> str:
    name = _LINK_NAMES.get(link)
    return f"{link} ({name})" if name else str(link)


class _Input:
    """A buffer over the file: ``buf[pos:]`` is read but not used yet; ``position`` is the file offset of ``pos``."""

    __slots__ = ("_read", "buf", "pos", "position")

    def __init__(self, f: IO[bytes]) -> None:
        # read1: what a pipe has now, without waiting for a full buffer; a raw file may return less too
        self._read = getattr(f, "read1", None) or f.read
        self.buf = b""
        self.pos = 0
        self.position = 0

    @property
    def available(self) -> int:
        return len(self.buf) - self.pos

    def fill(self, n: int) -> bool:
        """Make ``n`` bytes available at ``pos``; False when the file ends before."""
        while len(self.buf) - self.pos < n:
            chunk = self._read(max(_CHUNK, n - (len(self.buf) - self.pos)))
            if not chunk:
                return False
            self.buf = self.buf[self.pos :] + chunk
            self.pos = 0
        return True

    def advance(self, n: int) -> None:
        self.pos += n
        self.position += n

    def skip(self, n: int) -> bool:
        """Drop ``n`` bytes without holding them; False when the file ends before."""
        while n > self.available:
            n -= self.available
            self.position += self.available
            self.buf, self.pos = b"", 0
            if not self.fill(1):
                return False
        self.advance(n)
        return True


def open_records(f: IO[bytes], stats: CaptureStats, max_packet: int) -> Iterator[Record]:
    """Check the file's header now (raising :class:`CaptureError`) and return an iterator over its packets.

    ``stats`` gets ``link_type``, ``truncated``, ``error`` and, for pcapng interfaces of link types
    that :data:`SUPPORTED_LINKS` does not have, ``packets`` and ``unsupported_link``.
    """
    inp = _Input(f)
    if not inp.fill(4) and not inp.available:
        raise CaptureError("empty file, not a capture")
    magic = inp.buf[:4]
    if magic == _SHB_MAGIC:
        if not inp.fill(12):
            raise CaptureError("pcapng file header cut short")
        bom = inp.buf[8:12]
        if bom not in (_BOM_LITTLE, _BOM_BIG):
            raise CaptureError("not a pcapng file (bad byte-order magic)")
        if not inp.fill(16):
            raise CaptureError("pcapng file header cut short")
        major, minor = struct.unpack_from("<HH" if bom == _BOM_LITTLE else ">HH", inp.buf, 12)
        if major != 1:
            raise CaptureError(f"pcapng version {major}.{minor} is not supported (only 1.x)")
        return _pcapng_records(inp, stats, max_packet)
    if magic not in _PCAP_MAGICS:
        raise CaptureError(f"not a pcap or pcapng file (it starts with 0x{magic.hex()})")
    if not inp.fill(24):
        raise CaptureError("pcap file header cut short")
    little = magic[0] != 0xA1
    link = struct.unpack_from("<I" if little else ">I", inp.buf, 20)[0] & 0xFFFF  # the upper bits: is there an FCS
    if link not in SUPPORTED_LINKS:
        raise CaptureError(f"unsupported link type {link_name(link)}")
    stats.link_type = link
    inp.advance(24)
    return _pcap_records(inp, magic, link, stats, max_packet)


def _pcap_records(inp: _Input, magic: bytes, link: int, stats: CaptureStats, max_packet: int) -> Iterator[Record]:
    """The records of a pcap file (the loop works on the buffer directly: it runs once per packet)."""
    little = magic[0] != 0xA1
    scale = 1e-9 if magic in _PCAP_NANO else 1e-6
    hlen = 24 if magic in _PCAP_KUZNETSOV else 16
    record = struct.Struct("<III" if little else ">III").unpack_from
    buf, pos = inp.buf, inp.pos
    while True:
        if len(buf) - pos >= hlen:
            sec, frac, caplen = record(buf, pos)
            if caplen > max_packet:
                stats.error = f"corrupt pcap record at byte {inp.position + pos - inp.pos} (length {caplen})"
                return
            end = pos + hlen + caplen
            if end <= len(buf):
                yield sec + frac * scale, link, buf[pos + hlen : end]
                pos = end
                continue
            need = hlen + caplen
        else:
            need = hlen
        inp.advance(pos - inp.pos)
        if not inp.fill(need):
            rest = inp.available
            if rest:
                stats.truncated = True  # a record cut off: still worth decoding what there is of it
                if rest > hlen:
                    yield sec + frac * scale, link, inp.buf[inp.pos + hlen :]
            return
        buf, pos = inp.buf, inp.pos


def _pcapng_records(inp: _Input, stats: CaptureStats, max_packet: int) -> Iterator[Record]:
    little = True
    u32 = struct.Struct("<I").unpack_from
    head = struct.Struct("<II").unpack_from
    epb = struct.Struct("<IIII").unpack_from  # interface, time stamp high, low, captured length
    pb = struct.Struct("<HHIII").unpack_from  # interface, drops, time stamp high, low, captured length
    # Per interface of the current section: (link type, time stamp ticks per second, offset, snap length)
    interfaces: list[tuple[int, int, int, int]] = []
    seen_links: set[int] = set()
    last_time = 0.0
    supported = 0
    limit = max_packet + _OPTIONS_ROOM
    while True:
        if not inp.fill(8):
            stats.truncated = inp.available > 0
            break
        buf, pos, at = inp.buf, inp.pos, inp.position
        if buf[pos : pos + 4] == _SHB_MAGIC:
            if not inp.fill(12):
                stats.truncated = True
                break
            buf, pos = inp.buf, inp.pos
            bom = buf[pos + 8 : pos + 12]
            if bom not in (_BOM_LITTLE, _BOM_BIG):
                stats.error = f"corrupt pcapng section header at byte {at}"
                break
            little = bom == _BOM_LITTLE
            order = "<" if little else ">"
            u32 = struct.Struct(order + "I").unpack_from
            head = struct.Struct(order + "II").unpack_from
            epb = struct.Struct(order + "IIII").unpack_from
            pb = struct.Struct(order + "HHIII").unpack_from
            interfaces = []
        block_type, length = head(buf, pos)
        if length < 12 or length % 4:
            stats.error = f"corrupt pcapng block at byte {at} (length {length})"
            break
        if block_type not in (_SHB, _IDB, _EPB, _SPB, _PB):
            # name resolution, statistics, custom blocks...: not needed, not held
            if not inp.skip(length):
                stats.truncated = True
                break
            continue
        if length > limit or length < _MIN_LENGTH[block_type]:
            stats.error = f"corrupt pcapng block at byte {at} (length {length})"
            break
        if not inp.fill(length):
            stats.truncated = True
            break
        buf, pos = inp.buf, inp.pos
        if u32(buf, pos + length - 4)[0] != length:
            stats.error = f"corrupt pcapng block at byte {at} (the lengths before and after it differ)"
            break
        inp.advance(length)
        if block_type == _SHB:
            major = struct.unpack_from("<H" if little else ">H", buf, pos + 12)[0]
            if major != 1:
                stats.error = f"pcapng section of unsupported version {major} at byte {at}"
                break
            continue
        if block_type == _IDB:
            interfaces.append(_interface(buf, pos, length, little))
            seen_links.add(interfaces[-1][0])
            if stats.link_type is None:
                stats.link_type = interfaces[-1][0]
            continue
        if block_type == _SPB:  # interface 0, no time stamp: the previous packet's
            if not interfaces:
                stats.error = f"pcapng packet before any interface at byte {at}"
                break
            link, _, _, snaplen = interfaces[0]
            caplen = min(u32(buf, pos + 8)[0], length - 16, snaplen or length)
            data = buf[pos + 12 : pos + 12 + caplen]
        else:
            if block_type == _EPB:
                iface, ts_high, ts_low, caplen = epb(buf, pos + 8)
            else:
                iface, _, ts_high, ts_low, caplen = pb(buf, pos + 8)
            if 32 + caplen > length:
                stats.error = f"corrupt pcapng block at byte {at} (packet length {caplen})"
                break
            if iface >= len(interfaces):
                stats.error = f"pcapng packet of undeclared interface {iface} at byte {at}"
                break
            link, ticks, offset, _ = interfaces[iface]
            last_time = ((ts_high << 32) | ts_low) / ticks + offset  # int / int: correctly rounded
            data = buf[pos + 28 : pos + 28 + caplen]
        if link not in SUPPORTED_LINKS:
            stats.packets += 1
            stats.unsupported_link += 1
            continue
        supported += 1
        yield last_time, link, data
    if not supported and stats.unsupported_link:
        links = sorted(x for x in seen_links if x not in SUPPORTED_LINKS)
        raise CaptureError(f"unsupported link type {', '.join(link_name(x) for x in links)}")


def _interface(buf: bytes, pos: int, length: int, little: bool) -> tuple[int, int, int, int]:
    """An interface description block: (link type, time stamp ticks per second, offset in seconds, snap length)."""
    order = "<" if little else ">"
    link, _, snaplen = struct.unpack_from(order + "HHI", buf, pos + 8)
    ticks, offset = 1_000_000, 0
    opt = pos + 16
    end = pos + length - 4
    head = struct.Struct(order + "HH").unpack_from
    while opt + 4 <= end:
        code, size = head(buf, opt)
        value = buf[opt + 4 : opt + 4 + size]
        if code == _OPT_END or len(value) < size:
            break
        if code == _OPT_TSRESOL and size >= 1:
            v = value[0]
            ticks = 2 ** (v & 0x7F) if v & 0x80 else 10 ** (v & 0x7F)
        elif code == _OPT_TSOFFSET and size >= 8:
            offset = struct.unpack_from(order + "q", value)[0]
        opt += 4 + size + (-size % 4)
    return link, ticks, offset, snaplen

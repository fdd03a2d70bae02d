"""Buffers of the frame decoder: the received bytes, and the stream as the escaped reading sees it.

:class:`StreamBuffer` holds what was received and is not yet let go, the way h11's receive buffer
does for HTTP: readers say where they are, and nothing is copied or searched twice because a
reader waits. :class:`Unescaped` is the escaped reading of the stream from one point on (``-+``
and ``--`` taken as one byte), kept with where each of its bytes came from on the wire.

Every frame start's escaped reading is a piece of one and the same unescaped stream: a start
token ``+`` leaves the unescaping in its normal state, whether it was itself escaped or not, so
the frame that starts there reads on exactly as the stream does. The decoder therefore unescapes
each wire byte once, however many frame starts overlap it.
"""

from __future__ import annotations

import re
from array import array
from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import Final

from ._framecrc import PrefixCRC

__all__ = ["MAX_SPAN", "StreamBuffer", "Unescaped"]

#: Below this many kept bytes (or while at least a quarter of it arrives at once) the window is ``bytes``.
_GROW_MIN: Final = 1024


class StreamBuffer:
    """The received bytes of one direction of a stream that a reader may still need.

    ``data`` holds the stream offsets ``base`` to ``base + len(data)``. :meth:`append` only queues
    a chunk; :meth:`join` lets go of what the reader is done with and adds the queued chunks, when
    the reader has a use for them. ``data`` is ``bytes``, cheap to slice into events, except when
    much is kept while little arrives (the rest of a long frame coming in small reads): then it is
    a ``bytearray`` that grows in place, so that a join costs what arrived, not what is kept. Either
    way a join copies at most a few times the bytes that arrive.
    """

    __slots__ = ("_chunks", "base", "copied", "data", "end", "queued")

    def __init__(self) -> None:
        self.data: bytes | bytearray = b""
        self.base = 0
        self._chunks: list[bytes] = []
        #: Bytes queued, not joined yet (read-only, like ``end``).
        self.queued = 0
        #: Stream offset after everything received, joined or not.
        self.end = 0
        #: Bytes copied by joins (a work counter for tests).
        self.copied = 0

    def append(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self.queued += len(chunk)
        self.end += len(chunk)

    def join(self, keep: int) -> None:
        """Let go of the bytes before stream offset ``keep`` and append the queued chunks."""
        data = self.data
        drop = keep - self.base
        kept = len(data) - drop
        chunks = self._chunks
        if len(chunks) == 1 and (not kept or (kept <= _GROW_MIN and type(data) is bytes)):
            # the usual: all was used, or the start of a frame is kept, and one chunk came
            if kept:
                data = data[drop:] + chunks[0]
                self.copied += 2 * kept if drop else kept  # (the slice, then the sum)
            else:
                data = chunks[0]
        elif kept > _GROW_MIN and kept > 4 * self.queued:
            if isinstance(data, bytes):
                data = bytearray(data[drop:])
                self.copied += kept
            elif drop:
                del data[:drop]  # moves the start of a bytearray: no copy
            for chunk in chunks:
                data += chunk
        else:
            if drop or type(data) is not bytes:
                data = bytes(data[drop:])
                self.copied += len(data)
            if chunks:
                self.copied += len(data)
                data = b"".join([data, *chunks]) if data else chunks[0] if len(chunks) == 1 else b"".join(chunks)
        self.copied += self.queued
        self.data = data
        self.base = keep
        chunks.clear()
        self.queued = 0


# A '-' followed by '+' or '-' escapes that byte; a '-' followed by anything else is itself.
_ESCAPE_PAIR: Final = re.compile(rb"-([+-])")
_PIECE: Final = 2048  # wire bytes unescaped at once (bounds the objects split() makes)
#: Wire bytes one Unescaped may span (its offsets are 32-bit); the decoder starts a new one before.
MAX_SPAN: Final = 1 << 30


class Unescaped:
    """The escaped reading of the stream from the wire offset ``origin`` on.

    Index ``x`` of this reading is its ``x``-th byte after ``origin``; ``data`` holds the indices
    from ``start`` on. ``done`` is the wire offset read so far: a trailing ``-`` is only read once
    the byte after it is known (or the stream ended). The wire offsets of the escaping ``-`` are
    kept, so that both ways of mapping positions are a binary search, and ``crc`` gives the CRC of
    any span in constant time. Offsets are kept relative to ``origin`` in 32-bit integers: the
    decoder starts a new reading long before they could overflow (``MAX_SPAN``).
    """

    __slots__ = ("crc", "dashes", "data", "done", "dropped", "marks", "origin", "start", "unescaped")

    def __init__(self, origin: int) -> None:
        self.origin = origin
        self.start = 0
        self.data = bytearray()
        self.done = origin
        #: Wire offsets of the escaping '-', less ``origin`` (after ``dropped`` of them let go of).
        self.dashes = array("i")
        #: Index (in this reading) of the byte each of them escapes.
        self.marks = array("i")
        self.dropped = 0
        self.crc = PrefixCRC()
        #: Wire bytes read (a work counter for tests).
        self.unescaped = 0

    @property
    def end(self) -> int:
        """Index after the last byte read."""
        return self.start + len(self.data)

    def extend(self, raw: bytes | bytearray, base: int, end: int, eof: bool) -> None:
        """Read the wire bytes up to ``end`` (``raw[0]`` is at the stream offset ``base``).

        ``eof``: the stream ends with ``raw``, so that a ``-`` as its very last byte is itself.
        """
        final = eof and end == base + len(raw)
        while self.done < end:
            done = self.done
            stop = min(end, done + _PIECE)  # in pieces: split() makes an object per escape
            self._read(raw[done - base : stop - base], final and stop == end)
            if self.done == done:
                return

    def _read(self, segment: bytes | bytearray, final: bool) -> None:
        """Read the wire bytes ``segment``, which start at ``done`` (``final``: the stream ends with them)."""
        done = self.done
        if segment[-1] == 0x2D and not final:
            # An odd run of '-' at the end: its last one escapes the byte to come, or is itself.
            # (A run is paired from its start, and the reading is in its normal state at done.)
            run = len(segment) - len(segment.rstrip(b"-"))
            if run & 1:
                segment = segment[:-1]
                if not segment:
                    return
        # split() keeps the escaped bytes (the group) between the pieces: joined, they are the reading
        parts = _ESCAPE_PAIR.split(segment)
        if len(parts) > 1:
            count = self.dropped + len(self.dashes)  # escapes before this segment
            # the i-th escaping '-' follows the first i + 1 plain pieces and i pairs
            before = list(accumulate(map(len, parts[:-1:2])))
            rel = done - self.origin
            self.dashes.extend(map(int.__add__, before, range(rel, rel + 2 * len(before), 2)))
            # the index of the byte it escapes: its wire offset less origin and the escapes up to it
            first = done - self.origin - count
            self.marks.extend(map(int.__add__, before, range(first, first + len(before))))
            self.data += b"".join(parts)
        else:
            self.data += segment
        self.done = done + len(segment)
        self.unescaped += len(segment)

    def cover(self, raw: bytes | bytearray, base: int, end: int, eof: bool, index: int) -> None:
        """Read on until this reading has ``index`` bytes, or the wire bytes up to ``end`` are read."""
        while self.start + len(self.data) < index:
            done = self.done
            # every missing byte takes one or two wire bytes
            self.extend(raw, base, min(end, done + max(index - self.start - len(self.data), 64)), eof)
            if self.done == done:
                return

    def index_of(self, wire: int) -> int:
        """The index of the byte at ``wire`` (which must not be an escaping ``-``).

        (Readings.analyze writes this and wire_of out.)
        """
        return wire - self.origin - self.dropped - bisect_left(self.dashes, wire - self.origin)

    def wire_of(self, index: int) -> int:
        """The wire offset of the byte at ``index`` (of the escaped byte, for an escape pair)."""
        return self.origin + index + self.dropped + bisect_right(self.marks, index)

    def release(self, index: int) -> None:
        """Let go of the bytes before ``index``, once that is worth a copy of the rest."""
        drop = index - self.start
        if drop <= 65536 or drop <= len(self.data) // 2:
            return
        del self.data[:drop]
        self.start = index
        self.crc.keep(self.data, index, index)  # (lets go of its prefix values before index)
        k = bisect_left(self.marks, index)
        if k:
            del self.dashes[:k]
            del self.marks[:k]
            self.dropped += k

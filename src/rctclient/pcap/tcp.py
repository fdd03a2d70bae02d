"""TCP reassembly: the segments of one direction of a connection → its bytes in order, with the holes marked.

A :class:`TcpStream` takes segments as the capture has them (out of order, retransmitted,
overlapping, cut by the snap length, sequence numbers wrapping around 2**32) and puts out
:data:`Piece` s in stream order: data, or a gap of bytes the capture does not have. It knows
nothing of frames; the reader feeds the data to a decoder.

Out-of-order segments are held until the hole in front of them is filled. The hole is given up
(a gap) when the peer acknowledges data behind it (the capture dropped it), when more than
``max_held`` is held (each segment counting :data:`SEGMENT_OVERHEAD` bytes more for its
bookkeeping, so that many tiny segments are bounded too), or when the connection closes.
"""

from __future__ import annotations

import heapq
from typing import Final

from .packets import TCP_FIN, TCP_RST, TCP_SYN

__all__ = ["SEGMENT_OVERHEAD", "Piece", "TcpStream"]

#: What holding one out-of-order segment costs besides its data (its tuple, dict and heap entries).
SEGMENT_OVERHEAD: Final = 128

_SEQ_MOD: Final = 1 << 32
_SEQ_HALF: Final = 1 << 31
_SYN_FIN_RST: Final = TCP_SYN | TCP_FIN | TCP_RST

#: (stream offset, data, missing, packet number, capture time): ``data`` in stream order, or, when
#: ``data`` is empty, ``missing`` bytes that are not in the capture (a gap). Packet and time are
#: those of the segment that brought the data, or that made the hole be given up.
Piece = tuple[int, bytes, int, int, float]


class TcpStream:
    """One direction of a TCP connection, put back in order; see the module's documentation.

    Call :meth:`segment` for each segment of this direction, :meth:`ack` for each acknowledgement
    of the other, :meth:`finish` when the connection closes; take the :attr:`pieces` after each
    call (and clear the list).
    """

    __slots__ = (
        "_heap",
        "_held",
        "_max_held",
        "acked",
        "base",
        "cut_packets",
        "fin_seq",
        "held_bytes",
        "last_packet",
        "last_time",
        "next_seq",
        "out_of_order",
        "pieces",
        "retransmitted",
    )

    def __init__(self, max_held: int) -> None:
        self.next_seq: int | None = None  # unwrapped sequence number of the next byte expected
        self.base = 0  # unwrapped sequence number of stream offset 0
        self.acked: int | None = None  # highest unwrapped acknowledgement of the peer
        self.fin_seq: int | None = None
        # out-of-order segments: unwrapped seq -> (data, length on the wire, packet, time); the heap
        # has their sequence numbers, so that the first is found without a scan
        self._held: dict[int, tuple[bytes, int, int, float]] = {}
        self._heap: list[int] = []
        self._max_held = max_held
        #: What the out-of-order segments held cost: their data plus SEGMENT_OVERHEAD each.
        self.held_bytes = 0
        self.pieces: list[Piece] = []
        self.retransmitted = 0  # bytes seen again (retransmissions and overlaps), not delivered twice
        self.out_of_order = 0  # segments that came before the one in front of them
        self.cut_packets = 0  # segments captured shorter than they were on the wire
        self.last_packet = 0
        self.last_time = 0.0

    @property
    def offset(self) -> int:
        """Stream offset of the next byte expected (0 before the first segment)."""
        return 0 if self.next_seq is None else self.next_seq - self.base

    @property
    def closed(self) -> bool:
        """Whether everything up to the FIN has been delivered."""
        return self.fin_seq is not None and self.next_seq == self.fin_seq

    def unwrap(self, seq: int) -> int:
        """The 32-bit sequence number ``seq`` as the unwrapped one nearest the next byte expected."""
        if self.next_seq is None:
            return seq
        return self.next_seq + ((seq - self.next_seq + _SEQ_HALF) % _SEQ_MOD) - _SEQ_HALF

    def segment(self, seq: int, flags: int, payload: bytes, wire: int, packet: int, time: float) -> int:
        """Take a segment: ``payload`` as captured, ``wire`` bytes of data as sent.

        Returns the stream offset of ``payload`` when it simply is the next data, whole (the common
        case, kept cheap: nothing goes to :attr:`pieces`); otherwise -1, and the pieces tell.
        """
        self.last_packet = packet
        self.last_time = time
        expected = self.next_seq
        if (
            expected is not None
            and wire
            and seq == expected & 0xFFFFFFFF  # a literal: cheaper than a global on this path
            and wire == len(payload)
            and not flags & _SYN_FIN_RST
            and not self._held
        ):  # the common case: the next data of the stream, whole
            self.next_seq = expected + wire
            return expected - self.base
        if flags & TCP_SYN:
            if expected is None:
                self.next_seq = self.base = (seq + 1) % _SEQ_MOD
            seq += 1
        if self.next_seq is None:
            self.next_seq = self.base = seq
        start = self.unwrap(seq % _SEQ_MOD)
        if flags & TCP_FIN:
            self.fin_seq = start + wire
        if wire:
            if start > self.next_seq:
                self.out_of_order += 1
                self._hold(start, payload, wire, packet, time)
            else:
                self._accept(start, payload, wire, packet, time)
        self._settle()
        return -1

    def ack(self, ack: int) -> None:
        """The peer acknowledged everything before ``ack``: a hole it covers will not be filled."""
        expected = self.next_seq
        if expected is None:
            return
        acked = expected + ((ack - expected + _SEQ_HALF) % _SEQ_MOD) - _SEQ_HALF  # unwrap(), inlined: once per packet
        if self.acked is None or acked > self.acked:
            self.acked = acked
            if self._held:
                self._settle()

    def finish(self) -> None:
        """The connection closed: deliver what is held, giving up the holes, and the data acknowledged but missing."""
        if self.next_seq is None:
            return
        while self._heap:
            first = self._heap[0]
            if first > self.next_seq:
                _, _, packet, time = self._held[first]
                self._gap(first - self.next_seq, packet, time)
            self._settle()
        end = self.acked
        if end is not None and self.fin_seq is not None:
            end = min(end, self.fin_seq)
        if end is not None and end > self.next_seq:
            self._gap(end - self.next_seq, self.last_packet, self.last_time)

    # -- internals --------------------------------------------------------------------------------

    def _hold(self, start: int, payload: bytes, wire: int, packet: int, time: float) -> None:
        held = self._held.get(start)
        # of two copies keep the one with more captured data (a copy may be cut by the snap length)
        if held is None or (len(payload), wire) > (len(held[0]), held[1]):
            if held is None:
                heapq.heappush(self._heap, start)
            else:
                self.held_bytes -= len(held[0]) + SEGMENT_OVERHEAD
                self.retransmitted += held[1]
            self._held[start] = (payload, wire, packet, time)
            self.held_bytes += len(payload) + SEGMENT_OVERHEAD
        else:
            self.retransmitted += wire

    def _accept(self, start: int, payload: bytes, wire: int, packet: int, time: float) -> None:
        """Take a segment that starts at or before the next expected byte."""
        assert self.next_seq is not None
        skip = self.next_seq - start
        if skip >= wire:
            self.retransmitted += wire
            return
        self.retransmitted += skip
        data = payload[skip:]
        if data:
            self.pieces.append((self.next_seq - self.base, data, 0, packet, time))
            self.next_seq += len(data)
        missing = wire - max(skip, len(payload))
        if missing > 0:
            self.cut_packets += 1
            self._gap(missing, packet, time)

    def _settle(self) -> None:
        """Deliver held segments that fit now; give up the hole in front if the peer acked it or too much waits."""
        heap, held = self._heap, self._held
        while heap:
            assert self.next_seq is not None
            first = heap[0]
            if first <= self.next_seq:
                heapq.heappop(heap)
                payload, wire, packet, time = held.pop(first)
                self.held_bytes -= len(payload) + SEGMENT_OVERHEAD
                self._accept(first, payload, wire, packet, time)
            elif (self.acked is not None and self.acked >= first) or self.held_bytes > self._max_held:
                _, _, packet, time = held[first]
                self._gap(first - self.next_seq, packet, time)
            else:
                break

    def _gap(self, size: int, packet: int, time: float) -> None:
        assert self.next_seq is not None
        self.pieces.append((self.next_seq - self.base, b"", size, packet, time))
        self.next_seq += size

"""The frame checksum: the one rule that decides whether a frame's CRC matches, and spans in O(1).

A frame's CRC (CRC-CCITT, ``binascii.crc_hqx`` from 0xFFFF) covers command to payload, padded with
one zero byte to an even length, and follows them big-endian. :func:`crc_ok` checks a whole body
(command to CRC) with a single ``crc_hqx`` call: over an even-length body including its CRC the
register ends at 0 exactly when the CRC matches; for an odd length the expected end value is a
linear function of the received CRC, read from two 256-entry tables.

The decoder looks for frames at every start token, and a hostile sender can make thousands of
overlapping frame starts each promise 64 KiB. Checking each by running ``crc_hqx`` over its bytes
would cost the square of the input. :class:`PrefixCRC` answers "what is the CRC of bytes a..b"
from CRC values kept every 32 bytes of a sequence, in constant time: CRC is linear, so
``crc(init, X[a:b]) = Q(b) ^ shift(Q(a) ^ init, b - a)`` where ``Q(x)`` is the CRC of ``X[:x]``
from 0 and ``shift(v, n)`` the CRC of ``n`` zero bytes from ``v``, which tables give in three
steps (the byte step of this CRC has order 32767).
"""

from __future__ import annotations

import sys
from array import array
from binascii import crc_hqx
from typing import Final

__all__ = [
    "IN_USE",
    "ODD_END_HI",
    "ODD_END_LO",
    "SHORT_SPAN",
    "PrefixCRC",
    "SlidingCRC",
    "calculated_crc",
    "crc_ok",
    "shift",
    "shift_steps",
]

INIT: Final = 0xFFFF
#: Frame bodies up to this length are checked by running ``crc_hqx`` over them; longer ones in
#: constant time from prefix CRCs.
SHORT_SPAN: Final = 256


def _odd_tables() -> tuple[tuple[int, ...], tuple[int, ...]]:
    # For an odd-length command..payload X with register R = crc(INIT, X), the right CRC is
    # C = pad(R) = crc(R, b"\0"), and crc(INIT, X + C) = crc(R, C) = f(C) with R = pad^-1(C).
    # pad is the byte step with a zero byte: pad(R) = (R << 8 & 0xFF00) ^ STEP[R >> 8], and the low
    # bytes of STEP are all different, so pad^-1 reads R's high byte back from C's low byte.
    step = [crc_hqx(b"\x00", i << 8) for i in range(256)]
    high_of_low = [0] * 256
    for i, value in enumerate(step):
        high_of_low[value & 0xFF] = i

    def f(c: int) -> int:
        hi = high_of_low[c & 0xFF]
        register = (hi << 8) | ((c >> 8) ^ (step[hi] >> 8))
        return crc_hqx(c.to_bytes(2, "big"), register)

    # f is linear in C: one table for each byte of C.
    return tuple(f(x << 8) for x in range(256)), tuple(f(x) for x in range(256))


#: The end value of ``crc_hqx(body, INIT)`` over an odd-length body whose CRC matches, as a function of
#: that CRC: ``ODD_END_HI[body[-2]] ^ ODD_END_LO[body[-1]]``. (For even lengths it is 0.)
ODD_END_HI, ODD_END_LO = _odd_tables()


def crc_ok(body: bytes | bytearray) -> bool:
    """Whether ``body`` (command to CRC, unescaped) ends with the CRC of the bytes before it.

    The decoder's hot loop writes this same comparison out (a call costs it 2 %), with these tables.
    """
    if len(body) & 1:
        return crc_hqx(body, INIT) == ODD_END_HI[body[-2]] ^ ODD_END_LO[body[-1]]
    return crc_hqx(body, INIT) == 0


def calculated_crc(body: bytes | bytearray) -> int:
    """The CRC that ``body`` (command to CRC, unescaped) should end with."""
    n = len(body) - 2
    crc = crc_hqx(body[:n], INIT)
    return crc_hqx(b"\x00", crc) if n & 1 else crc


# --------------------------------------------------------------------------------------------------
# shift(v, n) = crc_hqx(bytes(n), v) in constant time
# --------------------------------------------------------------------------------------------------

_PERIOD: Final = 32767  # the order of the byte step: n zero bytes do what n % 32767 do
_DIGIT: Final = 5  # n % 32767 < 2**15: three digits of 5 bits, one table per digit value

# Per layer, per digit value: (table for the high byte of v, table for the low byte of v).
_Table = tuple[list[int], list[int]]
_tables: list[list[_Table]] = []


def _table(images: list[int]) -> _Table:
    """The tables of a linear map given by the images of the 16 unit vectors.

    ``hi[x]`` is the image of ``x << 8``, ``lo[x]`` that of ``x``. Built as one big integer of
    16-bit slots: a mask with 1 in each slot whose index has bit i set, times an image (< 2**16),
    puts that image in exactly those slots, and XOR adds the images up. (Lists, not arrays: their
    items are read several times faster.)
    """
    hi = lo = 0
    for i in range(8):
        hi ^= _MASKS[i] * images[8 + i]
        lo ^= _MASKS[i] * images[i]
    return _slots(hi), _slots(lo)


def _slots(value: int) -> list[int]:
    table = array("H")
    table.frombytes(value.to_bytes(512, "little"))
    if sys.byteorder == "big":  # pragma: no cover - the bytes are little-endian
        table.byteswap()
    return table.tolist()


_MASKS: Final = [sum(1 << (16 * x) for x in range(256) if x >> i & 1) for i in range(8)]


def _build() -> None:
    units = [1 << b for b in range(16)]
    for layer in range(3):
        step = 1 << (_DIGIT * layer)  # zero bytes per unit of this layer's digit
        one_hi, one_lo = _table([crc_hqx(bytes(step), u) for u in units])
        images = units
        layer_tables = []
        for _ in range(1 << _DIGIT):
            layer_tables.append(_table(images))
            images = [one_hi[v >> 8] ^ one_lo[v & 0xFF] for v in images]
        _tables.append(layer_tables)


def _layers() -> list[list[_Table]]:
    if not _tables:
        _build()  # about 2 ms, and 1.5 MB, once: only hostile or long broken input needs them
    return _tables


def shift_steps(n: int) -> tuple[list[int], list[int], list[int], list[int], list[int], list[int]]:
    """The tables that :func:`shift` looks up for ``n``, for callers that shift by the same ``n`` often:
    ``shift(v, n)`` is ``v = hi[v >> 8] ^ lo[v & 0xFF]`` for the three pairs in turn."""
    t0, t1, t2 = _layers()
    n %= _PERIOD
    return (*t0[n & 31], *t1[(n >> 5) & 31], *t2[n >> 10])


def shift(v: int, n: int) -> int:
    """The CRC register after ``n`` zero bytes from ``v`` (``crc_hqx(bytes(n), v)``), in constant time."""
    t0, t1, t2 = _layers()
    n %= _PERIOD
    hi, lo = t0[n & 31]
    v = hi[v >> 8] ^ lo[v & 0xFF]
    hi, lo = t1[(n >> 5) & 31]
    v = hi[v >> 8] ^ lo[v & 0xFF]
    hi, lo = t2[n >> 10]
    return hi[v >> 8] ^ lo[v & 0xFF]


# --------------------------------------------------------------------------------------------------
# CRC of any span of a growing sequence
# --------------------------------------------------------------------------------------------------

_STEP: Final = 32  # bytes between two kept prefix values (span() shifts by 5 for it)
#: Prefix values are kept up while spans are asked for at most this far before the bytes let go of.
IN_USE: Final = 65536


class PrefixCRC:
    """CRCs of spans of a byte sequence that grows at its end and is let go at its start.

    Positions are absolute (the caller's coordinates); ``data[0]`` is at position ``base`` in each
    call. Prefix values are kept every 32 bytes from ``origin`` and computed when first needed, so
    a span costs two ``crc_hqx`` calls over at most 32 bytes and one :func:`shift`, whatever its length
    (and the prefix values up to it, once). When the sequence was let go past the prefix value a span
    would start from, the values start again at the oldest byte there is.
    """

    __slots__ = ("_origin", "_values", "used")

    def __init__(self) -> None:
        self._origin = 0
        self._values = array("H", [0])  # CRC from 0 of seq[origin : origin + 32 * i]
        #: The end of the last span asked for (read-only): the values are in use while the bytes let
        #: go of are less than ``IN_USE`` before it.
        self.used = -(1 << 62)

    def _extend(self, data: bytes | bytearray, base: int, k: int) -> None:
        """Compute the prefix values up to the ``k``-th."""
        values = self._values
        crc = values[-1]
        start = self._origin + _STEP * (len(values) - 1) - base
        for _ in range(k - len(values) + 1):
            crc = crc_hqx(data[start : start + _STEP], crc)
            values.append(crc)
            start += _STEP

    def keep(self, data: bytes | bytearray, base: int, upto: int) -> None:
        """The bytes before ``upto`` are about to be let go: compute the prefix values up to there first.

        Without this, spans asked for just after ``upto`` would start the values again (and compute
        them over the whole span). Kept up only while spans are asked for near the data. The values
        before ``base`` (bytes already gone) are let go of.
        """
        if upto - self.used >= IN_USE:
            return  # not in use (the values left are let go of when they are used again)
        values = self._values
        last = self._origin + _STEP * (len(values) - 1)
        if base <= last <= upto - _STEP:
            self._extend(data, base, (upto - self._origin) >> 5)
        drop = (base - self._origin) >> 5
        if drop > 1024 and drop > len(values) // 2:  # the values before base are of no use any more
            del values[:drop]
            self._origin += _STEP * drop

    def span(self, data: bytes | bytearray, base: int, a: int, b: int, init: int = INIT) -> int:
        """``crc_hqx(seq[a:b], init)``, for ``base <= a <= b <= base + len(data)``."""
        origin = self._origin
        values = self._values
        ka = (a - origin) >> 5
        last = len(values) - 1
        if origin + ((ka if ka < last else last) << 5) < base:
            # the bytes after the prefix value to start from are gone: start again where the data begins
            self._origin = origin = base
            self._values = values = array("H", [0])
            ka = (a - base) >> 5
            last = 0
        kb = (b - origin) >> 5
        if kb > last:
            self._extend(data, base, kb)
        self.used = b
        start = origin - base
        v = crc_hqx(data[start + (ka << 5) : a - base], values[ka]) ^ init
        # qb ^ shift(qa ^ init, b - a), the shift written out: the decoder's hot spot on hostile input
        t0, t1, t2 = _tables or _layers()
        n = (b - a) % _PERIOD
        hi, lo = t0[n & 31]
        v = hi[v >> 8] ^ lo[v & 0xFF]
        hi, lo = t1[(n >> 5) & 31]
        v = hi[v >> 8] ^ lo[v & 0xFF]
        hi, lo = t2[n >> 10]
        return crc_hqx(data[start + (kb << 5) : b - base], values[kb]) ^ hi[v >> 8] ^ lo[v & 0xFF]

    def calculated(self, data: bytes | bytearray, base: int, a: int, b: int) -> int:
        """:func:`calculated_crc` of ``seq[a:b]`` (a frame body, command to CRC): compare it with the last two bytes."""
        crc = self.span(data, base, a, b - 2)
        return crc_hqx(b"\x00", crc) if (b - a) & 1 else crc


class SlidingCRC:
    """The CRC that frame bodies should end with, asked for one frame start after another.

    A flood of overlapping frame starts puts one at every other byte, and when they all promise the
    same length (what makes a flood cheap to send) the body moves forward a few bytes at a time. Its
    CRC then follows from the last one: ``crc(0, X[a':b']) = crc(crc(0, X[a:b]), X[b:b']) ^
    shift(crc(0, X[a:a']), b - a)``, two ``crc_hqx`` calls over the few bytes gained and dropped and
    the shift tables for that length, looked up once per length. Other bodies: up to ``SHORT_SPAN``
    bytes by ``crc_hqx`` over them, longer ones from the prefix CRCs (constant time).

    Positions are absolute, as in :class:`PrefixCRC` (``data[0]`` is at ``base``), over the sequence
    that ``prefix`` keeps values of.
    """

    __slots__ = ("_a", "_b", "_from0", "_init", "_m", "_prefix", "_steps")

    def __init__(self, prefix: PrefixCRC) -> None:
        self._prefix = prefix
        self._m = -1  # the length of the last long body
        self._a = self._b = self._from0 = self._init = 0  # its span, its CRC from 0, shift(INIT, m)
        self._steps: tuple[list[int], ...] = ()  # the shift tables for m: three (hi, lo) pairs

    def calculated(self, data: bytes | bytearray, base: int, a: int, b: int) -> int:
        """:func:`calculated_crc` of a body ``seq[a:b]`` (command to payload, without its CRC)."""
        m = b - a
        if m <= SHORT_SPAN:
            crc = crc_hqx(data[a - base : b - base], INIT)
        else:
            last = self._a
            if m == self._m and base <= last <= a <= last + _STEP:  # (beyond a step, a span costs less)
                h0, l0, h1, l1, h2, l2 = self._steps
                v = crc_hqx(data[last - base : a - base], 0)
                v = h0[v >> 8] ^ l0[v & 0xFF]
                v = h1[v >> 8] ^ l1[v & 0xFF]
                from0 = crc_hqx(data[self._b - base : b - base], self._from0) ^ h2[v >> 8] ^ l2[v & 0xFF]
            else:
                from0 = self._prefix.span(data, base, a, b, 0)
                if m != self._m:
                    self._m = m
                    self._init = shift(INIT, m)
                    self._steps = shift_steps(m)
            self._a = a
            self._b = b
            self._from0 = from0
            crc = from0 ^ self._init
        return crc_hqx(b"\x00", crc) if m & 1 else crc

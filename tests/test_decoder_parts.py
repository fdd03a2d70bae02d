"""The decoder's parts on their own: the CRC rule and span CRCs, the stream buffer, the escaped reading."""

from __future__ import annotations

import re
from binascii import crc_hqx

from hypothesis import given, settings
from hypothesis import strategies as st

from rctclient._framebuffer import StreamBuffer, Unescaped
from rctclient._framecrc import PrefixCRC, calculated_crc, crc_ok, shift
from rctclient._frameparse import Bad, Good, Open, Readings
from rctclient.frame import make_bad_frame, make_frame
from rctclient.types import Command


def reference_crc(body: bytes) -> int:
    """The frame CRC as specified: command to payload, padded with a zero byte to an even length."""
    return crc_hqx(body + b"\x00" * (len(body) % 2), 0xFFFF)


@given(st.binary(min_size=1, max_size=80), st.integers(0, 0xFFFF))
def test_crc_ok_is_the_specified_rule(body: bytes, noise: int) -> None:
    good = body + reference_crc(body).to_bytes(2, "big")
    assert crc_ok(good)
    assert calculated_crc(good) == reference_crc(body)
    bad = body + (reference_crc(body) ^ noise).to_bytes(2, "big")
    assert crc_ok(bad) == (noise == 0)


@given(st.integers(0, 0xFFFF), st.integers(0, 200_000))
def test_shift_is_crc_over_zero_bytes(value: int, n: int) -> None:
    assert shift(value, n) == crc_hqx(bytes(n), value)


@settings(max_examples=50)
@given(st.binary(min_size=1, max_size=3000), st.data())
def test_prefix_crc_of_any_span(data: bytes, draw: st.DataObject) -> None:
    # spans asked in any order, while the sequence grows at its end and is let go at its start
    crc = PrefixCRC()
    seq = bytearray(data)
    base = 0
    for _ in range(20):
        a = draw.draw(st.integers(base, base + len(seq) - 1))
        b = draw.draw(st.integers(a, base + len(seq)))
        assert crc.span(seq, base, a, b) == crc_hqx(bytes(seq[a - base : b - base]), 0xFFFF)
        if b - a >= 3:
            assert crc.calculated(seq, base, a, b) == calculated_crc(bytes(seq[a - base : b - base]))
        drop = draw.draw(st.integers(0, len(seq) - 1))
        crc.keep(seq, base, base + drop)
        del seq[:drop]
        base += drop
        seq += draw.draw(st.binary(max_size=100))


ESCAPE_PAIR = re.compile(rb"-([+-])")


@given(st.lists(st.sampled_from(b"+-ab"), min_size=1, max_size=300).map(bytes), st.data())
def test_unescaped_reads_in_pieces_as_in_one(raw: bytes, data: st.DataObject) -> None:
    cuts = sorted(data.draw(st.lists(st.integers(1, len(raw)), max_size=6)))
    reading = Unescaped(0)
    for cut in cuts:
        reading.extend(raw, 0, cut, False)
    reading.extend(raw, 0, len(raw), True)
    assert bytes(reading.data) == b"".join(ESCAPE_PAIR.split(raw))
    for index in range(len(reading.data)):
        wire = reading.wire_of(index)
        assert reading.index_of(wire) == index
        # the byte at that wire offset is the reading's byte (escaped, or itself)
        assert raw[wire] == reading.data[index]


def test_unescaped_holds_back_a_trailing_dash() -> None:
    reading = Unescaped(0)
    reading.extend(b"ab-", 0, 3, False)
    assert bytes(reading.data) == b"ab" and reading.done == 2  # '-' waits for the byte after it
    reading.extend(b"ab-+", 0, 4, False)
    assert bytes(reading.data) == b"ab+"
    other = Unescaped(0)
    other.extend(b"ab-", 0, 3, True)  # the stream ended: the '-' is itself
    assert bytes(other.data) == b"ab-"


def test_stream_buffer_copies_what_arrives_not_what_it_keeps() -> None:
    buffer = StreamBuffer()
    buffer.append(b"x" * 10_000)
    buffer.join(0)
    assert isinstance(buffer.data, bytes)
    copied = buffer.copied
    for _ in range(1000):  # a long frame arriving a byte at a time, all of it kept
        buffer.append(b"y")
        buffer.join(0)
    assert isinstance(buffer.data, bytearray)
    assert buffer.copied - copied < 15_000  # not 1000 copies of 10 KB
    assert buffer.end == 11_000 and bytes(buffer.data[-3:]) == b"yyy"
    buffer.append(b"z" * 5000)  # a large read, little kept: bytes again
    buffer.join(10_990)
    assert isinstance(buffer.data, bytes) and buffer.data.startswith(b"y" * 10) and buffer.base == 10_990


def readings_of(data: bytes, eof: bool = False) -> Readings:
    buffer = StreamBuffer()
    buffer.append(data)
    buffer.join(0)
    readings = Readings(buffer, 0)
    readings.eof = eof
    return readings


def test_readings_outcomes() -> None:
    frame = make_frame(Command.LONG_RESPONSE, 0x11223344, b"+-" * 200)  # escaped, long: a span CRC
    good = readings_of(frame).analyze(0)
    assert isinstance(good, Good) and good.payload == b"+-" * 200 and good.end == len(frame)
    bad = readings_of(make_bad_frame(Command.LONG_RESPONSE, 0x11223344, b"+-" * 200, crc_xor=7)).analyze(0, 16)
    assert isinstance(bad, Bad) and len(bad.payload) == 16 and bad.received ^ bad.calculated == 7
    waiting = readings_of(frame[:100]).analyze(0)
    assert isinstance(waiting, Open) and waiting.oid == 0x11223344 and waiting.payload_length == 400
    # the object ID not there yet: a look when it is, for the length check against it
    early = readings_of(frame[:6]).analyze(0)
    assert isinstance(early, Open) and early.oid == -1 and early.need_unescaped == 1 + 2 + 4 + 1

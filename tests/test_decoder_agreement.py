"""The decoder's shortcuts decide exactly as its thorough way: both compared on generated streams.

``FrameDecoder`` decides the common cases in place (``_fill``'s shortcuts) and everything else by
reading the frame start into a typed outcome (``_frameparse.Readings``). ``_thorough_decoder()``
switches the shortcuts off. The streams are built from the pieces that exercise each shortcut and
the structures an attacker would use (frame starts inside broken frames, long promises, escapes
everywhere, senders that do not escape), fed whole, a byte at a time and in random pieces; the
events after every feed, and the counters at the end, must be the same.

``AGREEMENT_EXAMPLES=5000`` runs the generated streams longer than CI does.
"""

from __future__ import annotations

import os
import struct
from binascii import crc_hqx

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rctclient.frame import (
    NEED_DATA,
    CRCMismatch,
    Event,
    Frame,
    FrameDecoder,
    NeedData,
    _thorough_decoder,
    decode_frames,
    make_bad_frame,
    make_frame,
)
from rctclient.types import Command

SOC = 0x959930BF  # battery.soc, a FLOAT: the registry bounds its payload to 4 bytes
COMMANDS = [c for c in Command if c not in (Command.EXTENSION, Command._NONE)]


def raw_frame(command: int, oid: int, payload: bytes = b"", address: int | None = None) -> bytes:
    """A frame as a sender that does not escape sends it."""
    body = struct.pack(
        ">BH" if Command.is_long(command) else ">BB", command, len(payload) + (8 if address is not None else 4)
    )
    if address is not None:
        body += struct.pack(">I", address)
    body += struct.pack(">I", oid) + payload
    crc = crc_hqx(body + (b"\x00" if len(body) % 2 else b""), 0xFFFF)
    return b"+" + body + struct.pack(">H", crc)


# payload bytes biased towards the ones that matter: start tokens, escapes, commands
payload_bytes = st.binary(max_size=40) | st.lists(st.sampled_from(b"+-\x00\x05\x06AT<"), max_size=60).map(bytes)
long_payload = st.integers(257, 700).flatmap(
    lambda n: st.sampled_from([bytes(n), b"+" * n, b"-+" * (n // 2), bytes(range(256)) * 3]).map(lambda p: p[:n])
)


@st.composite
def frame_args(draw: st.DrawFn, long_payloads: bool = True) -> tuple[Command, int, int, bytes]:
    cmd = draw(st.sampled_from(COMMANDS))
    oid = draw(st.sampled_from([SOC, 0x2B2D2B2D, 0x12345678]) | st.integers(0, 0xFFFFFFFF))
    address = draw(st.integers(0, 0xFFFFFFFF)) if Command.is_plant(cmd) else 0
    payload = (
        b"" if Command.is_read(cmd) else draw(long_payload if long_payloads and Command.is_long(cmd) else payload_bytes)
    )
    limit = (0xFFFF if Command.is_long(cmd) else 0xFF) - (8 if Command.is_plant(cmd) else 4)
    return cmd, oid, address, payload[:limit]


@st.composite
def starts_in_a_row(draw: st.DrawFn, escaped: bool) -> bytes:
    """Frame starts one after another inside a broken frame (what a flood of them looks like)."""
    if not escaped:  # long ones, complete, without escapes
        start = draw(st.sampled_from([b"+\x06\x01\x30", b"+\x46\x01\x38"]))  # (LONG and PLANT_LONG)
        return b"+\x06\x01\x40" + b"\x00" * 8 + (start + bytes(12)) * draw(st.integers(1, 25)) + bytes(400)
    # escaped ones (short, LONG, PLANT), with '-' runs of odd and even length, complete or not
    start = draw(st.sampled_from([b"+\x06\x01", b"+\x46\x01", b"+\x05", b"+\x03\x00", b"+\x06"]))
    unit = start + b"-" * draw(st.integers(1, 4)) + draw(st.sampled_from([b"+", b"", b"\x30", b"+\x00-"]))
    tail = draw(st.sampled_from([b"", bytes(400), b"-+" * 300, make_frame(Command.RESPONSE, SOC, b"+-")]))
    return b"+\x06\x01\x40" + bytes(8) + unit * draw(st.integers(1, 40)) + tail


@st.composite
def piece(draw: st.DrawFn) -> bytes:
    kind = draw(st.integers(0, 16))
    cmd, oid, address, payload = draw(frame_args())
    frame = make_frame(cmd, oid, payload, address)
    if kind <= 3:
        return frame
    if kind == 4:  # a sender that does not escape
        return raw_frame(cmd, oid, payload, address if Command.is_plant(cmd) else None)
    if kind == 5:  # cut off
        return frame[: draw(st.integers(1, len(frame) - 1))]
    if kind == 6:
        return make_bad_frame(cmd, oid, payload, address, crc_xor=draw(st.integers(1, 0xFFFF)))
    if kind == 7:
        return draw(
            st.sampled_from([b"AT+\r", b"AT+", b"AT", b"A", b"+<\xe1", b"+<", b"+<+", b"+\x06\x00-", b"+\x05-"])
        )
    if kind == 8:  # noise
        return draw(st.binary(max_size=30) | st.lists(st.sampled_from(b"+-\x00\x05\x06AT\r<"), max_size=30).map(bytes))
    if kind == 9:  # promises: a header with a long (or implausible) length, then bytes of some kind
        header = draw(
            st.sampled_from([b"+\x06\xff\xff", b"+\x46\xff\xff", b"+\x05\xff", b"+\x06\x01\x30", b"+\x03\x00\x09"])
        )
        header += struct.pack(">I", draw(st.sampled_from([SOC, 0x12345678])))
        return header + draw(st.sampled_from([b"", bytes(50), b"-+" * 30, b"--" * 20, b"+" * 20]))
    if kind == 10:  # floods of frame starts
        unit = draw(st.sampled_from([b"+\x06", b"+\x06-", b"+\x05", b"+x", b"+", b"-", b"-+", b"AT+", b"+<", b"+\x46"]))
        return unit * draw(st.integers(1, 80))
    if kind == 11:  # a broken frame with a good one (or a long frame start) inside it
        inner = draw(
            st.sampled_from([frame, b"+\x06\x01\x30" + bytes(30), make_frame(Command.LONG_RESPONSE, SOC, bytes(300))])
        )
        outer = make_bad_frame(Command.LONG_RESPONSE, 0x12345678, bytes(20) + inner + bytes(400), crc_xor=1)
        return outer[: draw(st.integers(len(outer) // 2, len(outer)))]
    if kind in (12, 15):
        return draw(starts_in_a_row(escaped=kind == 15))
    if kind == 13:  # a literal frame whose escaped reading differs (an escape pair in it)
        return raw_frame(
            Command.WRITE, draw(st.sampled_from([0x2D2B0000, SOC])), draw(st.sampled_from([b"-+", b"a--b", b"+", b"-"]))
        )
    if kind == 14:  # lengths too short for the object ID; escaped length fields, good and broken
        return draw(
            st.sampled_from(
                [
                    b"+\x05\x02",
                    b"+\x45\x06\x00\x00",
                    b"+\x06\x00\x03",
                    b"+\x05--\x01\x02",
                    make_frame(Command.RESPONSE, SOC, bytes(39)),
                    make_bad_frame(Command.RESPONSE, SOC, bytes(41), crc_xor=2),
                    make_frame(Command.PLANT_RESPONSE, SOC, bytes(35), 0x2B2D2B2D),
                    b"\x00" + frame,
                ]
            )
        )
    return frame + b"-"  # a frame, then a '-' that may escape what comes next


@st.composite
def feeding(draw: st.DrawFn, size: int) -> list[int]:
    mode = draw(st.integers(0, 3))
    if mode == 0:
        return [size]
    if mode == 1 and size <= 1500:
        return [1] * size
    return draw(st.lists(st.integers(1, 300), max_size=200))


decoder_options = st.fixed_dictionaries(
    {},
    optional={
        "registry": st.none(),
        "max_payload": st.sampled_from([20, 300, 0xFFFF - 4]),
        "report_noise": st.booleans(),
    },
)


def feed_both(data: bytes, sizes: list[int], options: dict[str, object]) -> tuple[list[Event], FrameDecoder]:
    fast = FrameDecoder(**options)  # type: ignore[arg-type]
    slow = _thorough_decoder(**options)
    out: list[Event] = []
    steps = []
    pos = 0
    for size in sizes:
        if pos >= len(data):
            break
        steps.append(data[pos : pos + size])
        pos += size
    if pos < len(data):
        steps.append(data[pos:])
    steps.append(b"")
    for step in steps:
        fast.feed(step)
        slow.feed(step)
        got = list(fast.events())
        want = list(slow.events())
        assert got == want, (step, got, want)
        assert fast.buffered == slow.buffered
        out.extend(got)
    assert fast.stats == slow.stats
    return out, fast


@settings(
    max_examples=int(os.environ.get("AGREEMENT_EXAMPLES", "400")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(piece(), min_size=1, max_size=10), st.data(), decoder_options)
def test_shortcuts_decide_as_the_thorough_way(
    pieces: list[bytes], data: st.DataObject, options: dict[str, object]
) -> None:
    stream = b"".join(pieces)
    sizes = data.draw(feeding(len(stream)))
    feed_both(stream, sizes, options)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.binary(max_size=30), frame_args(long_payloads=False)), min_size=1, max_size=8), st.data())
def test_frames_do_not_depend_on_the_feeding(
    items: list[tuple[bytes, tuple[Command, int, int, bytes]]], data: st.DataObject
) -> None:
    # Escaped frames with garbage between them: the frames found are the same however the bytes
    # arrive (the events about the garbage may differ: a cut-off frame is recognised as such while
    # incomplete, and as a checksum error once complete). The size of a frame whose CRC ends in
    # 0x2D, sent as '--', is one less when the bytes stop between the two: its literal reading is
    # complete and good then, and a sender that does not escape is answered without waiting for a
    # byte that may never come.
    stream = b"".join(
        garbage + make_frame(cmd, oid, payload, address) for garbage, (cmd, oid, address, payload) in items
    )
    whole = [e[:5] for e in decode_frames(stream, registry=None) if isinstance(e, Frame)]
    events, _ = feed_both(stream, data.draw(feeding(len(stream))), {"registry": None})
    assert [e[:5] for e in events if isinstance(e, Frame)] == whole


def test_next_event_and_events_agree() -> None:
    stream = b"".join(
        [make_frame(Command.RESPONSE, SOC, b"\x01+\x02-"), b"+\x06\xff\xff" + b"-+" * 200, b"AT+\r" * 300]
    )
    stream += make_bad_frame(Command.RESPONSE, SOC, b"abcd", crc_xor=3) * 400
    by_iter = decode_frames(stream)
    dec = FrameDecoder()
    dec.feed(stream)
    dec.feed(b"")
    one_by_one = []
    while (ev := dec.next_event()) is not NEED_DATA:
        assert not isinstance(ev, NeedData)
        one_by_one.append(ev)
    assert one_by_one == by_iter
    assert any(isinstance(e, CRCMismatch) for e in by_iter)


LARGE_UNITS = {
    # a long promise, then frame starts promising 11 KB each (the lookahead fills up and moves on)
    "long_starts": b"+\x06\xff\xff" + b"+\x06" * 3000,
    # escapes everywhere, a good frame now and then
    "escaped": (b"+\x06-" * 200 + make_frame(Command.RESPONSE, SOC, b"+-+-")) * 4,
    # escaped frame starts one after another, complete (short, LONG and PLANT ones), a good frame among them
    "escaped_starts": (
        b"+\x06\x01-+" * 300
        + b"+\x05--" * 300
        + b"+\x46\x01---+" * 100
        + make_frame(Command.LONG_RESPONSE, SOC, b"-+" * 200)
    )
    * 4,
    # broken long frames with good ones inside, and frames whose length byte is escaped
    "nested": (
        make_bad_frame(
            Command.LONG_RESPONSE,
            0x12345678,
            bytes(30) + make_frame(Command.RESPONSE, SOC, b"1234") + bytes(600),
            crc_xor=9,
        )
        + make_bad_frame(Command.RESPONSE, SOC, bytes(39), crc_xor=5)
        + make_frame(Command.RESPONSE, SOC, b"+" * 41)
    )
    * 20,
}


@pytest.mark.parametrize("unit", sorted(LARGE_UNITS))
def test_large_streams_in_small_pieces(unit: str) -> None:
    # Large enough to let go of bytes (and of what the thorough way keeps) while a frame is
    # pending, fed in pieces small enough that the buffer grows a bytearray: the shortcuts and the
    # thorough way still decide alike.
    size = 200_000 if unit != "nested" else 70_000
    data = (LARGE_UNITS[unit] * (size // len(LARGE_UNITS[unit]) + 1))[:size]
    sizes = [1 + (i * 7919) % 700 for i in range(2000)]
    events, dec = feed_both(data, sizes, {})
    assert dec.stats.bytes_in == len(data)
    assert events


def test_frames_beyond_where_the_next_escape_was_looked_for() -> None:
    # The shortcuts look for the next '-' a few KiB ahead at a time: frames that end beyond that
    # point, with and without a '-' past it (an escape, a lone one from a sender that does not
    # escape), fed whole and in pieces.
    short = make_frame(Command.RESPONSE, SOC, b"abcd")
    plain = make_frame(Command.LONG_RESPONSE, 0x12345678, bytes(6000))
    escaped = make_frame(Command.LONG_RESPONSE, 0x12345678, bytes(5000) + b"-" + bytes(10))
    lone = raw_frame(Command.LONG_RESPONSE, 0x12345678, bytes(5000) + b"-a" + bytes(10))
    stream = short * 300 + plain + short * 3 + escaped + short + lone + short * 400 + escaped
    for sizes in ([len(stream)], [1460] * 40):
        events, _ = feed_both(stream, sizes, {"registry": None})
        assert sum(isinstance(e, Frame) for e in events) == 708

"""Frames: building, the documented ReceiveFrame, and the streaming FrameDecoder."""

from __future__ import annotations

import struct
from binascii import crc_hqx

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rctclient.exceptions import (
    FrameCRCMismatch,
    FrameEncodeError,
    FrameLengthExceeded,
    InvalidCommand,
    RctClientException,
    ReceiveFrameError,
)
from rctclient.frame import (
    NEED_DATA,
    CRCMismatch,
    Event,
    Extension,
    Frame,
    FrameDecoder,
    Garbage,
    GarbageReason,
    KeepAlive,
    ReceiveFrame,
    SendFrame,
    decode_frames,
    make_frame,
)
from rctclient.types import Command, FrameType

SOC = 0x959930BF
READ_SOC = bytes.fromhex("2b0104959930bf0d65")
SOC_ANSWER = bytes.fromhex("002b0508959930bf3f590f868810")

ALL_COMMANDS = [c for c in Command if c not in (Command.EXTENSION, Command._NONE)]


def raw_frame(command: int, oid: int, payload: bytes = b"", address: int | None = None) -> bytes:
    """A frame as a sender that does not escape would send it."""
    long_ = Command.is_long(command)
    length = len(payload) + (8 if address is not None else 4)
    body = struct.pack(">BH" if long_ else ">BB", command, length)
    if address is not None:
        body += struct.pack(">I", address)
    body += struct.pack(">I", oid) + payload
    crc = crc_hqx(body + (b"\x00" if len(body) % 2 else b""), 0xFFFF)
    return b"+" + body + struct.pack(">H", crc)


def frames_of(events: list[Event]) -> list[tuple[int, int, int, bytes]]:
    return [(e.command, e.id, e.address, e.data) for e in events if isinstance(e, Frame)]


def decode_in_chunks(data: bytes, sizes: list[int], **kwargs: object) -> list[Event]:
    dec = FrameDecoder(**kwargs)  # type: ignore[arg-type]
    out: list[Event] = []
    pos = 0
    for size in sizes:
        dec.feed(data[pos : pos + size])
        pos += size
        out.extend(dec.events())
        if pos >= len(data):
            break
    if pos < len(data):
        dec.feed(data[pos:])
        out.extend(dec.events())
    dec.feed(b"")
    out.extend(dec.events())
    return out


def strip_offsets(events: list[Event]) -> list[object]:
    return [(type(e).__name__, e) for e in events]


# --------------------------------------------------------------------------------------------------
# make_frame / SendFrame
# --------------------------------------------------------------------------------------------------


def test_make_frame_documented_example() -> None:
    assert make_frame(Command.READ, SOC).hex() == "2b0104959930bf0d65"
    assert make_frame(command=Command.READ, id=SOC) == READ_SOC


def test_sendframe_documented_repr_and_properties() -> None:
    frame = SendFrame(command=Command.READ, id=SOC)
    assert repr(frame) == "<SendFrame(command=1, id=0x959930BF, payload=0x)>"
    assert frame.data.hex() == "2b0104959930bf0d65"
    assert frame.command is Command.READ
    assert frame.id == SOC
    assert frame.address == 0
    assert frame.frame_type is FrameType.STANDARD
    assert frame.payload == b""


def test_sendframe_write_and_plant() -> None:
    frame = SendFrame(Command.PLANT_WRITE, SOC, payload=b"\x3f\x00\x00\x00", address=0x11223344)
    assert frame.frame_type is FrameType.PLANT
    assert frame.address == 0x11223344
    assert repr(frame) == "<SendFrame(command=66, id=0x959930BF, payload=0x3f000000)>"
    dec = decode_frames(frame.data)
    assert frames_of(dec) == [(Command.PLANT_WRITE, SOC, 0x11223344, b"\x3f\x00\x00\x00")]


def test_read_carries_no_payload() -> None:
    # The documented behaviour: a payload is ignored for READ, and the length field says 4.
    assert make_frame(Command.READ, SOC, payload=b"\x01\x02") == READ_SOC
    assert SendFrame(Command.READ, SOC, payload=b"\x01").payload == b""


def test_long_frames_have_two_length_bytes() -> None:
    payload = bytes(range(256)) * 2
    data = make_frame(Command.LONG_RESPONSE, SOC, payload)
    events = decode_frames(data)
    assert frames_of(events) == [(Command.LONG_RESPONSE, SOC, 0, payload)]
    plant = make_frame(Command.PLANT_LONG_RESPONSE, SOC, payload, address=7)
    assert frames_of(decode_frames(plant)) == [(Command.PLANT_LONG_RESPONSE, SOC, 7, payload)]


def test_everything_is_escaped() -> None:
    # 0x2B and 0x2D in id, payload and CRC are escaped; nothing but the start token is a bare '+'.
    oid = 0x2B2D2B2D
    data = make_frame(Command.WRITE, oid, b"+-+-")
    assert data[0:1] == b"+"
    assert b"+" not in data[1:].replace(b"-+", b"")
    assert frames_of(decode_frames(data)) == [(Command.WRITE, oid, 0, b"+-+-")]
    rf = ReceiveFrame()
    assert rf.consume(data) == len(data)
    assert rf.complete() and rf.crc_ok and rf.id == oid and rf.data == b"+-+-"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((Command.READ, 1 << 32), "object id"),
        ((Command.READ, -1), "object id"),
        ((Command.EXTENSION, SOC), "cannot build"),
        ((0x77, SOC), "cannot build"),
        ((Command.RESPONSE, SOC, bytes(252)), "too long"),
        ((Command.LONG_RESPONSE, SOC, bytes(0x10000)), "too long"),
        ((Command.PLANT_READ, SOC, b"", 1 << 32), "address"),
    ],
)
def test_make_frame_rejects_what_cannot_be_sent(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(FrameEncodeError, match=message) as info:
        make_frame(*args)  # type: ignore[arg-type]
    assert isinstance(info.value, struct.error)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RctClientException)


def test_make_frame_frame_type_must_agree() -> None:
    with pytest.raises(FrameEncodeError, match="PLANT"):
        make_frame(Command.PLANT_READ, SOC, frame_type=FrameType.STANDARD)
    with pytest.raises(FrameEncodeError, match="STANDARD"):
        make_frame(Command.READ, SOC, frame_type=FrameType.PLANT)
    assert make_frame(Command.READ, SOC, frame_type=FrameType.STANDARD) == READ_SOC


def test_response_payload_limit_is_exact() -> None:
    make_frame(Command.RESPONSE, SOC, bytes(251))
    with pytest.raises(FrameEncodeError, match="LONG"):
        make_frame(Command.RESPONSE, SOC, bytes(252))
    make_frame(Command.PLANT_RESPONSE, SOC, bytes(247), address=1)
    with pytest.raises(FrameEncodeError):
        make_frame(Command.PLANT_RESPONSE, SOC, bytes(248), address=1)


# --------------------------------------------------------------------------------------------------
# ReceiveFrame: the documented examples and contract
# --------------------------------------------------------------------------------------------------


def test_receiveframe_documented_read_example() -> None:
    frame = ReceiveFrame()
    assert frame.complete() is False
    data = bytearray.fromhex("2b0104959930bf0d65")
    assert frame.consume(data) == 9
    assert repr(frame) == "<ReceiveFrame(cmd=1, id=959930bf, address=0, data=)>"
    assert frame.frame_length == 9
    assert frame.consumed_bytes == 9


def test_receiveframe_documented_response_example() -> None:
    frame = ReceiveFrame()
    assert frame.consume(bytearray.fromhex("002b0508959930bf3f590f868810")) == 14
    assert frame.complete()
    assert repr(frame) == "<ReceiveFrame(cmd=5, id=959930bf, address=0, data=3f590f86)>"
    assert frame.crc_ok
    assert frame.command is Command.RESPONSE
    assert frame.frame_type is FrameType.STANDARD
    assert struct.unpack(">f", frame.data)[0] == 0.8478931188583374
    assert frame.consumed_bytes == 14
    assert frame.frame_length == 13


def test_receiveframe_byte_at_a_time() -> None:
    frame = ReceiveFrame()
    used = [frame.consume(SOC_ANSWER[i : i + 1]) for i in range(len(SOC_ANSWER))]
    assert used == [1] * len(SOC_ANSWER)
    assert frame.complete() and frame.data.hex() == "3f590f86"
    assert frame.consume(b"more") == 0  # complete: consumes nothing more


def test_receiveframe_stops_at_the_end_of_the_frame() -> None:
    data = SOC_ANSWER + READ_SOC
    frame = ReceiveFrame()
    n = frame.consume(data)
    assert n == len(SOC_ANSWER)
    second = ReceiveFrame()
    assert second.consume(data[n:]) == len(READ_SOC)
    assert second.command is Command.READ


def test_receiveframe_crc_mismatch_carries_consumed_bytes() -> None:
    bad = bytearray(SOC_ANSWER)
    bad[-1] ^= 0xFF
    frame = ReceiveFrame()
    with pytest.raises(FrameCRCMismatch) as info:
        frame.consume(bytes(bad) + READ_SOC)
    assert info.value.consumed_bytes == len(SOC_ANSWER)
    assert info.value.received_crc == 0x8810 ^ 0xFF
    assert info.value.calculated_crc == 0x8810
    assert frame.complete() and not frame.crc_ok
    lenient = ReceiveFrame(ignore_crc_mismatch=True)
    assert lenient.consume(bytes(bad)) == len(SOC_ANSWER)
    assert lenient.complete() and not lenient.crc_ok and lenient.data.hex() == "3f590f86"


def test_receiveframe_invalid_command() -> None:
    frame = ReceiveFrame()
    with pytest.raises(InvalidCommand) as info:
        frame.consume(b"\x00+\x77abc")
    assert info.value.command == 0x77
    assert info.value.consumed_bytes == 3
    with pytest.raises(InvalidCommand) as ext:
        ReceiveFrame().consume(b"+<\xe1" + READ_SOC)
    assert ext.value.command == Command.EXTENSION
    assert ext.value.consumed_bytes == 2


def test_receiveframe_length_too_short() -> None:
    with pytest.raises(FrameLengthExceeded) as info:
        ReceiveFrame().consume(b"+\x01\x02\x95\x99")
    assert isinstance(info.value, ReceiveFrameError)
    assert info.value.consumed_bytes == 3


def test_receiveframe_plant_frame() -> None:
    data = make_frame(Command.PLANT_RESPONSE, SOC, b"\x01\x02\x03\x04", address=0xA1B2C3D4)
    frame = ReceiveFrame()
    assert frame.consume(data) == len(data)
    assert frame.address == 0xA1B2C3D4
    assert frame.frame_type is FrameType.PLANT
    assert frame.frame_length == 1 + 1 + 1 + 4 + 4 + 4 + 2


def test_receiveframe_copies_only_one_frame_of_a_large_buffer() -> None:
    big = make_frame(Command.LONG_RESPONSE, SOC, bytes(range(256)) * 100)
    stream = memoryview(b"\x00" * 10_000 + READ_SOC + big + READ_SOC * 10_000)
    first = ReceiveFrame()
    n = first.consume(stream)
    assert n == 10_000 + len(READ_SOC) and first.id == SOC
    second = ReceiveFrame()
    assert second.consume(stream[n:]) == len(big) and second.data == bytes(range(256)) * 100
    assert second._buffer.end < 2 * len(big)  # about one frame, not everything behind it


def test_receiveframe_reports_header_while_incomplete() -> None:
    frame = ReceiveFrame()
    frame.consume(SOC_ANSWER[:5])
    assert not frame.complete()
    assert frame.command is Command.RESPONSE
    assert frame.frame_length == 13


# --------------------------------------------------------------------------------------------------
# FrameDecoder
# --------------------------------------------------------------------------------------------------


def test_decoder_documented_bytes() -> None:
    dec = FrameDecoder()
    assert dec.next_event() is NEED_DATA
    dec.feed(SOC_ANSWER)
    ev = dec.next_event()
    assert isinstance(ev, Frame)
    assert ev.command is Command.RESPONSE and ev.id == SOC and ev.data.hex() == "3f590f86"
    assert ev.offset == 1 and ev.size == 13
    assert ev.frame_type is FrameType.STANDARD
    assert dec.next_event() is NEED_DATA
    assert dec.stats.frames == 1 and dec.stats.garbage_bytes == 1


def test_decoder_noise_events_on_request() -> None:
    events = decode_frames(b"\x00\x00" + READ_SOC + b"xyz", report_noise=True)
    assert events[0] == Garbage(GarbageReason.NOISE, b"\x00\x00", 0)
    assert isinstance(events[1], Frame)
    assert events[2] == Garbage(GarbageReason.NOISE, b"xyz", 11)


def test_decoder_keepalive_and_extension() -> None:
    stream = b"AT+\r" + READ_SOC + b"+<\xe1" + SOC_ANSWER
    for sizes in ([len(stream)], [1] * len(stream), [2, 3, 5, 7] * 10):
        events = decode_in_chunks(stream, sizes)
        kinds = [type(e) for e in events]
        assert kinds == [KeepAlive, Frame, Extension, Frame], sizes
        assert events[0] == KeepAlive(0)
        assert events[2] == Extension(b"+<\xe1", 13)


def test_extension_does_not_swallow_next_start_token() -> None:
    events = decode_frames(b"+<" + READ_SOC)
    assert [type(e) for e in events] == [Extension, Frame]


def test_keepalive_like_bytes_are_noise() -> None:
    events = decode_frames(b"AT" + READ_SOC + b"A" + b"AT", report_noise=True)
    assert [type(e) for e in events] == [Garbage, Frame, Garbage]
    assert events[0].data == b"AT"  # type: ignore[union-attr]


def test_crc_mismatch_is_reported_and_decoding_goes_on() -> None:
    bad = bytearray(make_frame(Command.RESPONSE, SOC, b"\x00\x00\x00\x00"))
    bad[-1] ^= 1
    events = decode_frames(bytes(bad) + READ_SOC)
    assert isinstance(events[0], CRCMismatch)
    assert events[0].id == SOC and events[0].received_crc != events[0].calculated_crc
    assert frames_of(events[1:]) == [(Command.READ, SOC, 0, b"")]


def test_good_frame_inside_a_bad_one_is_not_lost() -> None:
    # A frame whose last bytes are lost, so that its length swallows the next frame.
    cut = make_frame(Command.RESPONSE, SOC, b"\x00" * 20)[:-6]
    stream = cut + READ_SOC + SOC_ANSWER
    events = decode_frames(stream)
    assert frames_of(events) == [
        (Command.READ, SOC, 0, b""),
        (Command.RESPONSE, SOC, 0, bytes.fromhex("3f590f86")),
    ]
    assert any(isinstance(e, CRCMismatch | Garbage) for e in events)


def test_truncated_frame_is_given_up_without_eof_when_a_good_frame_follows() -> None:
    cut = make_frame(Command.LONG_RESPONSE, 0x12345678, b"\x00" * 1000)[:40]
    dec = FrameDecoder(registry=None)
    dec.feed(cut + READ_SOC)
    events = list(dec.events())
    assert events[0].offset == 0 and isinstance(events[0], Garbage)
    assert events[0].reason is GarbageReason.TRUNCATED
    assert frames_of(events) == [(Command.READ, SOC, 0, b"")]
    assert dec.stats.truncated == 1


def test_a_frame_after_a_cut_one_in_a_later_read_is_not_held_back() -> None:
    # '+\x01\xff' promises 255 bytes; the next read brings a good frame instead, and nothing more
    for garbage in (b"+\x01\xff", b"+\x06\x01\x00\x12\x34\x56\x78", b"+\x05\x80"):
        dec = FrameDecoder(registry=None)
        dec.feed(garbage)
        assert dec.next_event() is NEED_DATA
        dec.feed(READ_SOC)
        assert frames_of(list(dec.events())) == [(Command.READ, SOC, 0, b"")], garbage


def test_absurd_length_does_not_stall_the_stream() -> None:
    dec = FrameDecoder(registry=None)
    dec.feed(b"+\x06\xff\xff\x12\x34\x56\x78" + READ_SOC * 3)
    assert len(frames_of(list(dec.events()))) == 3


def test_length_beyond_the_data_type_is_rejected_at_once() -> None:
    # battery.soc is a FLOAT: a RESPONSE promising 200 payload bytes cannot be one.
    header = b"+\x05" + bytes([204]) + struct.pack(">I", SOC) + b"\x00" * 10
    dec = FrameDecoder()
    dec.feed(header)
    events = list(dec.events())
    assert [e.reason for e in events if isinstance(e, Garbage)] == [GarbageReason.BAD_LENGTH]
    assert dec.stats.bad_lengths == 1
    dec.feed(READ_SOC)
    assert frames_of(list(dec.events())) == [(Command.READ, SOC, 0, b"")]


def test_a_good_frame_is_accepted_whatever_its_length() -> None:
    # The registry says FLOAT, but a complete frame with a good CRC is the sender's word.
    data = make_frame(Command.RESPONSE, SOC, b"\x01" * 8)
    assert frames_of(decode_frames(data)) == [(Command.RESPONSE, SOC, 0, b"\x01" * 8)]


def test_a_flood_of_start_tokens_is_one_piece_of_garbage() -> None:
    events = decode_frames(b"+" * 10_000 + READ_SOC[1:])
    assert [type(e) for e in events] == [Garbage, Frame]
    assert events[0] == Garbage(GarbageReason.INVALID_COMMAND, b"+" * 9_999, 0)
    # the last '+' of the run began the frame
    assert events[1].offset == 9_999 and events[1].id == SOC  # type: ignore[union-attr]
    # a short run split between reads is still one piece
    short = b"x" + b"+" * 50 + READ_SOC[1:]
    for cut in range(1, len(short)):
        assert decode_in_chunks(short, [cut]) == decode_frames(short), cut


def test_length_shorter_than_object_id() -> None:
    events = decode_frames(b"+\x01\x02\x00\x00" + READ_SOC)
    assert isinstance(events[0], Garbage) and events[0].reason is GarbageReason.BAD_LENGTH
    assert frames_of(events) == [(Command.READ, SOC, 0, b"")]


def test_invalid_command() -> None:
    events = decode_frames(b"+\x77" + READ_SOC)
    assert events[0] == Garbage(GarbageReason.INVALID_COMMAND, b"+", 0)
    assert frames_of(events) == [(Command.READ, SOC, 0, b"")]


def test_eof_reports_incomplete_frame() -> None:
    dec = FrameDecoder()
    dec.feed(READ_SOC + SOC_ANSWER[:8])
    assert frames_of(list(dec.events())) == [(Command.READ, SOC, 0, b"")]
    dec.feed(b"")
    events = list(dec.events())
    assert len(events) == 1 and isinstance(events[0], Garbage)
    assert events[0].reason is GarbageReason.TRUNCATED and events[0].data == SOC_ANSWER[1:8]
    assert dec.eof
    with pytest.raises(RuntimeError):
        dec.feed(b"x")


def test_sender_that_does_not_escape_a_plus_in_the_id() -> None:
    # id 0x2B000000 holds a bare '+'; the length and CRC say it is data.
    raw = raw_frame(Command.READ, 0x2B000000)
    assert raw.count(b"+") == 2
    assert frames_of(decode_frames(raw + READ_SOC)) == [
        (Command.READ, 0x2B000000, 0, b""),
        (Command.READ, SOC, 0, b""),
    ]
    rf = ReceiveFrame()
    assert rf.consume(raw) == len(raw) and rf.crc_ok and rf.id == 0x2B000000


def test_bare_dash_as_last_crc_byte_before_next_frame() -> None:
    # READ of 0x100000B7 has the CRC 0x0E2D; unescaped, its last byte '-' meets the next '+'.
    raw = raw_frame(Command.READ, 0x100000B7)
    assert raw.endswith(b"\x0e-")
    stream = raw + READ_SOC
    for sizes in ([len(stream)], [1] * len(stream), [len(raw)]):
        events = decode_in_chunks(stream, sizes)
        assert frames_of(events) == [(Command.READ, 0x100000B7, 0, b""), (Command.READ, SOC, 0, b"")], sizes
    # the same frame alone is answered without waiting for a byte that never comes
    dec = FrameDecoder()
    dec.feed(raw)
    assert frames_of(list(dec.events())) == [(Command.READ, 0x100000B7, 0, b"")]
    assert dec.stats.unescaped_frames == 1
    rf = ReceiveFrame()
    assert rf.consume(stream) == len(raw) and rf.crc_ok


def test_lone_dash_is_a_literal_byte() -> None:
    # '-' followed by neither '+' nor '-' is taken as it is.
    raw = raw_frame(Command.WRITE, SOC, b"a-b")
    assert frames_of(decode_frames(raw)) == [(Command.WRITE, SOC, 0, b"a-b")]


def test_garbage_flood_keeps_memory_flat() -> None:
    dec = FrameDecoder()
    chunk = bytes(range(0x30, 0x80)) * 1000  # no '+' in it
    for _ in range(200):
        dec.feed(chunk)
        assert not list(dec.events())
        assert dec.buffered < 3
    dec.feed(READ_SOC)
    assert len(frames_of(list(dec.events()))) == 1
    assert dec.stats.garbage_bytes == 200 * len(chunk)


def test_byte_at_a_time_long_frame_is_linear() -> None:
    # feeding a 60 kB frame one byte at a time must not parse it 60 000 times
    payload = bytes(range(256)) * 235
    data = make_frame(Command.LONG_RESPONSE, SOC, payload)
    dec = FrameDecoder(registry=None)
    for i in range(len(data)):
        dec.feed(data[i : i + 1])
        if i < len(data) - 1:
            assert dec.next_event() is NEED_DATA
    ev = dec.next_event()
    assert isinstance(ev, Frame) and ev.data == payload


def test_many_frames_in_one_chunk_and_stats() -> None:
    stream = b"".join(make_frame(Command.RESPONSE, i, struct.pack(">I", i)) for i in range(500))
    dec = FrameDecoder(registry=None)
    dec.feed(stream)
    events = list(dec)
    assert [e.id for e in events if isinstance(e, Frame)] == list(range(500))
    assert dec.stats.frames == 500 and dec.stats.bytes_in == len(stream)


MIXED = (
    b"\x00"
    + READ_SOC
    + b"AT+\r"
    + make_frame(Command.LONG_RESPONSE, 0x2B2D2B2D, bytes(range(256)) * 2)
    + b"+<\xe1"
    + SOC_ANSWER
    + raw_frame(Command.READ, 0x100000B7)
    + make_frame(Command.PLANT_WRITE, 0x01020304, b"-+-", address=0x2D2B)
    + b"+\x99junk"
    + make_frame(Command.RESPONSE, 0x2D000000, b"hello\x00")
)


def test_every_split_point_gives_the_same_events() -> None:
    whole = decode_frames(MIXED, report_noise=True)
    assert len(frames_of(whole)) == 6
    for cut in range(1, len(MIXED)):
        assert decode_in_chunks(MIXED, [cut], report_noise=False) == [
            e for e in whole if not (isinstance(e, Garbage) and e.reason is GarbageReason.NOISE)
        ], cut


def test_byte_at_a_time_gives_the_same_events() -> None:
    whole = decode_frames(MIXED)
    assert decode_in_chunks(MIXED, [1] * len(MIXED)) == whole


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------

frame_args = st.one_of(
    st.tuples(
        st.sampled_from([c for c in ALL_COMMANDS if not Command.is_plant(c)]),
        st.integers(0, 0xFFFFFFFF),
        st.just(0),
        st.binary(max_size=300),
    ),
    st.tuples(
        st.sampled_from([c for c in ALL_COMMANDS if Command.is_plant(c)]),
        st.integers(0, 0xFFFFFFFF),
        st.integers(0, 0xFFFFFFFF),
        st.binary(max_size=300),
    ),
)


def build(args: tuple[Command, int, int, bytes]) -> tuple[bytes, tuple[int, int, int, bytes]]:
    cmd, oid, address, payload = args
    if Command.is_read(cmd):
        payload = b""
    limit = (0xFFFF if Command.is_long(cmd) else 0xFF) - (8 if Command.is_plant(cmd) else 4)
    payload = payload[:limit]
    return make_frame(cmd, oid, payload, address), (cmd, oid, address, payload)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(frame_args, min_size=1, max_size=8), st.data())
def test_round_trip_with_any_chunking(args: list[tuple[Command, int, int, bytes]], data: st.DataObject) -> None:
    built = [build(a) for a in args]
    stream = b"".join(b for b, _ in built)
    sizes = data.draw(st.lists(st.integers(1, 64), max_size=200))
    events = decode_in_chunks(stream, sizes, registry=None)
    assert frames_of(events) == [want for _, want in built]
    assert all(isinstance(e, Frame) for e in events)
    # the documented decoder agrees, frame by frame, on bytes and on memoryviews
    for buffer in (stream, memoryview(stream)):
        pos = 0
        for _, want in built:
            rf = ReceiveFrame()
            pos += rf.consume(buffer[pos:])
            assert rf.complete() and rf.crc_ok
            assert (rf.command, rf.id, rf.address, rf.data) == want
        assert pos == len(stream)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.binary(max_size=40), frame_args), min_size=1, max_size=6))
def test_garbage_between_frames_never_loses_a_frame(
    items: list[tuple[bytes, tuple[Command, int, int, bytes]]],
) -> None:
    stream = b""
    wanted = []
    for garbage, args in items:
        frame, want = build(args)
        stream += garbage + frame
        wanted.append(want)
    got = frames_of(decode_frames(stream, registry=None))
    # every frame comes out, in order; garbage may (rarely) contain a frame of its own
    it = iter(got)
    assert all(any(g == w for g in it) for w in wanted)


@settings(max_examples=500)
@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=50))
def test_random_bytes_never_raise(data: bytes, sizes: list[int]) -> None:
    events = decode_in_chunks(data, sizes)
    assert events == decode_frames(data)
    for e in events:
        assert isinstance(e, Frame | CRCMismatch | Garbage | KeepAlive | Extension)
    rf = ReceiveFrame()
    try:
        rf.consume(data)
    except ReceiveFrameError as exc:
        assert 0 < exc.consumed_bytes <= len(data)

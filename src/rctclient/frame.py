"""Frames: building them (:func:`make_frame`, :class:`SendFrame`) and decoding them.

Two decoders share one reading of a frame start (``_frameparse``):

* :class:`FrameDecoder` is the one to use on a real connection or a capture. ``feed()`` it bytes as
  they arrive and take events from ``next_event()`` (or iterate ``events()``) until it returns
  :data:`NEED_DATA`. It never raises on input: good frames, checksum mismatches, garbage,
  keep-alives and EXTENSION frames all come out as events and are counted in ``stats``.
* :class:`ReceiveFrame` is the documented one-frame-at-a-time decoder of the original API: it
  ``consume()``s bytes until one frame is complete and raises on bad frames, with
  ``consumed_bytes`` on the exception so that the caller can slice and go on.

Wire format: ``+`` (0x2B), command, length (1 byte, 2 for the LONG commands), address (4 bytes,
PLANT commands only), object ID (4 bytes), payload, CRC16 (2 bytes), all big-endian. The length
counts address, object ID and payload. Inside the frame ``-`` (0x2D) escapes a following ``+`` or
``-``. The CRC (CRC-CCITT, init 0xFFFF) covers command to payload, unescaped, padded with one zero
byte to an even length.

Senders in the field do not all escape. The decoders are liberal and let the CRC decide: a ``-``
followed by anything but ``+``/``-`` is a literal byte, a bare ``+`` inside a frame is data when
the frame's length and CRC check out, and when the escaped reading of a frame fails its CRC but the
literal (unescaped) reading of the same bytes passes, the literal reading wins. What we send is
always escaped. After a bad frame, decoding goes on at the next start token inside it, and an
incomplete frame is given up as soon as a complete good frame starts inside it (a device cut off
while answering), so that a good frame is never lost behind a broken one.

How :class:`FrameDecoder` is built, and why its cost stays linear on hostile input:

* ``_framebuffer.StreamBuffer`` holds the received bytes; the decoder only joins new chunks when
  it can get further with them, and a long frame arriving in small reads grows a ``bytearray``
  instead of being copied at every read.
* The *shortcuts* in ``FrameDecoder._fill`` decide the common cases in place: a complete frame
  without escapes (or with escapes after its length field), a frame still incomplete with no
  start token after it, a byte that is no command. Anything else goes the *thorough way*:
  ``_frameparse.Readings`` reads the frame start into a typed outcome (``Good``, ``Bad``,
  ``Open``, ...). Both ways decide the same; a test compares them on generated streams.
* The thorough way unescapes each wire byte once (``_framebuffer.Unescaped``: every frame start's
  escaped reading is a piece of one unescaped stream) and checks a CRC over any span in constant
  time (``_framecrc.PrefixCRC``), so thousands of overlapping frame starts that each promise
  64 KiB cost no more than their number.
* While a frame is incomplete, ``_Lookahead`` examines each start token after it once (at most
  ``_LOOKAHEAD`` of them), to find a good frame proving it was cut off; frames waiting for more
  bytes are looked at again only when their bytes are there.
* Events come in batches of at most ``_BATCH`` per call, and a CRCMismatch that starts inside
  bytes already reported as bad keeps only the first ``_NESTED_DATA`` bytes of its payload, so
  memory stays bounded by about the bytes buffered.
"""

from __future__ import annotations

import re
import struct
from array import array
from binascii import crc_hqx
from bisect import bisect_left, bisect_right
from collections import deque
from collections.abc import Iterator
from enum import Enum
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Final, NamedTuple, cast

from ._framebuffer import MAX_SPAN, StreamBuffer, Unescaped
from ._framecrc import IN_USE, ODD_END_HI, ODD_END_LO, SHORT_SPAN, PrefixCRC, SlidingCRC, calculated_crc, crc_ok
from ._frameparse import (
    COMMANDS,
    ESCAPE_TOKEN,
    EXTENSION_LENGTH,
    MAX_PAYLOAD_LONG,
    START_TOKEN,
    Bad,
    BadLength,
    CommandSpec,
    ExtensionStart,
    Good,
    NotACommand,
    Open,
    Outcome,
    Readings,
    no_command,
)
from .exceptions import FrameCRCMismatch, FrameEncodeError, FrameLengthExceeded, InvalidCommand
from .types import Command, FrameType

if TYPE_CHECKING:
    from .registry import Registry

__all__ = [
    "NEED_DATA",
    "CRCMismatch",
    "DecoderStats",
    "Event",
    "Extension",
    "Frame",
    "FrameDecoder",
    "Garbage",
    "GarbageReason",
    "KeepAlive",
    "NeedData",
    "ReceiveFrame",
    "SendFrame",
    "command_for",
    "decode_frames",
    "make_bad_frame",
    "make_frame",
]

_pack_u16 = struct.Struct(">H").pack

# --------------------------------------------------------------------------------------------------
# Building frames
# --------------------------------------------------------------------------------------------------


# Per command that can be sent: (command, header struct, is_plant, carries a payload, largest length).
_BuildSpec = tuple[Command, struct.Struct, bool, bool, int]


def _build_table() -> dict[int, _BuildSpec]:
    table = {}
    for spec in COMMANDS:
        if spec is not None:
            cmd = spec.command
            fmt = (">BH" if spec.length_size == 2 else ">BB") + ("II" if spec.plant else "I")
            max_length = 0xFFFF if spec.length_size == 2 else 0xFF
            table[int(cmd)] = (cmd, struct.Struct(fmt), spec.plant, not Command.is_read(cmd), max_length)
    return table


_BUILD: Final = _build_table()


def _frame_error(command: object, id: object, payload: object, address: object, frame_type: object) -> FrameEncodeError:
    """Explain why a frame cannot be built (the slow path of make_frame)."""
    spec = _BUILD.get(command) if isinstance(command, int) else None
    if spec is None:
        return FrameEncodeError(f"cannot build a frame for command {command!r}")
    cmd, _, plant, has_payload, max_length = spec
    expected = FrameType.PLANT if plant else FrameType.STANDARD
    if frame_type is not None and frame_type != expected:
        name = frame_type.name if isinstance(frame_type, FrameType) else repr(frame_type)
        return FrameEncodeError(f"command {cmd.name} needs frame type {expected.name}, not {name}")
    for what, value in (("object id", id), ("address", address if plant else 0)):
        if not isinstance(value, int) or not 0 <= value <= 0xFFFFFFFF:
            return FrameEncodeError(f"{what} must be an integer in 0..0xFFFFFFFF, got {value!r}")
    if has_payload and not isinstance(payload, bytes | bytearray | memoryview):
        return FrameEncodeError(f"payload must be bytes, got {type(payload).__name__}")
    size = len(payload) if has_payload else 0  # type: ignore[arg-type]
    if size + expected <= max_length:
        return FrameEncodeError(f"cannot build a {cmd.name} frame from id={id!r}, address={address!r}")
    hint = "" if max_length == 0xFFFF else f"; use the LONG form of {cmd.name}"
    return FrameEncodeError(f"payload of {size} bytes is too long for {cmd.name}{hint}")


def make_frame(
    command: Command | int,
    id: int,
    payload: bytes = b"",
    address: int = 0,
    frame_type: FrameType | None = None,
) -> bytes:
    """Build the bytes of a frame, ready to be sent.

    :param command: what to do. READ and READ_PERIODICALLY carry no payload: ``payload`` is
        ignored for them, and the length field says so.
    :param id: the object ID.
    :param payload: the encoded value (see :func:`rctclient.utils.encode_value`).
    :param address: the device address, for the PLANT commands (ignored otherwise).
    :param frame_type: STANDARD or PLANT; it defaults to the command's own, and a frame type that
        does not agree with the command is an error.
    :raises FrameEncodeError: (a ``ValueError`` and ``struct.error``) for a command that cannot be
        sent, an ID or address outside 32 bits, a frame type that does not agree with the command
        or a payload too long for the command's length field.
    """
    spec = _BUILD.get(command)
    if spec is None or (frame_type is not None and frame_type != (8 if spec[2] else 4)):
        raise _frame_error(command, id, payload, address, frame_type)
    cmd, header, plant, has_payload, max_length = spec
    try:
        if not has_payload:
            # READ frames depend on command, id and address only, and pollers ask for the same ones
            # over and over: keep the most recent ones.
            key = (command, id, address) if plant else (command, id)
            frame = _READ_FRAMES.get(key)
            if frame is not None:
                return frame
            body = header.pack(cmd, 8 if plant else 4, address, id) if plant else header.pack(cmd, 4, id)
            frame = _finish(body)
            if len(_READ_FRAMES) >= _READ_FRAMES_MAX:
                _READ_FRAMES.clear()
            _READ_FRAMES[key] = frame
            return frame
        else:
            length = len(payload) + (8 if plant else 4)
            if length > max_length or not isinstance(payload, bytes | bytearray | memoryview):
                raise _frame_error(command, id, payload, address, frame_type)
            body = (header.pack(cmd, length, address, id) if plant else header.pack(cmd, length, id)) + payload
    except (struct.error, TypeError):
        raise _frame_error(command, id, payload, address, frame_type) from None
    return _finish(body)


_READ_FRAMES: dict[tuple[int, ...], bytes] = {}
_READ_FRAMES_MAX: Final = 4096

# The one place that picks the command for an operation: the LONG forms when address, object ID and
# payload do not fit a 1-byte length field, the PLANT forms when a device address is given.
_COMMAND_FOR: Final = {
    # operation: ((short, long), (plant short, plant long))
    "read": ((Command.READ, Command.READ), (Command.PLANT_READ, Command.PLANT_READ)),
    "write": ((Command.WRITE, Command.LONG_WRITE), (Command.PLANT_WRITE, Command.PLANT_LONG_WRITE)),
    "response": ((Command.RESPONSE, Command.LONG_RESPONSE), (Command.PLANT_RESPONSE, Command.PLANT_LONG_RESPONSE)),
}


def command_for(operation: str, payload_length: int = 0, *, plant: bool = False) -> Command:
    """The command that carries ``operation`` (``"read"``, ``"write"`` or ``"response"``).

    ``payload_length`` decides between the short form and the LONG form (whose 2-byte length field
    is needed once address, object ID and payload exceed 255 bytes); ``plant`` selects the PLANT\\_
    forms, which carry a device address. READ frames have no payload and no LONG form.
    """
    forms = _COMMAND_FOR[operation][plant]
    return forms[payload_length + (8 if plant else 4) > 0xFF]


def make_bad_frame(command: Command | int, id: int, payload: bytes = b"", address: int = 0, *, crc_xor: int) -> bytes:
    """Like :func:`make_frame`, but with the checksum XORed with ``crc_xor`` (1..0xFFFF): a frame that fails its CRC.

    For simulators and tests that reproduce what a disturbed line delivers.
    """
    if not 0 < crc_xor <= 0xFFFF:
        raise ValueError("crc_xor must be in 1..0xFFFF")
    make_frame(command, id, payload, address)  # the same checks of the arguments
    cmd, header, plant, has_payload, _ = _BUILD[command]
    if not has_payload:
        payload = b""
    length = len(payload) + (8 if plant else 4)
    body = (header.pack(cmd, length, address, id) if plant else header.pack(cmd, length, id)) + payload
    return _finish(body, crc_xor)


def _finish(body: bytes, crc_xor: int = 0) -> bytes:
    """Append the CRC, escape, prefix the start token: the one place that assembles a frame's bytes."""
    crc = crc_hqx(body, 0xFFFF)
    if len(body) & 1:
        crc = crc_hqx(b"\x00", crc)
    body += _pack_u16(crc ^ crc_xor)
    if b"-" in body or b"+" in body:
        return b"+" + body.replace(b"-", b"--").replace(b"+", b"-+")
    return b"+" + body


class SendFrame:
    """A frame to send: keeps its inputs next to the bytes that :func:`make_frame` built from them."""

    __slots__ = ("_address", "_command", "_data", "_frame_type", "_id", "_payload")

    def __init__(
        self,
        command: Command | int,
        id: int,
        payload: bytes = b"",
        address: int = 0,
        frame_type: FrameType | None = None,
    ) -> None:
        self._data = make_frame(command, id, payload, address, frame_type)
        self._command = Command(command)
        self._id = id
        plant = Command.is_plant(self._command)
        self._frame_type = FrameType.PLANT if plant else FrameType.STANDARD
        self._address = address if plant else 0
        self._payload = b"" if Command.is_read(self._command) else bytes(payload)

    def __repr__(self) -> str:
        return f"<SendFrame(command={int(self._command)}, id=0x{self._id:X}, payload=0x{self._payload.hex()})>"

    @property
    def data(self) -> bytes:
        """The bytes to send."""
        return self._data

    @property
    def command(self) -> Command:
        return self._command

    @property
    def id(self) -> int:
        return self._id

    @property
    def address(self) -> int:
        return self._address

    @property
    def frame_type(self) -> FrameType:
        return self._frame_type

    @property
    def payload(self) -> bytes:
        return self._payload


# --------------------------------------------------------------------------------------------------
# Events of the streaming decoder
# --------------------------------------------------------------------------------------------------


class NeedData:
    """Type of :data:`NEED_DATA`: the decoder needs more bytes before it can say anything more."""

    __slots__ = ()
    _instance: NeedData | None = None

    def __new__(cls) -> NeedData:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NEED_DATA"

    def __bool__(self) -> bool:
        return False


#: Returned by :meth:`FrameDecoder.next_event` when it needs more input.
NEED_DATA: Final = NeedData()


class Frame(NamedTuple):
    """A frame whose checksum matched.

    ``offset`` is where its start token was in the stream (counting every byte fed to the decoder)
    and ``size`` how many bytes it took on the wire, escapes included.

    The events are immutable named tuples rather than frozen dataclasses: one is made per frame
    on the decoder's hot path, where that is three times cheaper, and the module imports faster.
    """

    command: Command
    id: int
    address: int
    data: bytes
    offset: int
    size: int

    @property
    def frame_type(self) -> FrameType:
        return FrameType.PLANT if Command.is_plant(self.command) else FrameType.STANDARD

    @property
    def object_id(self) -> int:
        return self.id

    @property
    def payload(self) -> bytes:
        return self.data

    def __repr__(self) -> str:
        addr = f", address=0x{self.address:X}" if Command.is_plant(self.command) else ""
        return f"<Frame({self.command.name}{addr}, id=0x{self.id:08X}, data={self.data.hex()}, offset={self.offset})>"


class CRCMismatch(NamedTuple):
    """Bytes that look like a frame but whose checksum does not match (the sender's fault).

    The fields are what the bytes say, for diagnosis; do not trust them. Decoding goes on at the
    next start token after ``offset``, so a good frame that starts inside these bytes is not lost.
    """

    command: Command
    id: int
    address: int
    data: bytes
    received_crc: int
    calculated_crc: int
    offset: int
    size: int


class GarbageReason(Enum):
    #: Bytes before a start token.
    NOISE = "noise"
    #: A start token followed by a byte that is no command.
    INVALID_COMMAND = "invalid command"
    #: A length field that is impossible: shorter than the object ID, or longer than the object's
    #: data type allows while the frame is still incomplete.
    BAD_LENGTH = "bad length"
    #: A frame cut off: the stream ended, or a complete good frame started inside it.
    TRUNCATED = "truncated"


class Garbage(NamedTuple):
    """Bytes that are not part of any frame."""

    reason: GarbageReason
    data: bytes
    offset: int


class KeepAlive(NamedTuple):
    """The vendor's ``AT+\\r`` keep-alive."""

    offset: int


class Extension(NamedTuple):
    """An EXTENSION frame (``+<`` and one more byte, as the vendor's app sends it); its meaning is unknown."""

    data: bytes
    offset: int


Event = Frame | CRCMismatch | Garbage | KeepAlive | Extension


class DecoderStats:
    """Counters of a :class:`FrameDecoder`."""

    __slots__ = (
        "bad_lengths",
        "bytes_in",
        "crc_errors",
        "extensions",
        "frames",
        "garbage_bytes",
        "invalid_commands",
        "keepalives",
        "truncated",
        "unescaped_frames",
    )

    def __init__(self) -> None:
        self.bytes_in = 0
        self.frames = 0
        self.crc_errors = 0
        self.garbage_bytes = 0
        self.invalid_commands = 0
        self.bad_lengths = 0
        self.truncated = 0
        self.keepalives = 0
        self.extensions = 0
        #: Good frames that only passed their CRC when read without escapes (a sender that does not escape).
        self.unescaped_frames = 0

    def as_dict(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in _STATS_ORDER}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DecoderStats) and self.as_dict() == other.as_dict()

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return "DecoderStats(" + ", ".join(f"{k}={v}" for k, v in self.as_dict().items()) + ")"


_STATS_ORDER = (
    "bytes_in",
    "frames",
    "crc_errors",
    "garbage_bytes",
    "invalid_commands",
    "bad_lengths",
    "truncated",
    "keepalives",
    "extensions",
    "unescaped_frames",
)


# --------------------------------------------------------------------------------------------------
# The streaming decoder
# --------------------------------------------------------------------------------------------------

_tuple_new = tuple.__new__
_unpack_u32 = struct.Struct(">I").unpack_from

_registry_limits: dict[int, tuple[object, dict[int, tuple[int | None, int | None, int]]]] = {}


def _limits_of(registry: Registry) -> dict[int, tuple[int | None, int | None, int]]:
    """Per OID: (largest request payload, largest response payload, 0), None where unbounded.

    Indexed by ``_LIMIT_OF[command]``: writes carry a request, responses a response, reads nothing.
    """
    cached = _registry_limits.get(id(registry))
    if cached is not None and cached[0] is registry:
        return cached[1]
    from .utils import max_payload_size  # noqa: PLC0415 - only needed on this rare path

    limits = {
        o.object_id: (max_payload_size(o.request_data_type), max_payload_size(o.response_data_type), 0)
        for o in registry.all()
    }
    _registry_limits[id(registry)] = (registry, limits)
    return limits


#: Per command byte: which item of ``_limits_of`` bounds its payload (EXTENSION and others: 0, unused).
_LIMIT_OF: Final = tuple(1 if Command.is_response(c) else 2 if Command.is_read(c) else 0 for c in range(256))

_INVALID_COMMAND: Final = GarbageReason.INVALID_COMMAND

#: Events made per round of decoding: one ``next_event()`` call does at most this much work.
_BATCH: Final = 128
#: A run of start tokens at the end of the input is held back (it may go on) up to this length.
_MAX_HELD_RUN: Final = 4096
#: Start tokens examined after an incomplete frame, looking for a good frame that shows it was cut off.
_LOOKAHEAD: Final = 1024
#: Payload bytes kept in a CRCMismatch that starts inside bytes already reported as bad: 240. (A
#: frame longer than SHORT_SPAN has at least as many, so that its shortcut slices without a check.)
_NESTED_DATA: Final = SHORT_SPAN - 16

#: Bytes after a start token that do not decide anything before more bytes come: a command,
#: EXTENSION (``<``), another start token.
_STARTS_MORE: Final = frozenset([*(c for c in range(256) if COMMANDS[c] is not None), 0x3C, START_TOKEN])

_START_RUN: Final = re.compile(rb"\+*")

#: How far ahead the next '-' is looked for (a find() per frame costs more than the bytes it scans).
_DASH_AHEAD: Final = 4096


class _Lookahead:
    """Looks for a complete good frame after an incomplete one: the proof that it was cut off.

    Examines each start token that is not escaped once, in order, at most ``_LOOKAHEAD`` of them
    after the incomplete frame; a frame that cannot be decided yet is looked at again when the
    reading it waits for is complete (a heap per reading), not at every new byte.
    """

    __slots__ = ("_ahead", "_good", "_next", "_wait_unescaped", "_wait_wire", "examined")

    def __init__(self, start: int) -> None:
        self._next = start  # where to look for the next start token
        self._ahead: deque[int] = deque()  # start tokens examined, in order
        self._good: list[int] = []  # heap of good frames found
        self._wait_unescaped: list[tuple[int, int]] = []  # heap of (length of the escaped reading, start)
        self._wait_wire: list[tuple[int, int]] = []  # heap of (stream offset, start)
        #: Frame starts examined (a work counter for tests).
        self.examined = 0

    def found(self, readings: Readings, j: int) -> bool:
        """Whether a good frame starts after the start token at ``j``, as far as the input goes."""
        good = self._good
        while good and good[0] <= j:
            heappop(good)
        ahead = self._ahead
        while ahead and ahead[0] <= j:
            ahead.popleft()
        unescaped = readings.unescaped
        buffer = readings.buffer
        wend = buffer.base + len(buffer.data)
        unescaped.extend(buffer.data, buffer.base, wend, readings.eof)
        for heap, reached in ((self._wait_unescaped, unescaped.end), (self._wait_wire, wend)):
            while heap and heap[0][0] <= reached:
                k = heappop(heap)[1]
                if k > j:
                    self._examine(readings, k)
            if len(heap) > 4 * _LOOKAHEAD:  # entries of frames behind j: let them go
                heap[:] = [item for item in heap if item[1] > j]
                heapify(heap)
        pos = max(self._next, j + 1)
        raw = buffer.data
        base = buffer.base
        find = raw.find
        if len(ahead) < _LOOKAHEAD and not _has_bare_start(raw, pos - base):
            # nothing to examine: go on later from the start of a trailing run of '-' (it may
            # escape what comes next)
            k = len(raw)
            while k > pos - base and raw[k - 1] == ESCAPE_TOKEN:
                k -= 1
            pos = base + k
        while len(ahead) < _LOOKAHEAD:
            k = find(b"+", pos - base)
            if k == -1:
                k = len(raw)
                while k > pos - base and raw[k - 1] == ESCAPE_TOKEN:
                    k -= 1
                pos = base + k
                break
            if _is_bare(raw, k, pos - base):
                ahead.append(base + k)
                self._examine(readings, base + k)
            pos = base + k + 1
        self._next = pos
        return bool(good)

    def _examine(self, readings: Readings, k: int) -> None:
        self.examined += 1
        out = readings.analyze(k, 0, False)
        if isinstance(out, Good):
            heappush(self._good, k)
        elif isinstance(out, Open):
            if out.need_unescaped >= 0:
                heappush(self._wait_unescaped, (out.need_unescaped, k))
            if out.need_wire >= 0:
                heappush(self._wait_wire, (out.need_wire, k))

    @property
    def full(self) -> bool:
        """Whether no more start tokens are examined until the incomplete frame is decided."""
        return len(self._ahead) >= _LOOKAHEAD

    def wake(self, readings: Readings) -> int:
        """The stream offset at which a frame examined can be decided, 0 if none waits."""
        points = []
        if self._wait_wire:
            points.append(self._wait_wire[0][0])
        if self._wait_unescaped:
            unescaped = readings.unescaped
            points.append(unescaped.done + self._wait_unescaped[0][0] - unescaped.end)
        return min(points) if points else 0


class FrameDecoder:
    """Incremental decoder for a byte stream (one direction of a connection, or of a capture).

    ``feed(data)`` appends bytes (``feed(b"")`` says the stream ended); ``next_event()`` returns the
    next :data:`Event` or :data:`NEED_DATA`; ``events()`` iterates until then. Nothing that arrives
    on the wire makes it raise. Its cost is linear in the input whatever the input, its memory
    bounded by about one frame of input (bytes that can no longer start a frame are let go), and
    one ``next_event()`` call decodes at most a bounded batch of events.

    :param registry: where to look up an OID's data type to reject absurd length fields of frames
        that are still incomplete (a complete frame with a good CRC is always accepted). Defaults
        to the built-in registry; ``None`` switches the check off.
    :param max_payload: the largest payload to wait for; a length field promising more is treated
        as garbage. Defaults to the largest the protocol can express.
    :param report_noise: also emit :class:`Garbage` events for bytes between frames (devices put a
        0x00 in front of many frames). They are always counted in ``stats.garbage_bytes``.
    """

    __slots__ = (
        "_buffer",
        "_covered",
        "_dash_free",
        "_default_registry",
        "_eof",
        "_limits",
        "_lookahead",
        "_max_payload",
        "_pending",
        "_pos",
        "_queue",
        "_raw_crc",
        "_readings",
        "_registry",
        "_report_noise",
        "_run",
        "_shortcuts",
        "_wait_until",
        "_wake_on_start",
        "stats",
    )

    _DEFAULT_REGISTRY: Final = object()

    def __init__(
        self,
        *,
        registry: Registry | object | None = _DEFAULT_REGISTRY,
        max_payload: int = MAX_PAYLOAD_LONG,
        report_noise: bool = False,
    ) -> None:
        self._buffer = StreamBuffer()
        self._pos = 0  # stream offset of the next byte to look at
        self._covered = 0  # bytes before this offset were reported in a bad piece
        self._eof = False
        self._wait_until = 0  # the input must reach this offset before looking again is worth it
        self._wake_on_start = False  # ... unless a fed chunk holds a start token
        self._queue: deque[Event] = deque()
        self._readings: Readings | None = None  # the thorough way's state, while it is needed
        self._lookahead: _Lookahead | None = None
        self._pending: tuple[int, Open] | None = None  # the incomplete frame waited for, as last read
        self._run = (-1, 0)  # (start, end) of a run of start tokens waited on
        self._dash_free = 0  # no '-' from a frame start in bad bytes up to here (a '-' here, or the input's end then)
        self._raw_crc = PrefixCRC()  # CRCs of spans of the received bytes, for long frames in bad bytes
        #: Off: every frame start is read the thorough way (for tests that compare both ways).
        self._shortcuts = True
        self._default_registry = registry is FrameDecoder._DEFAULT_REGISTRY
        self._registry = None if self._default_registry else cast("Registry | None", registry)
        self._limits: dict[int, tuple[int | None, int | None, int]] | None = None
        self._max_payload = max_payload
        self._report_noise = report_noise
        self.stats = DecoderStats()

    # -- input ------------------------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Add received bytes. An empty ``data`` means the stream ended (EOF)."""
        if self._eof:
            if data:
                raise RuntimeError("feed() after the end of the stream")
            return
        if not data:
            self._eof = True
            self._wait_until = 0
            if self._readings is not None:
                self._readings.eof = True
            return
        chunk = bytes(data)
        self._buffer.append(chunk)
        self.stats.bytes_in += len(chunk)
        # A start token may begin a good frame that shows a pending one was cut off: look now.
        if self._wake_on_start and b"+" in chunk:
            self._wait_until = 0

    @property
    def buffered(self) -> int:
        """Bytes held that are not decoded yet."""
        return self._buffer.end - self._pos

    @property
    def eof(self) -> bool:
        """Whether the end of the stream was fed."""
        return self._eof

    # -- output -----------------------------------------------------------------------------------

    def events(self) -> Iterator[Event]:
        """Iterate over the events that the bytes fed so far give, until more data is needed."""
        queue = self._queue
        while True:
            if not queue:
                self._fill()
                if not queue:
                    return
            yield queue.popleft()

    __iter__ = events

    def next_event(self) -> Event | NeedData:
        """The next event, or :data:`NEED_DATA` when the bytes fed so far are used up."""
        if not self._queue:
            self._fill()
            if not self._queue:
                return NEED_DATA
        return self._queue.popleft()

    # -- decoding ---------------------------------------------------------------------------------

    def _fill(self) -> None:
        """Decode the next batch of events into the queue (none: more input is needed)."""
        buffer = self._buffer
        if self._wait_until:
            if buffer.end < self._wait_until and not self._eof:
                return
            self._wait_until = 0
        if buffer.queued:
            keep = self._pos
            raw_crc = self._raw_crc
            if keep - raw_crc.used < IN_USE:
                # its values are in use: computed up to the cursor before the bytes go, and the 32
                # bytes before it kept (the prefix value a span there starts from)
                raw_crc.keep(buffer.data, buffer.base, keep)
                keep = max(buffer.base, keep - 32)
            buffer.join(keep)
        self._wake_on_start = False
        data = buffer.data
        base = buffer.base
        n = len(data)
        pos = self._pos - base
        covered = self._covered - base
        eof = self._eof
        stats = self.stats
        queue = self._queue
        append = queue.append
        find = data.find
        commands = COMMANDS
        new = _tuple_new
        frame_cls = Frame
        mismatch_cls = CRCMismatch
        unpack = _unpack_u32
        crc = crc_hqx
        odd_hi = ODD_END_HI  # crc_ok(), written out (see _framecrc)
        odd_lo = ODD_END_LO
        # The shortcuts decide the common cases in place; they need immutable bytes to slice.
        fast = self._shortcuts and isinstance(data, bytes)
        nfast = n if fast else 0  # (j + 3 < nfast: a shortcut may look at the frame start at j)
        raw = data if isinstance(data, bytes) else b""
        quiet_noise = not self._report_noise
        # At most _BATCH events per round (room left); the frames the shortcuts make are counted as
        # what is not ``others`` (events whose counters are kept where they are made).
        room = _BATCH
        others = noise = invalid = crc_errors = 0
        dash = -1  # the next '-' (or a point before which there is none), for the frames without escapes
        try:
            while room:  # (at the end of the input, find() is -1: the branch below returns)
                # (frames follow one another: a look at one byte is cheaper than a find())
                j = pos if pos < n and data[pos] == 0x2B else find(b"+", pos)
                if j != pos:
                    if j == -1:
                        # No start token: all noise, but keep a trailing 'A' or 'AT' (a keep-alive may follow).
                        j = n
                        if not eof:
                            if data.endswith(b"AT"):
                                j -= 2
                            elif j > pos and data[n - 1] == 0x41:
                                j -= 1
                        if j <= pos:
                            self._wait_until = base + n + 1
                            return
                    elif j - pos >= 2 and data[j - 2] == 0x41 and data[j - 1] == 0x54:  # 'AT' before '+'
                        if j - 2 == pos:
                            if j + 1 >= n and not eof:
                                self._wait_until = base + j + 2
                                return  # 'AT+' so far: wait for the '\r'
                            if j + 1 < n and data[j + 1] == 0x0D:
                                pos = j + 2
                                stats.keepalives += 1
                                append(KeepAlive(base + j - 2))
                                room -= 1
                                others += 1
                                continue
                            # not a keep-alive: 'AT' is noise before the start token
                        else:
                            j -= 2
                    if not quiet_noise:
                        reported = self._noise(data, base, max(pos, covered), j)
                        room -= reported
                        others += reported
                    elif covered <= pos:
                        noise += j - pos  # the usual 0x00 before a frame
                    elif covered < j:
                        noise += j - covered  # (bytes before covered were reported as part of a bad frame)
                    pos = j
                    if j == n or data[j] != 0x2B or not room:  # no start token here ('AT', the end), or
                        continue  # a Garbage event filled the batch: look again
                    # (else the frame start found: read it now, not after another find())

                # The shortcuts: the common cases decided in place, exactly as the thorough way below
                # would (a test compares both ways). Here: a complete frame without escapes, one with
                # escapes after its length field where nothing was reported yet, a byte that is no
                # command; the rarer ones in _shortcut().
                if j + 3 < nfast:
                    spec = commands[raw[j + 1]]
                    if spec is not None:
                        if spec[1] == 1:
                            length = raw[j + 2]
                            head = j + 3
                        else:
                            length = (raw[j + 2] << 8) | raw[j + 3]
                            head = j + 4
                        e = head + length + 2
                        if dash < j + 2:  # (looked for again only once passed: most frames have no '-')
                            dash = find(b"-", j + 2, j + _DASH_AHEAD)
                            if dash < 0:
                                dash = j + _DASH_AHEAD  # (none before it; at it, there may be one)
                        # no '-' in raw[j + 2 : dash]: the frame has none if it ends before, or if dash
                        # was only as far as it looked and there is none up to its end
                        if (
                            e <= n
                            and length >= spec[4]
                            and j >= covered
                            and (e <= dash or (raw[dash] != 0x2D and find(b"-", dash, e) < 0))
                        ):
                            # no escapes: both readings are these bytes
                            if spec[3]:
                                address = unpack(raw, head)[0]
                                oid = unpack(raw, head + 4)[0]
                                at = head + 8
                            else:
                                address = 0
                                oid = unpack(raw, head)[0]
                                at = head + 4
                            if crc(raw[j + 1 : e], 0xFFFF) == (
                                (odd_hi[raw[e - 2]] ^ odd_lo[raw[e - 1]]) if (e - j) & 1 == 0 else 0
                            ):
                                room -= 1
                                append(new(frame_cls, (spec[0], oid, address, raw[at : e - 2], base + j, e - j)))
                                pos = e
                                continue
                            crc_errors += 1
                            received = (raw[e - 2] << 8) | raw[e - 1]
                            event = (
                                spec[0],
                                oid,
                                address,
                                raw[at : e - 2],
                                received,
                                calculated_crc(raw[j + 1 : e]),
                                base + j,
                                e - j,
                            )
                            append(new(mismatch_cls, event))
                            room -= 1
                            others += 1
                            pos = j + 1
                            if e > covered:  # noqa: PLR1730 - max() is a call, this the hot loop
                                covered = e
                            continue
                        if j >= covered:
                            if length >= spec[4] and raw[j + 2] != 0x2D and (spec[1] == 1 or raw[j + 3] != 0x2D):
                                if e > n:
                                    if not eof:
                                        # incomplete (a frame split between two reads, the common
                                        # case): wait, unless something after it must be looked at
                                        wake = self._wait_for(raw, j, spec, length, e)
                                        if wake:
                                            self._wait_until = base + wake
                                            self._wake_on_start = True
                                            pos = j
                                            return
                                elif n - j >= 2 * (e - j) or not _lacks(raw, j + 1, e, n):
                                    # escapes after the length field, the frame there (the wire holds
                                    # its e - j - 1 bytes in twice as many at most): unescape, then check
                                    ubody, stop = _unescape(raw, j + 1, n, e - j - 1)  # stop: wire end
                                    if ubody is not None and crc(ubody, 0xFFFF) == (
                                        (odd_hi[ubody[-2]] ^ odd_lo[ubody[-1]]) if len(ubody) & 1 else 0
                                    ):
                                        room -= 1
                                        at = spec[2]
                                        oid = unpack(ubody, at - 4)[0]
                                        address = unpack(ubody, at - 8)[0] if spec[3] else 0
                                        append(
                                            new(frame_cls, (spec[0], oid, address, ubody[at:-2], base + j, stop - j))
                                        )
                                        pos = stop
                                        continue
                            shortcut = True
                        elif e > n or length < spec[4]:
                            shortcut = True
                        else:
                            # Complete frame starts inside bytes reported as bad, one after another:
                            # a flood of them costs the same per start whatever they promise.
                            stop, covered, made = self._bad_starts(raw, base, j, covered, room)
                            if made:
                                room -= made
                                others += made
                                pos = stop
                                continue
                            shortcut = False  # (one the loop leaves: the thorough way)
                        if shortcut:
                            self._covered = base + covered
                            stop = self._shortcut(raw, base, j, spec, length)
                            if stop > 0:  # decided: one event
                                room -= 1
                                others += 1
                                covered = self._covered - base
                                pos = stop
                                continue
                            if stop < 0:  # nothing to decide before this offset
                                self._wait_until = -stop
                                self._wake_on_start = True
                                pos = j
                                return
                    else:
                        c = raw[j + 1]
                        if c != 0x3C and (c != 0x2B or raw[j + 2] != 0x2B):  # not EXTENSION, not a run of '+'
                            invalid += 1
                            append(new(Garbage, (_INVALID_COMMAND, b"+", base + j)))
                            room -= 1
                            others += 1
                            pos = j + 1
                            if pos > covered:  # noqa: PLR1730 - max() is a call, this the hot loop
                                covered = pos
                            continue
                elif fast and not eof and (j + 1 == n or (j + 2 == n and raw[j + 1] in _STARTS_MORE)):
                    # a start token (and a command) as the last bytes of the input: nothing to decide yet
                    self._wait_until = base + n + 1
                    self._wake_on_start = True
                    pos = j
                    return

                # The thorough way.
                self._covered = base + covered
                stop = self._thorough(data, base, j)
                if stop < 0:  # it waits
                    pos = j
                    return
                room -= 1
                others += 1
                covered = self._covered - base
                pos = stop
        finally:
            self._pos = base + pos
            self._covered = max(self._covered, base + covered)
            stats.frames += _BATCH - room - others
            if crc_errors:
                stats.crc_errors += crc_errors
            if noise or invalid:
                stats.garbage_bytes += noise + invalid
                stats.invalid_commands += invalid

    def _bad_starts(self, raw: bytes, base: int, j: int, covered: int, room: int) -> tuple[int, int, int]:
        """The shortcut for complete frame starts inside bytes reported as bad (``covered``: where those
        end), from ``raw[j]`` on while the start tokens after it are such ones too: there can be one
        at every other byte, each promising up to 64 KiB. Each costs the same whatever its length: no
        scan over its span (no '-' up to ``_dash_free``, kept), its CRCs slid on from the last start's
        (see :class:`SlidingCRC`: a flood's starts promise the same length), and with escapes, its
        escaped reading as a piece of the one unescaped stream the thorough way keeps (``Readings``).

        It decides what the thorough way would: a CRCMismatch, or a good frame without escapes. It
        leaves the rest to the thorough way (an incomplete escaped reading, a good frame with escapes,
        a literal reading that is good), and returns where to go on, the new ``covered`` and the
        number of events made (at most ``room``; none: ``raw[j]`` is left to the other ways).
        """
        n = len(raw)
        find = raw.find
        append = self._queue.append
        dash_free = self._dash_free - base
        literal = SlidingCRC(self._raw_crc)  # the CRCs of the bytes as they are
        # The escaped reading, set up at the first start with escapes (``setup``: the stream offset
        # from which it is to be set up again): its bytes, its CRCs, where its escapes are, and
        # where the last start's reading began and ended (wire offset less its origin, index) with
        # the escapes before: the next start's escapes are at most as many more as those moved.
        un: Unescaped | None = None
        escaped = literal  # (this and the next: placeholders until it is set up)
        setup = base
        data = bytearray()
        us = have = to_wire = dropped = n_dashes = n_marks = 0
        dashes = marks = array("i")
        xa = xb = ka = kb = 0
        made = 0
        good = False  # (a good frame ends the loop)
        try:
            while True:
                spec = COMMANDS[raw[j + 1]]
                if spec is None:
                    return j, covered, made
                cmd, ls, hdr, plant, min_length = spec
                length = raw[j + 2] if ls == 1 else (raw[j + 2] << 8) | raw[j + 3]
                e = j + 2 + ls + length + 2  # where the literal reading ends
                if e > n or length < min_length:
                    return j, covered, made
                calculated = literal.calculated(raw, base, base + j + 1, base + e - 2)
                received = (raw[e - 2] << 8) | raw[e - 1]
                # No '-' up to dash_free (a '-' there, or the end of the input then).
                if dash_free < e and (dash_free <= j or raw[dash_free] != ESCAPE_TOKEN):
                    k = find(b"-", dash_free if dash_free > j else j)
                    dash_free = n if k == -1 else k
                if dash_free >= e:
                    # no escapes: both readings are these bytes
                    at = j + 1 + hdr  # the payload
                    address = _unpack_u32(raw, at - 8)[0] if plant else 0
                    oid = _unpack_u32(raw, at - 4)[0]
                    if calculated == received:
                        good = True
                        made += 1
                        append(_tuple_new(Frame, (cmd, oid, address, raw[at : e - 2], base + j, e - j)))
                        return e, covered, made
                    payload = raw[at : e - 2 if e - 2 - at <= _NESTED_DATA else at + _NESTED_DATA]
                    end = e
                else:
                    # Escapes: a good literal reading is left to the thorough way (it is the frame,
                    # unless the escaped reading is good too), else the escaped reading decides.
                    if calculated == received:
                        return j, covered, made
                    if base + j >= setup:
                        readings = self._readings_at(base + j)
                        if readings.unescaped is not un:
                            un = readings.unescaped
                            escaped = SlidingCRC(un.crc)
                            if un.done <= base + j:
                                un.extend(raw, base, base + j + 1, self._eof)  # (a new reading begins here)
                        # (what _readings_at may have let go of changes the indexes: all read again)
                        data, us, dashes, marks, dropped = un.data, un.start, un.dashes, un.marks, un.dropped
                        to_wire = un.origin - base
                        setup = min(un.done, readings.release_at)
                        have = us + len(data)
                        n_dashes = len(dashes)
                        n_marks = len(marks)
                        xa = xb = ka = kb = 0
                    x = j + 1 - to_wire
                    ka = bisect_left(dashes, x, ka, min(n_dashes, ka + x - xa))
                    xa = x
                    a = x - dropped - ka  # un.index_of(base + j + 1)
                    if a + 1 + ls > have:
                        return j, covered, made  # (the reading is read on below, as far as it goes)
                    ulength = data[a + 1 - us] if ls == 1 else (data[a + 1 - us] << 8) | data[a + 2 - us]
                    if ulength < min_length:
                        return j, covered, made
                    b = a + 1 + ls + ulength + 2  # the end of the escaped reading's body (index)
                    if b > have:
                        assert un is not None  # (have > 0: it was set up)
                        # read on, ahead: the next starts need it too
                        un.cover(raw, base, base + n, self._eof, b + 2048)
                        setup = min(un.done, setup)
                        have = us + len(data)
                        n_dashes = len(dashes)
                        n_marks = len(marks)
                        if b > have:
                            return j, covered, made
                    calculated = escaped.calculated(data, us, a, b - 2)
                    received = (data[b - 2 - us] << 8) | data[b - 1 - us]
                    if calculated == received:
                        return j, covered, made  # a good frame with escapes: the thorough way
                    if b >= xb:
                        kb = bisect_right(marks, b - 1, kb, min(n_marks, kb + b - xb))
                    else:  # (a shorter frame than the last one)
                        kb = bisect_right(marks, b - 1, 0, kb)
                    xb = b
                    end = b + dropped + kb + to_wire  # un.wire_of(b - 1) + 1, less base
                    at = a + hdr - us  # the payload
                    address = _unpack_u32(data, at - 8)[0] if plant else 0
                    oid = _unpack_u32(data, at - 4)[0]
                    payload = bytes(data[at : b - 2 - us if b - 2 - us - at <= _NESTED_DATA else at + _NESTED_DATA])
                made += 1
                append(_tuple_new(CRCMismatch, (cmd, oid, address, payload, received, calculated, base + j, end - j)))
                if end > covered:  # noqa: PLR1730 - max() is a call, this a hot loop on hostile input
                    covered = end
                # The next start token, when it is one inside bad bytes too (the bytes before it are
                # then part of those: nothing to count) and no keep-alive ('AT+') can begin there.
                k = find(b"+", j + 1)
                if made == room or k == -1 or k >= covered or k + 3 >= n or raw[k - 1] == 0x54:
                    return j + 1, covered, made
                j = k
        finally:
            self._dash_free = base + dash_free
            self.stats.crc_errors += made - good
            self.stats.frames += good

    def _shortcut(self, raw: bytes, base: int, j: int, spec: CommandSpec, length: int) -> int:
        """The rarer shortcuts for the frame start at ``raw[j]`` (length field ``length`` as the bytes
        say): a length field too short, a frame still incomplete, an escape in the length field.

        Returns where to go on after the one event it made, minus the offset before which there is
        nothing to decide, or 0: read it the thorough way.
        """
        n = len(raw)
        covered = self._covered - base
        eof = self._eof
        if raw[j + 2] == ESCAPE_TOKEN or (spec.length_size == 2 and raw[j + 3] == ESCAPE_TOKEN):
            # an escape in the length field (a length of 43 or 45)
            return self._escaped_length(raw, base, j, spec) if j >= covered else 0
        if length < spec.min_length:
            self._bad_length(raw, base, j)
            self._covered = max(self._covered, base + j + 1)
            return j + 1
        e = j + 2 + spec.length_size + length + 2  # where the literal reading ends
        if e > n:
            # incomplete (the escaped reading too: it needs at least as many bytes): at the end of
            # the stream cut off; else wait, unless something after it must be looked at
            if eof:
                return self._truncated(raw, base, j)
            wake = self._wait_for(raw, j, spec, length, e)
            return -(base + wake) if wake else 0
        if j >= covered:
            # The frame has escapes (no shortcut decided it): if its escaped reading is incomplete
            # and the literal one no frame, wait; else the thorough way.
            count = e - j - 1
            missing = _lacks(raw, j + 1, e, n)
            if not missing:
                body, missing = _unescape(raw, j + 1, n, count)
                if body is not None:
                    return 0
            if eof or crc_ok(raw[j + 1 : e]):
                return 0
            wake = self._wait_for(raw, j, spec, length, n + missing - 1)
            return -(base + wake) if wake else 0
        return 0  # (a long one without escapes was decided in _fill())

    def _thorough(self, data: bytes | bytearray, base: int, j: int) -> int:
        """Read the frame start at ``data[j]`` the thorough way and decide it: where to go on after the
        one event it made, or -1 when it waits (``_wait_until`` set)."""
        n = len(data)
        eof = self._eof
        jabs = base + j
        covered = self._covered - base
        readings = self._readings
        if j + 1 < n and COMMANDS[data[j + 1]] is None:
            out: Outcome = no_command(data, base, jabs)  # nothing to read
        else:
            readings = self._readings_at(jabs)
            pending = self._pending
            if pending is not None and pending[0] == jabs and not eof:
                # the frame waited for: read it again only when one of its readings can get further
                out = pending[1]
                unescaped = readings.unescaped
                unescaped.extend(data, base, base + n, eof)
                if unescaped.end >= out.need_unescaped >= 0 or base + n >= out.need_wire >= 0:
                    out = readings.analyze(jabs, -1 if j >= covered else _NESTED_DATA)
            else:
                out = readings.analyze(jabs, -1 if j >= covered else _NESTED_DATA)
        stats = self.stats
        if isinstance(out, Good):
            stats.frames += 1
            if out.literal:
                stats.unescaped_frames += 1
            self._queue.append(_tuple_new(Frame, (*out[:4], jabs, out.end - jabs)))
            return out.end - base
        if isinstance(out, Bad):
            stats.crc_errors += 1
            self._queue.append(_tuple_new(CRCMismatch, (*out[:6], jabs, out.end - jabs)))
            self._covered = max(self._covered, out.end)
            return j + 1
        if isinstance(out, Open):
            assert readings is not None  # an Open outcome comes from reading the frame
            if eof:
                return self._truncated(data, base, j)
            if self._implausible(out.command, out.oid, out.payload_length):
                self._bad_length(data, base, j)
                self._covered = max(self._covered, jabs + 1)
                return j + 1
            lookahead = self._lookahead
            if lookahead is None:
                lookahead = self._lookahead = _Lookahead(jabs + 1)
            if lookahead.found(readings, jabs):
                return self._truncated(data, base, j)
            # wait until one of the readings of this frame or of one after it can be decided
            unescaped = readings.unescaped
            points = [lookahead.wake(readings), out.need_wire]
            if out.need_unescaped >= 0:
                points.append(unescaped.done + out.need_unescaped - unescaped.end)
            self._wait_until = max(min([p for p in points if p > 0], default=0), base + n + 1)
            self._wake_on_start = not lookahead.full
            self._pending = (jabs, out)
            return -1
        if isinstance(out, NotACommand):
            run_start, run_end = self._run
            if run_start != jabs:
                run_end = jabs + 1
            m = _START_RUN.match(data, run_end - base)
            assert m is not None  # (\+* matches anywhere)
            stop = m.end()
            if stop == n and not eof and stop - j < _MAX_HELD_RUN:
                # the run of start tokens may go on in the next read: wait, so that chunking does not split it
                self._run = (jabs, base + stop)
                self._wait_until = base + n + 1
                return -1
            # The run is one piece of garbage; its last '+' may still begin a frame.
            stop = stop - 1 if stop > j + 1 else j + 1
            self._invalid_command(data, base, j, stop)
            self._covered = max(self._covered, base + stop)
            return stop
        if isinstance(out, ExtensionStart):
            if not out.complete and not eof:
                self._wait_until = jabs + EXTENSION_LENGTH
                return -1
            stats.extensions += 1
            self._queue.append(Extension(bytes(data[j : out.end - base]), jabs))
            return out.end - base
        self._bad_length(data, base, j)  # BadLength
        self._covered = max(self._covered, jabs + 1)
        return j + 1

    # -- helpers ----------------------------------------------------------------------------------

    def _readings_at(self, jabs: int) -> Readings:
        """The thorough way's readings of the stream, for the frame start at the stream offset ``jabs``."""
        readings = self._readings
        if readings is None or jabs >= readings.unescaped.done or jabs - readings.unescaped.origin > MAX_SPAN:
            # (a start token leaves the unescaping in its normal state: a new reading can begin there)
            readings = self._readings = Readings(self._buffer, jabs, self._raw_crc)
            readings.eof = self._eof
            self._lookahead = None
        elif jabs >= readings.release_at:
            readings.release(jabs)
        return readings

    def _wait_for(self, raw: bytes, j: int, spec: CommandSpec, length: int, end: int) -> int:
        """The shortcut for a frame at ``raw[j]`` whose escaped reading is incomplete (and whose literal
        reading is incomplete too, or no frame): the offset at which it can be decided, or 0 when it
        is to be looked at the thorough way now (a start token after it, or a length implausible for
        its object ID). ``end``: where the escaped reading can end at the earliest.

        The thorough way would wait too, until the same point or later: waking earlier only costs a look.
        """
        n = len(raw)
        if _has_bare_start(raw, j + 1):
            return 0
        header_end = j + 1 + spec.header_size
        if header_end <= n and raw.find(b"-", j + 2, header_end) == -1:
            oid = _unpack_u32(raw, header_end - 4)[0]
        else:
            header, missing = _unescape(raw, j + 1, n, spec.header_size)
            if header is None:
                oid = -1
                end = min(end, n + missing - 1)  # look again when the object ID may be there
            else:
                oid = _unpack_u32(header, spec.header_size - 4)[0]
        if self._implausible(spec.command, oid, length - spec.min_length):
            return 0
        return max(end, n + 1)

    def _escaped_length(self, raw: bytes, base: int, j: int, spec: CommandSpec) -> int:
        """The shortcut for a frame at ``raw[j]`` with an escape in its length field: as ``_shortcut``."""
        n = len(raw)
        ls = spec.length_size
        header, _ = _unescape(raw, j + 1, n, 1 + ls)
        if header is None:
            return 0
        # (never below the minimum length: an escaped byte is 0x2B or 0x2D)
        length = header[1] if ls == 1 else (header[1] << 8) | header[2]
        count = 1 + ls + length + 2
        # (no Python loop over a frame that cannot be there; its wire takes 2 * count at most)
        stop = _lacks(raw, j + 1, j + 1 + count, n)
        body, stop = _unescape(raw, j + 1, n, count) if not stop else (None, stop)  # stop: wire end, or missing
        if body is not None:
            if not crc_ok(body):
                return 0  # the literal reading may be good: the thorough way
            at = spec.header_size
            oid = _unpack_u32(body, at - 4)[0]
            address = _unpack_u32(body, at - 8)[0] if spec.plant else 0
            self.stats.frames += 1
            self._queue.append(_tuple_new(Frame, (spec.command, oid, address, body[at:-2], base + j, stop - j)))
            return stop
        # Incomplete. The literal reading (its own length field) may be a frame, or end earlier.
        literal = (raw[j + 2] if ls == 1 else (raw[j + 2] << 8) | raw[j + 3]) + 2 + ls + 2 + j
        if literal <= n or self._eof:
            return 0
        wake = self._wait_for(raw, j, spec, length, min(literal, n + stop - 1))
        return -(base + wake) if wake else 0

    def _noise(self, data: bytes | bytearray, base: int, start: int, stop: int) -> int:
        """Count (and report, if wanted) ``data[start:stop]`` as noise; returns the number of events."""
        if stop <= start:
            return 0
        self.stats.garbage_bytes += stop - start
        if not self._report_noise:
            return 0
        self._queue.append(Garbage(GarbageReason.NOISE, bytes(data[start:stop]), base + start))
        return 1

    def _bad_length(self, data: bytes | bytearray, base: int, j: int) -> None:
        self.stats.bad_lengths += 1
        self.stats.garbage_bytes += 1
        self._queue.append(Garbage(GarbageReason.BAD_LENGTH, b"+", base + j))

    def _invalid_command(self, data: bytes | bytearray, base: int, j: int, stop: int) -> None:
        self.stats.invalid_commands += stop - j
        self.stats.garbage_bytes += stop - j
        self._queue.append(Garbage(GarbageReason.INVALID_COMMAND, bytes(data[j:stop]), base + j))

    def _truncated(self, data: bytes | bytearray, base: int, j: int) -> int:
        """Report the bytes from ``j`` up to the next start token as a cut-off frame; returns where they end."""
        nxt = data.find(b"+", j + 1)
        stop = len(data) if nxt == -1 else nxt
        self.stats.truncated += 1
        self.stats.garbage_bytes += stop - j
        self._queue.append(Garbage(GarbageReason.TRUNCATED, bytes(data[j:stop]), base + j))
        self._covered = max(self._covered, base + stop)
        return stop

    def _implausible(self, command: int, oid: int, payload_length: int) -> bool:
        """Whether an incomplete frame announces more payload than is worth waiting for."""
        if payload_length > self._max_payload:
            return True
        if oid < 0:
            return False
        limits = self._limits
        if limits is None:
            registry = self._registry
            if registry is None:
                if not self._default_registry:
                    return False  # the check is off
                from .registry import REGISTRY  # noqa: PLC0415 - loaded only when first needed

                registry = self._registry = REGISTRY
            limits = self._limits = _limits_of(registry)
        lim = limits.get(oid)
        if lim is None:
            return False
        limit = lim[_LIMIT_OF[command]]
        return limit is not None and payload_length > limit


def _thorough_decoder(**kwargs: object) -> FrameDecoder:
    """A decoder that reads every frame start the thorough way: for tests that compare both ways."""
    dec = FrameDecoder(**kwargs)  # type: ignore[arg-type]  # the keyword arguments of FrameDecoder
    dec._shortcuts = False
    return dec


def _lacks(data: bytes, pos: int, end: int, n: int) -> int:
    """How many bytes ``data[pos:n]`` lacks at least for ``end - pos`` unescaped ones (0: it may hold them).

    For the shortcuts, before they unescape a frame with a Python loop per escape: a frame with
    many escapes that is not all there (a flood of them, arriving in small reads) is not unescaped
    at every read. Counted in C over the frame's bytes: the escapes in ``data[pos:end]`` are at least
    its pairs ``--``, and exactly its ``-+`` when there is none; each pushes its end one byte further.
    """
    count = end - pos
    if n - pos >= 2 * count:  # the wire holds count bytes in 2 * count at most
        return 0
    dashes = data.count(b"-", pos, end)
    if dashes < 32:  # few escapes: the loop is cheaper than counting
        return 0
    escapes = data.count(b"--", pos, end) or data.count(b"-+", pos, end)
    return end + escapes - n if end + escapes > n else 0


def _has_bare_start(data: bytes | bytearray, pos: int) -> bool:
    """Whether ``data[pos:]`` holds a start token that is not escaped (``data[pos - 1]`` is no ``-``).

    In C: with the pairs ``--`` taken out (``replace`` pairs a run of '-' from its start, as
    unescaping does), a '+' is escaped exactly when a '-' is left before it.
    """
    k = data.find(b"+", pos)
    if k == -1:
        return False
    if k == pos or data[k - 1] != ESCAPE_TOKEN:
        return True
    # The usual rest (the tail of a long frame waited for): every '+' escaped by a single '-',
    # counted without copying the tail.
    if data.count(b"+", k) == data.count(b"-+", pos) and data.find(b"--+", pos) == -1:
        return False
    tail = data[pos:]
    if b"--" in tail:
        tail = tail.replace(b"--", b"")
    return tail.count(b"+") != tail.count(b"-+")


def _is_bare(data: bytes | bytearray, k: int, first: int) -> bool:
    """Whether the '+' at ``data[k]`` is not escaped: an even run of '-' before it (none before ``first``)."""
    r = k - 1
    while r >= first and data[r] == ESCAPE_TOKEN:
        r -= 1
    return not (k - 1 - r) & 1


def decode_frames(data: bytes | bytearray, **kwargs: object) -> list[Event]:
    """Decode a complete byte string (for example a capture of one direction) into its events."""
    dec = FrameDecoder(**kwargs)  # type: ignore[arg-type]  # the keyword arguments of FrameDecoder
    dec.feed(data)
    dec.feed(b"")
    return list(dec.events())


def _unescape(buf: bytes | bytearray, pos: int, end: int, count: int) -> tuple[bytes | None, int]:
    """Read ``count`` unescaped bytes from ``buf[pos:end]`` (the shortcut for one frame with escapes).

    Returns ``(bytes, wire end)``, or ``(None, missing)`` with the number of unescaped bytes still
    missing when the input ends first (a ``-`` as the last byte is undecided, so it counts as missing).
    """
    parts: list[bytes | bytearray] = []  # the pieces between escapes
    stop = pos + count  # where the wire bytes wanted end, as far as the escapes seen go
    find = buf.find
    k = find(b"-", pos, end)
    while k != -1 and k < stop:
        if k + 1 >= end:  # a '-' as the last byte: undecided
            return None, stop - k
        if buf[k + 1] in {0x2B, 0x2D}:  # an escape pair ('+', '-': constants, not names, per escape)
            # drop the '-' and go on from the escaped byte, which is copied as it is
            parts.append(buf[pos:k])
            if len(parts) > 256:  # not an object per escape of a long frame
                parts[:] = [b"".join(parts)]
            pos = k + 1
            stop += 1
            k = find(b"-", k + 2, end)
        else:  # a lone '-' is a literal byte
            k = find(b"-", k + 1, end)
    if stop > end:
        return None, stop - end
    parts.append(buf[pos:stop])
    return b"".join(parts), stop


# --------------------------------------------------------------------------------------------------
# The documented one-frame decoder
# --------------------------------------------------------------------------------------------------


def _find_start(data: bytes | bytearray | memoryview) -> int:
    """Index of the first start token, searching a memoryview in pieces instead of copying it whole."""
    if not isinstance(data, memoryview):
        return data.find(b"+")
    for pos in range(0, len(data), 4096):
        k = bytes(data[pos : pos + 4096]).find(b"+")
        if k != -1:
            return pos + k
    return -1


class ReceiveFrame:
    """Receives one frame: ``consume()`` bytes until ``complete()``; make a new instance for the next frame.

    Bytes before the start token are skipped (and counted in ``consumed_bytes``). A bad frame
    raises a :class:`~rctclient.exceptions.ReceiveFrameError` whose ``consumed_bytes`` says how many
    bytes of that ``consume()`` call were used, so the caller can slice them off and go on.

    :param ignore_crc_mismatch: complete the frame even if its checksum does not match (``crc_ok``
        is then False) instead of raising :class:`~rctclient.exceptions.FrameCRCMismatch`.
    """

    __slots__ = (
        "_address",
        "_buffer",
        "_command",
        "_complete",
        "_consumed_bytes",
        "_crc_ok",
        "_data",
        "_frame_length",
        "_frame_type",
        "_id",
        "_readings",
        "ignore_crc_mismatch",
    )

    def __init__(self, ignore_crc_mismatch: bool = False) -> None:
        self.ignore_crc_mismatch = ignore_crc_mismatch
        self._buffer = StreamBuffer()  # bytes from the start token on (stream offset 0)
        self._readings = Readings(self._buffer, 0)
        self._complete = False
        self._crc_ok = False
        self._consumed_bytes = 0
        self._command = Command._NONE
        self._frame_type = FrameType._NONE
        self._frame_length = 0
        self._id = 0
        self._address = 0
        self._data = b""

    def __repr__(self) -> str:
        return (
            f"<ReceiveFrame(cmd={int(self._command)}, id={self._id:x}, address={self._address:x}, "
            f"data={self._data.hex()})>"
        )

    def complete(self) -> bool:
        """True once a whole frame was received."""
        return self._complete

    @property
    def crc_ok(self) -> bool:
        """Whether the checksum matched (meaningful once complete)."""
        return self._crc_ok

    @property
    def command(self) -> Command:
        return self._command

    @property
    def id(self) -> int:
        return self._id

    @property
    def address(self) -> int:
        """The address of a PLANT frame, 0 otherwise."""
        return self._address

    @property
    def data(self) -> bytes:
        """The payload."""
        return self._data

    @property
    def frame_type(self) -> FrameType:
        """STANDARD or PLANT once the command is known, ``FrameType._NONE`` before."""
        return self._frame_type

    @property
    def frame_length(self) -> int:
        """Length of the whole frame without escapes, start token to CRC; 0 until the length field arrived."""
        return self._frame_length

    @property
    def consumed_bytes(self) -> int:
        """Bytes consumed over this instance's life, including any before the start token."""
        return self._consumed_bytes

    def consume(self, data: bytes | bytearray | memoryview) -> int:
        """Consume bytes until the frame is complete; returns how many bytes of ``data`` were used.

        :raises FrameCRCMismatch: the checksum does not match (unless ``ignore_crc_mismatch``).
        :raises InvalidCommand: the command byte is unknown, or EXTENSION (which cannot be decoded).
        :raises FrameLengthExceeded: the length field is too short to hold the object ID.
        """
        if self._complete:
            return 0
        # Copy no more of ``data`` than the frame needs: callers pass the rest of a large buffer.
        view: bytes | bytearray | memoryview = (
            data if isinstance(data, bytes | bytearray) else memoryview(data).cast("B")
        )
        size = len(view)
        start = 0
        buffer = self._buffer
        if not buffer.end:
            start = _find_start(view)
            if start == -1:
                self._consumed_bytes += size
                return size
        before = buffer.end - start  # stream offset where data[0] lands
        readings = self._readings
        take = 64
        while True:
            stop = min(size, start + take)
            buffer.append(bytes(view[start:stop]))
            buffer.join(0)
            out = readings.analyze(0)
            if not isinstance(out, Open) or stop == size:
                break
            unescaped = readings.unescaped
            need = max(out.need_wire, unescaped.done + out.need_unescaped - unescaped.end)
            # as far as the frame can end, not further: the rest of ``data`` is not ours
            take = need - buffer.end if need > buffer.end else 2 * take
            start = stop

        def used(end: int) -> int:
            n = end - before
            self._consumed_bytes += n
            return n

        if isinstance(out, Open):
            spec = COMMANDS[out.command]
            if spec is not None:
                self._command = spec.command
                self._frame_type = FrameType.PLANT if spec.plant else FrameType.STANDARD
                self._frame_length = out.frame_length
            return used(buffer.end)
        if isinstance(out, NotACommand):
            raise InvalidCommand(f"invalid command byte 0x{out.byte:02x}", out.byte, used(2))
        if isinstance(out, ExtensionStart):
            raise InvalidCommand("EXTENSION frames cannot be decoded", Command.EXTENSION, used(2))
        if isinstance(out, BadLength):
            raise FrameLengthExceeded(f"length field {out.length} is too short for the object id", used(out.end))
        self._command = out.command
        self._address = out.address
        self._id = out.oid
        self._data = out.payload
        plant = Command.is_plant(out.command)
        self._frame_type = FrameType.PLANT if plant else FrameType.STANDARD
        header = 1 + (2 if Command.is_long(out.command) else 1) + (8 if plant else 4)
        self._frame_length = 1 + header + len(out.payload) + 2
        self._complete = True
        n = used(out.end)
        if isinstance(out, Good):
            self._crc_ok = True
            return n
        self._crc_ok = False
        if not self.ignore_crc_mismatch:
            raise FrameCRCMismatch("CRC mismatch", out.received, out.calculated, n)
        return n

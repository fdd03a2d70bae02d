"""Frames: building them (:func:`make_frame`, :class:`SendFrame`) and decoding them.

Two decoders share one parser:

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
always escaped.
"""

from __future__ import annotations

import struct
from binascii import crc_hqx
from collections import deque
from collections.abc import Iterator
from enum import Enum
from typing import TYPE_CHECKING, Final, NamedTuple

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

START_TOKEN: Final = 0x2B  # '+'
ESCAPE_TOKEN: Final = 0x2D  # '-'
#: The vendor app's EXTENSION frame: ``+<\xe1``.
EXTENSION_LENGTH: Final = 3
#: Largest payload any frame can carry (2-byte length field minus the object ID).
MAX_PAYLOAD_LONG: Final = 0xFFFF - FrameType.STANDARD

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_unpack_u32 = _U32.unpack_from

# Per command byte: None for bytes that are not a decodable command, else
# (command, length field size, header size after the start token, is_plant).
# header size = command byte + length field + [address] + object id.
_CommandInfo = tuple[Command, int, int, bool]


def _command_table() -> tuple[_CommandInfo | None, ...]:
    table: list[_CommandInfo | None] = [None] * 256
    for cmd in Command:
        if cmd in (Command.EXTENSION, Command._NONE):
            continue
        long_ = Command.is_long(cmd)
        plant = Command.is_plant(cmd)
        len_size = 2 if long_ else 1
        table[cmd] = (cmd, len_size, 1 + len_size + (8 if plant else 4), plant)
    return tuple(table)


_COMMANDS: Final = _command_table()


# --------------------------------------------------------------------------------------------------
# Building frames
# --------------------------------------------------------------------------------------------------


# Per command that can be sent: (command, header struct, is_plant, carries a payload, largest length).
_BuildSpec = tuple[Command, struct.Struct, bool, bool, int]


def _build_table() -> dict[int, _BuildSpec]:
    table = {}
    for info in _COMMANDS:
        if info is not None:
            cmd, len_size, _, plant = info
            fmt = (">BH" if len_size == 2 else ">BB") + ("II" if plant else "I")
            max_length = 0xFFFF if len_size == 2 else 0xFF
            table[int(cmd)] = (cmd, struct.Struct(fmt), plant, not Command.is_read(cmd), max_length)
    return table


_BUILD: Final = _build_table()
_pack_u16 = _U16.pack


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
# The parser shared by both decoders
# --------------------------------------------------------------------------------------------------

# Outcomes of _parse_at
_NEED: Final = 0  # incomplete: (kind, min_end, object_id or -1, payload_length, command)
_FRAME: Final = 1  # (kind, end, command, address, object_id, payload, literal_reading)
_CRC: Final = 2  # (kind, end, command, address, object_id, payload, received, calculated)
_BADCMD: Final = 3  # (kind, end_of_command_byte, command_byte)
_EXT: Final = 4  # (kind, end)
_BADLEN: Final = 5  # (kind, end_of_length_field, length)

_Parsed = tuple[object, ...]


def _unescape(buf: bytes | bytearray, pos: int, end: int, count: int) -> tuple[bytes | None, int]:
    """Read ``count`` unescaped bytes from ``buf[pos:end]``.

    Returns ``(bytes, wire end)``, or ``(None, missing)`` with the number of unescaped bytes still
    missing when the input ends first (a ``-`` as the last byte is undecided, so it counts as missing).
    """
    parts: list[bytes | bytearray] = []
    have = 0
    search = pos
    find = buf.find
    while True:
        k = find(b"-", search, end)
        if k == -1 or k - pos >= count - have:
            stop = pos + count - have
            if stop > end:
                return None, stop - end
            if parts:
                parts.append(buf[pos:stop])
                return b"".join(parts), stop
            return bytes(buf[pos:stop]), stop
        if k + 1 >= end:
            return None, count - have - (k - pos)
        nxt = buf[k + 1]
        if nxt in (START_TOKEN, ESCAPE_TOKEN):
            # drop the '-' and go on from the escaped byte, which is copied as it is
            parts.append(buf[pos:k])
            have += k - pos
            pos = k + 1
            search = k + 2
        else:  # a lone '-' is a literal byte
            search = k + 1


def _check_body(body: bytes | bytearray, info: _CommandInfo) -> tuple[int, int, int, bytes, int, int]:
    """Split an unescaped body (command to CRC): (command, address, oid, payload, received, calculated)."""
    cmd, len_size, header, plant = info
    n = len(body) - 2
    received = (body[n] << 8) | body[n + 1]
    if n & 1:
        calc = crc_hqx(b"\x00", crc_hqx(body[:n], 0xFFFF))
    elif crc_hqx(body, 0xFFFF) == 0:  # the CRC over body and CRC is 0 exactly when it matches
        calc = received
    else:
        calc = crc_hqx(body[:n], 0xFFFF)
    if plant:
        address = _unpack_u32(body, 1 + len_size)[0]
        oid = _unpack_u32(body, 5 + len_size)[0]
    else:
        address = 0
        oid = _unpack_u32(body, 1 + len_size)[0]
    return cmd, address, oid, bytes(body[header:n]), received, calc


def _parse_literal(buf: bytes | bytearray, j: int, end: int, info: _CommandInfo) -> _Parsed | None:
    """The reading of a non-escaping sender: every byte is literal. Returns a good frame or None."""
    len_size = info[1]
    if j + 2 + len_size > end:
        return None
    length = buf[j + 2] if len_size == 1 else (buf[j + 2] << 8) | buf[j + 3]
    if length < (8 if info[3] else 4):
        return None
    e = j + 2 + len_size + length + 2
    if e > end:
        return None
    cmd, address, oid, payload, received, calc = _check_body(buf[j + 1 : e], info)
    if received != calc:
        return None
    return (_FRAME, e, cmd, address, oid, payload, True)


def _parse_at(buf: bytes | bytearray, j: int, end: int) -> _Parsed:
    """Parse the frame whose start token is at ``buf[j]``, looking no further than ``end``."""
    if j + 1 >= end:
        return (_NEED, j + 2, -1, 0, 0)
    c = buf[j + 1]
    info = _COMMANDS[c]
    if info is None:
        if c == Command.EXTENSION:
            if j + 2 < end and buf[j + 2] == START_TOKEN:
                return (_EXT, j + 2)  # do not swallow the next frame's start token
            return (_EXT, min(j + EXTENSION_LENGTH, end))
        return (_BADCMD, j + 2, c)
    len_size = info[1]
    min_length = 8 if info[3] else 4
    p = j + 2
    if p + len_size <= end and buf[p] != ESCAPE_TOKEN and (len_size == 1 or buf[p + 1] != ESCAPE_TOKEN):
        # The length field has no escapes (the common case).
        length = buf[p] if len_size == 1 else (buf[p] << 8) | buf[p + 1]
        if length < min_length:
            return (_BADLEN, p + len_size, length)
        e = p + len_size + length + 2
        if e <= end and buf.find(b"-", p, e) == -1:
            cmd, address, oid, payload, received, calc = _check_body(buf[j + 1 : e], info)
            if received == calc:
                return (_FRAME, e, cmd, address, oid, payload, False)
            return (_CRC, e, cmd, address, oid, payload, received, calc)
        elif e > end:
            # Incomplete, and the literal reading cannot be complete either. Every '--' in what has
            # arrived is one more wire byte, so the frame cannot end before e plus their number.
            oid = -1
            header_end = j + 1 + info[2]
            if header_end <= end and buf.find(b"-", p, header_end) == -1:
                oid = _unpack_u32(buf, header_end - 4)[0]
            return (_NEED, e + buf.count(b"--", p, end), oid, length - min_length, c)
    else:
        head, wire = _unescape(buf, j + 1, end, 1 + len_size)
        if head is None:
            literal = _parse_literal(buf, j, end, info)
            return literal if literal is not None else (_NEED, end + wire, -1, 0, 0)
        length = head[1] if len_size == 1 else (head[1] << 8) | head[2]
        if length < min_length:
            return (_BADLEN, wire, length)
    body, wire_end = _unescape(buf, j + 1, end, 1 + len_size + length + 2)
    if body is None:
        literal = _parse_literal(buf, j, end, info)
        if literal is not None:
            return literal
        # wire_end is the number of unescaped bytes still missing
        oid = -1
        have = 1 + len_size + length + 2 - wire_end
        if have >= info[2]:
            partial, _ = _unescape(buf, j + 1, end, info[2])
            if partial is not None:
                oid = _unpack_u32(partial, info[2] - 4)[0]
        return (_NEED, end + wire_end, oid, length - min_length, c)
    cmd, address, oid, payload, received, calc = _check_body(body, info)
    if received == calc:
        return (_FRAME, wire_end, cmd, address, oid, payload, False)
    literal = _parse_literal(buf, j, end, info)
    if literal is not None:
        return literal
    return (_CRC, wire_end, cmd, address, oid, payload, received, calc)


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


_tuple_new = tuple.__new__


def _make_frame_event(command: Command, oid: int, address: int, data: bytes, offset: int, size: int) -> Frame:
    # Same as Frame(...), without the keyword handling of the generated __new__.
    return _tuple_new(Frame, (command, oid, address, data, offset, size))


_registry_limits: dict[int, tuple[object, dict[int, tuple[int | None, int | None]]]] = {}


def _limits_of(registry: Registry) -> dict[int, tuple[int | None, int | None]]:
    """Per OID: (largest request payload, largest response payload), None where unbounded."""
    cached = _registry_limits.get(id(registry))
    if cached is not None and cached[0] is registry:
        return cached[1]
    from .utils import max_payload_size  # noqa: PLC0415 - only needed on this rare path

    limits = {
        o.object_id: (max_payload_size(o.request_data_type), max_payload_size(o.response_data_type))
        for o in registry.all()
    }
    _registry_limits[id(registry)] = (registry, limits)
    return limits


#: A run of start tokens at the end of the input is held back (it may go on) up to this length.
_MAX_HELD_RUN: Final = 4096


def _has_bare_start(chunk: bytes) -> bool:
    """Whether ``chunk`` holds a ``+`` that is not escaped (one at its very start counts as bare)."""
    k = chunk.find(b"+")
    while k > 0 and chunk[k - 1] == ESCAPE_TOKEN:
        k = chunk.find(b"+", k + 1)
    return k != -1


class FrameDecoder:
    """Incremental decoder for a byte stream (one direction of a connection, or of a capture).

    ``feed(data)`` appends bytes (``feed(b"")`` says the stream ended); ``next_event()`` returns the
    next :data:`Event` or :data:`NEED_DATA`; ``events()`` iterates until then. Nothing that arrives
    on the wire makes it raise, and it keeps no more than about one frame of input: bytes that can
    no longer start a frame are let go.

    :param registry: where to look up an OID's data type to reject absurd length fields of frames
        that are still incomplete (a complete frame with a good CRC is always accepted). Defaults
        to the built-in registry; ``None`` switches the check off.
    :param max_payload: the largest payload to wait for; a length field promising more is treated
        as garbage. Defaults to the largest the protocol can express.
    :param report_noise: also emit :class:`Garbage` events for bytes between frames (devices put a
        0x00 in front of many frames). They are always counted in ``stats.garbage_bytes``.
    """

    __slots__ = (
        "_buf",
        "_chunks",
        "_chunks_len",
        "_covered",
        "_eof",
        "_limits",
        "_max_payload",
        "_pending",
        "_pending_checked",
        "_pos",
        "_queue",
        "_registry",
        "_report_noise",
        "_start",
        "_wait_until",
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
        # Positions are indices into _buf; _start is the stream offset of _buf[0].
        self._buf = b""
        self._chunks: list[bytes] = []  # fed but not yet joined into _buf
        self._chunks_len = 0
        self._pos = 0  # next byte to look at
        self._start = 0
        self._covered = 0  # bytes before this index were reported as part of a bad frame
        self._eof = False
        self._wait_until = 0  # stream offset the input must reach before parsing again is worth it
        self._pending = -1  # index of the start token of an incomplete frame, or -1
        self._pending_checked = 0  # lookahead inside the pending frame was done up to here
        self._queue: deque[Event] = deque()
        self._registry = registry
        self._limits: dict[int, tuple[int | None, int | None]] | None = None
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
            return
        # Chunks are only joined once there can be enough input to get further (see _wait_until),
        # so that feeding a long frame a byte at a time stays linear. A bare start token in new
        # input is the exception: while a frame is pending it may begin a good frame that shows
        # the pending one was cut off (a device interrupted while answering), so look now.
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._chunks_len += len(chunk)
        self.stats.bytes_in += len(chunk)
        if self._wait_until and _has_bare_start(chunk):
            self._wait_until = 0

    def _join(self) -> None:
        drop = self._pos
        rest = self._buf[drop:] if drop < len(self._buf) else b""
        if rest:
            self._chunks.insert(0, rest)
        self._buf = self._chunks[0] if len(self._chunks) == 1 else b"".join(self._chunks)
        self._chunks = []
        self._chunks_len = 0
        if drop:
            self._start += drop
            self._pos = 0
            self._covered = max(0, self._covered - drop)
            if self._pending >= 0:
                self._pending -= drop
                self._pending_checked -= drop

    @property
    def buffered(self) -> int:
        """Bytes held that are not decoded yet."""
        return len(self._buf) - self._pos + self._chunks_len

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

    def _fill(self) -> None:
        """Decode as much of the input as possible into the event queue."""
        if self._chunks:
            if self._start + len(self._buf) + self._chunks_len < self._wait_until:
                return
            self._join()
        elif self._wait_until and not self._eof:
            return
        self._wait_until = 0
        buf = self._buf
        end = len(buf)
        start = self._start
        commands = _COMMANDS
        find = buf.find
        append = self._queue.append
        new = _tuple_new
        frame_cls = Frame
        unpack = _unpack_u32
        frames = 0
        quiet_noise = not self._report_noise
        pos = self._pos
        try:
            while pos < end:
                j = find(b"+", pos)
                if j != pos:
                    if j == -1:
                        # No start token: all noise, but keep a trailing 'A' or 'AT' (a keep-alive
                        # may follow).
                        j = end
                        if not self._eof:
                            if buf.endswith(b"AT"):
                                j -= 2
                            elif buf[end - 1] == 0x41:
                                j -= 1
                        if j <= pos:
                            self._wait_until = start + end + 1
                            return
                    elif j - pos >= 2 and buf[j - 2] == 0x41 and buf[j - 1] == 0x54:  # 'AT' before '+'
                        if j - 2 == pos:
                            if j + 1 >= end and not self._eof:
                                self._wait_until = start + j + 2
                                return  # 'AT+' so far: wait for the '\r'
                            if j + 1 < end and buf[j + 1] == 0x0D:
                                pos = j + 2
                                self.stats.keepalives += 1
                                append(KeepAlive(start + j - 2))
                                continue
                            # not a keep-alive: 'AT' is noise before the start token
                        else:
                            j -= 2
                    if quiet_noise and self._covered <= pos:
                        self.stats.garbage_bytes += j - pos  # the usual 0x00 before a frame
                    else:
                        self._noise(pos, j)
                    pos = j
                    continue
                # Fast path: a complete frame with a good CRC whose length field is not escaped.
                if j + 3 < end:
                    info = commands[buf[j + 1]]
                    if info is not None:
                        if info[1] == 1:
                            length = buf[j + 2]
                            head = j + 3
                        else:
                            length = (buf[j + 2] << 8) | buf[j + 3]
                            head = j + 4
                        e = head + length + 2
                        if e <= end and length >= (8 if info[3] else 4):
                            if find(b"-", j + 2, e) == -1:
                                n = e - 2
                                if (n - j) & 1:  # even number of bytes from command to payload
                                    ok = crc_hqx(buf[j + 1 : e], 0xFFFF) == 0
                                else:
                                    ok = crc_hqx(b"\x00", crc_hqx(buf[j + 1 : n], 0xFFFF)) == (buf[n] << 8) | buf[n + 1]
                                if ok:
                                    frames += 1
                                    if info[3]:
                                        address = unpack(buf, head)[0]
                                        oid = unpack(buf, head + 4)[0]
                                        payload = buf[head + 8 : n]
                                    else:
                                        address = 0
                                        oid = unpack(buf, head)[0]
                                        payload = buf[head + 4 : n]
                                    append(new(frame_cls, (info[0], oid, address, payload, start + j, e - j)))
                                    pos = e
                                    continue
                            elif buf[j + 2] != ESCAPE_TOKEN and (info[1] == 1 or buf[j + 3] != ESCAPE_TOKEN):
                                # escapes after the length field: unescape, then the same checks
                                body, wire_end = _unescape(buf, j + 1, end, e - j - 1)
                                if body is not None:
                                    n = len(body) - 2
                                    if n & 1:
                                        ok = crc_hqx(b"\x00", crc_hqx(body[:n], 0xFFFF)) == (body[n] << 8) | body[n + 1]
                                    else:
                                        ok = crc_hqx(body, 0xFFFF) == 0
                                    if ok:
                                        frames += 1
                                        h = head - j - 1
                                        if info[3]:
                                            address = unpack(body, h)[0]
                                            oid = unpack(body, h + 4)[0]
                                            payload = body[h + 8 : n]
                                        else:
                                            address = 0
                                            oid = unpack(body, h)[0]
                                            payload = body[h + 4 : n]
                                        append(
                                            new(frame_cls, (info[0], oid, address, payload, start + j, wire_end - j))
                                        )
                                        pos = wire_end
                                        continue
                        elif (
                            e > end
                            and length >= (8 if info[3] else 4)
                            and not self._eof
                            and find(b"-", j + 2, head) == -1
                            and buf.count(b"+", j + 1, end) == buf.count(b"-+", j + 1, end)
                        ):
                            # Incomplete (a frame split between two reads, the common case) and no bare
                            # start token inside it that could begin another frame: wait for the rest,
                            # unless the length is more than the OID's data type allows.
                            payload_len = length - (8 if info[3] else 4)
                            header_end = head + (8 if info[3] else 4)
                            limit: int | None = None
                            if header_end <= end and find(b"-", head, header_end) == -1:
                                limit = self._payload_limit(unpack(buf, header_end - 4)[0], info[0])
                            if payload_len <= self._max_payload and (limit is None or payload_len <= limit):
                                self._pending = j
                                self._pending_checked = end
                                self._wait_until = start + e + buf.count(b"--", j + 2, end)
                                pos = j
                                return
                # Everything else: escapes, incomplete frames, bad frames.
                self._pos = pos
                waiting = not self._slow(j, end)
                pos = self._pos
                if waiting:
                    return
        finally:
            self._pos = pos
            if frames:
                self.stats.frames += frames
                self._pending = -1

    def _slow(self, j: int, end: int) -> bool:
        """Handle the start token at j the thorough way. False when it has to wait for more input."""
        buf = self._buf
        start = self._start
        append = self._queue.append
        r = _parse_at(buf, j, end)
        kind = r[0]
        if kind == _FRAME:
            e: int = r[1]  # type: ignore[assignment]
            self._pos = e
            self._pending = -1
            self.stats.frames += 1
            if r[6]:
                self.stats.unescaped_frames += 1
            append(_make_frame_event(r[2], r[4], r[3], r[5], start + j, e - j))  # type: ignore[arg-type]
            return True
        if kind == _NEED:
            return self._incomplete(j, end, r)
        self._pending = -1
        if kind == _CRC:
            e = r[1]  # type: ignore[assignment]
            self.stats.crc_errors += 1
            self._pos = j + 1
            self._covered = max(self._covered, e)
            append(CRCMismatch(r[2], r[4], r[3], r[5], r[6], r[7], start + j, e - j))  # type: ignore[arg-type]
            return True
        if kind == _EXT:
            if end < j + EXTENSION_LENGTH and not self._eof:
                self._pos = j
                self._wait_until = start + j + EXTENSION_LENGTH
                return False
            e = r[1]  # type: ignore[assignment]
            self._pos = e
            self.stats.extensions += 1
            append(Extension(buf[j:e], start + j))
            return True
        if kind == _BADCMD:
            # A run of start tokens ('++++', a flood) is one piece of garbage, not one event per
            # byte; the last '+' of the run may still begin a frame.
            run_end = j + 1
            while run_end < end and buf[run_end] == START_TOKEN:
                run_end += 1
            if run_end == end and not self._eof and run_end - j < _MAX_HELD_RUN:
                # the run may go on in the next read: wait, so that chunking does not split it
                self._pos = j
                self._wait_until = start + end + 1
                return False
            last = run_end - 1 if run_end > j + 1 else j + 1
            self.stats.invalid_commands += max(1, last - j)
            self._bad(j, GarbageReason.INVALID_COMMAND, last)
            return True
        self.stats.bad_lengths += 1
        self._bad(j, GarbageReason.BAD_LENGTH)
        return True

    # -- helpers ----------------------------------------------------------------------------------

    def _noise(self, start: int, stop: int) -> None:
        """Count (and report, if wanted) buf[start:stop] as noise, less what a bad frame already reported."""
        if self._covered > start:
            start = min(self._covered, stop)
        if stop > start:
            self.stats.garbage_bytes += stop - start
            if self._report_noise:
                self._queue.append(Garbage(GarbageReason.NOISE, self._buf[start:stop], self._start + start))

    def _bad(self, j: int, reason: GarbageReason, stop: int = 0) -> None:
        """Report buf[j:stop] (the start token at j, by default) as garbage and resume after it."""
        stop = max(stop, j + 1)
        self._pos = stop
        self.stats.garbage_bytes += stop - j
        self._covered = max(self._covered, stop)
        self._queue.append(Garbage(reason, self._buf[j:stop], self._start + j))

    def _payload_limit(self, oid: int, command: int) -> int | None:
        if self._registry is None:
            return None
        if self._limits is None:
            if self._registry is FrameDecoder._DEFAULT_REGISTRY:
                from .registry import REGISTRY  # noqa: PLC0415 - loaded only when first needed

                self._registry = REGISTRY
            self._limits = _limits_of(self._registry)  # type: ignore[arg-type]
        lim = self._limits.get(oid)
        if lim is None:
            return None
        if Command.is_response(command):
            return lim[1]
        if Command.is_write(command):
            return lim[0]
        return 0 if Command.is_read(command) else None

    def _incomplete(self, j: int, end: int, r: _Parsed) -> bool:
        """Decide about the incomplete frame at j: wait for more input (False), or give it up (True)."""
        min_end: int = r[1]  # type: ignore[assignment]
        oid: int = r[2]  # type: ignore[assignment]
        payload_len: int = r[3]  # type: ignore[assignment]
        command: int = r[4]  # type: ignore[assignment]
        buf = self._buf
        give_up = self._eof
        reason = GarbageReason.TRUNCATED
        if not give_up and payload_len > self._max_payload:
            give_up, reason = True, GarbageReason.BAD_LENGTH
        if not give_up and oid >= 0:
            limit = self._payload_limit(oid, command)
            if limit is not None and payload_len > limit:
                give_up, reason = True, GarbageReason.BAD_LENGTH
        if not give_up:
            # A complete good frame starting inside the pending one means the pending one was cut off.
            if self._pending != j:
                self._pending = j
                self._pending_checked = j + 1
            k = buf.find(b"+", self._pending_checked, end)
            while k != -1:
                if buf[k - 1] != ESCAPE_TOKEN:
                    inner = _parse_at(buf, k, end)
                    if inner[0] == _NEED:
                        # look again from here when that one could be complete
                        min_end = min(min_end, inner[1])  # type: ignore[call-overload]
                        break
                    if inner[0] == _FRAME:
                        give_up = True
                        break
                self._pending_checked = k + 1
                k = buf.find(b"+", k + 1, end)
            else:
                self._pending_checked = end
        if not give_up:
            self._pos = j
            self._wait_until = self._start + min_end
            return False
        self._pending = -1
        if reason is GarbageReason.BAD_LENGTH:
            self.stats.bad_lengths += 1
            self._bad(j, reason)
            return True
        # Truncated: report the bytes up to the next start token as one piece, then go on from there.
        nxt = buf.find(b"+", j + 1, end)
        stop = end if nxt == -1 else nxt
        self.stats.truncated += 1
        self.stats.garbage_bytes += stop - j
        self._pos = stop
        self._covered = max(self._covered, stop)
        self._queue.append(Garbage(GarbageReason.TRUNCATED, buf[j:stop], self._start + j))
        return True


def decode_frames(data: bytes | bytearray, **kwargs: object) -> list[Event]:
    """Decode a complete byte string (for example a capture of one direction) into its events."""
    dec = FrameDecoder(**kwargs)  # type: ignore[arg-type]
    dec.feed(data)
    dec.feed(b"")
    return list(dec.events())


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
        "_buf",
        "_command",
        "_complete",
        "_consumed_bytes",
        "_crc_ok",
        "_data",
        "_frame_length",
        "_frame_type",
        "_id",
        "ignore_crc_mismatch",
    )

    def __init__(self, ignore_crc_mismatch: bool = False) -> None:
        self.ignore_crc_mismatch = ignore_crc_mismatch
        self._buf = bytearray()  # bytes from the start token on
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
        if not self._buf:
            start = _find_start(view)
            if start == -1:
                self._consumed_bytes += size
                return size
        before = len(self._buf) - start  # buffer index where data[0] lands
        take = 64
        while True:
            stop = min(size, start + take)
            buf = self._buf + view[start:stop]
            r = _parse_at(buf, 0, len(buf))
            if r[0] != _NEED or stop == size:
                break
            take = max(2 * take, r[1] - len(self._buf))  # type: ignore[operator]
        self._buf = buf
        kind = r[0]

        def used(end: int) -> int:
            n = end - before
            self._consumed_bytes += n
            return n

        if kind == _NEED:
            info = _COMMANDS[buf[1]] if len(buf) > 1 else None
            if info is not None:
                self._command = info[0]
                self._frame_type = FrameType.PLANT if info[3] else FrameType.STANDARD
                head, _ = _unescape(buf, 1, len(buf), 1 + info[1])
                if head is not None:
                    length = head[1] if info[1] == 1 else (head[1] << 8) | head[2]
                    self._frame_length = 2 + info[1] + length + 2
            return used(len(buf))
        if kind == _BADCMD:
            command: int = r[2]  # type: ignore[assignment]
            raise InvalidCommand(f"invalid command byte 0x{command:02x}", command, used(r[1]))  # type: ignore[arg-type]
        if kind == _EXT:
            raise InvalidCommand("EXTENSION frames cannot be decoded", Command.EXTENSION, used(2))
        if kind == _BADLEN:
            raise FrameLengthExceeded(f"length field {r[2]} is too short for the object id", used(r[1]))  # type: ignore[arg-type]
        # a complete frame, good or not
        e: int = r[1]  # type: ignore[assignment]
        self._command = r[2]  # type: ignore[assignment]
        self._address = r[3]  # type: ignore[assignment]
        self._id = r[4]  # type: ignore[assignment]
        self._data = r[5]  # type: ignore[assignment]
        plant = Command.is_plant(self._command)
        self._frame_type = FrameType.PLANT if plant else FrameType.STANDARD
        header = 1 + (2 if Command.is_long(self._command) else 1) + (8 if plant else 4)
        self._frame_length = 1 + header + len(self._data) + 2
        self._complete = True
        n = used(e)
        if kind == _FRAME:
            self._crc_ok = True
            return n
        self._crc_ok = False
        if not self.ignore_crc_mismatch:
            raise FrameCRCMismatch("CRC mismatch", r[6], r[7], n)  # type: ignore[arg-type]
        return n

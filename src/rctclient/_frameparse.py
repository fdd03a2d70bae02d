"""What the bytes at one start token are: the wire format, and the typed outcomes of reading a frame.

Wire format: ``+`` (0x2B), command, length (1 byte, 2 for the LONG commands), address (4 bytes,
PLANT commands only), object ID (4 bytes), payload, CRC16 (2 bytes), all big-endian. The length
counts address, object ID and payload. Inside the frame ``-`` (0x2D) escapes a following ``+`` or
``-``; a ``-`` before anything else is itself.

A frame start is read twice when needed: the *escaped* reading (the format as specified) and the
*literal* one (every byte as it is, for senders that do not escape). :meth:`Readings.analyze`
applies the rule, in this order:

* a command byte that is no command: :class:`NotACommand`; EXTENSION: :class:`ExtensionStart`;
* the escaped reading is complete and its CRC matches: :class:`Good`;
* else the literal reading is complete and its CRC matches: :class:`Good` (``literal``);
* the escaped length field is shorter than the object ID: :class:`BadLength`;
* the escaped reading is incomplete: :class:`Open`, with the points where either reading can get
  further;
* else: :class:`Bad`, the escaped reading's fields with both CRCs.
"""

from __future__ import annotations

import struct
from bisect import bisect_left, bisect_right
from typing import Final, NamedTuple

from ._framebuffer import StreamBuffer, Unescaped
from ._framecrc import SHORT_SPAN, PrefixCRC, calculated_crc, crc_ok
from .types import Command

__all__ = [
    "COMMANDS",
    "ESCAPE_TOKEN",
    "EXTENSION_LENGTH",
    "MAX_PAYLOAD_LONG",
    "START_TOKEN",
    "Bad",
    "BadLength",
    "CommandSpec",
    "ExtensionStart",
    "Good",
    "NotACommand",
    "Open",
    "Outcome",
    "Readings",
    "no_command",
]

START_TOKEN: Final = 0x2B  # '+'
ESCAPE_TOKEN: Final = 0x2D  # '-'
#: The vendor app's EXTENSION frame: ``+<\xe1``.
EXTENSION_LENGTH: Final = 3
#: Largest payload any frame can carry (2-byte length field minus the object ID).
MAX_PAYLOAD_LONG: Final = 0xFFFF - 4

_unpack_u32 = struct.Struct(">I").unpack_from
_new = tuple.__new__  # a NamedTuple made without its keyword handling


class CommandSpec(NamedTuple):
    command: Command
    #: Bytes of the length field (2 for the LONG commands).
    length_size: int
    #: Command byte, length field, address (PLANT) and object ID.
    header_size: int
    plant: bool
    #: The smallest possible length field: address (PLANT) and object ID.
    min_length: int


def _command_table() -> tuple[CommandSpec | None, ...]:
    table: list[CommandSpec | None] = [None] * 256
    for cmd in Command:
        if cmd in (Command.EXTENSION, Command._NONE):
            continue
        length_size = 2 if Command.is_long(cmd) else 1
        plant = Command.is_plant(cmd)
        table[cmd] = CommandSpec(cmd, length_size, 1 + length_size + (8 if plant else 4), plant, 8 if plant else 4)
    return tuple(table)


#: Per command byte: the command's frame layout, or None for bytes that are no decodable command.
COMMANDS: Final = _command_table()


# --------------------------------------------------------------------------------------------------
# Outcomes (stream offsets are absolute)
# --------------------------------------------------------------------------------------------------


class Good(NamedTuple):
    """A complete frame whose CRC matches (the first four fields are those of a ``Frame`` event)."""

    command: Command
    oid: int
    address: int
    payload: bytes
    #: Stream offset after the frame.
    end: int
    #: Only the literal reading passed (a sender that does not escape).
    literal: bool


class Bad(NamedTuple):
    """A complete frame whose CRC does not match: the escaped reading's fields (the first six are
    those of a ``CRCMismatch`` event)."""

    command: Command
    oid: int
    address: int
    #: The payload, or its first bytes only (see :meth:`Readings.analyze`).
    payload: bytes
    received: int
    calculated: int
    end: int


class Open(NamedTuple):
    """The escaped reading is incomplete (and the literal one is not a good frame)."""

    #: Length of the unescaped stream at which the escaped reading gets further (its object ID,
    #: or its end), -1 for never.
    need_unescaped: int
    #: Stream offset at which the literal reading gets further, -1 for never.
    need_wire: int
    #: The command byte (0 while it has not arrived).
    command: int
    #: The object ID, -1 while it has not arrived.
    oid: int
    #: The payload length the length field announces, -1 while it has not arrived.
    payload_length: int
    #: The whole frame's length without escapes (start token to CRC), 0 while unknown.
    frame_length: int


class NotACommand(NamedTuple):
    """The byte after the start token is no command."""

    byte: int


class ExtensionStart(NamedTuple):
    """``+<``: the vendor app's EXTENSION frame, whose structure is unknown."""

    #: Stream offset after it: its third byte, unless that is a start token (or has not arrived).
    end: int
    #: Whether the third byte has arrived (or is known not to belong to it).
    complete: bool


class BadLength(NamedTuple):
    """The escaped length field is shorter than the object ID."""

    length: int
    #: Stream offset after the length field.
    end: int


Outcome = Good | Bad | Open | NotACommand | ExtensionStart | BadLength

_OPEN_START: Final = Open(-1, -1, 0, -1, -1, 0)  # template: only the command byte is missing


class Readings:
    """Both readings of the stream in ``buffer`` from the wire offset ``origin`` on.

    Holds what makes reading a frame start cost the same whatever its length and however many
    starts overlap: the escaped reading of the stream (:class:`Unescaped`, each wire byte read
    once) and prefix CRCs of the wire bytes for the literal reading. ``eof`` says that no more
    bytes will come (a trailing ``-`` is then a literal byte).
    """

    __slots__ = ("analyses", "buffer", "eof", "raw_crc", "release_at", "unescaped")

    def __init__(self, buffer: StreamBuffer, origin: int, raw_crc: PrefixCRC | None = None) -> None:
        self.buffer = buffer
        self.unescaped = Unescaped(origin)
        self.raw_crc = raw_crc or PrefixCRC()
        self.eof = False
        #: Stream offset from which :meth:`release` has something to do.
        self.release_at = origin + 65536
        #: Frame starts analysed (a work counter for tests).
        self.analyses = 0

    @property
    def origin(self) -> int:
        return self.unescaped.origin

    def release(self, j: int) -> None:
        """Let go of what only frame starts before the stream offset ``j`` need (now and then)."""
        if j >= self.release_at:
            self.release_at = j + 65536
            self.unescaped.release(self.unescaped.index_of(j) - 32)  # (a prefix CRC value before j stays)

    def analyze(self, j: int, cap: int = -1, oid_wake: bool = True) -> Outcome:
        """Read the frame whose start token is at the stream offset ``j`` (``j >= origin``).

        ``cap`` limits the payload copied into a :class:`Bad` outcome (-1: all of it; 0: none, and
        no calculated CRC either, for callers that only look for good frames). ``oid_wake``: an
        incomplete frame whose object ID has not arrived wants a look when it has (False: only
        when it can be complete).
        """
        self.analyses += 1
        buffer = self.buffer
        raw = buffer.data
        rb = buffer.base
        wend = rb + len(raw)
        if j + 1 >= wend:
            return _OPEN_START._replace(need_wire=j + 2)
        c = raw[j + 1 - rb]
        spec = COMMANDS[c]
        if spec is None:
            return no_command(raw, rb, j)
        cmd, ls, hdr, plant, min_length = spec
        un = self.unescaped
        eof = self.eof
        if un.done <= j:
            un.extend(raw, rb, j + 1, eof)  # the escapes before the frame start
        a = j + 1 - un.origin - un.dropped - bisect_left(un.dashes, j + 1 - un.origin)  # un.index_of(j + 1)
        data = un.data
        us = un.start
        if a + 1 + ls > us + len(data):
            un.cover(raw, rb, wend, eof, a + 1 + ls)
        have = us + len(data)
        if a + 1 + ls > have:
            literal, need_wire = self._literal(j, spec)
            return literal or Open(a + 1 + ls, need_wire, c, -1, -1, 0)
        length = data[a + 1 - us] if ls == 1 else (data[a + 1 - us] << 8) | data[a + 2 - us]
        if length < min_length:
            return BadLength(length, un.wire_of(a + ls) + 1)
        n = 1 + ls + length + 2  # command to CRC
        if a + n > have:
            un.cover(raw, rb, wend, eof, a + n)
            have = us + len(data)
        if a + n > have:
            literal, need_wire = self._literal(j, spec)
            if literal is not None:
                return literal
            if a + hdr > have:
                # look again when the object ID is there: whether the length is plausible for it
                # is decided then, not whenever more bytes happen to arrive
                return _new(Open, (a + hdr if oid_wake else a + n, need_wire, c, -1, length - min_length, 1 + n))
            oid = _unpack_u32(data, a + hdr - 4 - us)[0]
            return _new(Open, (a + n, need_wire, c, oid, length - min_length, 1 + n))
        b = a + n
        received = (data[b - 2 - us] << 8) | data[b - 1 - us]
        if n <= SHORT_SPAN:
            body = data[a - us : b - us]
            calculated = received if crc_ok(body) else -1  # -1: computed below, when it is needed
        else:
            calculated = un.crc.calculated(data, us, a, b)
        at = a + 1 + ls - us
        if plant:
            address = _unpack_u32(data, at)[0]
            oid = _unpack_u32(data, at + 4)[0]
        else:
            address = 0
            oid = _unpack_u32(data, at)[0]
        end = un.origin + b + un.dropped + bisect_right(un.marks, b - 1)  # un.wire_of(b - 1) + 1
        if calculated == received:
            return _new(Good, (cmd, oid, address, bytes(data[a + hdr - us : b - 2 - us]), end, False))
        if end - j - 1 != n:  # escapes in between: the literal reading is other bytes
            p = j + 2 - rb
            e = (raw[p] if ls == 1 else (raw[p] << 8) | raw[p + 1]) + j + 4 + ls  # where it ends
            if (
                e <= wend
                and e - j - 4 - ls >= min_length
                and (
                    crc_ok(raw[j + 1 - rb : e - rb])
                    if e - j - 1 <= SHORT_SPAN
                    else self.raw_crc.calculated(raw, rb, j + 1, e) == (raw[e - 2 - rb] << 8) | raw[e - 1 - rb]
                )
            ):
                literal, _ = self._literal(j, spec)  # a good frame: read it out (rare)
                if literal is not None:
                    return literal
        if cap == 0:
            return _new(Bad, (cmd, oid, address, b"", received, 0, end))
        if calculated < 0:
            calculated = calculated_crc(body)
        payload_end = b - 2 if cap < 0 else min(b - 2, a + hdr + cap)
        return _new(Bad, (cmd, oid, address, bytes(data[a + hdr - us : payload_end - us]), received, calculated, end))

    def _literal(self, j: int, spec: CommandSpec) -> tuple[Good | None, int]:
        """The literal reading: a good frame, or None and the stream offset at which it can be one (-1: never)."""
        cmd, ls, hdr, plant, min_length = spec
        buffer = self.buffer
        raw = buffer.data
        rb = buffer.base
        wend = rb + len(raw)
        p = j + 2
        if p + ls > wend:
            return None, p + ls
        length = raw[p - rb] if ls == 1 else (raw[p - rb] << 8) | raw[p + 1 - rb]
        if length < min_length:
            return None, -1
        e = p + ls + length + 2
        if e > wend:
            return None, e
        if e - j - 1 <= SHORT_SPAN:
            if not crc_ok(raw[j + 1 - rb : e - rb]):
                return None, -1
        elif self.raw_crc.calculated(raw, rb, j + 1, e) != (raw[e - 2 - rb] << 8) | raw[e - 1 - rb]:
            return None, -1
        at = j + 2 + ls - rb
        address = _unpack_u32(raw, at)[0] if plant else 0
        oid = _unpack_u32(raw, at + 4 if plant else at)[0]
        return _new(Good, (cmd, oid, address, bytes(raw[j + 1 + hdr - rb : e - 2 - rb]), e, True)), -1


def no_command(raw: bytes | bytearray, base: int, j: int) -> NotACommand | ExtensionStart:
    """What the start token at ``j`` is when the byte after it is no command (``raw[0]`` is at ``base``)."""
    wend = base + len(raw)
    c = raw[j + 1 - base]
    if c != Command.EXTENSION:
        return NotACommand(c)
    if j + 2 < wend:
        return ExtensionStart(j + 2 if raw[j + 2 - base] == START_TOKEN else j + EXTENSION_LENGTH, True)
    return ExtensionStart(wend, False)

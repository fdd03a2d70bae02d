"""Exceptions of rctclient.

Every exception raised by the package is an :class:`RctClientException`. Each class says whose
fault it is: *the device's* (bytes that came from the network or a file) or *the caller's* (a value
or argument that the program passed in).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .protocol import WriteResult

__all__ = [
    "FaultWordsError",
    "FrameCRCMismatch",
    "FrameEncodeError",
    "FrameError",
    "FrameLengthExceeded",
    "InvalidCommand",
    "PayloadDecodeError",
    "RctClientException",
    "RctConnectionError",
    "RctTimeout",
    "ReceiveFrameError",
    "RegistryError",
    "RegistryKeyError",
    "UnsafeWrite",
    "ValueEncodeError",
    "WriteError",
    "WriteNotVerified",
    "WriteOutOfBounds",
    "WriteRefused",
]


class RctClientException(Exception):
    """Base class of every exception raised by rctclient."""


class FrameError(RctClientException):
    """Something is wrong with a frame."""


class ReceiveFrameError(FrameError):
    """A received frame could not be decoded (the sender's fault).

    ``consumed_bytes`` is how many bytes of the input the decoder used up, so that the caller can
    slice them off and go on with the rest.
    """

    def __init__(self, message: str, consumed_bytes: int = 0) -> None:
        super().__init__(message)
        self.consumed_bytes = consumed_bytes


class FrameCRCMismatch(ReceiveFrameError):
    """The checksum in the frame does not match the checksum of its content (the sender's fault)."""

    def __init__(self, message: str, received_crc: int, calculated_crc: int, consumed_bytes: int = 0) -> None:
        super().__init__(message, consumed_bytes)
        self.received_crc = received_crc
        self.calculated_crc = calculated_crc


class InvalidCommand(ReceiveFrameError):
    """The command byte is not a known command, or one this decoder cannot decode (the sender's fault)."""

    def __init__(self, message: str, command: int, consumed_bytes: int = 0) -> None:
        super().__init__(message, consumed_bytes)
        self.command = command


class FrameLengthExceeded(ReceiveFrameError):
    """The frame's length field is impossible for its command or object (the sender's fault)."""


class FrameEncodeError(FrameError, struct.error, ValueError):
    """A frame cannot be built from the given arguments (the caller's fault).

    For example a command that does not agree with the frame type, an object ID or address that does
    not fit 32 bits, or a payload too long for the command's length field. It is a
    :class:`struct.error` (what the original implementation raised) and a :class:`ValueError`.
    """


class PayloadDecodeError(RctClientException, struct.error, ValueError):
    """A payload does not fit its data type (the sender's fault).

    Devices send payloads cut short with a checksum that still matches, so this happens in normal
    operation: retry the request. It is a :class:`struct.error` (the documented contract of
    :func:`rctclient.utils.decode_value`) and a :class:`ValueError` as well.
    """

    def __init__(self, message: str, data_type: int, data: bytes) -> None:
        super().__init__(message)
        self.data_type = data_type
        self.data = bytes(data)


class ValueEncodeError(RctClientException, struct.error, ValueError):
    """A value cannot be encoded with the data type (the caller's fault): out of range or of the wrong kind.

    It is a :class:`struct.error` (the documented contract of :func:`rctclient.utils.encode_value`)
    and a :class:`ValueError` as well.
    """

    def __init__(self, message: str, data_type: int, value: object) -> None:
        super().__init__(message)
        self.data_type = data_type
        self.value = value


class RegistryError(RctClientException, ValueError):
    """Invalid registry content (the data's fault: duplicate IDs or names, IDs out of range) or a wrong kind of OID."""


class RegistryKeyError(RctClientException, KeyError):
    """An object ID, name, group or enum value that is not known.

    It is a :class:`KeyError`, so ``except KeyError`` keeps working; unlike a plain ``KeyError`` its
    message is printed as is (without quotes).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class FaultWordsError(RctClientException, ValueError):
    """The fault words passed in are not four integers in 0..2**32-1 (the caller's fault)."""


# -- the clients' errors ---------------------------------------------------------------------------


class RctConnectionError(RctClientException, ConnectionError):
    """The device cannot be reached or dropped the connection (the network's or the device's fault).

    ``retry_in`` is how many seconds the client waits before it tries to connect again (None when
    unknown): calls made before then fail at once with this error instead of hammering the device.
    """

    def __init__(self, message: str, *, host: str = "", port: int = 0, retry_in: float | None = None) -> None:
        super().__init__(message)
        self.host = host
        self.port = port
        self.retry_in = retry_in


class RctTimeout(RctClientException, TimeoutError):
    """No valid answer arrived within the request's deadline (the device's or the network's fault).

    ``attempts`` is how often the request was sent, ``truncated`` how many answers were rejected
    because their payload did not fit the data type.
    """

    def __init__(self, message: str, *, name: str = "", attempts: int = 0, truncated: int = 0) -> None:
        super().__init__(message)
        self.name = name
        self.attempts = attempts
        self.truncated = truncated


class WriteError(RctClientException):
    """Base class of the write errors; ``result`` holds what is known about the write, if anything."""

    def __init__(self, message: str, result: WriteResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class UnsafeWrite(WriteError, ValueError):
    """The OID is not on the list of OIDs known to be safe to write (the caller's fault; see ``force``)."""


class WriteOutOfBounds(UnsafeWrite):
    """The value is outside the bounds (or of the wrong kind) for the OID (the caller's fault)."""


class WriteRefused(WriteError):
    """The device kept another value than the one written (the device's decision: read-only, limited...)."""


class WriteNotVerified(WriteError):
    """The write could not be confirmed: reading the value back failed (the network's or device's fault).

    The write may or may not have been applied.
    """

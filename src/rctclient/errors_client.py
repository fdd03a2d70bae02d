"""Exceptions of the clients (:mod:`rctclient.client`, :mod:`rctclient.aio`) and their request core.

Each class says whose fault it is. All of them are :class:`~rctclient.exceptions.RctClientException`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exceptions import RctClientException

if TYPE_CHECKING:
    from .protocol import WriteResult

__all__ = [
    "RctConnectionError",
    "RctTimeout",
    "UnsafeWrite",
    "WriteError",
    "WriteNotVerified",
    "WriteOutOfBounds",
    "WriteRefused",
]


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

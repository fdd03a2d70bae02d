"""The clients' exceptions now live in :mod:`rctclient.exceptions`; this module re-exports them."""

from .exceptions import (
    RctConnectionError,
    RctTimeout,
    UnsafeWrite,
    WriteError,
    WriteNotVerified,
    WriteOutOfBounds,
    WriteRefused,
)

__all__ = [
    "RctConnectionError",
    "RctTimeout",
    "UnsafeWrite",
    "WriteError",
    "WriteNotVerified",
    "WriteOutOfBounds",
    "WriteRefused",
]

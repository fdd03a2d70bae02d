"""The sans-I/O request core of the clients: one package that both :class:`~rctclient.client.Client` and
:class:`~rctclient.aio.AsyncClient` drive. It does no I/O and reads no clock: its caller passes the time.

* :mod:`.core` -- :class:`ClientProtocol`: requests and their frames, matching answers to requests,
  retries and deadlines, pipelining, the cache of last values, counters (:class:`Stats`); and the
  shape of an operation (:data:`Op`, :class:`Call`, :class:`Sleep`).
* :mod:`.ops` -- the reading operations (``read_op``, ``read_many_op``, ``battery_status_op``...).
* :mod:`.history` -- time series and the event table: one query, paging through a range.
* :mod:`.writes` -- the allow-list of writable OIDs, :func:`prepare_write` and the verified write.
* :mod:`.reconnect` -- :class:`ReconnectPolicy`: backoff between connection attempts.

An operation is a generator that yields the requests it needs (or a :class:`Sleep`) and returns its
result; each client runs operations with a small driver, so no retry or paging loop is written twice.
"""

from __future__ import annotations

from .core import Call, ClientProtocol, OidRef, Op, Request, RetryReason, Sleep, Stats, Value
from .history import EventRecord, TimeArg, events_op, history_op, query_op, resolution_of, to_unix
from .ops import (
    BatteryStatus,
    LastValue,
    ReadManyResult,
    battery_status_op,
    make_last_value,
    read_many_op,
    read_op,
    read_raw_op,
    value_op,
)
from .reconnect import ReconnectPolicy
from .writes import WritableSpec, WritePlan, WriteResult, prepare_write, writable, write_op

__all__ = [
    "BatteryStatus",
    "Call",
    "ClientProtocol",
    "EventRecord",
    "LastValue",
    "OidRef",
    "Op",
    "ReadManyResult",
    "ReconnectPolicy",
    "Request",
    "RetryReason",
    "Sleep",
    "Stats",
    "TimeArg",
    "Value",
    "WritableSpec",
    "WritePlan",
    "WriteResult",
    "battery_status_op",
    "events_op",
    "history_op",
    "make_last_value",
    "prepare_write",
    "query_op",
    "read_many_op",
    "read_op",
    "read_raw_op",
    "resolution_of",
    "to_unix",
    "value_op",
    "writable",
    "write_op",
]


def __getattr__(name: str) -> object:
    # parse_value (text typed by a person -> a value to write) moved to the command line tool:
    # importing it from here would pull click into the library.
    if name == "parse_value":
        raise AttributeError(
            "rctclient.protocol.parse_value moved to the command line tool (rctclient.cli._parse.parse_value);"
            " a program passes typed values to write() instead"
        )
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

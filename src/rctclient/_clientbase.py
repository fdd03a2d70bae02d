"""What :class:`~rctclient.client.Client` and :class:`~rctclient.aio.AsyncClient` share above their transports.

* :class:`ClientBase`: the parameters, the request core (:class:`~rctclient.protocol.ClientProtocol`),
  the reconnect policy and its bookkeeping, and **the request API, written once**: each method of it
  (``read``, ``read_many``, ``write``, ``history``...) checks its arguments and builds an operation
  (:data:`~rctclient.protocol.Op`) that yields the requests it needs and returns a result of type ``T``.
* :class:`SyncClientBase` and :class:`AsyncClientBase`: what a transport implements (``_run``, which
  runs an operation: blocking, or as a coroutine) and what the API methods become on it: methods that
  return ``T``, or coroutine methods that return ``T``. The :class:`operation` descriptor tells type
  checkers which; at run time each of the two classes carries plain functions (made by
  :func:`_install`), so ``inspect``, ``help()`` and ``asyncio.iscoroutinefunction`` see ordinary methods.

The transports themselves (sockets and ``select``, or asyncio) are in :mod:`rctclient.client` and
:mod:`rctclient.aio`.
"""

from __future__ import annotations

import inspect
import logging
import random
import time
import typing
from collections.abc import Callable, Coroutine, Iterable
from datetime import tzinfo
from typing import Any, Concatenate, Final, Generic, ParamSpec, Self, TypeVar, overload

from .exceptions import RctConnectionError
from .protocol import (
    BatteryStatus,
    ClientProtocol,
    EventRecord,
    LastValue,
    OidRef,
    Op,
    ReadManyResult,
    ReconnectPolicy,
    Stats,
    TimeArg,
    WriteResult,
    battery_status_op,
    events_op,
    history_op,
    make_last_value,
    prepare_write,
    query_op,
    read_many_op,
    read_op,
    read_raw_op,
    to_unix,
    value_op,
    write_op,
)
from .registry import REGISTRY, ObjectInfo, Registry
from .types import EventTable, Timeseries, TimeseriesPoint

__all__ = ["FEED_PIECE", "AsyncClientBase", "ClientBase", "SyncClientBase", "operation"]

P = ParamSpec("P")
T = TypeVar("T")

#: Received bytes go to the request core at most this many at a time, with a look at the clock in
#: between, so that decoding a flood or crafted input cannot hold a call past its deadline. An
#: ordinary answer (a few dozen bytes, a burst of them) is one piece.
FEED_PIECE: Final = 256
#: The most received bytes held before they are decoded; a transport stops reading beyond it (the
#: device's TCP send buffer fills up instead of our memory).
RX_CAP: Final = 65536


class operation(Generic[P, T]):  # noqa: N801 - a decorator, named like one
    """A method of the request API, written once for both clients.

    The decorated function builds the operation (``Op[T]``). On a :class:`SyncClientBase` the method
    runs it and returns ``T``; on an :class:`AsyncClientBase` it is a coroutine method returning ``T``.
    """

    def __init__(self, build: Callable[Concatenate[ClientBase, P], Op[T]]) -> None:
        self.build = build
        self.__doc__ = build.__doc__
        self.name = build.__name__

    @overload
    def __get__(self, obj: None, owner: type[SyncClientBase]) -> Callable[Concatenate[SyncClientBase, P], T]: ...
    @overload
    def __get__(
        self, obj: None, owner: type[AsyncClientBase]
    ) -> Callable[Concatenate[AsyncClientBase, P], Coroutine[Any, Any, T]]: ...
    @overload
    def __get__(self, obj: None, owner: type[ClientBase]) -> Self: ...
    @overload
    def __get__(self, obj: SyncClientBase, owner: type[ClientBase]) -> Callable[P, T]: ...
    @overload
    def __get__(self, obj: AsyncClientBase, owner: type[ClientBase]) -> Callable[P, Coroutine[Any, Any, T]]: ...
    def __get__(self, obj: ClientBase | None, owner: type[ClientBase]) -> object:
        if obj is None:
            return self
        # SyncClientBase and AsyncClientBase shadow this descriptor with plain functions
        raise TypeError(f"{type(obj).__name__} derives from neither SyncClientBase nor AsyncClientBase")

    def _dress(self, method: Callable[..., object], owner: type[ClientBase]) -> None:
        """Give a made method the name, documentation and signature of the API (returning T, not Op[T])."""
        build = self.build
        hints = typing.get_type_hints(build)
        result = typing.get_args(hints["return"])[-1]  # Op[T] is a Generator[..., ..., T]
        signature = inspect.signature(build)
        parameters = [p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()]
        method.__name__ = self.name
        method.__qualname__ = f"{owner.__name__}.{self.name}"
        method.__module__ = build.__module__
        method.__doc__ = build.__doc__
        method.__annotations__ = {**hints, "return": result}
        # (setattr: a function has no __signature__ attribute as far as mypy knows)
        setattr(method, "__signature__", signature.replace(parameters=parameters, return_annotation=result))  # noqa: B010

    def blocking(self, owner: type[SyncClientBase]) -> Callable[..., T]:
        """The method of a blocking client: runs the operation, returns its result."""
        build = self.build

        def method(client: SyncClientBase, /, *args: P.args, **kwargs: P.kwargs) -> T:
            return client._run(build(client, *args, **kwargs))

        self._dress(method, owner)
        return method

    def coroutine(self, owner: type[AsyncClientBase]) -> Callable[..., Coroutine[Any, Any, T]]:
        """The method of an asyncio client: a coroutine function that runs the operation."""
        build = self.build

        async def method(client: AsyncClientBase, /, *args: P.args, **kwargs: P.kwargs) -> T:
            return await client._run(build(client, *args, **kwargs))

        self._dress(method, owner)
        return method


class ClientBase:
    """What :class:`~rctclient.client.Client` and :class:`~rctclient.aio.AsyncClient` share.

    :param host: host name or IP address of the device.
    :param port: TCP port (8899).
    :param timeout: deadline of one request in seconds: all of its attempts, and the time it waits
        behind other requests before it is sent.
    :param retries: re-sends of a request before it fails.
    :param connect_timeout: deadline of one connection attempt.
    :param address: plant address; None for a single device.
    :param registry: where OID names and data types come from.
    :param max_in_flight: requests on the wire at once (``read_many``, and concurrent async calls).
    :param burst_pause: pause between bursts of requests.
    :param reconnect_max: the longest backoff between connection attempts.
    :param rng: random source for the jitter (tests pass a seeded one).
    :param trace_packet: called with ``(sending, data)`` for every piece of bytes that goes to the
        device (``sending`` True) and that is fed to the request core from it (False), for
        debugging (the command line's ``--debug``); it must not raise. None (the default) costs nothing.
    """

    def __init__(
        self,
        host: str,
        port: int = 8899,
        *,
        timeout: float = 3.0,
        retries: int = 3,
        connect_timeout: float = 3.0,
        address: int | None = None,
        registry: Registry = REGISTRY,
        max_in_flight: int = 16,
        burst_pause: float = 0.005,
        reconnect_max: float = 60.0,
        rng: random.Random | None = None,
        trace_packet: Callable[[bool, bytes], None] | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.registry = registry
        rng = rng if rng is not None else random.Random()
        protocol = ClientProtocol if trace_packet is None else _traced(trace_packet)
        self.protocol = protocol(
            timeout=timeout,
            retries=retries,
            address=address,
            registry=registry,
            max_in_flight=max_in_flight,
            burst_pause=burst_pause,
            rng=rng,
        )
        self.reconnect = ReconnectPolicy(maximum=reconnect_max, rng=rng)
        self._frames_at_connect = 0
        # Received, not yet fed to the request core (see FEED_PIECE).
        self._rx = bytearray()
        self._init_transport()

    def _init_transport(self) -> None:
        """Set up the subclass's connection state (called at the end of ``__init__``)."""

    #: The subclass's logger (connection failures, reconnects).
    _log: logging.Logger = logging.getLogger("rctclient")

    # -- connection bookkeeping (the transports call these) ---------------------------------------

    def _connection_opened(self, now: float) -> int:
        """A connection was made; returns how many failed attempts came before it (for the log)."""
        failures = self.reconnect.succeeded()
        self._frames_at_connect = self.protocol.stats.frames
        self.protocol.connection_made(now)
        return failures

    def _connection_ended(self, now: float, *, deliberate: bool = False) -> None:
        """The connection ended: lost (counted against the backoff unless it carried frames) or closed by us."""
        useful = self.protocol.stats.frames > self._frames_at_connect
        if not deliberate or useful:
            self.reconnect.lost(now, useful=useful)
        # what it brought and was not decoded yet goes with it: the requests on the wire are sent again
        self._rx.clear()
        self.protocol.connection_lost(now, closed=deliberate)

    def _connect_failed(self, now: float, reason: str, exc: BaseException, *, raise_error: bool) -> None:
        """A connection attempt failed: back off, log (rate-limited), and raise RctConnectionError if asked."""
        delay = self.reconnect.failed(now)
        if self.reconnect.should_log(now):
            suppressed = self.reconnect.take_suppressed()
            extra = f"; {suppressed} similar failures not logged" if suppressed else ""
            self._log.warning(
                "cannot connect to %s:%d: %s (next attempt in %.1f s%s)", self.host, self.port, reason, delay, extra
            )
        if raise_error:
            raise RctConnectionError(
                f"cannot connect to {self.host}:{self.port}: {reason}", host=self.host, port=self.port, retry_in=delay
            ) from exc

    def _connected(self, now: float) -> None:
        failures = self._connection_opened(now)
        if failures:
            self._log.info("connected to %s:%d after %d failed attempts", self.host, self.port, failures)

    def _plan_reconnect(self, now: float) -> float | None:
        """Not connected and requests are open: how long the next connection attempt may take, or None.

        Requests whose deadline passes before the backoff allows the next attempt fail now (None is
        returned); else the caller waits ``reconnect.wait(now)`` and then connects within the time
        returned, which ends before the first deadline of the open requests.
        """
        wait = self.reconnect.wait(now)
        open_requests = self.protocol.open_requests()
        if not open_requests:
            return None
        hopeless = [r for r in open_requests if r.deadline <= now + wait]
        if hopeless:
            self.protocol.fail(hopeless, self._unreachable(wait))
            return None
        remaining = min(r.deadline for r in open_requests) - (now + wait)
        return min(self.connect_timeout, max(0.01, remaining))

    def _unreachable(self, retry_in: float) -> RctConnectionError:
        return RctConnectionError(
            f"{self.host}:{self.port} is not reachable (next connection attempt in {retry_in:.1f} s)",
            host=self.host,
            port=self.port,
            retry_in=retry_in,
        )

    def _take_piece(self) -> bytes:
        """The next received piece for the request core (at most FEED_PIECE bytes)."""
        rx = self._rx
        piece = bytes(rx[:FEED_PIECE])
        del rx[:FEED_PIECE]
        return piece

    # -- state ------------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        raise NotImplementedError

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        return f"<{type(self).__name__} {self.host}:{self.port} {state}>"

    @property
    def stats(self) -> Stats:
        """Counters: frames, CRC errors, foreign frames, truncated payloads, timeouts, retries, latency..."""
        return self.protocol.stats

    def resolve(self, oid: OidRef) -> ObjectInfo:
        """The registry entry of a name, object ID, ``"0x..."`` string (RegistryKeyError if unknown)."""
        return self.registry.resolve(oid)

    def last_value(self, oid: OidRef) -> LastValue | None:
        """The last good value seen for ``oid`` (our answers and other clients'), with its age; no I/O."""
        info = self.resolve(oid)
        return make_last_value(info, self.protocol.cached(info), time.monotonic())

    # -- the request API (written once; see operation) --------------------------------------------

    @operation
    def read(self, oid: OidRef, *, timeout: float | None = None) -> Op[Any]:
        """The current value of ``oid``, decoded with its data type.

        The value's type is the OID's data type (a float for most values, an int, a bool, a str...).
        ``timeout`` overrides the client's deadline for this call; it counts from the call.

        :raises RctTimeout: no valid answer within the deadline.
        :raises RctConnectionError: the device cannot be reached.
        :raises RegistryKeyError: unknown OID (with suggestions).
        """
        return read_op(self.resolve(oid), timeout)

    @operation
    def read_raw(self, oid: OidRef, *, timeout: float | None = None) -> Op[bytes]:
        """The payload of the answer (validated against the data type, not decoded)."""
        return read_raw_op(self.resolve(oid), timeout)

    @operation
    def read_many(self, oids: Iterable[OidRef], *, timeout: float | None = None) -> Op[ReadManyResult]:
        """Read several OIDs at once (pipelined), all within one deadline (``timeout``, from the call).

        Never raises for a single OID's failure: see ``.errors``.
        """
        if isinstance(oids, str | ObjectInfo):
            oids = [oids]
        return read_many_op([self.resolve(oid) for oid in oids], timeout)

    @operation
    def write(
        self,
        oid: OidRef,
        value: Any,
        *,
        force: bool = False,
        dry_run: bool = False,
        verify: bool = True,
        verify_attempts: int = 3,
        verify_delay: float = 0.2,
    ) -> Op[WriteResult]:
        """Write ``value`` to ``oid`` and read it back (up to ``verify_attempts`` times, ``verify_delay`` apart).

        Only OIDs on the allow-list (:func:`rctclient.protocol.writable`) and values within their
        bounds are accepted unless ``force``. ``dry_run`` does no I/O and returns the frame. The
        write and each read-back have the client's deadline.

        :raises UnsafeWrite, WriteOutOfBounds: the caller's mistake; nothing was sent.
        :raises WriteRefused: the device holds another value after the write.
        :raises WriteNotVerified: the value could not be read back.
        """
        plan = prepare_write(oid, value, force=force, address=self.protocol.address, registry=self.registry)
        if dry_run:
            return value_op(plan.result(dry_run=True))
        return write_op(plan, verify=verify, verify_attempts=verify_attempts, verify_delay=verify_delay)

    @operation
    def history(
        self,
        oid: OidRef,
        start: TimeArg,
        end: TimeArg,
        *,
        tz: tzinfo | None = None,
        timeout: float | None = None,
    ) -> Op[list[TimeseriesPoint]]:
        """The logged points of time series ``oid`` between ``start`` and ``end`` (inclusive), oldest first.

        Times are aware datetimes, dates (midnight in ``tz``, UTC if None) or UNIX times; a naive
        datetime needs ``tz`` (the device's time zone). The device answers a page at a time: each
        page's request has the deadline ``timeout`` (the client's if None).
        """
        return history_op(self.resolve(oid), to_unix(start, tz), to_unix(end, tz), timeout=timeout)

    @operation
    def query(
        self, oid: OidRef, at: TimeArg, *, tz: tzinfo | None = None, timeout: float | None = None
    ) -> Op[Timeseries | EventTable]:
        """One page of a time series or of the event table: the device's answer to the timestamp ``at``.

        This is what the device does for one request (data logged before ``at``, as much as it
        sends at once); :meth:`history` and :meth:`events` page through a whole range.
        """
        return query_op(self.resolve(oid), to_unix(at, tz), timeout=timeout)

    @operation
    def events(
        self, start: TimeArg, end: TimeArg, *, tz: tzinfo | None = None, timeout: float | None = None
    ) -> Op[list[EventRecord]]:
        """The event table entries between ``start`` and ``end`` (inclusive), oldest first (deadline per page)."""
        return events_op(to_unix(start, tz), to_unix(end, tz), registry=self.registry, timeout=timeout)

    @operation
    def battery_status(self, *, timeout: float | None = None) -> Op[BatteryStatus]:
        """``battery.bat_status``; show it before a write when it is not ``normal``."""
        return battery_status_op(self.registry, timeout)


def _traced(trace_packet: Callable[[bool, bytes], None]) -> type[ClientProtocol]:
    """A request core that shows ``trace_packet`` the bytes it hands out and takes in (the transports stay as
    they are)."""

    class TracedProtocol(ClientProtocol):
        def data_to_send(self, now: float) -> bytes:
            data = super().data_to_send(now)
            if data:
                trace_packet(True, data)
            return data

        def receive_data(self, data: bytes, now: float) -> None:
            if data:
                trace_packet(False, data)
            super().receive_data(data, now)

    return TracedProtocol


class SyncClientBase(ClientBase):
    """The base of a blocking client: the API methods run their operation and return its result."""

    def _run(self, op: Op[T]) -> T:
        """Run an operation to its end: send the requests it yields, sleep when it asks to."""
        raise NotImplementedError


class AsyncClientBase(ClientBase):
    """The base of an asyncio client: the API methods are coroutine methods."""

    async def _run(self, op: Op[T]) -> T:
        """Run an operation to its end, as a coroutine."""
        raise NotImplementedError


def _install() -> None:
    """Put the API's methods on the two bases: plain functions made from each :class:`operation`."""
    for name, attr in list(vars(ClientBase).items()):
        if isinstance(attr, operation):
            setattr(SyncClientBase, name, attr.blocking(SyncClientBase))
            setattr(AsyncClientBase, name, attr.coroutine(AsyncClientBase))


_install()

"""The proxy's asyncio adapter: sockets and a timer around :class:`~rctclient.proxy.core.ProxyCore`.

Everything the proxy decides is in the core; this module only turns socket callbacks into events
and carries out the actions. It never waits for a client: output goes to the transport's buffer,
and a client whose unread output grows past ``output_limit`` on top of the transport's high-water
mark is dropped, alone.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections import deque
from collections.abc import Sequence
from typing import Final

from .config import ProxyConfig
from .core import ProxyCore
from .events import (
    Action,
    ClientClosed,
    ClientConnected,
    ClientData,
    CloseClient,
    ConnectUpstream,
    Event,
    SendToClient,
    SendUpstream,
    Timer,
    UpstreamData,
    UpstreamDown,
    UpstreamUp,
    Wakeup,
)

__all__ = ["DEFAULT_OUTPUT_LIMIT", "ProxyServer"]

#: Unread output a client may have on top of its transport's high-water mark before it is dropped.
DEFAULT_OUTPUT_LIMIT: Final = 256 * 1024
#: The transport's high-water mark for client output.
_HIGH_WATER: Final = 64 * 1024
#: Bytes of a client's segment handed to the core at once (a 256 KiB read of READs answered from the
#: cache would otherwise queue megabytes of answers before the output limit is checked).
_SLICE: Final = 4096


class _ClientConnection(asyncio.Protocol):
    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.id = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # a stream transport (uvloop's do not subclass it)
        self.server._client_made(self)

    def data_received(self, data: bytes) -> None:
        if len(data) <= _SLICE:
            self.server._event(ClientData(self.id, data))
        else:
            self._slices(data, 0)

    def _slices(self, data: bytes, start: int) -> None:
        """A big segment a slice per loop iteration: its answers are checked against the output limit
        slice by slice, and the other clients are served in between."""
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        end = start + _SLICE
        self.server._event(ClientData(self.id, data[start:end]))
        if transport.is_closing():
            return
        if end < len(data):
            if start == 0:
                transport.pause_reading()
            asyncio.get_running_loop().call_soon(self._slices, data, end)
        elif start > 0:
            transport.resume_reading()

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.server._client_lost(self, exc)

    # The proxy never waits for a client: a full buffer is checked on each write instead.
    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass


class _UpstreamConnection(asyncio.Protocol):
    def __init__(self, server: ProxyServer) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        if self.server._upstream is self:
            self.server._event(UpstreamUp())

    def data_received(self, data: bytes) -> None:
        if self.server._upstream is self:
            self.server._event(UpstreamData(data))

    def eof_received(self) -> bool | None:
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        if self.server._upstream is self:
            self.server._upstream = None
            reason = f"connection lost: {exc}" if exc else "the inverter closed the connection"
            self.server._event(UpstreamDown(reason))


class ProxyServer:
    """Serve a :class:`ProxyCore` on TCP: clients on ``listen``, the inverter at ``host``:``port``.

    ``async with ProxyServer("192.168.0.10", listen=[("127.0.0.1", 0)]) as proxy:`` starts it;
    ``proxy.addresses`` are the addresses it listens on (port 0: the one the OS picked) and
    ``proxy.core.stats`` its counters.

    :param host: the inverter (or the simulator).
    :param port: its port.
    :param listen: where clients connect (loopback by default: the protocol has no authentication).
    :param config: the core's settings.
    :param max_clients: connections beyond this many are closed at once.
    :param metrics: an address to serve the Prometheus metrics on (needs ``prometheus_client``).
    :param connect_timeout: how long one connection attempt to the inverter may take.
    :param output_limit: unread output a client may have before it is dropped.
    :param rng: the random source of the reconnect jitter.
    """

    def __init__(
        self,
        host: str,
        port: int = 8899,
        *,
        listen: Sequence[tuple[str, int]] = (("127.0.0.1", 8899),),
        config: ProxyConfig | None = None,
        max_clients: int = 64,
        metrics: tuple[str, int] | None = None,
        connect_timeout: float = 5.0,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        rng: random.Random | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.listen = list(listen)
        self.metrics = metrics
        self.connect_timeout = connect_timeout
        self.output_limit = output_limit
        self.core = ProxyCore(config, upstream=f"inverter {_label(host, port)}", max_clients=max_clients, rng=rng)
        self._clients: dict[int, _ClientConnection] = {}
        self._next_id = 0
        self._servers: list[asyncio.Server] = []
        self._metrics_server: asyncio.Server | None = None
        self._upstream: _UpstreamConnection | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._events: deque[Event] = deque()
        self._up_pending: list[bytes] = []
        self._busy = False
        self.addresses: list[tuple[str, int]] = []
        self.metrics_address: tuple[str, int] | None = None

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        """Listen and connect to the inverter. Raises OSError if an address cannot be bound."""
        if self._loop is not None:
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        where = ""
        try:
            for host, port in self.listen:
                where = _label(host, port)
                server = await loop.create_server(
                    lambda: _ClientConnection(self), host, port, reuse_address=True, backlog=256
                )
                self._servers.append(server)
                for sock in server.sockets:
                    name = sock.getsockname()
                    self.addresses.append((str(name[0]), int(name[1])))
            if self.metrics is not None:
                from .metrics import metrics_registry, serve_metrics  # noqa: PLC0415 - prometheus_client is optional

                where = _label(*self.metrics)
                self._metrics_server = await serve_metrics(metrics_registry(self.core), *self.metrics)
                name = self._metrics_server.sockets[0].getsockname()
                self.metrics_address = (str(name[0]), int(name[1]))
        except OSError as exc:
            await self.stop()
            # asyncio's message repeats the address: the system's text for the error number is enough
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            raise OSError(exc.errno, f"cannot listen on {where}: {reason}") from exc
        except BaseException:
            await self.stop()
            raise
        self._run(self.core.start(loop.time()))

    async def stop(self) -> None:
        """Close the listeners, every client and the connection to the inverter."""
        servers, self._servers = self._servers, []
        if self._metrics_server is not None:
            servers.append(self._metrics_server)
            self._metrics_server = None
        for server in servers:
            server.close()
        for conn in list(self._clients.values()):
            if conn.transport is not None:
                conn.transport.abort()
        self._clients.clear()
        upstream, self._upstream = self._upstream, None
        if upstream is not None and upstream.transport is not None:
            upstream.transport.abort()
        task, self._connect_task = self._connect_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for server in servers:
            await server.wait_closed()
        self._loop = None
        self._events.clear()
        self.addresses = []
        await asyncio.sleep(0)  # the aborted transports close their sockets

    async def __aenter__(self) -> ProxyServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- events in --------------------------------------------------------------------------------

    def _event(self, event: Event) -> None:
        """Hand an event to the core and carry out its actions (events raised meanwhile wait their turn)."""
        self._events.append(event)
        if self._busy or self._loop is None:
            return
        self._busy = True
        try:
            events = self._events
            handle = self.core.handle
            time = self._loop.time
            while events:
                self._run(handle(events.popleft(), time()))
        finally:
            self._busy = False

    def _client_made(self, conn: _ClientConnection) -> None:
        transport = conn.transport
        if self._loop is None or transport is None:
            if transport is not None:
                transport.abort()
            return
        self._next_id += 1
        conn.id = self._next_id
        self._clients[conn.id] = conn
        transport.set_write_buffer_limits(high=_HIGH_WATER)
        peer = transport.get_extra_info("peername")
        label = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self._event(ClientConnected(conn.id, label))

    def _client_lost(self, conn: _ClientConnection, exc: Exception | None) -> None:
        if self._clients.pop(conn.id, None) is not None:
            self._event(ClientClosed(conn.id))

    def _on_timer(self) -> None:
        self._timer = None
        self._event(Timer())

    # -- actions out ------------------------------------------------------------------------------

    def _run(self, actions: list[Action]) -> None:
        for action in actions:
            if isinstance(action, SendToClient):
                self._send(action)
            elif isinstance(action, SendUpstream):
                # Requests of all the apps served in this round of the loop go out in one write.
                if not self._up_pending and self._loop is not None:
                    self._loop.call_soon(self._flush_upstream)
                self._up_pending.append(action.data)
            elif isinstance(action, Wakeup):
                if self._timer is not None:
                    self._timer.cancel()
                if self._loop is not None:
                    self._timer = self._loop.call_at(action.at, self._on_timer)
            elif isinstance(action, CloseClient):
                conn = self._clients.pop(action.client, None)
                if conn is not None and conn.transport is not None:
                    conn.transport.abort()
            elif isinstance(action, ConnectUpstream):
                self._connect()
            else:  # CloseUpstream
                upstream, self._upstream = self._upstream, None
                if upstream is not None and upstream.transport is not None:
                    upstream.transport.abort()

    def _flush_upstream(self) -> None:
        data, self._up_pending = self._up_pending, []
        upstream = self._upstream
        if data and upstream is not None and upstream.transport is not None:
            upstream.transport.write(b"".join(data) if len(data) > 1 else data[0])

    def _send(self, action: SendToClient) -> None:
        conn = self._clients.get(action.client)
        if conn is None or conn.transport is None:
            return
        transport = conn.transport
        transport.write(action.data)
        waiting = transport.get_write_buffer_size()
        if waiting > _HIGH_WATER + self.output_limit:
            del self._clients[conn.id]
            transport.abort()
            self._event(ClientClosed(conn.id, f"does not read its answers ({waiting // 1024} KiB unread)"))

    def _connect(self) -> None:
        if self._loop is None:
            return
        upstream = _UpstreamConnection(self)
        self._upstream = upstream
        self._connect_task = self._loop.create_task(self._open(upstream))

    async def _open(self, upstream: _UpstreamConnection) -> None:
        assert self._loop is not None
        try:
            await asyncio.wait_for(
                self._loop.create_connection(lambda: upstream, self.host, self.port), self.connect_timeout
            )
        except (OSError, TimeoutError) as exc:
            if self._upstream is upstream:
                self._upstream = None
                if upstream.transport is not None:
                    upstream.transport.abort()
                self._event(UpstreamDown(_reason(exc)))
        finally:
            if self._connect_task is asyncio.current_task():
                self._connect_task = None


def _label(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no connection within the timeout"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__

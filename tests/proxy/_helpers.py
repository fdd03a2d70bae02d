"""A proxy in a background thread (for the blocking clients and the CLI) and a raw socket client."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from rctclient.frame import Frame, FrameDecoder
from rctclient.proxy import ProxyConfig, ProxyServer

T = TypeVar("T")


class ProxyThread:
    """A :class:`ProxyServer` for ``host``:``port`` on 127.0.0.1 (a port the OS picks), in a thread of its own."""

    def __init__(self, port: int, host: str = "127.0.0.1", config: ProxyConfig | None = None, **kwargs: Any) -> None:
        self.server = ProxyServer(host, port, listen=[("127.0.0.1", 0)], config=config, **kwargs)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name="proxy", daemon=True)

    @property
    def port(self) -> int:
        return self.server.addresses[0][1]

    def _main(self) -> None:
        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            async with self.server:
                self._ready.set()
                await self._stop.wait()

        asyncio.run(run())

    def __enter__(self) -> ProxyThread:
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._loop is not None and self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)
        assert not self._thread.is_alive()

    def call(self, func: Callable[[], T]) -> T:
        """Run ``func`` on the proxy's loop (to read its state consistently)."""
        assert self._loop is not None

        async def run() -> T:
            return func()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)

    def wait_until(self, predicate: Callable[[ProxyServer], bool], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.call(lambda: predicate(self.server)):
            assert time.monotonic() < deadline, "condition not reached"
            time.sleep(0.01)


class RawClient:
    """A plain socket with the frame decoder: sends bytes, collects the frames that come back."""

    def __init__(self, port: int, *, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def frames(self, count: int, timeout: float = 5.0) -> list[Frame]:
        """Wait for ``count`` frames (fewer if the connection ends or the timeout passes)."""
        out: list[Frame] = []
        deadline = time.monotonic() + timeout
        while len(out) < count:
            out += [e for e in self.decoder.events() if isinstance(e, Frame)]
            if len(out) >= count:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.sock.settimeout(remaining)
            try:
                data = self.sock.recv(65536)
            except (TimeoutError, ConnectionError):
                break
            if not data:
                break
            self.decoder.feed(data)
        return out

    def closed_by_peer(self, timeout: float = 5.0) -> bool:
        """Whether the other side closes the connection within ``timeout`` (reading whatever comes first)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                if not self.sock.recv(1 << 20):
                    return True
            except TimeoutError:
                return False
            except ConnectionError:
                return True
        return False

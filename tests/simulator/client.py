"""A plain socket client built on the core's FrameDecoder, for the simulator tests."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rctclient.frame import Event, Frame, FrameDecoder, NeedData, make_frame
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value

if TYPE_CHECKING:
    from rctclient.simulator import SimulatorThread


class Client:
    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.decoder = FrameDecoder()
        self.timeout = timeout
        self.received = 0

    @classmethod
    def wrap(cls, sock: socket.socket, timeout: float = 5.0) -> Client:
        """A client on a connected socket."""
        client = cls.__new__(cls)
        client.sock, client.decoder, client.timeout, client.received = sock, FrameDecoder(), timeout, 0
        return client

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def events(
        self, count: int = 1, timeout: float | None = None, frames_only: bool = True, quiet: float | None = None
    ) -> list[Event]:
        """Receive until ``count`` events (frames) arrived, the timeout passed or nothing came for ``quiet`` s."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        out: list[Event] = []
        while True:
            while len(out) < count:
                ev = self.decoder.next_event()
                if not ev:
                    break
                assert not isinstance(ev, NeedData)
                if not frames_only or isinstance(ev, Frame):
                    out.append(ev)
            if len(out) >= count:
                return out
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return out
            self.sock.settimeout(remaining if quiet is None else min(remaining, quiet))
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                return out
            if not data:
                self.decoder.feed(b"")
                while ev := self.decoder.next_event():
                    assert not isinstance(ev, NeedData)
                    if not frames_only or isinstance(ev, Frame):
                        out.append(ev)
                return out
            self.received += len(data)
            self.decoder.feed(data)

    def drain(self, sim: SimulatorThread, requests: int, timeout: float = 30.0) -> list[Event]:
        """Every event of what the simulator sent once it has handled ``requests`` requests (counted, not timed).

        Only for answers without latency: they are all written in the loop callback that handles
        their requests, so that the simulator's ``bytes_out`` is final after one more loop round.
        """
        assert wait_until(lambda: sim.counters.requests >= requests, timeout), "requests not handled"
        sim.call(lambda: None)  # the callback that handled the last one has finished
        out: list[Event] = []
        deadline = time.monotonic() + timeout
        while self.received < sim.counters.bytes_out:
            remaining = deadline - time.monotonic()
            assert remaining > 0, f"received {self.received} of {sim.counters.bytes_out} bytes"
            out.extend(self.events(10**6, timeout=remaining, frames_only=False, quiet=0.05))
        out.extend(self.events(10**6, timeout=0, frames_only=False))
        return out

    def frames(self, count: int = 1, timeout: float | None = None) -> list[Frame]:
        return [e for e in self.events(count, timeout) if isinstance(e, Frame)]

    def request(self, command: Command, name: str, value: Any = None, address: int = 0) -> Frame:
        info = REGISTRY.get_by_name(name)
        payload = b"" if value is None else encode_value(info.request_data_type, value)
        self.send(make_frame(command, info.object_id, payload, address))
        deadline = time.monotonic() + self.timeout
        while True:  # the answer, not what others on the bus asked or got (the portal's traffic)
            frames = self.frames(1, timeout=max(0.0, deadline - time.monotonic()))
            assert frames, f"no answer to {command.name} {name}"
            if frames[0].id == info.object_id and Command.is_response(frames[0].command):
                return frames[0]

    def read(self, name: str) -> Frame:
        return self.request(Command.READ, name)

    def write(self, name: str, value: object) -> Frame:
        return self.request(Command.WRITE, name, value)


def read_frame(name: str, command: Command = Command.READ, address: int = 0) -> bytes:
    return make_frame(command, REGISTRY.get_by_name(name).object_id, b"", address)


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, step: float = 0.02) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` passed (False): a bound, not a measurement."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True

"""A fake device for the client tests: protocol logic in memory, plus a small threaded TCP server around it.

Every OID has a distinct default value (derived from its object ID), so an answer that ends up with
the wrong request shows as a wrong value. Faults are injected with a seeded RNG.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import Any, TypeVar

from rctclient.aio import AsyncClient
from rctclient.client import Client
from rctclient.frame import Frame, FrameDecoder, make_frame
from rctclient.registry import REGISTRY, ObjectInfo
from rctclient.types import Command, DataType, EventEntry, EventTable
from rctclient.utils import decode_value, encode_value

T = TypeVar("T")

#: How long a call may take beyond its deadline in these tests. The library's own slack is a turn of
#: its loop and one bounded piece of decoding (milliseconds); the rest is for a loaded machine. The
#: bound still catches what it is for: calls that took a multiple of their deadline.
DEADLINE_SLACK = 0.5

MINUTE_STEP = 300
EVENT_STEP = 7200
#: Start of the logs of the fake device.
LOG_START = 1_700_000_000 - 1_700_000_000 % 86400 - 10 * 86400


def default_value(info: ObjectInfo) -> Any:
    """A value that is distinct per OID."""
    oid = info.object_id
    dt = info.response_data_type
    if dt is DataType.FLOAT:
        return float(oid % 100000) / 8.0  # exact in single precision
    if dt is DataType.BOOL:
        return bool(oid & 1)
    if dt is DataType.STRING:
        return f"s{oid:08x}"
    if dt in (DataType.UINT8, DataType.ENUM):
        return oid % 6 if info.enum_map else oid % 256
    if dt is DataType.INT8:
        return oid % 128
    if dt in (DataType.UINT16, DataType.INT16):
        return oid % 32768
    if dt in (DataType.UINT32, DataType.INT32):
        return oid % 2_000_000_000
    return None


def series_value(name: str, stamp: int) -> float:
    """The logged value of a time series at ``stamp`` (exact in single precision)."""
    return float((stamp // MINUTE_STEP) % 1000 + len(name))


def event_at(stamp: int) -> EventEntry:
    index = (stamp - LOG_START) // EVENT_STEP
    kind = "FWS"[index % 3]
    return EventEntry(ord(kind), datetime.fromtimestamp(stamp, UTC), stamp + 60, index % 128, 0)


class Timed:
    """Measures a call against its deadline: ``with Timed(timeout) as t: ...``, then ``t.check()``."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.started = 0.0
        self.took = 0.0

    def __enter__(self) -> Timed:
        self.started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.took = time.monotonic() - self.started

    @property
    def in_time(self) -> bool:
        return self.took <= self.timeout + DEADLINE_SLACK

    def check(self, what: str = "the call") -> None:
        assert self.in_time, f"{what} took {self.took:.2f} s for a deadline of {self.timeout:g} s"


class FakeDevice:
    """Answers frames like a device, with optional faults. Thread-safe."""

    def __init__(
        self,
        *,
        seed: int = 1,
        lost: float = 0.0,
        truncate: float = 0.0,
        corrupt: float = 0.0,
        write_unanswered: float = 0.0,
        unsolicited: float = 0.0,
        page_size: int = 20,
        now: int | None = None,
        read_only: tuple[str, ...] = (),
        address: int | None = None,
    ) -> None:
        self.rng = random.Random(seed)
        self.lost = lost
        self.truncate = truncate
        self.corrupt = corrupt
        self.write_unanswered = write_unanswered
        self.unsolicited = unsolicited
        self.page_size = page_size
        self.now = now if now is not None else LOG_START + 9 * 86400 + 12 * 3600
        self.read_only = set(read_only)
        self.address = address
        self.values: dict[str, Any] = {}
        self.writes: list[tuple[str, Any]] = []
        self.requests = 0
        self.lock = threading.Lock()

    def get(self, name: str) -> Any:
        info = REGISTRY.resolve(name)
        with self.lock:
            if name in self.values:
                return self.values[name]
        return default_value(info)

    def set(self, name: str, value: Any) -> None:
        with self.lock:
            self.values[name] = value

    def _page(self, info: ObjectInfo, before: int) -> bytes:
        upto = min(before, self.now)
        if info.response_data_type is DataType.EVENT_TABLE:
            t = upto - (upto - LOG_START) % EVENT_STEP
            entries: list[EventEntry] = []
            while len(entries) < self.page_size and t >= LOG_START:
                entries.append(event_at(t))
                t -= EVENT_STEP
            return encode_value(DataType.EVENT_TABLE, EventTable(datetime.fromtimestamp(before, UTC), tuple(entries)))
        t = upto - upto % MINUTE_STEP
        points: dict[int, float] = {}
        while len(points) < self.page_size and t >= LOG_START:
            points[t] = series_value(info.name, t)
            t -= MINUTE_STEP
        return encode_value(DataType.TIMESERIES, (before, points))

    def _answer(self, info: ObjectInfo, payload: bytes, address: int) -> bytes:
        long_ = len(payload) + 8 > 0xFF
        if self.address is not None:
            command = Command.PLANT_LONG_RESPONSE if long_ else Command.PLANT_RESPONSE
        else:
            command = Command.LONG_RESPONSE if long_ else Command.RESPONSE
        if payload and self.rng.random() < self.truncate:
            payload = payload[: self.rng.randrange(len(payload))]
        frame = make_frame(command, info.object_id, payload, address)
        if self.rng.random() < self.corrupt:
            frame = frame[:-1] + bytes([frame[-1] ^ 0x55])
        return frame

    def handle(self, frame: Frame) -> list[bytes]:
        """The bytes to send in answer to one request frame."""
        if frame.id not in REGISTRY:
            return []
        if self.address is not None and (not Command.is_plant(frame.command) or frame.address != self.address):
            return []
        info = REGISTRY.get_by_id(frame.id)
        with self.lock:
            self.requests += 1
        out: list[bytes] = []
        if Command.is_write(frame.command):
            if info.response_data_type in (DataType.TIMESERIES, DataType.EVENT_TABLE):
                before = struct.unpack(">i", frame.data)[0]
                payload = self._page(info, before)
            else:
                value = decode_value(info.request_data_type, frame.data)
                with self.lock:
                    self.writes.append((info.name, value))
                if info.name not in self.read_only:
                    self.set(info.name, value)
                payload = encode_value(info.response_data_type, self.get(info.name))
                if self.rng.random() < self.write_unanswered:
                    return []
        elif Command.is_read(frame.command):
            if info.response_data_type in (DataType.TIMESERIES, DataType.EVENT_TABLE):
                payload = self._page(info, self.now)
            else:
                payload = encode_value(info.response_data_type, self.get(info.name))
        else:
            return []
        if self.rng.random() >= self.lost:
            out.append(self._answer(info, payload, frame.address))
        if self.rng.random() < self.unsolicited:
            other = REGISTRY.get_by_name("battery.soc")
            out.append(self._answer(other, encode_value(DataType.FLOAT, self.get(other.name)), frame.address))
        return out


class FakeServer:
    """The fake device on 127.0.0.1 in a thread. Shared bus: every answer goes to every connection."""

    def __init__(
        self, device: FakeDevice, *, shared_bus: bool = True, latency: float = 0.0, answer_time: float = 0.0
    ) -> None:
        self.device = device
        self.shared_bus = shared_bus
        self.latency = latency
        #: Seconds the device takes per request, one request at a time (a device busy answering).
        self.answer_time = answer_time
        self.silent = False
        self.port = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._conns: dict[socket.socket, FrameDecoder] = {}
        self.connections = 0

    def __enter__(self) -> FakeServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._stop.clear()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    def restart(self, downtime: float = 0.2) -> None:
        self.stop()
        time.sleep(downtime)
        self.start()

    def _send(self, sock: socket.socket, answers: list[bytes]) -> None:
        targets = list(self._conns) if self.shared_bus else [sock]
        for target in targets:
            with contextlib.suppress(OSError):
                target.sendall(b"".join(answers))

    def _serve(self) -> None:
        assert self._listener is not None
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ)
        try:
            while not self._stop.is_set():
                for key, _ in sel.select(0.02):
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    if sock is self._listener:
                        conn, _ = sock.accept()
                        self.connections += 1
                        self._conns[conn] = FrameDecoder()
                        sel.register(conn, selectors.EVENT_READ)
                        continue
                    try:
                        data = sock.recv(65536)
                    except OSError:
                        data = b""
                    if not data:
                        sel.unregister(sock)
                        self._conns.pop(sock, None)
                        sock.close()
                        continue
                    decoder = self._conns[sock]
                    decoder.feed(data)
                    answers: list[bytes] = []
                    for event in decoder.events():
                        if isinstance(event, Frame) and not self.silent:
                            answers += self.device.handle(event)
                            if self.answer_time:  # one request at a time: each answer goes out when done
                                time.sleep(self.answer_time)
                                self._send(sock, answers)
                                answers = []
                    if answers:
                        if self.latency:
                            time.sleep(self.latency)
                        self._send(sock, answers)
        finally:
            for conn in list(self._conns):
                conn.close()
            self._conns.clear()
            sel.close()
            self._listener.close()
            self._listener = None


#: A LONG_RESPONSE header that promises 0xFFFF bytes, then escaped '+' (crafted to cost a decoder much).
FLOOD_UNIT = b"\x2b\x06\xff\xff" + b"-+" * 60


class FloodServer:
    """A device that answers the first request of a connection with ``size`` bytes of crafted flood."""

    def __init__(self, size: int = 256 * 1024) -> None:
        self.flood = FLOOD_UNIT * (size // len(FLOOD_UNIT))
        self.port = 0
        self.sent = 0
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> FloodServer:
        self.port = self._listener.getsockname()[1]
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self._listener.close()
        self._thread.join(5)

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.settimeout(5)
                    conn.recv(64)  # the request
                    conn.settimeout(0.05)  # a client that stops reading does not hold up the teardown
                    for i in range(0, len(self.flood), 4096):
                        if self._stop.is_set():
                            break
                        with contextlib.suppress(TimeoutError):
                            conn.sendall(self.flood[i : i + 4096])
                            self.sent += 4096
                    while not self._stop.is_set():  # hold the connection open, reading what comes
                        with contextlib.suppress(TimeoutError):
                            if not conn.recv(65536):
                                break
                except OSError:
                    continue


class SyncDriver:
    """Runs the blocking Client."""

    kind = "sync"

    def __init__(self, **kwargs: Any) -> None:
        self.client = Client(**kwargs)

    def __enter__(self) -> SyncDriver:
        self.client.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return getattr(self.client, method)(*args, **kwargs)


class AsyncDriver:
    """Runs an AsyncClient on an event loop of its own thread, behind blocking calls (same test bodies)."""

    kind = "async"

    def __init__(self, **kwargs: Any) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.client = AsyncClient(**kwargs)

    def _wait(self, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        async def wrapper() -> T:
            return await make()

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(60)

    def __enter__(self) -> AsyncDriver:
        self._wait(self.client.connect)
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self._wait(self.client.close)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        attr = getattr(self.client, method)
        if not asyncio.iscoroutinefunction(attr):
            return self._wait(_as_coro(attr, args, kwargs))
        return self._wait(lambda: attr(*args, **kwargs))


def _as_coro(
    func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Callable[[], Coroutine[Any, Any, Any]]:
    async def run() -> Any:
        return func(*args, **kwargs)

    return run


Driver = SyncDriver | AsyncDriver
DRIVERS: dict[str, type[SyncDriver] | type[AsyncDriver]] = {"sync": SyncDriver, "async": AsyncDriver}

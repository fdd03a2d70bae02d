"""Abuse of the simulator: clients that do not read, too many connections, idle ones, slow readers on the bus.

Each test is bounded in connections, bytes and time, and asserts counted work or states (buffer sizes,
counters, who was served before what), never a measured duration.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time
from collections.abc import Callable

import pytest

from rctclient.frame import Frame
from rctclient.registry import REGISTRY
from rctclient.simulator import Clock, ConfigError, SimulatorThread
from rctclient.simulator.bus import FANOUT_RATE, FOREIGN_BACKLOG
from rctclient.simulator.connection import MAX_WRITE_BUFFER, WRITE_HIGH
from rctclient.types import Command

from .client import Client, read_frame, wait_until
from .conftest import NOON, quiet

LOOPS = pytest.mark.parametrize("loop", ["asyncio", "uvloop"])


def _factory(loop: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if loop == "uvloop":
        uvloop = pytest.importorskip("uvloop", reason="the 'fast' extra is not installed")
        return uvloop.new_event_loop  # type: ignore[no-any-return]
    return None


def _silent_socket(port: int) -> socket.socket:
    """A connection that never reads: a small receive window, so that the simulator's buffers fill soon."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    return sock


def _small_kernel_buffers(sim: SimulatorThread) -> None:
    """Keep the kernel's send buffers of the simulator's connections small (no autotuning to megabytes),
    so that what a client does not read piles up in the simulator after kilobytes, not megabytes."""

    def shrink() -> None:
        for conn in sim.simulator._conns:
            if conn.transport is not None:
                sock = conn.transport.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    sim.call(shrink)


@LOOPS
def test_clients_that_do_not_read_are_held_at_the_high_water_mark(loop: str) -> None:
    # Under uvloop the output cap (checked before each write, 1 MB) was not what bounded memory: uvloop
    # keeps every small write as an object of its own, and 200 such clients took 1.57 GB. Now a client's
    # requests wait while its answers do: the write buffer stops near WRITE_HIGH, on both loops.
    event_table = read_frame("logger.error_log_time_stamp")  # 9 bytes asking for ~600
    with SimulatorThread(port=0, portal=False, loop_factory=_factory(loop), clock=Clock(NOON, frozen=True)) as sim:
        socks = [_silent_socket(sim.port) for _ in range(8)]
        assert wait_until(lambda: len(sim.call(lambda: list(sim.simulator._conns))) == len(socks))
        _small_kernel_buffers(sim)
        try:
            blocked: set[int] = set()

            def flood() -> bool:
                for i, s in enumerate(socks):
                    try:
                        s.send(event_table * 500)
                    except BlockingIOError:
                        blocked.add(i)
                return len(blocked) == len(socks)

            assert wait_until(flood, step=0.001), "the simulator read everything sent to it"

            def states() -> list[tuple[bool, int]]:
                return [
                    (c.paused, c.transport.get_write_buffer_size() if c.transport else 0) for c in sim.simulator._conns
                ]

            assert wait_until(lambda: all(paused for paused, _ in sim.call(states)))
            sizes = [size for _, size in sim.call(states)]
            assert len(sizes) == len(socks)
            # at most the high-water mark, one flush's worth of answers and a few answers more
            assert max(sizes) < WRITE_HIGH + 32 * 1024 < MAX_WRITE_BUFFER
            assert sim.counters.slow_clients_dropped == 0  # held, not dropped
            served = sim.counters.requests
            with Client(sim.port) as other:  # and the others are still served
                assert other.read("battery.soc").data
            assert sim.counters.requests == served + 1  # the silent ones' requests wait
        finally:
            for s in socks:
                s.close()


def test_a_client_that_reads_again_gets_everything_it_asked_for() -> None:
    # Held is not lost: once the client reads, the requests that waited are answered, in order.
    n = 1500
    with quiet() as sim:
        sock = _silent_socket(sim.port)
        sock.setblocking(True)
        assert wait_until(lambda: len(sim.call(lambda: list(sim.simulator._conns))) == 1)
        _small_kernel_buffers(sim)
        sender = threading.Thread(target=sock.sendall, args=(read_frame("logger.error_log_time_stamp") * n,))
        sender.start()
        try:
            assert wait_until(lambda: any(c.paused for c in sim.call(lambda: list(sim.simulator._conns))))
            frames = Client.wrap(sock).frames(n, timeout=60)
        finally:
            sender.join()
            sock.close()
    assert len(frames) == n
    assert sim.counters.requests == sim.counters.answers == n


def test_connections_over_max_clients_are_refused_and_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="rctclient.simulator")
    with quiet(max_clients=4) as sim:
        kept = [Client(sim.port) for _ in range(4)]
        try:
            for c in kept:
                assert c.read("battery.soc").data
            for _ in range(12):  # refused: closed by the simulator at once
                with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as extra:
                    assert extra.recv(10) == b""
            assert sim.counters.refused == 12 and sim.counters.connections == 4
            kept.pop().close()  # a place is free again
            assert wait_until(lambda: len(sim.call(lambda: list(sim.simulator._conns))) == 3)
            with Client(sim.port) as late:
                assert late.read("battery.soc").data
        finally:
            for c in kept:
                c.close()
    refusals = [r.getMessage() for r in caplog.records if "refusing" in r.getMessage()]
    assert refusals == ["4 connections open (the limit): refusing new ones"]


def test_idle_connections_are_closed_and_busy_or_listening_ones_are_not() -> None:
    timeout = 0.3
    clock = Clock(NOON, speed=50.0)  # READ_PERIODICALLY every 0.1 s
    with SimulatorThread(port=0, portal=False, idle_timeout=timeout, clock=clock) as sim:
        idle = socket.create_connection(("127.0.0.1", sim.port))
        idle.setblocking(False)
        with Client(sim.port) as busy, Client(sim.port) as listener:
            listener.send(read_frame("db.temp1", Command.READ_PERIODICALLY))
            closed_at = None
            deadline = time.monotonic() + 30
            # the busy client asks all along, until well after the idle one was closed
            while closed_at is None or time.monotonic() < closed_at + 3 * timeout:
                assert time.monotonic() < deadline, "the idle connection was not closed"
                assert busy.read("battery.soc").data
                time.sleep(0.02)
                if closed_at is None:
                    try:
                        if idle.recv(10) == b"":
                            closed_at = time.monotonic()
                    except BlockingIOError:
                        pass
            idle.close()
            assert sim.counters.idle_dropped == 1  # only the idle one
            listener.frames(10**6, timeout=0)
            assert len(listener.frames(3, timeout=10)) == 3  # the listener still gets its answers
        assert sim.counters.idle_dropped == 1


def test_slow_readers_on_the_shared_bus_cost_dropped_frames_not_the_others_reads() -> None:
    # Every answer went to every connection at once: 1,000 connections that did not read made each
    # request cost 1,000 writes. Now foreign frames are collected per connection, the ones that do not
    # read lose them (counted), and the fan-out work is bounded by a budget per second.
    with quiet() as sim:
        silent = [_silent_socket(sim.port) for _ in range(40)]
        try:
            with Client(sim.port) as flooder, Client(sim.port) as reader:
                start = time.monotonic()
                burst = read_frame("logger.error_log_time_stamp") * 100
                served_during = 0
                for _ in range(20):
                    flooder.send(burst)
                    assert len(flooder.frames(100, timeout=30)) == 100
                    assert reader.read("battery.soc").data  # served while the others do not read
                    served_during += 1
                    reader.frames(10**6, timeout=0)  # what it heard of the flood: taken, not needed
                elapsed = time.monotonic() - start
            counters = sim.counters
            assert served_during == 20
            assert counters.fanout_dropped > 0  # the silent ones lost foreign frames
            # the work of the fan-out: within the budget (its rate for the time it ran, plus one burst
            # per connection), not 41 deliveries for each of the 2,020 answers
            n = len(silent) + 2
            assert counters.fanout_sent <= FANOUT_RATE * elapsed + n * (n - 1)
            held = sim.call(lambda: max(c.outbox_len for c in sim.simulator._conns))
            assert held <= FOREIGN_BACKLOG
        finally:
            for s in silent:
                s.close()


def test_an_empty_host_is_an_error_not_every_interface() -> None:
    with pytest.raises(ConfigError, match=r"0\.0\.0\.0 or ::"):
        SimulatorThread(host="", port=0)


def test_frames_in_order_for_the_reader_of_a_shared_bus() -> None:
    # Foreign frames collected for a connection go out before its own next answer: it sees the bus in order.
    with (
        quiet() as sim,
        Client(sim.port) as a,
        Client(sim.port) as b,
    ):
        assert wait_until(lambda: sim.counters.connections == 2)
        a.send(read_frame("db.temp1"))
        assert a.frames(1)
        b.send(read_frame("battery.soc"))
        got = [f for f in b.frames(2) if isinstance(f, Frame)]
    assert [REGISTRY.get_by_id(f.id).name for f in got] == ["db.temp1", "battery.soc"]

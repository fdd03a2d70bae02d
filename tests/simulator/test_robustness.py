"""Robustness of the simulator: threads, restarts, floods, resources; each test failed before its fix."""

from __future__ import annotations

import gc
import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator

import pytest

from rctclient.frame import Event, Frame
from rctclient.registry import REGISTRY, ObjectInfo
from rctclient.simulator import Clock, FaultProfile, SimulatorThread
from rctclient.types import Command

from .client import Client, read_frame, wait_until
from .conftest import NOON, quiet


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that races show within a fraction of a second."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.usefixtures("fast_switching")
def test_clock_never_runs_backwards_while_another_thread_advances_it() -> None:
    # The reading was two attributes set one after the other; a reader could combine the new base with
    # the old real instant (a jump ahead, then back), and advance() lost the time between its two reads.
    clock = Clock(0, speed=1e6)
    stop = threading.Event()
    backwards: list[tuple[float, float]] = []

    def advance() -> None:
        while not stop.is_set():
            clock.advance(0.001)

    def read() -> None:
        last = clock.now()
        while not stop.is_set():
            now = clock.now()
            if now < last:
                backwards.append((last, now))
            last = max(last, now)

    threads = [threading.Thread(target=advance), threading.Thread(target=read)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert backwards == []


def _hammer(port: int, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(read_frame("battery.soc"))
        except OSError:
            pass


def test_restart_and_stop_while_clients_connect(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # Closing the server while a connection was being accepted failed it in asyncio 3.11: "Error on
    # transport creation" (logged in debug mode only) and its socket leaked (a ResourceWarning later).
    monkeypatch.setenv("PYTHONASYNCIODEBUG", "1")
    caplog.set_level(logging.ERROR)
    with quiet() as sim:
        stop = threading.Event()
        threads = [threading.Thread(target=_hammer, args=(sim.port, stop)) for _ in range(4)]
        for t in threads:
            t.start()
        try:
            # at least 25 restarts, and on until the clients got through often (slow machines)
            restarts, deadline = 0, time.monotonic() + 20
            while restarts < 25 or (sim.counters.connections <= 25 and time.monotonic() < deadline):
                sim.restart()
                restarts += 1
                time.sleep(0.01)
        finally:
            stop.set()
            for t in threads:
                t.join()
        assert sim.counters.connections > 25
    gc.collect()  # a leaked socket would warn (an error under -W error) here
    assert [r.getMessage().splitlines()[0] for r in caplog.records if r.levelno >= logging.ERROR] == []


def test_a_flood_in_one_send_does_not_stall_the_other_clients() -> None:
    # A segment was decoded in one go: 256 kB of '+' (each the start of a frame) kept the loop busy for
    # about half a second per read, and every other client waited. Now the other client is served while
    # the flood is being handled: its answers come before the simulator has read the whole flood.
    flood_size = 1 << 20
    with quiet() as sim, Client(sim.port) as c:
        flood = socket.create_connection(("127.0.0.1", sim.port))
        # '+x': a start token and an invalid command, the costliest garbage per byte for the decoder
        sender = threading.Thread(target=flood.sendall, args=(b"+x" * (flood_size // 2),))
        try:
            sender.start()
            assert wait_until(lambda: sim.counters.bytes_in > 0, step=0.001)
            during = 0
            while sim.counters.bytes_in < flood_size and during < 5:
                c.read("battery.soc")
                if sim.counters.bytes_in < flood_size:  # answered before the flood was read in full
                    during += 1
        finally:
            sender.join()
            flood.close()
    assert during >= 1


def test_unsolicited_answers_are_for_oids_nobody_asked_for() -> None:
    # They were drawn from a fixed list that holds battery.soc: a client reading it got extra answers
    # that looked like the answers to its own requests.
    profile = FaultProfile(unsolicited=0.5)
    names = ["battery.soc", "db.temp1", "g_sync.p_acc_lp"]
    asked = {REGISTRY.get_by_name(n).object_id for n in names}
    with (
        quiet(seed=3, faults=profile) as sim,
        Client(sim.port) as c,
    ):
        c.send(b"".join(read_frame(n) for n in names) * 100)
        frames = [e for e in c.drain(sim, 300) if isinstance(e, Frame)]
        extra = sim.counters.faults["unsolicited"]
    assert sum(f.id in asked for f in frames) == 300
    assert len(frames) == 300 + extra and extra > 100


def test_latency_and_interrupts_keep_the_answers_in_order() -> None:
    # Each answer had its own random delay, and a cut answer went out at once: pipelined requests were
    # answered out of order, which the device never does.
    names = ["battery.soc", "db.temp1", "g_sync.p_acc_lp", "inverter_sn", "battery.soc_target"] * 4
    profile = FaultProfile(latency=(0.0, 0.05), interrupt=0.3)
    with (
        quiet(seed=5, faults=profile) as sim,
        Client(sim.port) as c,
    ):
        for name in names:
            c.send(read_frame(name))
            time.sleep(0.005)
        assert wait_until(lambda: sim.counters.requests == len(names))
        events: list[Event] = []

        def all_answers() -> bool:  # every answer that was not cut, however long its latency took
            events.extend(c.events(10**6, timeout=0.05, frames_only=False))
            return sum(isinstance(e, Frame) for e in events) == len(names) - sim.counters.faults.get("interrupt", 0)

        assert wait_until(all_answers)
        cut = sim.counters.faults["interrupt"]
    frames = [REGISTRY.get_by_id(e.id).name for e in events if isinstance(e, Frame)]
    assert cut > 0 and len(frames) == len(names) - cut
    it = iter(names)
    assert all(name in it for name in frames)  # a subsequence of the requests: in order


def test_a_silence_is_not_stretched_by_the_requests_during_it() -> None:
    # Every request during a silence drew the silence again and set a new end: with a client asking
    # every 50 ms, a (0.3, 0.3) s silence never ended.
    profile = FaultProfile(silence=1.0, silence_duration=(0.3, 0.3))
    with (
        quiet(faults=profile) as sim,
        Client(sim.port) as c,
    ):
        start = time.monotonic()
        for _ in range(20):
            c.send(read_frame("battery.soc"))
            time.sleep(0.05)
        assert wait_until(lambda: sim.counters.requests == 20)
        elapsed = time.monotonic() - start
        silences = sim.counters.faults["silence"]
    # at least 0.95 s of requests: a silence of 0.3 s ends and the next request starts another;
    # and at most one per 0.3 s, not one per request (a slow machine only makes more room for them)
    assert 2 <= silences <= elapsed / 0.3 + 1


def test_a_failing_read_periodically_round_is_logged_and_the_next_one_sent(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An exception in the READ_PERIODICALLY task ended it for good (nothing was logged until stop(),
    # which then raised it).
    sim = SimulatorThread(port=0, portal=False, clock=Clock(NOON, speed=50.0))
    calls = 0
    encode = sim.model.encode

    def failing_once(info: ObjectInfo) -> bytes:
        nonlocal calls
        calls += 1
        if calls == 2:  # the first periodic round; the first call is the immediate answer
            raise RuntimeError("boom")
        return encode(info)

    monkeypatch.setattr(sim.model, "encode", failing_once)
    with sim, Client(sim.port) as c:
        c.send(read_frame("battery.soc", Command.READ_PERIODICALLY))
        assert len(c.frames(3, timeout=1.0)) == 3
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"READ_PERIODICALLY answers of device 0x{sim.addresses[0]:08X} failed"
    ]
    caplog.clear()


def test_a_snapshot_given_as_parsed_json_is_served() -> None:
    # Simulator(snapshot=...) took a mapping as name -> value only: the parsed file (with its header)
    # raised "unknown OID name(s): rctclient_snapshot, values".
    snapshot = {"rctclient_snapshot": 1, "taken_at": "2024-06-01T12:00:00+00:00", "values": {"battery.soc": 0.25}}
    with SimulatorThread(port=0, portal=False, clock=Clock(NOON, frozen=True), snapshot=snapshot) as sim:
        assert sim.model.get("battery.soc") == 0.25

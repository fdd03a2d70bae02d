"""Fault injection rates, many clients, garbage floods."""

from __future__ import annotations

import asyncio
import os
import tracemalloc

import pytest

from rctclient.frame import CRCMismatch, Event, Frame, FrameDecoder, Garbage, make_frame
from rctclient.registry import REGISTRY
from rctclient.simulator import Clock, FaultProfile, Simulator, SimulatorThread
from rctclient.simulator.bus import Bus, Pending
from rctclient.types import Command
from rctclient.utils import encode_value

from .client import Client, read_frame, wait_until
from .conftest import NOON, quiet

N = 1000
SOC = REGISTRY.get_by_name("battery.soc").object_id


def _run(profile: FaultProfile, requests: bytes, n: int) -> tuple[list[Event], dict[str, int]]:
    """Everything the simulator sent for ``n`` requests (no latency in ``profile``)."""
    with quiet(seed=3, faults=profile) as sim:
        with Client(sim.port) as c:
            c.send(requests)
            events = c.drain(sim, n)
        return events, sim.counters.faults


def _reads(n: int = N) -> bytes:
    return make_frame(Command.READ, SOC) * n


def _near(count: int, rate: float, n: int = N) -> bool:
    expected = rate * n
    return bool(abs(count - expected) < 4 * (expected * (1 - rate)) ** 0.5 + 3)


@pytest.mark.parametrize("rate", [0.05, 0.2])
def test_lost_answers(rate: float) -> None:
    events, faults = _run(FaultProfile(lost_answer=rate), _reads(), N)
    lost = N - sum(isinstance(e, Frame) for e in events)
    assert lost == faults["lost_answer"] and _near(lost, rate)


def test_truncated_payloads_have_matching_crc() -> None:
    events, faults = _run(FaultProfile(truncated_payload=0.2), _reads(), N)
    frames = [e for e in events if isinstance(e, Frame)]
    short = [f for f in frames if len(f.data) < 4]
    assert len(frames) == N  # a good CRC on every one
    assert len(short) == faults["truncated_payload"] and _near(len(short), 0.2)


def test_wrong_crc() -> None:
    events, faults = _run(FaultProfile(wrong_crc=0.1), _reads(), N)
    bad = sum(isinstance(e, CRCMismatch) for e in events)
    assert bad == faults["wrong_crc"] and _near(bad, 0.1)
    assert sum(isinstance(e, Frame) for e in events) == N - bad


def test_interrupted_answers_in_a_burst() -> None:
    events, faults = _run(FaultProfile(interrupt=0.2), _reads(), N)
    good = sum(isinstance(e, Frame) for e in events)
    cut = faults["interrupt"]
    assert _near(cut, 0.2, N - 1)
    assert good == N - cut  # every cut answer is missing as a whole frame
    assert any(isinstance(e, Garbage) for e in events)


def test_latency_delays_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    # The answer goes out when its latency has passed, not before: the order of the two as the
    # simulator sees them (not a measured time, which a loaded machine only makes longer).
    order: list[str] = []
    ready, flush = Bus.ready, Bus.flush

    def latency_passed(self: Bus, entry: Pending) -> None:
        order.append("latency passed")
        ready(self, entry)

    def flushing(self: Bus) -> None:
        answers = self.counters.answers
        flush(self)
        if self.counters.answers > answers:
            order.append("answered")

    monkeypatch.setattr(Bus, "ready", latency_passed)
    monkeypatch.setattr(Bus, "flush", flushing)
    with (
        quiet(faults=FaultProfile(latency=(0.1, 0.15))) as sim,
        Client(sim.port) as c,
    ):
        c.read("battery.soc")
    assert order == ["latency passed", "answered"]


def test_interrupt_cuts_an_answer_being_prepared() -> None:
    # the second request comes well within the first answer's latency, however busy the machine
    profile = FaultProfile(latency=(1.0, 1.0), interrupt=1.0)
    with (
        quiet(faults=profile) as sim,
        Client(sim.port) as c,
    ):
        c.send(read_frame("battery.soc"))
        assert wait_until(lambda: sim.counters.requests == 1)
        c.send(read_frame("db.temp1"))
        frames = c.frames(1, timeout=10)  # the cut answer is garbage to the decoder: the second is the first frame
        assert [REGISTRY.get_by_id(f.id).name for f in frames] == ["db.temp1"]
        assert sim.counters.faults["interrupt"] == 1


def test_writes_applied_but_not_answered() -> None:
    info = REGISTRY.get_by_name("battery.soc_target")
    writes = make_frame(Command.WRITE, info.object_id, encode_value(info.request_data_type, 0.4)) * N
    with SimulatorThread(
        port=0, portal=False, seed=2, faults=FaultProfile(write_unanswered=0.3), clock=Clock(NOON, frozen=True)
    ) as sim:
        with Client(sim.port) as c:
            c.send(writes)
            frames = [e for e in c.drain(sim, N) if isinstance(e, Frame)]
        unanswered = sim.counters.faults["write_unanswered"]
        assert len(frames) == N - unanswered and _near(unanswered, 0.3)
        assert abs(sim.model.get("battery.soc_target") - 0.4) < 1e-6


def test_unsolicited_answers() -> None:
    events, faults = _run(FaultProfile(unsolicited=0.1), _reads(), N)
    others = [e for e in events if isinstance(e, Frame) and e.id != SOC]
    soc = [e for e in events if isinstance(e, Frame) and e.id == SOC]
    extra = faults["unsolicited"]
    assert _near(extra, 0.1) and len(others) + len(soc) == N + extra
    assert len(others) > 0


def test_silence_periods() -> None:
    profile = FaultProfile(silence=0.01, silence_duration=(0.2, 0.2))
    with (
        quiet(seed=4, faults=profile) as sim,
        Client(sim.port) as c,
    ):
        answered = 0
        for _ in range(300):
            c.send(read_frame("battery.soc"))
            answered += len(c.frames(1, timeout=0.02))
        assert sim.counters.faults.get("silence", 0) >= 1
        assert sim.counters.silenced > 0 and answered < 300


def test_fault_injection_is_deterministic_for_a_seed() -> None:
    runs = [
        _run(FaultProfile.named("hostile").with_rates({"latency": (0, 0), "silence": 0}), _reads(300), 300)
        for _ in range(2)
    ]
    assert runs[0][1] == runs[1][1]


def test_profiles() -> None:
    assert FaultProfile.named("ideal").is_ideal
    realistic, hostile = FaultProfile.named("realistic"), FaultProfile.named("hostile")
    assert 0 < realistic.lost_answer < hostile.lost_answer
    with pytest.raises(ValueError, match="unknown fault profile"):
        FaultProfile.named("nice")
    with pytest.raises(ValueError, match=r"0\.\.1"):
        FaultProfile(lost_answer=2)


async def _client(port: int, name: str) -> bool:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(read_frame(name))
        decoder = FrameDecoder()
        while True:
            data = await asyncio.wait_for(reader.read(4096), 10)
            if not data:
                return False
            decoder.feed(data)
            for event in decoder.events():
                if isinstance(event, Frame):
                    return True
    finally:
        writer.close()


async def _many(shared: bool) -> None:
    async with Simulator(port=0, portal=False, shared_bus=shared, clock=Clock(NOON, frozen=True)) as sim:
        results = await asyncio.gather(*(_client(sim.port, "battery.soc") for _ in range(200)))
        assert all(results)
        assert sim.counters.connections == 200


def test_200_concurrent_clients() -> None:
    asyncio.run(_many(False))
    asyncio.run(_many(True))


def test_garbage_flood_keeps_memory_flat_and_others_served() -> None:
    async def main() -> None:
        async with Simulator(port=0, portal=False, clock=Clock(NOON, frozen=True)) as sim:
            _, flood = await asyncio.open_connection("127.0.0.1", sim.port)
            chunk = os.urandom(1 << 16).replace(b"+", b"") + b"+\x01\xff" * 100  # noise and lying length fields
            tracemalloc.start()
            try:
                for i in range(150):  # ~10 MB
                    flood.write(chunk)
                    await flood.drain()
                    if i == 20:
                        base = tracemalloc.get_traced_memory()[0]
                    if i % 30 == 0:
                        assert await _client(sim.port, "db.temp1")
                grown = tracemalloc.get_traced_memory()[0] - base
            finally:
                tracemalloc.stop()
            assert grown < 2_000_000
            sent = 150 * len(chunk)  # read with backpressure: a slice per loop iteration
            for _ in range(200):
                if sim.counters.bytes_in >= sent:
                    break
                await asyncio.sleep(0.05)
            assert sim.counters.bytes_in >= sent
            flood.close()

    asyncio.run(main())

"""The daemon against the built-in simulator (loopback), with in-memory exporters."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from rctclient.monitor.config import DeviceConfig, MonitorConfig, PollConfig, PrometheusConfig
from rctclient.monitor.daemon import DevicePoller, Monitor
from rctclient.monitor.exporters import Exporter
from rctclient.monitor.state import Snapshot
from rctclient.simulator import DeviceModel, Simulator

FAST = PollConfig(fast=1.0, slow=2.0, energy=3.0, static=3600.0)
FIXED = {"battery.soc": 0.25, "g_sync.p_ac_grid_sum_lp": -512.0, "energy.e_ac_total": 123456.0, "db.temp1": 41.5}


class Recorder(Exporter):
    name = "recorder"

    def __init__(self) -> None:
        self.snapshots: list[Snapshot] = []

    def offer(self, snapshot: Snapshot) -> None:
        self.snapshots.append(snapshot)


class Broken(Exporter):
    """Fails on every snapshot and its task never finishes: polling must not care."""

    name = "broken"

    def offer(self, snapshot: Snapshot) -> None:
        raise RuntimeError("boom")

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def close(self) -> None:
        await asyncio.Event().wait()  # never finishes: shutdown must not wait for it forever


async def _poll(sim: Simulator, seconds: float, **device: Any) -> Recorder:
    recorder = Recorder()
    config = DeviceConfig("127.0.0.1", sim.port, name="sim", **{"timeout": 0.5, "retries": 1, **device})
    poller = DevicePoller(config, FAST, recorder.offer)
    task = asyncio.ensure_future(poller.run())
    await asyncio.sleep(seconds)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await poller.client.close()
    return recorder


def test_values_reach_the_exporters() -> None:
    async def run() -> Recorder:
        async with Simulator(port=0, seed=1, snapshot=FIXED) as sim:
            return await _poll(sim, 2.5)

    recorder = asyncio.run(run())
    last = recorder.snapshots[-1]
    assert last.serial == DeviceModel().get("inverter_sn") and last.up
    assert last.value("battery.soc") == 0.25 and last.value("g_sync.p_ac_grid_sum_lp") == -512.0
    assert last.value("energy.e_ac_total") == 123456.0 and last.value("db.temp1") == 41.5
    assert [s.tier for s in recorder.snapshots[:4]] == ["static", "fast", "slow", "energy"]


def test_a_silent_device_is_logged_once_each_way(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "rctclient.monitor")

    async def run() -> Recorder:
        async with Simulator(port=0, seed=1) as sim:
            recorder = Recorder()
            config = DeviceConfig("127.0.0.1", sim.port, name="sim", timeout=0.3, retries=0)
            poller = DevicePoller(config, FAST, recorder.offer)
            poller.core.max_backoff = 1.0
            task = asyncio.ensure_future(poller.run())
            await asyncio.sleep(1.5)
            sim.set_silent(True)
            await asyncio.sleep(3.5)  # several probes, capped at 1 s apart
            assert not recorder.snapshots[-1].up and recorder.snapshots[-1].values == {}
            sim.set_silent(False)
            for _ in range(60):
                await asyncio.sleep(0.1)
                if recorder.snapshots[-1].up:
                    break
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await poller.client.close()
            return recorder

    recorder = asyncio.run(run())
    assert recorder.snapshots[-1].up
    lines = [r for r in caplog.records if r.name == "rctclient.monitor"]
    warnings = [r.getMessage() for r in lines if r.levelno == logging.WARNING]
    backs = [r.getMessage() for r in lines if "answers again" in r.getMessage()]
    assert len(warnings) == 1 and "does not answer" in warnings[0]
    assert len(backs) == 1
    assert (
        sum(p.failures for p in recorder.snapshots[-1].polls.values()) >= 2
    )  # it kept probing (about one probe a second)


def test_hostile_device_values_are_unavailable_never_wrong(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "rctclient.monitor")

    async def run() -> Recorder:
        async with Simulator(port=0, seed=3, faults="hostile", snapshot=FIXED) as sim:
            return await _poll(sim, 6.0, timeout=1.0, retries=2)

    recorder = asyncio.run(run())
    seen = 0
    for snap in recorder.snapshots:
        for name, expected in FIXED.items():
            value = snap.value(name)
            if value is not None:
                seen += 1
                assert value == expected, (name, value)
    assert seen > 0
    messages = [r for r in caplog.records if r.name == "rctclient.monitor"]
    lost = sum("does not answer" in r.getMessage() or "cannot be identified" in r.getMessage() for r in messages)
    back = sum("answers again" in r.getMessage() for r in messages)
    assert back <= lost <= back + 1  # at most one line each way per outage


def test_a_broken_exporter_delays_nothing_and_shutdown_is_bounded(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR, "rctclient.monitor")

    async def run() -> tuple[Recorder, float]:
        async with Simulator(port=0, seed=1) as sim:
            recorder = Recorder()
            config = MonitorConfig(
                devices=(DeviceConfig("127.0.0.1", sim.port, name="a"), DeviceConfig("127.0.0.1", sim.port, name="b")),
                poll=FAST,
                prometheus=PrometheusConfig(enabled=False),
            )
            monitor = Monitor(config, exporters=[Broken(), recorder])
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            loop.call_later(2.2, stop.set)
            await monitor.run(stop)
            return recorder, loop.time()

    from rctclient.monitor import daemon

    original = daemon.SHUTDOWN_TIMEOUT
    daemon.SHUTDOWN_TIMEOUT = 0.5
    try:
        recorder, _ = asyncio.run(run())
    finally:
        daemon.SHUTDOWN_TIMEOUT = original
    by_device = {s.device for s in recorder.snapshots}
    assert by_device == {"a", "b"}  # two devices, each its own task and connection
    fast_polls = [s for s in recorder.snapshots if s.tier == "fast" and s.device == "a"]
    assert len(fast_polls) >= 2  # polling went on although the other exporter failed every time
    assert sum("failed to take a snapshot" in r.getMessage() for r in caplog.records) == 3  # logged, then quiet

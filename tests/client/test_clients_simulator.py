"""Both clients against the real simulator (rctclient.simulator) with the realistic and hostile fault profiles."""

from __future__ import annotations

import random
import struct
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from _fake import AsyncDriver, SyncDriver, Timed

from rctclient.exceptions import RctConnectionError, RctTimeout
from rctclient.registry import REGISTRY
from rctclient.simulator import Clock, FaultProfile, SimulatorThread
from rctclient.types import DataType

DriverCls = type[SyncDriver] | type[AsyncDriver]

NOW = 1_717_243_200  # 2024-06-01 12:00 UTC, a frozen clock: the model's values stand still
FLOATS = [o.name for o in REGISTRY.all() if o.response_data_type is DataType.FLOAT and "[" not in o.name][:45]
TIMEOUT = 1.5


@pytest.fixture(params=["realistic", "hostile"])
def profile(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


@pytest.fixture
def sim(profile: str) -> Iterator[SimulatorThread]:
    with SimulatorThread(port=0, seed=4, faults=profile, clock=Clock.frozen_at(NOW)) as simulator:
        yield simulator


def make(driver_cls: DriverCls, port: int, **kwargs: Any) -> SyncDriver | AsyncDriver:
    kwargs.setdefault("timeout", TIMEOUT)
    kwargs.setdefault("retries", 4)
    kwargs.setdefault("connect_timeout", 1.0)
    return driver_cls(host="127.0.0.1", port=port, rng=random.Random(7), **kwargs)


def true_value(sim: SimulatorThread, name: str) -> Any:
    """The simulator's value as it goes over the wire (single precision for floats)."""
    value = sim.model.get(name)
    if isinstance(value, float):
        return struct.unpack(">f", struct.pack(">f", value))[0]
    return value


def test_every_read_is_true_or_a_clear_error_within_its_deadline(
    sim: SimulatorThread, driver_cls: DriverCls, profile: str
) -> None:
    names = FLOATS[:30] if profile == "realistic" else FLOATS[:12]
    with make(driver_cls, sim.port) as d:
        for name in names[:6]:
            with Timed(TIMEOUT) as timed:
                try:
                    value = d.call("read", name)
                except (RctTimeout, RctConnectionError):
                    pass
                else:
                    assert value == true_value(sim, name), name
            timed.check(name)
        result = d.call("read_many", names)
        for name, value in result.values.items():
            assert value == true_value(sim, name), name
        assert all(isinstance(e, RctTimeout | RctConnectionError) for e in result.errors.values())
        assert len(result.values) >= len(names) * (0.9 if profile == "realistic" else 0.6)


def test_three_clients_on_the_shared_bus_get_no_crossed_values(sim: SimulatorThread, driver_cls: DriverCls) -> None:
    groups = [FLOATS[0:6], FLOATS[6:12], FLOATS[12:18]]
    crossed: list[str] = []
    answered = [0]
    problems: list[BaseException] = []

    def work(names: list[str]) -> None:
        try:
            with make(driver_cls, sim.port) as d:
                for name in names:
                    try:
                        value = d.call("read", name)
                    except (RctTimeout, RctConnectionError):
                        continue
                    answered[0] += 1
                    if value != true_value(sim, name):
                        crossed.append(name)
                result = d.call("read_many", names)
                answered[0] += len(result.values)
                crossed.extend(n for n, v in result.values.items() if v != true_value(sim, n))
        except BaseException as exc:
            problems.append(exc)

    threads = [threading.Thread(target=work, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not problems, problems
    assert crossed == []
    assert answered[0] >= 18  # most of the 36 reads got through


def test_write_applied_without_answer_is_verified(sim: SimulatorThread, driver_cls: DriverCls) -> None:
    with make(driver_cls, sim.port) as d:
        result = d.call("write", "power_mng.soc_target_set", 0.42)
        assert result.verified is True
        assert sim.model.get("power_mng.soc_target_set") == pytest.approx(0.42, rel=1e-6)
        sim.set_faults(FaultProfile(write_unanswered=1.0))
        result = d.call("write", "power_mng.battery_power_extern", 2500.0)
        assert result.answered is False and result.verified is True
        assert sim.model.get("power_mng.battery_power_extern") == 2500.0


def test_a_whole_day_of_history_despite_partial_answers(sim: SimulatorThread, driver_cls: DriverCls) -> None:
    name = "logger.minutes_soc_log_ts"
    info = REGISTRY.resolve(name)
    start, end = NOW - 86400, NOW
    with make(driver_cls, sim.port, timeout=2.0, retries=6) as d:
        points = d.call("history", name, start, end)
    stamps = [int(p.timestamp.timestamp()) for p in points]
    assert stamps == list(range(start, end + 1, 300))
    for point, stamp in zip(points, stamps, strict=True):
        _, page = sim.model.history(info, stamp)
        assert page[0][0] == stamp
        assert point.value == pytest.approx(page[0][1], rel=1e-6)


def test_survives_restart_and_silence(driver_cls: DriverCls) -> None:
    with (
        SimulatorThread(port=0, seed=4, faults="realistic", clock=Clock.frozen_at(NOW)) as sim,
        make(driver_cls, sim.port, timeout=1.0) as d,
    ):
        assert d.call("read", "battery.soc") == true_value(sim, "battery.soc")
        sim.restart()
        assert d.call("read", "battery.soc") == true_value(sim, "battery.soc")
        sim.set_faults("ideal")  # no random silences of its own: the test decides
        sim.set_silent(True)
        with Timed(1.0) as timed, pytest.raises(RctTimeout):
            d.call("read", "battery.soc")
        timed.check()
        sim.set_silent(False)
        assert d.call("read", "battery.soc") == true_value(sim, "battery.soc")
        assert d.client.stats.connects >= 2


def test_read_many_from_a_silent_device_ends_within_one_deadline(driver_cls: DriverCls) -> None:
    # Before: the window fell to one request and each of the 45 waited for its own deadline (~20 s here).
    simulator = SimulatorThread(port=0, seed=4, faults="ideal", clock=Clock.frozen_at(NOW))
    with simulator, make(driver_cls, simulator.port, timeout=0.5, retries=3) as d:
        assert d.call("read", FLOATS[0]) == true_value(simulator, FLOATS[0])
        simulator.set_silent()
        with Timed(0.5) as timed:
            result = d.call("read_many", FLOATS)
        timed.check()  # one deadline for all (before: one per value, ~20 s)
        assert not result.values and all(isinstance(e, RctTimeout) for e in result.errors.values())
        # the device was found silent, or the rest ran out of time queued: nothing was asked twice as often
        assert d.client.stats.frames_sent <= 2 * len(FLOATS)
        simulator.set_silent(False)
        assert d.call("read", FLOATS[1]) == true_value(simulator, FLOATS[1])

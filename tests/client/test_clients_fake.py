"""Both clients against the fake device over TCP on 127.0.0.1: the same tests for Client and AsyncClient."""

from __future__ import annotations

import random
import socket
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from _fake import (
    LOG_START,
    MINUTE_STEP,
    AsyncDriver,
    FakeDevice,
    FakeServer,
    SyncDriver,
    Timed,
    default_value,
    series_value,
)

from rctclient.exceptions import RctConnectionError, RctTimeout, UnsafeWrite, WriteOutOfBounds, WriteRefused
from rctclient.frame import Frame, decode_frames
from rctclient.protocol import BatteryStatus, EventRecord, ReadManyResult, WriteResult
from rctclient.registry import REGISTRY, RegistryKeyError
from rctclient.types import Command

DriverCls = type[SyncDriver] | type[AsyncDriver]

FLOATS = [o.name for o in REGISTRY.all() if o.response_data_type.name == "FLOAT"][:60]


def make(driver_cls: DriverCls, port: int, **kwargs: Any) -> SyncDriver | AsyncDriver:
    kwargs.setdefault("timeout", 1.0)
    kwargs.setdefault("retries", 3)
    kwargs.setdefault("connect_timeout", 0.5)
    return driver_cls(host="127.0.0.1", port=port, rng=random.Random(3), **kwargs)


def test_read_typed_values(driver_cls: DriverCls) -> None:
    device = FakeDevice()
    device.set("battery.soc", 0.625)
    with FakeServer(device) as server, make(driver_cls, server.port) as d:
        assert d.call("read", "battery.soc") == 0.625
        info = REGISTRY.resolve("power_mng.use_grid_power_enable")
        assert d.call("read", info.object_id) == default_value(info)
        assert d.call("read", f"0x{info.object_id:08X}") == default_value(info)
        assert d.call("read_raw", "battery.soc") == bytes.fromhex("3f200000")
        stats = d.client.stats
        assert stats.answered == 4 and stats.failed == 0 and stats.latency_count == 4
        with pytest.raises(RegistryKeyError, match="did you mean"):
            d.call("read", "battery.sco")


def test_read_many_pipelined_and_complete(driver_cls: DriverCls) -> None:
    device = FakeDevice()
    with FakeServer(device) as server, make(driver_cls, server.port, max_in_flight=6) as d:
        result = d.call("read_many", [*FLOATS, FLOATS[0]])
        assert isinstance(result, ReadManyResult)
        assert result.ok and len(result) == len(FLOATS)
        for name in FLOATS:
            assert result[name] == default_value(REGISTRY.resolve(name)), name
        assert device.requests == len(FLOATS)  # deduplicated, nothing asked twice


def test_reads_survive_lost_truncated_and_corrupt_answers(driver_cls: DriverCls) -> None:
    device = FakeDevice(seed=5, lost=0.15, truncate=0.15, corrupt=0.1, unsolicited=0.2)
    with FakeServer(device) as server, make(driver_cls, server.port, timeout=1.0, retries=6) as d:
        result = d.call("read_many", FLOATS)
        for name, value in result.values.items():
            assert value == default_value(REGISTRY.resolve(name)), name
        for name, error in result.errors.items():
            assert isinstance(error, RctTimeout), (name, error)
        # One deadline for the whole read_many, queued time included: with the window down to one
        # request after each loss, some are still queued at the deadline (51 of 60 here).
        assert len(result.values) >= len(FLOATS) * 2 // 3
        assert len(result.values) + len(result.errors) == len(FLOATS)
        stats = d.client.stats
        assert stats.truncated > 0 and stats.retries > 0 and stats.crc_errors > 0 and stats.foreign_frames > 0


def test_silent_device_gives_a_timeout_within_the_deadline(driver_cls: DriverCls) -> None:
    with FakeServer(FakeDevice()) as server, make(driver_cls, server.port, timeout=0.6, retries=2) as d:
        server.silent = True
        with Timed(0.6) as timed, pytest.raises(RctTimeout, match=r"battery\.soc.*3 attempts"):
            d.call("read", "battery.soc")
        timed.check()
        assert d.client.stats.timeouts == 3 and d.client.stats.retries == 2
        server.silent = False
        assert d.call("read", "battery.soc") == default_value(REGISTRY.resolve("battery.soc"))


def test_unreachable_device_fails_fast_with_backoff(driver_cls: DriverCls) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    d = make(driver_cls, port, timeout=0.5)
    with pytest.raises(RctConnectionError):
        d.__enter__()
    try:
        for _ in range(5):
            # the backoff outlasts most of these calls' deadlines: they fail at once, with no attempt
            with Timed(0.5) as timed, pytest.raises(RctConnectionError):
                d.call("read", "battery.soc")
            timed.check()
        failures = d.client.reconnect.failures
        assert 1 <= failures <= 12  # a few attempts with growing backoff, not a storm
        assert d.client.stats.connects == 0
        assert d.client.reconnect.next_attempt > 0
    finally:
        d.__exit__(None, None, None)


def test_survives_a_restart_of_the_device(driver_cls: DriverCls) -> None:
    device = FakeDevice()
    server = FakeServer(device)
    server.start()
    try:
        with make(driver_cls, server.port, timeout=3.0) as d:
            assert d.call("read", "battery.soc") == default_value(REGISTRY.resolve("battery.soc"))
            server.restart(downtime=0.3)
            assert d.call("read", "battery.soc") == default_value(REGISTRY.resolve("battery.soc"))
            assert d.client.stats.connects >= 2
    finally:
        server.stop()


def test_three_clients_on_a_shared_bus_never_cross_values(driver_cls: DriverCls) -> None:
    device = FakeDevice(seed=9, lost=0.05)
    groups = [FLOATS[0:20], FLOATS[20:40], FLOATS[40:60]]
    crossed: list[str] = []
    errors: list[BaseException] = []
    with FakeServer(device, shared_bus=True) as server:
        drivers = [make(driver_cls, server.port, timeout=1.0, retries=5) for _ in groups]

        def work(d: SyncDriver | AsyncDriver, names: list[str]) -> None:
            try:
                with d:
                    for _ in range(2):
                        for name in names:
                            value = d.call("read", name)
                            if value != default_value(REGISTRY.resolve(name)):
                                crossed.append(name)
                        result = d.call("read_many", names)
                        crossed.extend(n for n, v in result.values.items() if v != default_value(REGISTRY.resolve(n)))
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(d, names)) for d, names in zip(drivers, groups, strict=True)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors, errors
    assert crossed == []
    # each client saw the others' answers as foreign frames, and cached them
    assert all(d.client.stats.foreign_frames > 0 for d in drivers)
    cached = drivers[0].client.last_value(groups[1][0])
    assert cached is not None and cached.value == default_value(REGISTRY.resolve(groups[1][0]))
    assert cached.age >= 0 and cached.received_at.tzinfo is UTC


def test_write_verified_by_read_back(driver_cls: DriverCls) -> None:
    device = FakeDevice()
    with FakeServer(device) as server, make(driver_cls, server.port) as d:
        result = d.call("write", "power_mng.soc_min", 0.15)
        assert isinstance(result, WriteResult)
        assert result.verified is True and result.answered is True
        assert result.read_back == pytest.approx(0.15, rel=1e-6)
        assert device.get("power_mng.soc_min") == pytest.approx(0.15, rel=1e-6)
        assert d.call("write", "power_mng.use_grid_power_enable", True).read_back is True
        assert d.call("write", "power_mng.soc_strategy", 2).read_back == 2
        rounded = d.call("write", "buf_v_control.power_reduction", 0.12345)
        assert rounded.written == pytest.approx(0.123, rel=1e-6) and rounded.verified


def test_write_applied_without_answer_is_still_verified(driver_cls: DriverCls) -> None:
    device = FakeDevice(write_unanswered=1.0)
    with FakeServer(device) as server, make(driver_cls, server.port, timeout=0.6, retries=1) as d:
        result = d.call("write", "power_mng.battery_power_extern", -1500.0)
        assert result.answered is False
        assert result.verified is True and result.read_back == -1500.0
        assert device.writes[-1] == ("power_mng.battery_power_extern", -1500.0)


def test_write_refused_when_the_device_keeps_its_value(driver_cls: DriverCls) -> None:
    device = FakeDevice(read_only=("power_mng.soc_max",))
    device.set("power_mng.soc_max", 0.9)
    with FakeServer(device) as server, make(driver_cls, server.port) as d:
        with pytest.raises(WriteRefused, match=r"holds 0\.9\b") as info:
            d.call("write", "power_mng.soc_max", 0.8)
        assert info.value.result is not None and info.value.result.verified is False


def test_unsafe_writes_are_refused_before_any_io(driver_cls: DriverCls) -> None:
    device = FakeDevice()
    with FakeServer(device) as server, make(driver_cls, server.port) as d:
        with pytest.raises(UnsafeWrite, match="force=True"):
            d.call("write", "battery.soc", 0.5)
        with pytest.raises(WriteOutOfBounds, match="maximum 6000"):
            d.call("write", "power_mng.battery_power_extern", 7000)
        with pytest.raises(WriteOutOfBounds):
            d.call("write", "power_mng.soc_strategy", 9)
        assert device.requests == 0
        dry = d.call("write", "power_mng.soc_target_set", 0.5, dry_run=True)
        assert dry.dry_run and dry.verified is None and device.requests == 0
        (frame,) = decode_frames(dry.frame)
        assert isinstance(frame, Frame)
        assert frame.command == Command.WRITE and frame.data == bytes.fromhex("3f000000")
        forced = d.call("write", "battery.soc", 0.5, force=True)
        assert forced.verified is True


def test_battery_status(driver_cls: DriverCls) -> None:
    device = FakeDevice()
    device.set("battery.bat_status", 0)
    with FakeServer(device) as server, make(driver_cls, server.port) as d:
        status = d.call("battery_status")
        assert status == BatteryStatus(0) and status.normal
        device.set("battery.bat_status", 8)
        status = d.call("battery_status")
        assert not status.normal and "not in normal operation" in str(status)


def test_history_of_a_whole_day_over_partial_pages(driver_cls: DriverCls) -> None:
    device = FakeDevice(page_size=13, lost=0.05, truncate=0.05)
    day = datetime.fromtimestamp(LOG_START + 5 * 86400, UTC).date()
    name = "logger.minutes_soc_log_ts"
    with FakeServer(device) as server, make(driver_cls, server.port, timeout=2.0, retries=5) as d:
        points = d.call("history", name, day, day + timedelta(days=1))
        start = LOG_START + 5 * 86400
        expected = list(range(start, start + 86400 + 1, MINUTE_STEP))
        assert [int(p.timestamp.timestamp()) for p in points] == expected
        assert all(p.value == series_value(name, int(p.timestamp.timestamp())) for p in points)
        assert device.requests >= 289 // 13


def test_history_time_zone_rules(driver_cls: DriverCls) -> None:
    with FakeServer(FakeDevice()) as server, make(driver_cls, server.port) as d:
        with pytest.raises(ValueError, match="naive"):
            d.call("history", "logger.minutes_soc_log_ts", datetime(2024, 1, 1), datetime(2024, 1, 2))
        with pytest.raises(ValueError, match="not a time series"):
            d.call("history", "battery.soc", date(2024, 1, 1), date(2024, 1, 2))


def test_events_ordered_deduplicated_with_fault_names(driver_cls: DriverCls) -> None:
    device = FakeDevice(page_size=5)
    start, end = LOG_START + 2 * 86400, LOG_START + 3 * 86400
    with FakeServer(device) as server, make(driver_cls, server.port) as d:
        events = d.call("events", start, end)
        stamps = [int(e.timestamp.timestamp()) for e in events]
        assert stamps == list(range(start, end + 1, 7200))
        assert all(isinstance(e, EventRecord) for e in events)
        faults = [e for e in events if e.entry_char == "F"]
        assert faults and all(len(e.faults) == 1 and e.faults[0].bit == e.element3 for e in faults)
        assert all(e.faults == () for e in events if e.entry_char != "F")


def test_plant_address(driver_cls: DriverCls) -> None:
    device = FakeDevice(address=0x1234)
    with FakeServer(device) as server:
        with make(driver_cls, server.port, address=0x1234) as d:
            assert d.call("read", "battery.soc") == default_value(REGISTRY.resolve("battery.soc"))
        with make(driver_cls, server.port, address=0x9999, timeout=0.3, retries=0) as d, pytest.raises(RctTimeout):
            d.call("read", "battery.soc")

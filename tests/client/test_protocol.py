"""The sans-I/O request core: matching, retries, deadlines, pipelining, cache, safe writes, paging operations."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rctclient.exceptions import RctTimeout, UnsafeWrite, WriteOutOfBounds
from rctclient.frame import make_frame
from rctclient.protocol import (
    Call,
    ClientProtocol,
    ReconnectPolicy,
    Request,
    Sleep,
    events_op,
    history_op,
    prepare_write,
    resolution_of,
    to_unix,
    writable,
)
from rctclient.registry import REGISTRY
from rctclient.types import Command, DataType, EventEntry, EventTable, Timeseries
from rctclient.utils import encode_value

SOC = REGISTRY.resolve("battery.soc")
POWER = REGISTRY.resolve("g_sync.p_ac_load_sum_lp")
SERIES = REGISTRY.resolve("logger.minutes_soc_log_ts")


def answer(info: Any, value: Any, command: Command = Command.RESPONSE, address: int = 0) -> bytes:
    return make_frame(command, info.object_id, encode_value(info.response_data_type, value), address)


def core(**kwargs: Any) -> ClientProtocol:
    kwargs.setdefault("rng", random.Random(1))
    p = ClientProtocol(**kwargs)
    p.connection_made(0.0)
    return p


def test_read_answered() -> None:
    p = core()
    req = p.submit(Call(SOC), 0.0)
    assert p.data_to_send(0.0) == make_frame(Command.READ, SOC.object_id)
    p.receive_data(answer(SOC, 0.5), 0.01)
    assert req.ok and req.result() == 0.5 and req.latency == pytest.approx(0.01)
    assert p.stats.answered == 1 and p.pending == 0


def test_answer_before_the_request_was_sent_is_only_cached() -> None:
    p = core()
    req = p.submit(Call(SOC), 0.0)
    p.receive_data(answer(SOC, 0.25), 0.0)  # someone else's answer, before ours went out
    assert not req.done and p.stats.foreign_frames == 1
    assert p.cached(SOC) is not None
    p.data_to_send(0.1)
    p.receive_data(answer(SOC, 0.5), 0.2)
    assert req.result() == 0.5


def test_truncated_payload_is_requested_again_not_decoded() -> None:
    p = core(retry_delay=0.0, jitter=0.0)
    req = p.submit(Call(SOC), 0.0)
    p.data_to_send(0.0)
    p.receive_data(make_frame(Command.RESPONSE, SOC.object_id, b"\x3f\x00"), 0.01)
    assert not req.done and p.stats.truncated == 1
    assert p.data_to_send(0.02) == make_frame(Command.READ, SOC.object_id)
    p.receive_data(answer(SOC, 0.75), 0.03)
    assert req.result() == 0.75 and req.attempts == 2


def test_timeouts_retries_then_a_clear_error_at_the_deadline() -> None:
    p = core(timeout=1.0, retries=2)
    req = p.submit(Call(SOC), 0.0)
    now, sent = 0.0, 0
    while not req.done:
        if p.data_to_send(now):
            sent += 1
        wake = p.next_wakeup(now)
        assert wake is not None and wake >= now
        now = max(wake, now + 1e-6)
        p.poll(now)
    assert sent == 3 and now <= 1.0 + 1e-6
    with pytest.raises(RctTimeout, match="3 attempts"):
        req.result()
    assert p.stats.timeouts == 3 and p.stats.retries == 2


def test_late_answer_during_retry_wait_is_taken() -> None:
    p = core(timeout=1.0, retries=3, retry_delay=0.2, jitter=0.0)
    req = p.submit(Call(SOC), 0.0)
    p.data_to_send(0.0)
    p.poll(0.26)  # attempt timed out, re-send due at 0.46
    assert not req.done
    p.receive_data(answer(SOC, 0.5), 0.3)
    assert req.result() == 0.5 and req.attempts == 1


def test_plant_address_and_command_kind_must_match() -> None:
    p = core(address=7)
    req = p.submit(Call(SOC), 0.0)
    assert p.data_to_send(0.0) == make_frame(Command.PLANT_READ, SOC.object_id, address=7)
    p.receive_data(answer(SOC, 0.1), 0.01)  # not PLANT
    p.receive_data(answer(SOC, 0.2, Command.PLANT_RESPONSE, address=8), 0.01)  # other device
    p.receive_data(make_frame(Command.PLANT_READ, SOC.object_id, address=7), 0.01)  # a request, no answer
    assert not req.done and p.stats.foreign_frames == 3
    p.receive_data(answer(SOC, 0.3, Command.PLANT_RESPONSE, address=7), 0.02)
    assert req.result() == pytest.approx(0.3)


def test_time_series_answers_match_on_the_echoed_timestamp() -> None:
    p = core()
    req = p.submit(Call(SERIES, payload=encode_value(DataType.INT32, 1000), stamp=1000), 0.0)
    p.data_to_send(0.0)
    other = encode_value(DataType.TIMESERIES, (2000, {1900: 1.0}))
    p.receive_data(make_frame(Command.RESPONSE, SERIES.object_id, other), 0.01)
    assert not req.done
    ours = encode_value(DataType.TIMESERIES, (1000, {900: 2.0, 600: 3.0}))
    p.receive_data(make_frame(Command.RESPONSE, SERIES.object_id, ours), 0.02)
    page = req.result()
    assert isinstance(page, Timeseries)
    assert [pt.value for pt in page.points] == [2.0, 3.0]


def test_pipelining_is_bounded_and_paused_between_bursts() -> None:
    p = core(max_in_flight=4, burst_pause=0.01)
    infos = REGISTRY.glob("battery.*")[:10]
    reqs = [p.submit(Call(info), 0.0) for info in infos]
    first = p.data_to_send(0.0)
    assert first.count(b"+") >= 4 and sum(r.attempts for r in reqs) == 4
    assert p.data_to_send(0.005) == b""  # full, and inside the pause
    for r in reqs[:4]:
        p.receive_data(make_frame(Command.RESPONSE, r.info.object_id, b""), 0.006)  # truncated: window shrinks
    assert p.window < 4


def test_connection_lost_resends_after_reconnect() -> None:
    p = core()
    req = p.submit(Call(SOC), 0.0)
    p.data_to_send(0.0)
    p.connection_lost(0.1)
    assert p.data_to_send(0.2) == b""  # not connected
    p.connection_made(0.3)
    assert p.data_to_send(0.5) == make_frame(Command.READ, SOC.object_id)
    p.receive_data(answer(SOC, 0.5), 0.6)
    assert req.result() == 0.5 and req.attempts == 2


@settings(max_examples=60, deadline=None)
@given(
    order=st.permutations(list(range(6))),
    foreign=st.lists(st.tuples(st.integers(0, 5), st.floats(-1e6, 1e6, width=32)), max_size=12),
    chunk=st.integers(1, 40),
)
def test_any_interleaving_of_foreign_frames_and_answers_never_crosses_values(
    order: list[int], foreign: list[tuple[int, float]], chunk: int
) -> None:
    infos = [o for o in REGISTRY.all() if o.response_data_type is DataType.FLOAT][:6]
    truth = {info.name: float(i * 10 + 1) for i, info in enumerate(infos)}
    p = core(max_in_flight=6)
    reqs = [p.submit(Call(info), 0.0) for info in infos]
    p.data_to_send(0.0)
    stream = b""
    pending_foreign = list(foreign)
    for index in order:
        while pending_foreign and pending_foreign[0][0] <= index:
            which, value = pending_foreign.pop(0)
            # a foreign answer for an OID we did not ask for
            stream += answer(REGISTRY.resolve("battery.soc"), value) + b"\x00AT+\r"
            stream += answer(POWER, value) if which % 2 else b""
        stream += answer(infos[index], truth[infos[index].name])
    for i in range(0, len(stream), chunk):
        p.receive_data(stream[i : i + chunk], 0.01)
    for req in reqs:
        assert req.result() == truth[req.info.name]


def drive(op: Any, device: Any) -> Any:
    """Run an operation against a function that answers each Call."""
    try:
        step = next(op)
        while True:
            if isinstance(step, Sleep):
                step = op.send(None)
                continue
            reqs: list[Request] = []
            for call in step:
                p = core()
                req = p.submit(call, 0.0)
                p.data_to_send(0.0)
                p.receive_data(device(call), 0.0)
                reqs.append(req)
            step = op.send(reqs)
    except StopIteration as stop:
        return stop.value


def test_history_pages_until_the_range_is_covered_and_deduplicates() -> None:
    log = {t: float(t % 97) for t in range(0, 100_000, 300)}
    queries: list[int] = []

    def device(call: Call) -> bytes:
        assert call.stamp is not None
        queries.append(call.stamp)
        points = sorted((t for t in log if t <= call.stamp), reverse=True)[:7]
        payload = encode_value(DataType.TIMESERIES, (call.stamp, {t: log[t] for t in points}))
        return make_frame(Command.RESPONSE, SERIES.object_id, payload)

    points = drive(history_op(SERIES, 30_000, 40_000), device)
    stamps = [int(p.timestamp.timestamp()) for p in points]
    assert stamps == list(range(30_000, 40_001, 300))
    assert all(p.value == log[int(p.timestamp.timestamp())] for p in points)
    assert queries == sorted(queries, reverse=True) and len(queries) <= 34 // 6 + 3


def test_history_stops_when_the_log_ends() -> None:
    def device(call: Call) -> bytes:
        assert call.stamp is not None
        payload = encode_value(DataType.TIMESERIES, (call.stamp, {t: 1.0 for t in (5000, 4700) if t <= call.stamp}))
        return make_frame(Command.RESPONSE, SERIES.object_id, payload)

    points = drive(history_op(SERIES, 0, 6000), device)
    assert [int(p.timestamp.timestamp()) for p in points] == [4700, 5000]


def test_allow_list_names_exist_in_the_registry() -> None:
    specs = writable()
    expected = {
        "power_mng.soc_strategy",
        "power_mng.soc_target_set",
        "power_mng.soc_min",
        "power_mng.soc_max",
        "power_mng.soc_min_island",
        "power_mng.soc_charge",
        "power_mng.battery_power_extern",
        "power_mng.soc_charge_power",
        "power_mng.use_grid_power_enable",
        "buf_v_control.power_reduction",
        "p_rec_lim[1]",
    }
    assert set(specs) == expected
    for name, spec in specs.items():
        info = REGISTRY.resolve(name)
        assert spec.kind in ("bool", "enum", "fraction", "power", "number")
        if spec.kind == "fraction":
            assert (spec.min, spec.max) == (0.0, 1.0) and info.request_data_type is DataType.FLOAT
        if spec.kind == "bool":
            assert info.request_data_type is DataType.BOOL
    assert (specs["power_mng.battery_power_extern"].min, specs["power_mng.battery_power_extern"].max) == (-6000, 6000)
    for name, spec in specs.items():
        # every number has finite bounds on both sides (before: soc_charge_power took 3e38 W)
        if spec.kind != "bool":
            assert spec.min is not None and spec.max is not None, name
            assert math.isfinite(spec.min) and math.isfinite(spec.max) and spec.min < spec.max, name
    assert specs["power_mng.soc_strategy"].max == 5 and REGISTRY.resolve("power_mng.soc_strategy").enum_map


def test_prepare_write_checks() -> None:
    plan = prepare_write("power_mng.soc_strategy", 2)
    assert plan.frame == make_frame(Command.WRITE, plan.info.object_id, b"\x02")
    assert prepare_write("p_rec_lim[1]", 5000).written == 5000.0
    plant = prepare_write("power_mng.soc_min", 0.1, address=0x42)
    assert plant.frame[1] == Command.PLANT_WRITE
    with pytest.raises(UnsafeWrite):
        prepare_write("battery.soc", 0.5)
    for name, value in [
        ("power_mng.soc_min", 1.5),
        ("power_mng.soc_min", float("nan")),
        ("power_mng.soc_charge_power", -1),
        ("power_mng.soc_strategy", 6),
        ("power_mng.soc_strategy", 1.5),
        ("power_mng.use_grid_power_enable", 2),
        ("p_rec_lim[1]", -10.0),
    ]:
        with pytest.raises(WriteOutOfBounds):
            prepare_write(name, value)
    with pytest.raises(WriteOutOfBounds, match="above the maximum 6000 W"):
        prepare_write("power_mng.soc_charge_power", 3e38)
    assert prepare_write("power_mng.battery_power_extern", 9000, force=True).written == 9000.0
    assert prepare_write("battery.soc", 0.5, force=True).written == 0.5


def test_negative_zero_is_written_as_zero() -> None:
    # -0.0 went out as 0x80000000; so did a tiny negative value that single precision rounds to it,
    # and a negative value rounded to the OID's decimals
    for name, value in [
        ("power_mng.battery_power_extern", -0.0),
        ("power_mng.battery_power_extern", -1e-46),
        ("buf_v_control.power_reduction", -0.0001),
    ]:
        plan = prepare_write(name, value)
        assert plan.payload == b"\x00\x00\x00\x00", (name, value)
        assert plan.written == 0.0 and math.copysign(1.0, plan.written) == 1.0
        assert plan.requested == value


def test_closing_is_not_a_lost_connection() -> None:
    proto = ClientProtocol(timeout=1.0, retries=0)
    proto.connection_made(0.0)
    proto.connection_lost(1.0, closed=True)
    assert proto.stats.connection_losses == 0
    proto.connection_made(2.0)
    proto.connection_lost(3.0)
    assert proto.stats.connection_losses == 1


def test_times_and_resolution() -> None:
    berlin = timezone(timedelta(hours=2))
    assert to_unix(date(2024, 6, 1)) == 1_717_200_000
    assert to_unix(date(2024, 6, 1), berlin) == 1_717_200_000 - 7200
    assert to_unix(datetime(2024, 6, 1, 2, tzinfo=UTC)) == 1_717_207_200
    assert to_unix(datetime(2024, 6, 1, 2), berlin) == 1_717_200_000
    with pytest.raises(ValueError, match="naive"):
        to_unix(datetime(2024, 6, 1))
    assert resolution_of(SERIES) == timedelta(minutes=5)
    assert resolution_of(REGISTRY.resolve("logger.day_eb_log_ts")) == timedelta(days=1)
    assert resolution_of(SOC) is None


def test_reconnect_backoff_and_rate_limited_logs() -> None:
    policy = ReconnectPolicy(initial=1.0, maximum=8.0, log_interval=100.0, rng=random.Random(1))
    delays = [policy.failed(float(i)) for i in range(6)]
    assert delays[0] == pytest.approx(1.0, rel=0.11) and delays[-1] == pytest.approx(8.0, rel=0.11)
    assert [policy.should_log(t) for t in (0.0, 10.0, 50.0, 101.0)] == [True, False, False, True]
    assert policy.take_suppressed() == 2
    assert policy.succeeded() == 6 and policy.wait(1000.0) == 0.0


def test_a_silent_device_fails_every_open_request_at_the_first_deadline() -> None:
    # Before: with the window down to one, each of N requests waited for its own deadline in turn,
    # so read_many of 160 values from a silent device took 160 deadlines (36 s at timeout=0.5).
    p = core(timeout=1.0, retries=2, max_in_flight=4)
    reqs = [p.submit(Call(info), 0.0) for info in [SOC, POWER, *REGISTRY.glob("battery.cells_stat[*]")]]
    now = 0.0
    while not all(r.done for r in reqs):
        p.data_to_send(now)
        wake = p.next_wakeup(now)
        assert wake is not None
        now = max(wake, now + 1e-6)
        p.poll(now)
    assert now <= 1.0 + 1e-6
    assert all(isinstance(r.error, RctTimeout) for r in reqs)
    assert p.pending == 0 and p.stats.failed == len(reqs)


def test_a_device_that_answers_something_is_not_taken_for_silent() -> None:
    p = core(timeout=1.0, retries=0)
    lost = p.submit(Call(SOC), 0.0)
    other = p.submit(Call(POWER), 0.0)
    p.data_to_send(0.0)
    p.receive_data(answer(POWER, 100.0), 0.1)
    later = p.submit(Call(SOC), 0.5)
    p.poll(1.0)
    assert isinstance(lost.error, RctTimeout) and other.result() == 100.0
    assert not later.done  # the device answered during the lost request's life: not silent


def test_other_clients_requests_do_not_make_a_silent_device_look_awake() -> None:
    # Before: the vendor portal's READ requests on the shared bus counted as signs of life, so a silent
    # device at night cost every request its own deadline again.
    p = core(timeout=1.0, retries=0)
    lost = p.submit(Call(SOC), 0.0)
    other = p.submit(Call(POWER), 0.0)
    p.data_to_send(0.0)
    p.receive_data(make_frame(Command.READ, SOC.object_id) * 3, 0.5)  # someone else's requests, no answer
    p.poll(1.0)
    assert isinstance(lost.error, RctTimeout) and isinstance(other.error, RctTimeout)
    assert "the device sent nothing" in str(other.error)
    assert p.stats.frames == 3 and p.stats.responses == 0


def test_events_entries_sharing_the_start_second_are_not_cut_off_at_a_page_edge() -> None:
    # Before: a page whose oldest entry was at ``start`` ended the paging, though more entries of that
    # second had not fit into the page.
    log = [(ord("W"), 2000, 1), (ord("F"), 1000, 2), (ord("F"), 1000, 3), (ord("F"), 1000, 4), (ord("S"), 500, 5)]
    info = REGISTRY.resolve("logger.error_log_time_stamp")

    def device(call: Call) -> bytes:
        assert call.stamp is not None
        entries = [EventEntry(t, datetime.fromtimestamp(ts, UTC), ts, e3, 0) for t, ts, e3 in log if ts <= call.stamp]
        payload = encode_value(
            DataType.EVENT_TABLE, EventTable(datetime.fromtimestamp(call.stamp, UTC), tuple(entries[:3]))
        )
        return make_frame(Command.RESPONSE, info.object_id, payload)

    entries = drive(events_op(1000, 2000), device)
    assert sorted(e.element3 for e in entries) == [1, 2, 3, 4]


def test_history_ranges_beyond_the_devices_timestamps_are_cut_not_failed() -> None:
    # Before: a start before 1970 queried with negative stamps that no answer echoes (a timeout), an
    # end after 2038 raised a ValueEncodeError.
    stamps: list[int] = []

    def device(call: Call) -> bytes:
        assert call.stamp is not None
        stamps.append(call.stamp)
        payload = encode_value(DataType.TIMESERIES, (call.stamp, {t: 1.0 for t in (5000, 4700) if t <= call.stamp}))
        return make_frame(Command.RESPONSE, SERIES.object_id, payload)

    points = drive(history_op(SERIES, -86_400, 2**40), device)
    assert [int(p.timestamp.timestamp()) for p in points] == [4700, 5000]
    assert all(0 <= s <= 2**31 - 1 for s in stamps)
    assert drive(history_op(SERIES, -2000, -1000), device) == []

"""Properties of the device model with a controllable clock (hypothesis), and the cost of history."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rctclient.registry import REGISTRY
from rctclient.simulator import Clock, DeviceModel
from rctclient.simulator.model import period_start
from rctclient.types import DataType
from rctclient.utils import encode_value

from .conftest import NOON

# 2023-01-01 .. 2026-01-01: every season
starts = st.integers(min_value=1672531200, max_value=1767225600)
steps = st.lists(st.integers(min_value=1, max_value=6 * 3600), min_size=1, max_size=8)
seeds = st.integers(min_value=0, max_value=2**31)
FAST = settings(max_examples=15, deadline=None)

COUNTERS = [
    f"energy.e_{kind}_{period}"
    for kind in ("ac", "load", "grid_feed", "grid_load")
    for period in ("day", "month", "year", "total")
]


def _model(seed: int, start: int) -> tuple[DeviceModel, Clock]:
    clock = Clock(start, frozen=True)
    return DeviceModel(seed=seed, clock=clock), clock


def _same_period(period: str, a: float, b: float) -> bool:
    return period == "total" or period_start(period, a) == period_start(period, b)


@FAST
@given(seeds, starts, steps)
def test_energy_counters_never_decrease_within_their_period(seed: int, start: int, moves: list[int]) -> None:
    model, clock = _model(seed, start)
    before = {name: model.get(name) for name in COUNTERS}
    t0 = clock.now()
    for move in moves:
        clock.advance(move)
        now = {name: model.get(name) for name in COUNTERS}
        for name in COUNTERS:
            period = name.rsplit("_", 1)[1]
            if _same_period(period, t0, clock.now()):
                assert now[name] >= before[name] - 1e-6, name
            assert now[name] >= 0
        before, t0 = now, clock.now()


@FAST
@given(seeds, starts, steps)
def test_power_balance_soc_bounds_and_night(seed: int, start: int, moves: list[int]) -> None:
    model, clock = _model(seed, start)
    soc_min, soc_max = model.get("power_mng.soc_min"), model.get("power_mng.soc_max")
    for move in [0, *moves]:
        clock.advance(move)
        a = model.get("dc_conv.dc_conv_struct[0].p_dc")
        b = model.get("dc_conv.dc_conv_struct[1].p_dc")
        load = model.get("g_sync.p_ac_load_sum_lp")
        bat = model.get("g_sync.p_acc_lp")
        grid = model.get("g_sync.p_ac_grid_sum_lp")
        assert math.isclose(grid, load - (a + b) - bat, abs_tol=1e-6, rel_tol=1e-9)
        soc = model.get("battery.soc")
        assert 0.0 <= soc <= 1.0
        # the battery only charges below soc_max and only discharges above soc_min; one integration
        # step (5 minutes in the synthetic history before the start) may overshoot by that step's worth
        slack = model.params.max_charge_power * 300 / 3600 / model.params.battery_capacity
        assert soc_min - slack <= soc <= soc_max + slack
        assert a >= 0 and b >= 0
        if model._light(clock.now()) == 0.0 and model._light(clock.now() - 2400) == 0.0:  # night
            assert a == 0.0 and b == 0.0
            assert model.get("dc_conv.dc_conv_struct[0].u_sg_lp") == 0.0


@FAST
@given(seeds, starts, steps)
def test_same_seed_and_clock_same_values(seed: int, start: int, moves: list[int]) -> None:
    names = ["battery.soc", "g_sync.p_ac_grid_sum_lp", "energy.e_ac_year", "db.temp1", "grid_pll[0].f", *COUNTERS]
    one, clock_one = _model(seed, start)
    two, clock_two = _model(seed, start)
    for move in moves:
        clock_one.advance(move)
        clock_two.advance(move)
        assert [one.get(n) for n in names] == [two.get(n) for n in names]


def test_night_has_no_solar_power() -> None:
    midnight = NOON - NOON % 86400  # 00:00 UTC in June
    model, _ = _model(1, midnight + 3600)
    assert model.get("dc_conv.dc_conv_struct[0].p_dc") == 0.0
    assert model.get("dc_conv.dc_conv_struct[1].p_dc") == 0.0


@FAST
@given(seeds, starts)
def test_every_registry_oid_encodes_with_its_response_type(seed: int, start: int) -> None:
    model, _ = _model(seed, start)
    for info in REGISTRY.all():
        payload = model.encode(info)
        if info.response_data_type not in (DataType.TIMESERIES, DataType.EVENT_TABLE):
            value = model.get(info.name)
            if not isinstance(value, bytes):
                assert encode_value(info.response_data_type, value) == payload, info.name


@pytest.mark.parametrize(
    "name",
    [
        "energy.e_ac_year",
        "energy.e_load_month",
        "logger.year_eac_log_ts",
        "logger.month_eload_log_ts",
        "logger.day_egrid_feed_log_ts",
    ],
)
@pytest.mark.parametrize("start", [NOON, 1735603200 + 43200, 1719705600 + 43200])  # June 10, Dec 31, June 30
def test_first_read_of_long_history_is_cheap(name: str, start: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Counted work, not time: only the last detail_days synthetic days are integrated at the 5-minute
    # resolution (288 steps a day); a year counter used to integrate every day of the year.
    model, _ = _model(1, start)
    steps = 0
    step = model._step

    def counted(t: float, soc: float) -> Any:
        nonlocal steps
        steps += 1
        return step(t, soc)

    monkeypatch.setattr(model, "_step", counted)
    model.encode(REGISTRY.get_by_name(name))
    assert steps <= (model.params.detail_days + 2) * 288, f"first read of {name} integrated {steps} steps"

"""The plan (gated by what is present), the state (staleness, energy totals), the scheduler on a fake clock."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from rctclient.monitor.catalog import BY_OID, CATALOG
from rctclient.monitor.config import PollConfig
from rctclient.monitor.core import DeviceBack, DeviceLost, Identified, PlanChanged, PollCore, ReadTier, Wait
from rctclient.monitor.plan import Presence, build_plan
from rctclient.monitor.state import CounterReset, DeviceState

STATIC_OK: dict[str, Any] = {
    "inverter_sn": "SN1",
    "android_description": "roof",
    "svnversion": "v1",
    "power_mng.battery_type": 3,
    "rb485.available": False,
    "dc_conv.dc_conv_struct[0].enabled": True,
    "dc_conv.dc_conv_struct[1].enabled": False,
}


def test_catalog_keys_are_unique_and_metrics_have_units() -> None:
    assert len({q.key for q in CATALOG}) == len(CATALOG)
    units = ("_watts", "_volts", "_amperes", "_hertz", "_celsius", "_ohms", "_ratio", "_joules")
    for q in CATALOG:
        if q.metric is None or q.kind in ("enum",):
            continue
        assert q.metric.startswith("rct_")
        assert q.metric.endswith(units) or q.metric in (
            "rct_battery_status",
            "rct_island_mode",
            "rct_battery_cycles",
        ), q
        assert not q.metric.endswith("_total")  # counters get it from the client library
        if q.kind == "counter" and q.metric.endswith("_joules"):
            assert q.scale == 3600.0


def test_plan_gates_by_what_is_present() -> None:
    full = build_plan(PollConfig())
    bare = build_plan(PollConfig(), presence=Presence(battery=False, generator_b=False, power_switch=False))
    names = {q.oid for q in full.quantities()}
    bare_names = {q.oid for q in bare.quantities()}
    assert "battery.soc" in names and "battery.soc" not in bare_names
    assert "g_sync.p_acc_lp" not in bare_names
    assert "dc_conv.dc_conv_struct[1].p_dc" not in bare_names and "dc_conv.dc_conv_struct[0].p_dc" in bare_names
    assert "energy.e_dc_total[1]" not in bare_names
    assert "rb485.u_l_grid[0]" not in bare_names
    assert "power_mng.soc_target_set" not in names  # only with control
    assert "power_mng.soc_target_set" in {q.oid for q in build_plan(PollConfig(), control=True).quantities()}
    assert Presence.from_values({"power_mng.battery_type": 5}).battery is False
    assert Presence.from_values({"power_mng.battery_type": 0}).battery is False
    assert Presence.from_values({}, Presence(battery=False)).battery is False  # unread: keeps the last answer


def test_plan_add_and_remove_with_globs() -> None:
    poll = PollConfig(add={"slow": ("g_sync.q_ac[*]", "battery.soc")}, remove=("db.*",))
    plan = build_plan(poll)
    slow = plan.names("slow")
    assert "g_sync.q_ac[0]" in slow and "g_sync.q_ac[2]" in slow
    assert "battery.soc" in slow and "battery.soc" not in plan.names("fast")  # moved
    assert not any(name.startswith("db.") for q in plan.quantities() for name in [q.oid])
    generic = next(q for q in plan.tiers["slow"] if q.oid == "g_sync.q_ac[0]")
    assert generic.metric == "rct_value" and generic.key == "g_sync_q_ac_0"


def test_a_failed_read_keeps_the_value_until_three_intervals() -> None:
    plan = build_plan(PollConfig())
    state = DeviceState()
    soc = BY_OID["battery.soc"]
    state.update(soc, 0.5, mono=100.0, wall=1000.0)
    assert state.available(plan, 100.0 + 30.0)["battery.soc"].value == 0.5
    assert "battery.soc" not in state.available(plan, 100.0 + 30.1)
    state.update(soc, float("nan"), mono=131.0, wall=1031.0)  # not a value: ignored
    assert "battery.soc" not in state.available(plan, 131.0)


def test_energy_totals_never_go_backwards() -> None:
    state = DeviceState()
    total = BY_OID["energy.e_ac_total"]
    assert state.update(total, 1000.0, 0, 0) is None
    assert state.update(total, 0.0, 1, 1) is None  # a dip: held
    assert state.get("energy.e_ac_total") == 1000.0
    assert state.update(total, 1001.0, 2, 2) is None  # back up: it was a glitch
    assert state.update(total, 5.0, 3, 3) is None
    reset = state.update(total, 6.0, 4, 4)  # lower twice in a row: a reset
    assert reset == CounterReset("energy.e_ac_total", 1001.0, 6.0, lifetime=True)
    assert state.get("energy.e_ac_total") == 6.0 and state.counter_resets == 1
    feed = BY_OID["energy.e_grid_feed_total"]  # reported negative: compared by magnitude
    state.update(feed, -100.0, 0, 0)
    assert state.update(feed, -150.0, 1, 1) is None and state.get("energy.e_grid_feed_total") == -150.0
    assert state.update(feed, -120.0, 2, 2) is None and state.get("energy.e_grid_feed_total") == -150.0
    day = BY_OID["energy.e_ac_day"]
    state.update(day, 9000.0, 0, 0)
    state.update(day, 3.0, 1, 1)
    assert state.update(day, 10.0, 2, 2) == CounterReset("energy.e_ac_day", 9000.0, 10.0, lifetime=False)


class Script:
    """Drives a PollCore on a fake clock against a scripted device."""

    def __init__(self, poll: PollConfig | None = None) -> None:
        self.core = PollCore("dev", poll or PollConfig())
        self.now = 0.0
        self.reads: list[tuple[float, str]] = []
        self.notices: list[object] = []
        self.silent = False

    def answer(self, names: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, object]]:
        if self.silent:
            return {}, dict.fromkeys(names, "timeout")
        values = {name: STATIC_OK.get(name, 1.0) for name in names}
        return values, {}

    def run_until(self, end: float) -> None:
        while self.now < end:
            action = self.core.next_action(self.now)
            if isinstance(action, Wait):
                self.now = min(end, self.now + action.seconds)
                continue
            assert isinstance(action, ReadTier)
            self.reads.append((self.now, action.tier))
            values, errors = self.answer(action.names)
            self.now += 0.5
            self.notices += self.core.read_done(action.tier, values, errors, self.now, self.now, 0.5)


def test_static_first_then_tiers_in_step() -> None:
    s = Script()
    s.run_until(125.0)
    assert s.reads[0] == (0.0, "static")
    assert [type(n) for n in s.notices[:2]] == [Identified, PlanChanged]
    fast = [t for t, tier in s.reads if tier == "fast"]
    assert len(fast) == 13  # 0.5, then every 10 s in step (not drifting by the read time)
    assert all(abs((b - a) - 10.0) < 1e-9 for a, b in itertools.pairwise(fast[1:]))
    assert [tier for _, tier in s.reads].count("slow") == 3
    assert [tier for _, tier in s.reads].count("energy") == 1
    snap = s.core.snapshot(s.now, s.now, "fast", {})
    assert snap.serial == "SN1" and snap.up and snap.name == "roof"
    assert "dc_conv.dc_conv_struct[1].p_dc" not in snap.values  # generator B is not connected


def test_a_silent_device_backs_off_to_five_minutes_with_one_notice_each_way() -> None:
    s = Script()
    s.run_until(30.0)
    s.silent = True
    s.run_until(3600.0)
    lost = [n for n in s.notices if isinstance(n, DeviceLost)]
    assert len(lost) == 1 and lost[0].identified
    probes = [t for t, _ in s.reads if t > 30.0]
    gaps = [b - a for a, b in itertools.pairwise(probes)]
    assert max(gaps) <= 300.5 and gaps[-1] >= 299.5  # capped at 5 minutes
    assert gaps[:3] == pytest.approx([10.5, 20.5, 40.5], abs=0.01)  # doubling from the fast interval
    assert not s.core.up and s.core.snapshot(s.now, s.now, None, {}).values == {}
    s.silent = False
    s.run_until(4000.0)
    back = [n for n in s.notices if isinstance(n, DeviceBack)]
    assert len(back) == 1 and len([n for n in s.notices if isinstance(n, DeviceLost)]) == 1
    assert s.core.up


def test_a_device_that_cannot_be_identified_is_retried() -> None:
    s = Script()
    s.silent = True
    s.run_until(100.0)
    assert {tier for _, tier in s.reads} == {"static"}
    lost = [n for n in s.notices if isinstance(n, DeviceLost)]
    assert len(lost) == 1 and not lost[0].identified
    s.silent = False
    s.run_until(400.0)
    assert s.core.serial == "SN1" and any(tier == "fast" for _, tier in s.reads)


def test_a_static_read_without_serial_is_a_failure() -> None:
    core = PollCore("dev", PollConfig())
    action = core.next_action(0.0)
    assert isinstance(action, ReadTier) and action.tier == "static"
    notices = core.read_done("static", {"android_description": "x"}, {"inverter_sn": "timeout"}, 1.0, 1.0, 1.0)
    assert isinstance(notices[0], DeviceLost) and not core.identified
    assert isinstance(core.next_action(2.0), Wait)

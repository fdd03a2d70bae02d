"""A snapshot made by a PollCore on a scripted device (no I/O), for the exporters' tests."""

from __future__ import annotations

from typing import Any

from rctclient.monitor.config import PollConfig
from rctclient.monitor.core import PollCore, ReadTier
from rctclient.monitor.state import Snapshot

VALUES: dict[str, Any] = {
    "inverter_sn": "SN 1/x",
    "android_description": "Roof",
    "svnversion": "RCT-3.14",
    "parameter_file": "VDE",
    "power_mng.battery_type": 3,
    "battery.bms_sn": "BMS9",
    "rb485.available": False,
    "dc_conv.dc_conv_struct[0].enabled": True,
    "dc_conv.dc_conv_struct[1].enabled": True,
    "battery.soc": 0.5,
    "g_sync.p_ac_grid_sum_lp": -1234.5,
    "prim_sm.state": 13,
    "fault[0].flt": 0b100,
    "fault[1].flt": 0,
    "fault[2].flt": 0,
    "fault[3].flt": 0,
    "energy.e_grid_feed_total": -2_000_000.0,
    "energy.e_ac_total": 3_000_000.0,
    "battery.cycles": 42,
    "power_mng.use_grid_power_enable": True,
    "power_mng.soc_strategy": 4,
}


def make_snapshot(values: dict[str, Any] | None = None, *, control: bool = False, tiers: int = 4) -> Snapshot:
    """The snapshot after the static tier and ``tiers - 1`` more polls (fast, slow, energy)."""
    values = {**VALUES, **(values or {})}
    core = PollCore("site", PollConfig(), control=control)
    now = 0.0
    tier = None
    for _ in range(tiers):
        action = core.next_action(now)
        assert isinstance(action, ReadTier)
        answered = {n: values.get(n, 1.0 if not n.startswith("battery.module_sn") else "") for n in action.names}
        core.read_done(action.tier, answered, {}, now + 0.1, 1_700_000_000.0 + now, 0.1)
        tier = action.tier
    stats = {"requests": 10, "failed": 1, "frames": 9, "crc_errors": 1, "latency_count": 9, "latency_total": 0.5}
    return core.snapshot(now + 0.2, 1_700_000_000.0, tier, stats)

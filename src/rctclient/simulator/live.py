"""The device's values of the moment: measurements, battery state and counters, identity.

Three kinds, by how often they change:

* *fast* values (``_fast_values``): what the inverter measures now (powers, voltages, currents,
  temperatures, states); computed together for a clock window and cached;
* *slow* values (``_slow_getters``): counters and dates (battery cycles and Ah/Wh counters, state of
  health, log partitions, the clock): computed when read;
* *identity* (``_identity``): serial numbers, versions, capacities, set once and stored like
  settings (a config or a client may change them).

Hardware a device model does not have (battery modules beyond its count, a second tower, the whole
battery of an inverter, the Power Switch) answers zero or empty, each with a reason
(:meth:`Live.zero_reasons`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from ..registry import REGISTRY, ObjectInfo
from ..types import (
    BatteryModuleCellResistance,
    BatteryModuleCellStatus,
    BatteryModuleHistoryEntry,
    BatteryModuleResistance,
    BatteryModuleStatistics,
    BatteryModuleStatus,
    DataType,
)
from .devices import DeviceSpec
from .history import History
from .physics import DAY, SAMPLE, key, mix, period_start
from .values import zero_reasons as data_zero_reasons

__all__ = ["Live", "zero_of"]

_TOWERS = ("battery", "battery_placeholder[0]")  # the OID prefix of tower 1 and tower 2
_MODULE_SLOTS = 7  # module slots per tower in the registry
_CELLS = 24
_CELL_MAX_V = 3.45  # a full six-module tower stays below the 500 V over-voltage limit
_CELL_MIN_V = 2.9
_CELL_NOMINAL_V = 3.3
_MODULE_CURRENT = 20.0  # A, the BMS's charge and discharge limit away from full and empty
_TOWER2_SOC_OFFSET = 0.01  # parallel towers drift a little apart
_K_ISO, _K_RESCAN, _K_STAT, _K_RES, _K_FACTORY, _K_UPDATE = (
    key(k) for k in ["iso", "rescan", "stat", "res", "factory", "update"]
)
_STATS = ("u_min", "u_max", "t_min", "t_max")

#: OIDs of the battery outside the battery groups (zero on a device without one).
_BATTERY_OTHERS = frozenset(
    {
        "adc.u_acc",
        "g_sync.p_acc_lp",
        "net.soc_av",
        "p_buf_available",
        "power_mng.amp_hours",
        "power_mng.amp_hours_measured",
        "power_mng.bat_calib_days_in_advance",
        "power_mng.bat_calib_reqularity",
        "power_mng.bat_empty_full",
        "power_mng.bat_next_calib_date",
        "power_mng.battery_power",
        "power_mng.battery_power_extern",
        "power_mng.battery_type",
        "power_mng.calib_charge_power",
        "power_mng.maximum_charge_voltage",
        "power_mng.minimum_discharge_voltage",
        "power_mng.model.bat_power_change",
        "power_mng.n_batteries",
        "power_mng.soc_charge",
        "power_mng.soc_charge_power",
        "power_mng.soc_max",
        "power_mng.soc_min",
        "power_mng.soc_min_island",
        "power_mng.soc_strategy",
        "power_mng.soc_target_set",
        "power_mng.state",
        "power_mng.stop_charge_current",
        "power_mng.stop_discharge_current",
        "power_mng.stop_discharge_voltage_buffer",
        "power_mng.u_acc_lp",
        "power_mng.u_acc_mix_lp",
        "temperature.bat_temp_power_reduction",
    }
)
_BATTERY_PREFIXES = (
    "battery.",
    "battery_placeholder[",
    "acc_conv.",
    "bat_mng_struct.",
    "can_bus.",
    "power_mng.schedule[",
)


def zero_of(info: ObjectInfo) -> Any:
    """The zero of an OID's type (what absent hardware answers; for an ENUM its lowest value)."""
    dt = info.response_data_type
    if dt is DataType.ENUM:
        return min(info.enum_map) if info.enum_map else 0
    if dt is DataType.FLOAT:
        return 0.0
    if dt is DataType.BOOL:
        return False
    if dt is DataType.STRING:
        return ""
    if dt is DataType.UNKNOWN:
        return b""
    if dt is DataType.BATTERY_MODULE_STATUS:
        return BatteryModuleStatus({c: BatteryModuleCellStatus(0, 0, 0) for c in range(_CELLS)})
    if dt is DataType.BATTERY_MODULE_RESISTANCE:
        return BatteryModuleResistance({c: BatteryModuleCellResistance(0, 0.0) for c in range(_CELLS)})
    if dt is DataType.BATTERY_MODULE_STATISTICS:
        empty = BatteryModuleHistoryEntry(0, None, 0.0)
        return BatteryModuleStatistics(empty, empty, empty, empty)
    return 0


def _slot(name: str) -> int | None:
    """The module slot of a per-module OID (``...module_sn[3]``, ``...cells_stat[3].u_min.value``), else None."""
    for part in ("module_sn[", "stack_cycles[", "stack_software_version[", "cells[", "cells_resist[", "cells_stat["):
        at = name.find(part)
        if at >= 0:
            return int(name[at + len(part) : name.index("]", at)])
    return None


class Live(History):
    """The values of the moment of a device model (mixed into :class:`DeviceModel`)."""

    spec: DeviceSpec
    index: int
    _absent: dict[str, Any]
    _absent_reasons: dict[str, str]

    # -- identity and structure (set once) -------------------------------------------------------

    def _identity(self, seed: int) -> dict[str, Any]:
        """Serial numbers, versions and capacities of this device (stored like settings)."""
        spec, p = self.spec, self.params
        serial = f"{spec.serial}-{seed % 100000:05d}{self.index:03d}"
        out: dict[str, Any] = {
            "inverter_sn": serial,
            "android_description": f"{spec.title.split(' with ')[0].split(' (')[0]} (simulated)",
            "svnversion": spec.svnversion,
            "svnversion_last_known": spec.svnversion,
            "svnversion_factory": spec.svnversion_factory,
            "db.power_board.version_main": spec.power_board_version,
            "db.power_board.version_boot": spec.power_board_version & 0xFF00 | 0x01,
            "i_ac_max_set": round(p.inverter_power / 3 / 230 * 1.1, 1),
            "flash_rtc.time_stamp_factory": self.install - 45 * DAY - int(mix(self.seed, _K_FACTORY) * 60 * DAY),
            "flash_rtc.time_stamp_set": self.install + 10 * 3600,
        }
        span = max(0, self.start - self.install - DAY)
        out["flash_rtc.time_stamp_update"] = self.install + DAY + int(mix(self.seed, _K_UPDATE) * span)
        if spec.rb485_version:
            out["rb485.available"] = True
            out["rb485.version_main"] = spec.rb485_version
            out["rb485.version_boot"] = spec.rb485_version & 0xFF00 | 0x01
            out["rb485.phase_marker"] = 2
        if not p.has_battery:
            out["power_mng.battery_type"] = 0
            return out
        cells = p.cells_in_series
        out.update(
            {
                "power_mng.n_batteries": p.battery_modules * p.battery_towers,
                "power_mng.amp_hours": p.module_ah * p.battery_towers,
                "power_mng.maximum_charge_voltage": round(cells * _CELL_MAX_V, 1),
                "power_mng.minimum_discharge_voltage": round(cells * _CELL_MIN_V, 1),
                "battery.soc_target": 0.5,
            }
        )
        for tower in range(p.battery_towers):
            prefix = _TOWERS[tower]
            out[f"{prefix}.bms_sn"] = f"{spec.serial}B{tower}-{seed % 100000:05d}{self.index:03d}"
            out[f"{prefix}.bms_software_version"] = spec.bms_software_version
            out[f"{prefix}.bms_power_version"] = spec.bms_power_version
            out[f"{prefix}.ah_capacity"] = p.module_ah
            out[f"{prefix}.maximum_charge_voltage"] = round(cells * _CELL_MAX_V, 1)
            out[f"{prefix}.minimum_discharge_voltage"] = round(cells * _CELL_MIN_V, 1)
            for m in range(p.battery_modules):
                out[f"{prefix}.module_sn[{m}]"] = f"{spec.serial}M{tower}{m}-{seed % 100000:05d}{self.index:03d}"
                out[f"{prefix}.stack_software_version[{m}]"] = spec.stack_software_version
        out["battery.prog_sn"] = f"{spec.serial}P-{seed % 100000:05d}{self.index:03d}"
        out["battery.maximum_charge_voltage_constant_u"] = round(cells * (_CELL_MAX_V - 0.03), 1)
        out["battery.minimum_discharge_voltage_constant_u"] = round(cells * (_CELL_MIN_V + 0.1), 1)
        return out

    def _structure(self) -> None:
        """What absent hardware answers (zero), and why."""
        p, spec = self.params, self.spec
        absent: dict[str, Any] = {}
        reasons: dict[str, str] = {}
        for info in REGISTRY.all():
            name = info.name
            reason = None
            if not p.has_battery and (name.startswith(_BATTERY_PREFIXES) or name in _BATTERY_OTHERS):
                reason = "no battery: a solar inverter without one"
            elif name.startswith("battery_placeholder[") and p.battery_towers < 2:
                reason = "no second battery tower"
            elif name.startswith("rb485.") and not spec.rb485_version:
                reason = "no Power Switch installed"
            elif name.startswith(_TOWERS) and (slot := _slot(name)) is not None and slot >= p.battery_modules:
                reason = f"no module in slot {slot} (the tower has {p.battery_modules})"
            elif name.startswith("battery_placeholder[0].cells") and info.response_data_type is DataType.STRING:
                # typed STRING in the registry, the module structure on a real device (undocumented)
                reason = "the second tower's cell table: its format is undocumented, served empty"
            if reason is not None:
                absent[name] = zero_of(info)
                reasons[name] = reason
            elif name.startswith(_TOWERS) and name.endswith(".index"):
                reasons[name] = "the extreme value's cell (0 is the first cell)"
        self._absent = absent
        self._absent_reasons = reasons

    def zero_reasons(self) -> dict[str, str]:
        """OID name -> why it may be zero or empty on this device (the data file's and absent hardware)."""
        reasons = dict(data_zero_reasons())
        reasons.update(self._absent_reasons)
        return reasons

    # -- fast values: the measurements of the moment --------------------------------------------

    def _fast_values(self, t: float) -> dict[str, Any]:
        p = self.params
        soc = self._soc if p.has_battery else 0.0
        a, b = self._solar(t)
        load = self._load(t)
        pins = self._pins
        if "solar_a" not in pins and a:
            a = max(0.0, a + self._noise(1, t, 0.01 * a))
        if "solar_b" not in pins and b:
            b = max(0.0, b + self._noise(2, t, 0.01 * b))
        if "load" not in pins:
            load = max(0.0, load + self._noise(3, t, 8.0))
        a, b, load, bat = self._settle(a, b, load, soc)
        ac = a + b + bat
        grid = load - ac
        if -1e-6 < grid < 1e-6:
            grid = 0.0
        v: dict[str, Any] = {}
        self._generators(v, t, a, b)
        self._grid(v, t, ac, load, grid)
        running = a + b > 1 or abs(bat) > 1
        v["prim_sm.state"] = 13 if running else 2
        v["relays.bits_real"] = 0x000F if running else 0
        v["db.power_board.relays_state"] = 0x0007 if running else 0
        t_air = 18.0 + 8.0 * self._light(t)
        t_sink = t_air + abs(ac) / 250.0 + self._noise(11, t, 0.2)
        v["db.temp1"] = t_sink
        v["db.temp2"] = t_sink - 2.0
        v["db.core_temp"] = t_sink + 6.0
        v["db.power_board.Current_AC_RMS"] = 0.004 + 0.000002 * abs(ac) + abs(self._noise(13, t, 0.001))
        v["db.power_board.Current_Mean"] = 0.0004 + self._noise(14, t, 0.0002)
        v["db.power_board.Current_Mean_Mean_AC"] = 0.0003 + self._noise(15, t, 0.0001)
        self._insulation(v, t)
        v["p_rec_lim[0]"] = p.max_discharge_power if p.has_battery else p.inverter_power
        v["p_rec_lim[2]"] = p.inverter_power
        v["p_rec_req[0]"] = load
        v["p_rec_req[2]"] = max(0.0, ac)
        buffer = p.max_discharge_power if p.has_battery and soc > self._soc_limits()[0] else 0.0
        v["p_buf_available"] = buffer
        v["p_rec_available[0]"] = min(v["p_rec_lim[0]"], a + b + buffer)
        v["p_rec_available[2]"] = min(p.inverter_power, a + b + buffer)
        if p.has_battery:
            self._battery(v, t, soc, bat)
        return v

    def _generators(self, v: dict[str, Any], t: float, a: float, b: float) -> None:
        p = self.params
        producing = False
        for i, (power, peak) in enumerate(((a, p.peak_power_a), (b, p.peak_power_b))):
            u = self._string_voltage(power, peak, i)
            if u:
                u += self._noise(4 + i, t, 2.0)
                producing = True
            prefix = f"dc_conv.dc_conv_struct[{i}]"
            v[f"{prefix}.p_dc"] = power
            v[f"{prefix}.p_dc_lp"] = power
            v[f"{prefix}.u_sg_lp"] = u
            v[f"g_sync.u_sg_avg[{i}]"] = u
            v[f"{prefix}.u_target"] = round(u, 0) if u else 0.0  # the tracker's target, in whole volts
            v[f"{prefix}.rescan_correction"] = round((mix(self.seed, _K_RESCAN, i, int(t // DAY)) - 0.5) * 24.0, 1)
        day = period_start("day", t)
        # a global rescan every quarter of an hour while producing; the last one of the day after that
        afternoon = day + 16 * 3600 if t >= day + 16 * 3600 else day - DAY + 16 * 3600
        last = int(t // 900) * 900 if producing else afternoon
        v["dc_conv.last_rescan"] = max(self.install, min(last, int(t)))

    def _grid(self, v: dict[str, Any], t: float, ac: float, load: float, grid: float) -> None:
        p = self.params
        ul = [230.0 + 2.5 * (self._smooth(key(f"ul{i}"), t, 120) - 0.5) + self._noise(7 + i, t, 0.4) for i in range(3)]
        freq = 50.0 + 0.06 * (self._smooth(key("freq"), t, 60) - 0.5) + self._noise(10, t, 0.003)
        phases = [1 / 3 + 0.04 * (i - 1) for i in range(3)]
        # reactive power: cos phi(P) (1 up to half power, 0.95 under-excited at full), plus the filter's share
        share = max(0.0, ac) / max(p.inverter_power, 1.0)
        cos_phi = 1.0 if share <= 0.5 else 1.0 - 0.05 * min(1.0, (share - 0.5) / 0.5)
        q_total = -max(0.0, ac) * math.tan(math.acos(cos_phi)) - 36.0 + self._noise(16, t, 6.0)
        v["g_sync.p_ac_sum_lp"] = ac
        v["g_sync.p_ac_sum"] = ac
        v["g_sync.p_ac_load_sum_lp"] = load
        v["g_sync.p_ac_grid_sum_lp"] = grid
        v["g_sync.p_ac_sc_sum"] = grid
        v["g_sync.q_ac_sum_lp"] = q_total
        s_total = 0.0
        for i in range(3):
            p_i = ac / 3
            q_i = q_total / 3
            s_i = math.hypot(p_i, q_i)
            s_total += s_i
            v[f"g_sync.p_ac[{i}]"] = p_i
            v[f"g_sync.p_ac_lp[{i}]"] = p_i
            v[f"g_sync.q_ac[{i}]"] = q_i
            v[f"g_sync.s_ac[{i}]"] = s_i
            v[f"g_sync.s_ac_lp[{i}]"] = s_i
            v[f"g_sync.i_dr_eff[{i}]"] = s_i / ul[i]
            v[f"g_sync.i_dr_lp[{i}]"] = s_i / ul[i]
            v[f"g_sync.p_ac_load[{i}]"] = load * phases[i]
            v[f"g_sync.p_ac_sc[{i}]"] = grid * phases[i]
            v[f"g_sync.u_l_rms[{i}]"] = ul[i]
            v[f"g_sync.u_ptp_rms[{i}]"] = (ul[i] + ul[(i + 1) % 3]) / 2 * math.sqrt(3)
            if self.spec.rb485_version:
                v[f"rb485.u_l_grid[{i}]"] = ul[i] + 0.3
                v[f"rb485.f_grid[{i}]"] = freq
                v[f"rb485.f_wr[{i}]"] = freq
        v["g_sync.s_ac_sum_lp"] = s_total
        v["grid_pll[0].f"] = freq
        u_zk = 362.0 + self._noise(17, t, 1.5)
        v["g_sync.u_zk_p_avg"] = u_zk
        v["g_sync.u_zk_n_avg"] = u_zk - 1.2
        v["g_sync.u_zk_sum_avg"] = 2 * u_zk - 1.2
        v["g_sync.u_zk_sum_mov_avg"] = 2 * u_zk - 1.2
        v["power_mng.is_grid"] = True

    def _insulation(self, v: dict[str, Any], t: float) -> None:
        """Measured each morning: megaohms of a dry array, the same all day."""
        day = int(t // DAY)
        rp = 4.0e6 + 8.0e6 * mix(self.seed, _K_ISO, day, 0)
        rn = 4.0e6 + 8.0e6 * mix(self.seed, _K_ISO, day, 1)
        v["iso_struct.Rp"] = round(rp, -3)
        v["iso_struct.Rn"] = round(rn, -3)
        v["iso_struct.Riso"] = round(rp * rn / (rp + rn), -3)

    def _battery(self, v: dict[str, Any], t: float, soc: float, bat: float) -> None:
        p = self.params
        soc_min, soc_max = self._soc_limits()
        towers = p.battery_towers
        u = self._battery_voltage(soc, bat) + self._noise(6, t, 0.3)
        current = bat / towers / u
        t_bat = 21.0 + abs(bat) / 900.0 + self._noise(12, t, 0.1)
        v["battery.soc"] = soc
        v["g_sync.p_acc_lp"] = bat
        v["power_mng.battery_power"] = bat
        v["power_mng.u_acc_lp"] = u + 0.4
        v["power_mng.u_acc_mix_lp"] = u
        v["adc.u_acc"] = u + 0.4
        v["acc_conv.i_acc_lp_fast"] = bat / u
        v["acc_conv.i_acc_lp_slow"] = bat / u
        v["acc_conv.state_slow"] = 1 if abs(bat) > 1 else 0
        v["power_mng.state"] = 0 if abs(bat) <= 1 else (2 if bat > 0 else 1)
        v["power_mng.bat_empty_full"] = (1 if soc <= soc_min + 0.005 else 0) | (2 if soc >= soc_max - 0.005 else 0)
        v["net.soc_av"] = soc
        for tower in range(towers):
            prefix = _TOWERS[tower]
            tower_soc = soc if tower == 0 else max(0.0, min(1.0, soc - _TOWER2_SOC_OFFSET))
            tower_u = u + 0.2 * tower
            tower_t = t_bat - 0.4 * tower
            cell_u = tower_u / p.cells_in_series
            v[f"{prefix}.soc"] = tower_soc
            v[f"{prefix}.voltage"] = tower_u
            v[f"{prefix}.current"] = current
            v[f"{prefix}.temperature"] = tower_t
            v[f"{prefix}.max_cell_voltage"] = round(cell_u + 0.008, 3)
            v[f"{prefix}.min_cell_voltage"] = round(cell_u - 0.006, 3)
            v[f"{prefix}.max_cell_temperature"] = round(tower_t + 0.6, 1)
            v[f"{prefix}.min_cell_temperature"] = round(tower_t - 0.5, 1)
            # the BMS tapers its current limits near full and near empty
            v[f"{prefix}.maximum_charge_current"] = round(
                _MODULE_CURRENT * min(1.0, max(0.1, (1.0 - tower_soc) / 0.1)), 1
            )
            v[f"{prefix}.maximum_discharge_current"] = round(_MODULE_CURRENT * min(1.0, max(0.1, tower_soc / 0.1)), 1)
            v[f"{prefix}.soc_update_since"] = (t % 4.0) + 0.5

    # -- slow values: counters and dates, computed when read --------------------------------------

    def _slow_getters(self) -> dict[str, Callable[[], Any]]:
        p = self.params
        getters: dict[str, Callable[[], Any]] = {
            "flash_rtc.time_stamp": lambda: int(self._now()),
        }
        for i in range(7):
            getters[f"partition[{i}].last_id"] = partial(self._partition, i)
        if not p.has_battery:
            return getters
        getters.update(
            {
                "battery.cycles": lambda: self._battery_counters()[0],
                "battery.stored_energy": lambda: self._battery_counters()[1],
                "battery.used_energy": lambda: self._battery_counters()[2],
                "battery.charged_amp_hours": lambda: self._battery_counters()[3],
                "battery.discharged_amp_hours": lambda: self._battery_counters()[4],
                "battery.efficiency": lambda: self._battery_counters()[5],
                "battery.soh": lambda: self._soh(0),
                "power_mng.amp_hours_measured": lambda: round(p.module_ah * p.battery_towers * self._soh(0), 2),
                "power_mng.bat_next_calib_date": self._next_calibration,
            }
        )
        for tower in range(p.battery_towers):
            prefix = _TOWERS[tower]
            if tower:
                getters[f"{prefix}.soh"] = partial(self._soh, tower)
            for m in range(p.battery_modules):
                getters[f"{prefix}.stack_cycles[{m}]"] = lambda: self._battery_counters()[0]
                for stat in _STATS:
                    for field in ("index", "time", "value"):
                        name = f"{prefix}.cells_stat[{m}].{stat}.{field}"
                        getters[name] = partial(self._stat_field, tower, m, stat, field)
        return getters

    def _battery_counters(self) -> tuple[int, float, float, float, float, float]:
        """Cycles, Wh in and out, Ah in and out, efficiency, of tower 1 (each tower takes its share)."""
        now = self._now()
        self._advance(now)
        p = self.params
        towers = p.battery_towers
        stored = self._energy("bat_in", "total", now) / towers
        used = self._energy("bat_out", "total", now) / towers
        per_tower = p.battery_capacity / towers
        nominal = p.cells_in_series * _CELL_NOMINAL_V
        efficiency = used / stored if stored > 0 else 0.0
        return int(stored / per_tower), stored, used, stored / nominal, used / nominal, efficiency

    def _soh(self, tower: int) -> float:
        cycles = self._battery_counters()[0]
        years = (self._now() - self.install) / (365.25 * DAY)
        return round(max(0.7, 1.0 - 0.00004 * cycles - 0.008 * years - 0.005 * tower), 4)

    def _next_calibration(self) -> int:
        """The next monthly calibration charge (a date after now, by its nature)."""
        interval = int(self._stored.get("power_mng.bat_calib_reqularity", 30) or 30) * DAY
        done = (int(self._now()) - self.install) // interval
        return self.install + (done + 1) * interval

    def _partition(self, i: int) -> int:
        """Records written to log partition ``i`` since the commissioning (5-minute, hourly, daily, ...)."""
        age = max(0, int(self._now()) - self.install)
        per = (SAMPLE, 3600, DAY, 30 * DAY, 900, 3600, 600)[i]
        return age // per + 1

    def _stat_field(self, tower: int, module: int, stat: str, field: str) -> Any:
        entry = getattr(self._statistics(tower, module), stat)
        if field == "index":
            return entry.cell
        if field == "time":
            return int(entry.timestamp.timestamp()) if entry.timestamp else 0
        return entry.value

    # -- battery module structures -----------------------------------------------------------------

    def _statistics(self, tower: int, module: int) -> BatteryModuleStatistics:
        """The extreme cell voltages and temperatures a module has seen, and when."""
        base = self.install + min(30 * DAY, max(0, self.start - self.install) // 2)
        seed = (self.seed, _K_STAT, tower, module)

        def entry(i: int, value: float) -> BatteryModuleHistoryEntry:
            cell = int(mix(*seed, i) * _CELLS)
            when = datetime.fromtimestamp(base + int(mix(*seed, i, 1) * max(0, self.start - base)), UTC)
            return BatteryModuleHistoryEntry(cell, when, round(value, 3))

        r = mix(*seed, 9)
        return BatteryModuleStatistics(
            entry(0, 2.95 + 0.1 * r),
            entry(1, 3.44 + 0.04 * r),
            entry(2, 2.0 + 6 * r),
            entry(3, 36.0 + 8 * r),
        )

    def _battery_status(self, info: ObjectInfo) -> BatteryModuleStatus:
        module = _slot(info.name) or 0
        v = self._now_values()
        t = self._now()
        cell_v = v["battery.voltage"] / self.params.cells_in_series
        cells = {}
        for c in range(_CELLS):
            mv = int(1000 * cell_v + self._noise(100 + module * _CELLS + c, t, 6))
            temp = round(v["battery.temperature"] + self._noise(200 + module * _CELLS + c, t, 1.0))
            cells[c] = BatteryModuleCellStatus(max(0, temp), mv, 1)
        return BatteryModuleStatus(cells)

    def _battery_statistics(self, info: ObjectInfo) -> BatteryModuleStatistics:
        return self._statistics(0, _slot(info.name) or 0)

    def _battery_resistance(self, info: ObjectInfo) -> BatteryModuleResistance:
        module = _slot(info.name) or 0
        cells = {}
        for c in range(_CELLS):
            raw = int(256 * (0.8 + 0.4 * mix(self.seed, _K_RES, module, c)))
            cells[c] = BatteryModuleCellResistance(raw, raw / 256.0)
        return BatteryModuleResistance(cells)

    def _struct_getters(self) -> dict[str, Callable[[ObjectInfo], Any]]:
        getters: dict[str, Callable[[ObjectInfo], Any]] = {}
        for info in REGISTRY.all():
            dt = info.response_data_type
            if dt is DataType.BATTERY_MODULE_STATUS:
                getters[info.name] = self._battery_status
            elif dt is DataType.BATTERY_MODULE_STATISTICS:
                getters[info.name] = self._battery_statistics
            elif dt is DataType.BATTERY_MODULE_RESISTANCE:
                getters[info.name] = self._battery_resistance
        return getters

    def _now_values(self) -> dict[str, Any]:
        raise NotImplementedError  # the model's cache of the fast values

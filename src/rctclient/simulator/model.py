"""The device model: what a simulated inverter knows and how its values move with time.

Every OID of the registry has a value of its response type. Most are plain stored settings with a
sensible default; the headline measurements are computed from the time of day:

* solar generators A and B follow the sun (0 outside ``sunrise``..``sunset`` UTC, seasonal height,
  clouds that change every half hour), their voltages are 0 when there is no power;
* the household load has a base, morning and evening peaks and appliances switching on and off;
* the battery charges from surplus solar power and discharges to cover the load, within
  ``power_mng.soc_min``/``power_mng.soc_max`` and its power limits; its SOC integrates its power;
* grid power = load - solar - battery (positive = drawn from the grid, battery positive = discharge);
* energy counters (day, month, year, total) only grow within their period;
* temperatures, grid voltages and frequency carry small noise; the inverter state follows the power.

Everything is a pure function of the seed and the clock, except the battery, whose state is
integrated in steps of at most a minute. The model logs a sample every 5 minutes: the time series
OIDs (``logger.*_log_ts``) serve those samples, and synthetic history (computed day by day with the
same functions) for the time before the model was created. The history starts ``history_days``
before that. Only the last ``detail_days`` synthetic days are integrated at the 5-minute resolution
(their day energies are the sums of their 5-minute samples); the energies of older days come from a
coarse daily model (seasonal sun height, the day's clearness, mean load, one battery cycle), so that
the first read of a month or year counter or series costs milliseconds rather than a second. The
5-minute samples of older days are still served by the minutes series (computed per requested
page); their sums only approximate those coarse day energies.

SOC-like values are fractions 0..1 on the wire although the registry's unit says %.
"""

from __future__ import annotations

import math
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any

from ..exceptions import RctClientException
from ..registry import REGISTRY, ObjectInfo, Registry
from ..types import (
    BatteryModuleCellResistance,
    BatteryModuleCellStatus,
    BatteryModuleHistoryEntry,
    BatteryModuleResistance,
    BatteryModuleStatistics,
    BatteryModuleStatus,
    DataType,
    EventEntry,
    EventTable,
)
from ..utils import encode_value
from .clock import Clock

__all__ = ["DeviceModel", "ModelError", "ModelParams"]

_M64 = 0xFFFF_FFFF_FFFF_FFFF
_DAY = 86400
_SAMPLE = 300  # the logger's minute resolution: 5 minutes
_STEP = 60  # battery integration step
_KINDS = ("ac", "dc_a", "dc_b", "load", "feed", "grid_load", "ext")
_PERIODS = ("day", "month", "year")
_SIN16 = 0.5436465978599387  # mean of sin(pi x) ** 1.6 over 0..1 (the sun's height profile)
# load energy (Wh) of the morning and evening peaks: integrals of the Gaussians in _load
_PEAKS_WH = 900 * 0.7 * math.sqrt(math.pi) + 1400 * 1.5 * math.sqrt(math.pi)


class ModelError(RctClientException, ValueError):
    """A value that the model cannot take (the caller's fault): unknown OID name, or a value that does
    not fit the OID's type."""


def _mix(*parts: int) -> float:
    """A deterministic uniform number in [0, 1) from integers (splitmix64 finaliser)."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (p & _M64)) * 0xBF58476D1CE4E5B9 & _M64
        x ^= x >> 31
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & _M64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & _M64
    x ^= x >> 31
    return x / 18446744073709551616.0


def _key(name: str) -> int:
    return zlib.crc32(name.encode())


_K_CLOUD, _K_CLEAR, _K_LOAD, _K_SPIKE, _K_SOC0, _K_NOISE, _K_EVENT = (
    _key(k) for k in ["cloud", "clear", "load", "spike", "soc0", "noise", "event"]
)


@dataclass
class ModelParams:
    """The physical layout of the simulated installation (settable in the TOML config's ``[model]``)."""

    peak_power_a: float = 5200.0  # W, solar generator A at noon in June without clouds
    peak_power_b: float = 3400.0  # W, solar generator B
    base_load: float = 320.0  # W
    battery_capacity: float = 9600.0  # Wh
    max_charge_power: float = 4500.0  # W
    max_discharge_power: float = 4500.0  # W
    battery_modules: int = 3
    sunrise: float = 5.5  # hour of day, UTC (midsummer; shorter days in winter)
    sunset: float = 19.5
    history_days: int = 400  # how far back the logger's history goes
    detail_days: int = 7  # synthetic days before the start whose energies are 5-minute sums (older: coarse)
    minutes_page: int = 24  # points per time series answer (minutes: 2 hours)
    day_page: int = 20
    month_page: int = 12
    year_page: int = 10
    event_page: int = 16

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ModelParams:
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ModelError(f"unknown model parameter(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        params = cls()
        for name, value in data.items():
            current = getattr(params, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ModelError(f"model parameter {name} must be a number, got {value!r}")
            setattr(params, name, type(current)(value))
        return params


# --------------------------------------------------------------------------------------------------
# Period arithmetic (UTC)
# --------------------------------------------------------------------------------------------------


def period_start(period: str, t: float) -> int:
    """Start (UNIX time) of the minutes sample, day, month or year that contains ``t``."""
    if period == "minutes":
        return int(t // _SAMPLE) * _SAMPLE
    if period == "day":
        return int(t // _DAY) * _DAY
    d = datetime.fromtimestamp(int(t), UTC)
    d = (
        d.replace(day=1, hour=0, minute=0, second=0)
        if period == "month"
        else d.replace(month=1, day=1, hour=0, minute=0, second=0)
    )
    return int(d.timestamp())


def period_next(period: str, start: int) -> int:
    if period == "minutes":
        return start + _SAMPLE
    if period == "day":
        return start + _DAY
    d = datetime.fromtimestamp(start, UTC)
    if period == "month":
        d = d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1)
    else:
        d = d.replace(year=d.year + 1)
    return int(d.timestamp())


def period_prev(period: str, start: int) -> int:
    if period in ("minutes", "day"):
        return start - (_SAMPLE if period == "minutes" else _DAY)
    return period_start(period, start - 1)


# --------------------------------------------------------------------------------------------------
# Which OID shows what
# --------------------------------------------------------------------------------------------------

_SOLAR_PINS = {
    "dc_conv.dc_conv_struct[0].p_dc": "solar_a",
    "dc_conv.dc_conv_struct[0].p_dc_lp": "solar_a",
    "dc_conv.dc_conv_struct[1].p_dc": "solar_b",
    "dc_conv.dc_conv_struct[1].p_dc_lp": "solar_b",
    "g_sync.p_ac_load_sum_lp": "load",
}

_ENERGY_NAMES: dict[str, tuple[str, str]] = {}
for _period in (*_PERIODS, "total"):
    for _kind, _stem in (
        ("ac", "e_ac"),
        ("load", "e_load"),
        ("feed", "e_grid_feed"),
        ("grid_load", "e_grid_load"),
        ("ext", "e_ext"),
    ):
        _ENERGY_NAMES[f"energy.{_stem}_{_period}"] = (_kind, _period)
        _ENERGY_NAMES[f"energy.{_stem}_{_period}_sum"] = (_kind, _period)
    for _i, _kind in ((0, "dc_a"), (1, "dc_b")):
        _ENERGY_NAMES[f"energy.e_dc_{_period}[{_i}]"] = (_kind, _period)
        _ENERGY_NAMES[f"energy.e_dc_{_period}_sum[{_i}]"] = (_kind, _period)

# logger series: the name's middle part -> sampled quantity (minutes) or energy kind (day/month/year)
_SERIES_ENERGY = {
    "ea": "dc_a",
    "eb": "dc_b",
    "eac": "ac",
    "eload": "load",
    "egrid_feed": "feed",
    "egrid_load": "grid_load",
    "eext": "ext",
    "": "ac",
}

_DEFAULTS: dict[str, Any] = {
    "android_description": "rctclient simulator",
    "pas.period": 5,
    "power_mng.soc_min": 0.07,
    "power_mng.soc_max": 0.97,
    "power_mng.soc_min_island": 0.1,
    "battery.soc_target": 0.5,
    "battery.soc_target_low": 0.07,
    "battery.soc_target_high": 0.97,
    "power_mng.soc_strategy": 4,
    "power_mng.battery_type": 3,
    "battery.cycles": 412,
    "battery.ah_capacity": 50.0,
    "power_mng.amp_hours": 50.0,
    "power_mng.n_batteries": 3,
    "battery.maximum_charge_voltage": 460.0,
    "battery.minimum_discharge_voltage": 300.0,
    "grid_mon[0].u_over.threshold": 264.5,
    "grid_mon[0].u_under.threshold": 184.0,
    "grid_mon[0].f_over.threshold": 51.5,
    "grid_mon[0].f_under.threshold": 47.5,
    "nsm.p_limit": 30000.0,
    "dc_conv.dc_conv_struct[0].enabled": True,
    "dc_conv.dc_conv_struct[1].enabled": True,
}


@dataclass
class _Sample:
    """The state at a 5-minute mark."""

    t: int
    solar_a: float
    solar_b: float
    load: float
    battery: float
    soc: float

    @property
    def grid(self) -> float:
        return self.load - self.solar_a - self.solar_b - self.battery

    @property
    def ac(self) -> float:
        return self.solar_a + self.solar_b + self.battery


@dataclass
class _SyntheticDay:
    samples: list[_Sample]
    # energy per kind accumulated up to the end of sample i (Wh)
    cumulative: list[dict[str, float]] = field(default_factory=list)


def _energies(s: _Sample, seconds: float, into: dict[str, float]) -> None:
    h = seconds / 3600.0
    grid = s.grid
    if -1e-6 < grid < 1e-6:
        grid = 0.0
    into["ac"] += max(0.0, s.ac) * h
    into["dc_a"] += s.solar_a * h
    into["dc_b"] += s.solar_b * h
    into["load"] += s.load * h
    if grid >= 0:
        into["grid_load"] += grid * h
    else:
        into["feed"] += -grid * h


class DeviceModel:
    """The state of one simulated device.

    :param seed: everything random derives from it: same seed and clock, same values.
    :param clock: where the time comes from (default: a real-time :class:`Clock`).
    :param address: the device's address for PLANT commands.
    :param index: the device's position in a plant (varies serial number and values).
    :param params: the installation's layout.
    :param values: fixed values by OID name (served as they are).
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        clock: Clock | None = None,
        address: int = 0,
        index: int = 0,
        params: ModelParams | None = None,
        values: Mapping[str, Any] | None = None,
        registry: Registry = REGISTRY,
    ) -> None:
        self.seed = (int(seed) * 1000003 + index) & _M64
        self.clock = clock if clock is not None else Clock()
        self.address = address
        self.index = index
        self.params = params or ModelParams()
        self.registry = registry
        self._lock = threading.RLock()
        self._stored: dict[str, Any] = dict(_DEFAULTS)
        self._stored["inverter_sn"] = f"SIM{int(seed) % 100000:05d}{index:03d}"
        self._fixed: dict[str, Any] = {}
        self._pins: dict[str, float] = {}
        self.start = int(self.clock.now())
        self.install = period_start("day", self.start) - self.params.history_days * _DAY
        self._detail_from = period_start("day", self.start) - max(0, self.params.detail_days) * _DAY
        self._synthetic: OrderedDict[int, _SyntheticDay] = OrderedDict()
        self._synthetic_energy: dict[int, dict[str, float]] = {}
        self._log: OrderedDict[int, _Sample] = OrderedDict()
        self._live = dict.fromkeys(_KINDS, 0.0)
        self._marks: dict[tuple[str, int], dict[str, float]] = {}
        self._totals0 = {k: self.params.history_days * 45000.0 * (0.3 + _mix(self.seed, _key(k))) for k in _KINDS}
        self._totals0["ext"] = 0.0
        self._t: float = float(self.start)
        self._soc = self._synthetic_soc_at(self.start)
        self._cache_t = -1.0
        self._cache: dict[str, Any] = {}
        # encoded READ answers by OID name, valid as long as _cache (same clock window, no set())
        self._encoded: dict[str, bytes] = {}
        self._dynamic = self._dynamic_getters()
        if values:
            self.update(values, fixed=True)

    # -- pure functions of time ----------------------------------------------------------------

    def _smooth(self, key: int, t: float, knot: float) -> float:
        """Noise in [0, 1) that changes smoothly between knots ``knot`` seconds apart."""
        k = math.floor(t / knot)
        a, b = _mix(self.seed, key, k), _mix(self.seed, key, k + 1)
        f = (t / knot) - k
        f = (1 - math.cos(math.pi * f)) / 2
        return a + (b - a) * f

    def _light(self, t: float) -> float:
        """Relative irradiance 0..1 at ``t``."""
        p = self.params
        day_of_year = (t / _DAY) % 365.25
        season = math.cos(2 * math.pi * (day_of_year - 172) / 365.25)  # +1 in June, -1 in December
        half = (p.sunset - p.sunrise) / 2 * (1 + 0.22 * season) / 1.0
        noon = (p.sunset + p.sunrise) / 2
        hour = (t % _DAY) / 3600.0
        x = (hour - (noon - half)) / (2 * half)
        if x <= 0 or x >= 1:
            return 0.0
        height = float(math.sin(math.pi * x) ** 1.6) * (0.62 + 0.38 * season)
        clear = 0.25 + 0.75 * _mix(self.seed, _K_CLEAR, int(t // _DAY))
        cloud = clear + (1 - clear) * self._smooth(_K_CLOUD, t, 1800) * 0.6
        return max(0.0, min(1.0, height * min(1.0, cloud)))

    def _solar(self, t: float) -> tuple[float, float]:
        pins = self._pins
        a = pins.get("solar_a")
        b = pins.get("solar_b")
        if a is None:
            a = self.params.peak_power_a * self._light(t)
        if b is None:
            b = self.params.peak_power_b * self._light(t - 2400)  # faces west-ish: later in the day
        return a, b

    def _load(self, t: float) -> float:
        pin = self._pins.get("load")
        if pin is not None:
            return pin
        hour = (t % _DAY) / 3600.0
        load = self.params.base_load * (0.8 + 0.4 * self._smooth(_K_LOAD, t, 900))
        load += 900 * math.exp(-(((hour - 7.0) / 0.7) ** 2)) + 1400 * math.exp(-(((hour - 18.5) / 1.5) ** 2))
        slot = int(t // 600)
        if _mix(self.seed, _K_SPIKE, slot) > 0.85:  # an appliance runs for these 10 minutes
            load += 800 + 1800 * _mix(self.seed, _K_SPIKE, slot, 1)
        return load

    def _battery_power(self, soc: float, solar: float, load: float) -> float:
        """Battery power (positive = discharge) for the given state."""
        surplus = solar - load
        soc_min = float(self._stored.get("power_mng.soc_min", 0.07))
        soc_max = float(self._stored.get("power_mng.soc_max", 0.97))
        if surplus >= 0:
            return -min(surplus, self.params.max_charge_power) if soc < soc_max else 0.0
        return min(-surplus, self.params.max_discharge_power) if soc > soc_min else 0.0

    def _noise(self, name_key: int, t: float, amplitude: float) -> float:
        return (_mix(self.seed, _K_NOISE, name_key, int(t)) - 0.5) * 2 * amplitude

    def _step(self, t: float, soc: float, seconds: float) -> _Sample:
        a, b = self._solar(t)
        load = self._load(t)
        bat = self._battery_power(soc, a + b, load)
        return _Sample(int(t), a, b, load, bat, soc)

    def _soc_after(self, s: _Sample, seconds: float) -> float:
        cap = self.params.battery_capacity
        return max(0.0, min(1.0, s.soc - s.battery * seconds / 3600.0 / cap))

    # -- synthetic history (before the model was created) ---------------------------------------

    def _synthetic_day(self, day: int) -> _SyntheticDay:
        cached = self._synthetic.get(day)
        if cached is not None:
            self._synthetic.move_to_end(day)
            return cached
        soc = 0.15 + 0.6 * _mix(self.seed, _K_SOC0, day // _DAY)
        samples: list[_Sample] = []
        cumulative: list[dict[str, float]] = []
        acc = dict.fromkeys(_KINDS, 0.0)
        for i in range(_DAY // _SAMPLE):
            s = self._step(day + i * _SAMPLE, soc, _SAMPLE)
            samples.append(s)
            _energies(s, _SAMPLE, acc)
            cumulative.append(dict(acc))
            soc = self._soc_after(s, _SAMPLE)
        result = _SyntheticDay(samples, cumulative)
        self._synthetic[day] = result
        if len(self._synthetic) > 40:
            self._synthetic.popitem(last=False)
        return result

    def _synthetic_soc_at(self, t: int) -> float:
        day = self._synthetic_day(period_start("day", t))
        s = day.samples[(t % _DAY) // _SAMPLE]
        return self._soc_after(s, t % _SAMPLE)

    def _synthetic_day_energy(self, day: int, until: int | None = None) -> dict[str, float]:
        """Energy per kind of synthetic day ``day``, up to ``until`` (default: the whole day)."""
        if day < self.install:
            return dict.fromkeys(_KINDS, 0.0)
        if until is None:
            cached = self._synthetic_energy.get(day)
            if cached is None:
                if day < self._detail_from:
                    cached = self._coarse_day_energy(day)
                else:
                    cached = self._synthetic_day(day).cumulative[-1]
                self._synthetic_energy[day] = cached
            return cached
        n = (until - day) // _SAMPLE
        days = self._synthetic_day(day)
        acc = dict(days.cumulative[n - 1]) if n > 0 else dict.fromkeys(_KINDS, 0.0)
        rest = (until - day) % _SAMPLE
        if rest and n < len(days.samples):
            _energies(days.samples[n], rest, acc)
        return acc

    def _coarse_day_energy(self, day: int) -> dict[str, float]:
        """Energy per kind of an old synthetic day from a daily model (no 5-minute integration)."""
        p = self.params
        season = math.cos(2 * math.pi * (((day + _DAY / 2) / _DAY) % 365.25 - 172) / 365.25)
        daylight = (p.sunset - p.sunrise) * (1 + 0.22 * season)  # hours
        clear = 0.25 + 0.75 * _mix(self.seed, _K_CLEAR, day // _DAY)
        sun_hours = _SIN16 * max(0.0, daylight) * (0.62 + 0.38 * season) * min(1.0, clear + (1 - clear) * 0.3)
        solar_a = p.peak_power_a * sun_hours
        solar_b = p.peak_power_b * sun_hours
        solar = solar_a + solar_b
        spikes = 144 * 0.15 * (800 + 900) / 6 * (0.5 + _mix(self.seed, _K_SPIKE, day // _DAY))
        load = p.base_load * 24 + _PEAKS_WH + spikes
        day_load = load * max(0.0, min(daylight, 24.0)) / 24
        surplus = max(0.0, solar - 0.8 * day_load)  # solar not used in the house at once
        soc_min = float(self._stored.get("power_mng.soc_min", 0.07))
        soc_max = float(self._stored.get("power_mng.soc_max", 0.97))
        usable = p.battery_capacity * max(0.0, soc_max - soc_min)
        charge = min(surplus, usable, p.max_charge_power * max(0.0, daylight))
        discharge = min(charge, 0.85 * max(0.0, load - (solar - surplus)))
        grid_load = max(0.0, load - (solar - surplus) - discharge)
        return {
            "ac": max(0.0, solar - charge + discharge),
            "dc_a": solar_a,
            "dc_b": solar_b,
            "load": load,
            "feed": surplus - charge,
            "grid_load": grid_load,
            "ext": 0.0,
        }

    def _synthetic_base(self, period: str, start: int) -> dict[str, float]:
        """Energy of period ``start`` accumulated before the model was created."""
        key = ("base:" + period, start)
        cached = self._marks.get(key)
        if cached is not None:
            return cached
        acc = dict.fromkeys(_KINDS, 0.0)
        end = min(period_next(period, start), self.start)
        day = start
        while day < end:
            part = self._synthetic_day_energy(day, until=end if end < day + _DAY else None)
            for k in _KINDS:
                acc[k] += part[k]
            day += _DAY
        self._marks[key] = acc
        return acc

    # -- live integration ------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        t = self._t
        if now <= t:
            return
        while t < now:
            nxt = min(now, (t // _STEP + 1) * _STEP)
            s = self._step(t, self._soc, nxt - t)
            _energies(s, nxt - t, self._live)
            self._soc = self._soc_after(s, nxt - t)
            t = nxt
            if t % _SAMPLE == 0:
                t_int = int(t)
                a, b = self._solar(t)
                load = self._load(t)
                self._log[t_int] = _Sample(t_int, a, b, load, self._battery_power(self._soc, a + b, load), self._soc)
                if len(self._log) > 12 * 24 * 35:
                    self._log.popitem(last=False)
                if t_int % _DAY == 0:
                    for period in _PERIODS:
                        if period_start(period, t_int) == t_int:
                            self._marks[(period, t_int)] = dict(self._live)
        self._t = t

    def _energy(self, kind: str, period: str, now: float) -> float:
        if period == "total":
            return self._totals0[kind] + self._live[kind]
        return self._period_energy(kind, period, period_start(period, now), now)

    def _period_energy(self, kind: str, period: str, start: int, now: float) -> float:
        """Energy of kind ``kind`` in the period starting at ``start``, as far as it went by ``now``."""
        if start < self.install:
            return 0.0
        end = period_next(period, start)
        if end <= self.start:  # entirely before the model: synthetic
            acc = 0.0
            day = start
            while day < end:
                acc += self._synthetic_day_energy(day)[kind]
                day += _DAY
            return acc
        base = self._synthetic_base(period, start)[kind] if start <= self.start else 0.0
        begin = self._marks.get((period, start), {}).get(kind, 0.0) if start > self.start else 0.0
        finish = self._marks.get((period, end), {}).get(kind) if end <= now else None
        return base + (self._live[kind] if finish is None else finish) - begin

    # -- values ----------------------------------------------------------------------------------

    def _now_values(self) -> dict[str, Any]:
        """The computed values at the clock's current time (cached while it does not move)."""
        now = self.clock.now()
        if now == self._cache_t or (0 <= now - self._cache_t < 0.05):
            return self._cache
        self._advance(now)
        t = now
        a, b = self._solar(t)
        pins = self._pins
        if "solar_a" not in pins:
            a = max(0.0, a + (self._noise(1, t, 0.01 * a) if a else 0.0))
        if "solar_b" not in pins:
            b = max(0.0, b + (self._noise(2, t, 0.01 * b) if b else 0.0))
        load = self._load(t) + (0.0 if "load" in pins else self._noise(3, t, 8.0))
        bat = self._battery_power(self._soc, a + b, load)
        grid = load - a - b - bat
        if -1e-6 < grid < 1e-6:
            grid = 0.0
        ac = a + b + bat
        soc = self._soc
        ua = (
            0.0 if a <= 0 else 300.0 + 150.0 * min(1.0, a / max(self.params.peak_power_a, 1.0)) + self._noise(4, t, 2.0)
        )
        ub = (
            0.0 if b <= 0 else 290.0 + 150.0 * min(1.0, b / max(self.params.peak_power_b, 1.0)) + self._noise(5, t, 2.0)
        )
        ubat = 330.0 + 110.0 * soc + bat * -0.004 + self._noise(6, t, 0.3)
        ul = [230.0 + 2.5 * (self._smooth(_key(f"ul{i}"), t, 120) - 0.5) + self._noise(7 + i, t, 0.4) for i in range(3)]
        freq = 50.0 + 0.06 * (self._smooth(_key("freq"), t, 60) - 0.5) + self._noise(10, t, 0.003)
        t_air = 18.0 + 8.0 * self._light(t)
        t_sink = t_air + abs(ac) / 250.0 + self._noise(11, t, 0.2)
        t_bat = 21.0 + abs(bat) / 900.0 + self._noise(12, t, 0.1)
        phases = [1 / 3 + 0.04 * (i - 1) for i in range(3)]
        v: dict[str, Any] = {
            "dc_conv.dc_conv_struct[0].p_dc": a,
            "dc_conv.dc_conv_struct[0].p_dc_lp": a,
            "dc_conv.dc_conv_struct[1].p_dc": b,
            "dc_conv.dc_conv_struct[1].p_dc_lp": b,
            "dc_conv.dc_conv_struct[0].u_sg_lp": ua,
            "dc_conv.dc_conv_struct[1].u_sg_lp": ub,
            "g_sync.u_sg_avg[0]": ua,
            "g_sync.u_sg_avg[1]": ub,
            "battery.soc": soc,
            "g_sync.p_acc_lp": bat,
            "power_mng.battery_power": bat,
            "battery.voltage": ubat,
            "power_mng.u_acc_lp": ubat,
            "power_mng.u_acc_mix_lp": ubat,
            "battery.current": bat / ubat,
            "battery.temperature": t_bat,
            "g_sync.p_ac_load_sum_lp": load,
            "g_sync.p_ac_grid_sum_lp": grid,
            "g_sync.p_ac_sc_sum": grid,
            "g_sync.p_ac_sum_lp": ac,
            "g_sync.p_ac_sum": ac,
            "grid_pll[0].f": freq,
            "db.temp1": t_sink,
            "db.temp2": t_sink - 2.0,
            "db.core_temp": t_sink + 6.0,
            "prim_sm.state": 13 if (a + b > 1 or abs(bat) > 1) else 2,
            "power_mng.is_grid": True,
        }
        for i in range(3):
            v[f"g_sync.p_ac_load[{i}]"] = load * phases[i]
            v[f"g_sync.p_ac_sc[{i}]"] = grid * phases[i]
            v[f"g_sync.p_ac_lp[{i}]"] = ac / 3
            v[f"g_sync.p_ac[{i}]"] = ac / 3
            v[f"g_sync.u_l_rms[{i}]"] = ul[i]
            v[f"rb485.u_l_grid[{i}]"] = ul[i] + 0.3
            v[f"g_sync.u_ptp_rms[{i}]"] = (ul[i] + ul[(i + 1) % 3]) / 2 * math.sqrt(3)
            v[f"rb485.f_grid[{i}]"] = freq
            v[f"rb485.f_wr[{i}]"] = freq
        self._cache = v
        self._cache_t = now
        self._encoded.clear()
        return v

    def _dynamic_getters(self) -> dict[str, Callable[[ObjectInfo], Any]]:
        getters: dict[str, Callable[[ObjectInfo], Any]] = {}
        for info in self.registry.all():
            dt = info.response_data_type
            if dt is DataType.BATTERY_MODULE_STATUS:
                getters[info.name] = self._battery_status
            elif dt is DataType.BATTERY_MODULE_STATISTICS:
                getters[info.name] = self._battery_statistics
            elif dt is DataType.BATTERY_MODULE_RESISTANCE:
                getters[info.name] = self._battery_resistance
        return getters

    @staticmethod
    def _module_of(info: ObjectInfo) -> int:
        return int(info.name.rsplit("[", 1)[1].rstrip("]"))

    def _battery_status(self, info: ObjectInfo) -> BatteryModuleStatus:
        module = self._module_of(info)
        v = self._now_values()
        t = self.clock.now()
        present = module < self.params.battery_modules
        cells = {}
        for c in range(24):
            if not present:
                cells[c] = BatteryModuleCellStatus(0, 0, 0)
                continue
            mv = 3250 + int(180 * v["battery.soc"]) + int(self._noise(100 + module * 24 + c, t, 6))
            temp = round(v["battery.temperature"] + self._noise(200 + module * 24 + c, t, 1.0))
            cells[c] = BatteryModuleCellStatus(max(0, temp), mv, 1)
        return BatteryModuleStatus(cells)

    def _battery_statistics(self, info: ObjectInfo) -> BatteryModuleStatistics:
        module = self._module_of(info)
        if module >= self.params.battery_modules:
            empty = BatteryModuleHistoryEntry(0, None, 0.0)
            return BatteryModuleStatistics(empty, empty, empty, empty)
        base = self.install + _DAY * 30

        def entry(i: int, value: float) -> BatteryModuleHistoryEntry:
            cell = int(_mix(self.seed, module, i) * 24)
            when = datetime.fromtimestamp(base + int(_mix(self.seed, module, i, 1) * (self.start - base)), UTC)
            return BatteryModuleHistoryEntry(cell, when, value)

        r = _mix(self.seed, module, 9)
        return BatteryModuleStatistics(
            entry(0, 2.95 + 0.1 * r), entry(1, 3.62 + 0.05 * r), entry(2, 2.0 + 6 * r), entry(3, 36.0 + 8 * r)
        )

    def _battery_resistance(self, info: ObjectInfo) -> BatteryModuleResistance:
        module = self._module_of(info)
        present = module < self.params.battery_modules
        cells = {}
        for c in range(24):
            raw = int(256 * (0.8 + 0.4 * _mix(self.seed, module, c, 7))) if present else 0
            cells[c] = BatteryModuleCellResistance(raw, raw / 256.0)
        return BatteryModuleResistance(cells)

    def _default(self, info: ObjectInfo) -> Any:
        dt = info.response_data_type
        if dt is DataType.FLOAT:
            return 0.0
        if dt is DataType.BOOL:
            return False
        if dt is DataType.STRING:
            return ""
        if dt is DataType.UNKNOWN:
            return b""
        if dt is DataType.ENUM:
            return min(info.enum_map) if info.enum_map else 0
        return 0

    def info(self, name: str) -> ObjectInfo:
        try:
            return self.registry.get_by_name(name)
        except KeyError as exc:
            raise ModelError(str(exc)) from None

    def get(self, name: str) -> Any:
        """The value that a READ of OID ``name`` answers with now (for the time series OIDs: ``timeseries``)."""
        info = self.info(name)
        with self._lock:
            return self._get(info)

    def _get(self, info: ObjectInfo) -> Any:
        name = info.name
        fixed = self._fixed
        if name in fixed:
            return fixed[name]
        dt = info.response_data_type
        if dt is DataType.TIMESERIES or dt is DataType.EVENT_TABLE:
            header, points = self.history(info, int(self.clock.now()))
            return header, dict(points)
        getter = self._dynamic.get(name)
        if getter is not None:
            return getter(info)
        if name in self._stored:
            return self._stored[name]
        energy = _ENERGY_NAMES.get(name)
        if energy is not None:
            now = self.clock.now()
            self._advance(now)
            return self._energy(energy[0], energy[1], now)
        now_values = self._now_values()
        if name in now_values:
            return now_values[name]
        return self._default(info)

    def encode(self, info: ObjectInfo) -> bytes:
        """The payload of the answer to a READ of ``info``."""
        dt = info.response_data_type
        name = info.name
        if (dt is DataType.TIMESERIES or dt is DataType.EVENT_TABLE) and name not in self._fixed:
            return self.encode_history(info, int(self.clock.now()))
        with self._lock:
            # Values only change when the clock leaves the window of the computed values or on set():
            # repeated reads in between are answered with the payload encoded the first time.
            now = self.clock.now()
            if now == self._cache_t or 0 <= now - self._cache_t < 0.05:
                payload = self._encoded.get(name)
                if payload is not None:
                    return payload
            else:
                self._now_values()
            value = self._get(info)
            if isinstance(value, bytes) and dt not in (DataType.UNKNOWN, DataType.STRING):
                payload = value
            else:
                payload = encode_value(dt, value)
            self._encoded[name] = payload
            return payload

    def _check(self, info: ObjectInfo, value: Any) -> Any:
        """Normalise ``value`` for ``info`` (JSON gives 1 for 1.0 and 1.0 for 1) or raise ModelError."""
        dt = info.response_data_type
        if dt in (DataType.TIMESERIES, DataType.EVENT_TABLE) or dt >= DataType.BATTERY_MODULE_STATUS:
            if dt >= DataType.BATTERY_MODULE_STATUS and not isinstance(value, bool | int | float | str):
                return value  # a dataclass value, checked by encode below
            raise ModelError(f"{info.name}: {dt.name} values are generated by the model and cannot be set")
        if dt is DataType.FLOAT and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        elif dt in (DataType.BOOL,) and isinstance(value, int | float):
            value = bool(value)
        elif dt not in (DataType.FLOAT, DataType.STRING, DataType.UNKNOWN, DataType.BOOL):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if not isinstance(value, int) or isinstance(value, bool):
                raise ModelError(f"{info.name}: expected an integer for {dt.name}, got {value!r}")
        try:
            encode_value(dt, value)
        except ValueError as exc:
            raise ModelError(f"{info.name}: {exc}") from None
        return value

    def set(self, name: str, value: Any, *, fixed: bool = False) -> None:
        """Set OID ``name`` to ``value``.

        Settings are stored (and may change the model's behaviour, e.g. ``power_mng.soc_min``).
        ``battery.soc`` sets the battery's state, which goes on integrating from there; the solar
        generator powers and the household load pin those inputs of the model (grid and battery
        follow). Any other computed value, and any value with ``fixed=True``, is served as given
        until :meth:`release` (a replayed snapshot). ``None`` releases.
        """
        info = self.info(name)
        with self._lock:
            if value is None:
                self.release(name)
                return
            value = self._check(info, value)
            if fixed:
                self._fixed[name] = value
            elif name == "battery.soc":
                self._advance(self.clock.now())
                self._soc = max(0.0, min(1.0, float(value)))
            elif name in _SOLAR_PINS:
                self._advance(self.clock.now())
                self._pins[_SOLAR_PINS[name]] = float(value)
            elif name in self._now_values() or name in self._dynamic:
                self._fixed[name] = value
            else:
                self._stored[name] = value
            self._cache_t = -1.0
            self._encoded.clear()

    def release(self, name: str) -> None:
        """Let the model compute ``name`` again (undo a fixed value or a pinned input)."""
        with self._lock:
            self._fixed.pop(name, None)
            pin = _SOLAR_PINS.get(name)
            if pin is not None:
                self._pins.pop(pin, None)
            self._cache_t = -1.0
            self._encoded.clear()

    def update(self, values: Mapping[str, Any], *, fixed: bool = False) -> None:
        """Set many values; unknown names are reported all at once (a ModelError naming them)."""
        unknown = [name for name in values if name not in self.registry]
        if unknown:
            raise ModelError(f"unknown OID name(s): {', '.join(sorted(unknown))}")
        for name, value in values.items():
            self.set(name, value, fixed=fixed)

    def write(self, info: ObjectInfo, value: Any) -> None:
        """A client wrote ``value`` (decoded with the request type): store it."""
        with self._lock:
            if info.response_data_type in (DataType.TIMESERIES, DataType.EVENT_TABLE):
                return
            self.set(info.name, value)

    def snapshot(self, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Current values of the plain (non-composite) OIDs, by name: the snapshot format's ``values``."""
        out: dict[str, Any] = {}
        with self._lock:
            for info in self.registry.all() if names is None else (self.info(n) for n in names):
                if info.response_data_type >= DataType.TIMESERIES or info.response_data_type is DataType.UNKNOWN:
                    continue
                out[info.name] = self._get(info)
        return out

    # -- history: time series and event table ----------------------------------------------------

    def _sample_at(self, t: int) -> _Sample:
        if t > self.start:
            s = self._log.get(t)
            if s is not None:
                return s
        day = period_start("day", t)
        return self._synthetic_day(day).samples[(t - day) // _SAMPLE]

    def _minutes_value(self, what: str, s: _Sample) -> float:
        t = s.t
        if what == "ea":
            return s.solar_a
        if what == "eb":
            return s.solar_b
        if what == "eac":
            return max(0.0, s.ac)
        if what in ("eac1", "eac2", "eac3"):
            return max(0.0, s.ac) / 3
        if what == "ebat":
            return s.battery
        if what == "eload":
            return s.load
        if what == "egrid_feed":
            return max(0.0, -s.grid)
        if what == "egrid_load":
            return max(0.0, s.grid)
        if what in ("soc",):
            return s.soc
        if what == "soc_targ":
            return float(self._stored.get("battery.soc_target", 0.5))
        if what == "ua":
            return 0.0 if s.solar_a <= 0 else 300.0 + 150.0 * s.solar_a / self.params.peak_power_a
        if what == "ub":
            return 0.0 if s.solar_b <= 0 else 290.0 + 150.0 * s.solar_b / self.params.peak_power_b
        if what == "ubat":
            return 330.0 + 110.0 * s.soc
        if what in ("ul1", "ul2", "ul3"):
            return 230.0 + 2.5 * (self._smooth(_key("ul" + str(int(what[2]) - 1)), t, 120) - 0.5)
        if what == "temp":
            return 18.0 + 8.0 * self._light(t) + abs(s.ac) / 250.0
        if what == "temp2":
            return 16.0 + 8.0 * self._light(t) + abs(s.ac) / 250.0
        if what == "temp_bat":
            return 21.0 + abs(s.battery) / 900.0
        return 0.0  # eext and anything unknown

    def history(self, info: ObjectInfo, before: int) -> tuple[int, list[tuple[int, Any]]]:
        """One page of a time series or the event table: ``(header, [(timestamp, value)])``, newest first.

        The points are those logged at or before ``before`` (and not after the clock's now).
        """
        with self._lock:
            now = self.clock.now()
            self._advance(now)
            header = max(0, min(before, 0xFFFFFFFF))
            upto = int(min(before, now))
            if info.response_data_type is DataType.EVENT_TABLE:
                return header, self._events(upto)
            name = info.name
            middle = name[len("logger.") : -len("_log_ts")]
            period, _, what = middle.partition("_")
            points: list[tuple[int, Any]] = []
            if period == "minutes":
                t = period_start("minutes", upto)
                while len(points) < self.params.minutes_page and t >= self.install:
                    points.append((t, self._minutes_value(what, self._sample_at(t))))
                    t -= _SAMPLE
                return header, points
            if period not in _PERIODS:
                return header, points
            kind = _SERIES_ENERGY.get(what, "ac")
            page = {"day": self.params.day_page, "month": self.params.month_page, "year": self.params.year_page}[period]
            t = period_start(period, upto)
            while len(points) < page and t >= period_start(period, self.install):
                points.append((t, self._period_energy(kind, period, t, now)))
                t = period_prev(period, t)
            return header, points

    def _events(self, upto: int) -> list[tuple[int, Any]]:
        out: list[tuple[int, Any]] = []
        day = period_start("day", upto)
        while len(out) < self.params.event_page and day >= self.install:
            n = int(_mix(self.seed, _K_EVENT, day) * 3)
            stamps = sorted((day + int(_mix(self.seed, _K_EVENT, day, i) * _DAY), i) for i in range(n))
            for stamp, i in reversed(stamps):
                if stamp > upto or len(out) >= self.params.event_page:
                    continue
                kind = _mix(self.seed, _K_EVENT, day, i, 1)
                entry_type = ord("F") if kind < 0.4 else ord("W") if kind < 0.8 else ord("S")
                end = stamp + 60 + int(_mix(self.seed, _K_EVENT, day, i, 2) * 3600)
                code = int(_mix(self.seed, _K_EVENT, day, i, 3) * 128)
                when = datetime.fromtimestamp(stamp, UTC)
                out.append((stamp, EventEntry(entry_type, when, min(end, 0xFFFFFFFF), code, 0)))
            day -= _DAY
        return out

    def encode_history(self, info: ObjectInfo, before: int) -> bytes:
        header, points = self.history(info, before)
        if info.response_data_type is DataType.EVENT_TABLE:
            return encode_value(
                DataType.EVENT_TABLE,
                EventTable(datetime.fromtimestamp(header, UTC), tuple(entry for _, entry in points)),
            )
        return encode_value(DataType.TIMESERIES, (header, dict(points)))

"""What the installation does at a moment: sun, household load, battery and the power balance.

Everything here is a pure function of the seed and the time (and of the battery's state of charge
and the settings passed in): the same seed and time give the same values.

* solar generators A and B follow the sun (0 outside ``sunrise``..``sunset`` UTC, seasonal height,
  clouds that change every half hour); B faces west-ish (40 minutes later);
* the household load has a base, morning and evening peaks and appliances switching on and off;
* the battery charges from surplus solar power and discharges to cover the load, within
  ``power_mng.soc_min``/``soc_max`` and its power limits (charging stores 95 % of the energy);
* the inverter feeds at most its AC power and the grid at most the feed-in limit: above them the
  generators are curtailed (the MPP trackers move off the maximum power point).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .params import ModelParams

__all__ = ["DAY", "SAMPLE", "Physics", "Sample", "key", "mix", "period_next", "period_prev", "period_start"]

M64 = 0xFFFF_FFFF_FFFF_FFFF
DAY = 86400
SAMPLE = 300  # the logger's minute resolution: 5 minutes
CHARGE_EFFICIENCY = 0.95  # of the energy going into the battery, what it stores


def mix(*parts: int) -> float:
    """A deterministic uniform number in [0, 1) from integers (splitmix64 finaliser)."""
    x = 0x9E3779B97F4A7C15
    for p in parts:
        x = (x ^ (p & M64)) * 0xBF58476D1CE4E5B9 & M64
        x ^= x >> 31
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9 & M64
    x = (x ^ (x >> 27)) * 0x94D049BB133111EB & M64
    x ^= x >> 31
    return x / 18446744073709551616.0


def key(name: str) -> int:
    return zlib.crc32(name.encode())


K_CLOUD, K_CLEAR, K_LOAD, K_SPIKE, K_SOC0, K_NOISE, K_EVENT = (
    key(k) for k in ["cloud", "clear", "load", "spike", "soc0", "noise", "event"]
)


# --------------------------------------------------------------------------------------------------
# Period arithmetic (UTC)
# --------------------------------------------------------------------------------------------------


def period_start(period: str, t: float) -> int:
    """Start (UNIX time) of the minutes sample, day, month or year that contains ``t``."""
    if period == "minutes":
        return int(t // SAMPLE) * SAMPLE
    if period == "day":
        return int(t // DAY) * DAY
    d = datetime.fromtimestamp(int(t), UTC)
    d = (
        d.replace(day=1, hour=0, minute=0, second=0)
        if period == "month"
        else d.replace(month=1, day=1, hour=0, minute=0, second=0)
    )
    return int(d.timestamp())


def period_next(period: str, start: int) -> int:
    if period == "minutes":
        return start + SAMPLE
    if period == "day":
        return start + DAY
    d = datetime.fromtimestamp(start, UTC)
    if period == "month":
        d = d.replace(year=d.year + 1, month=1) if d.month == 12 else d.replace(month=d.month + 1)
    else:
        d = d.replace(year=d.year + 1)
    return int(d.timestamp())


def period_prev(period: str, start: int) -> int:
    if period in ("minutes", "day"):
        return start - (SAMPLE if period == "minutes" else DAY)
    return period_start(period, start - 1)


@dataclass
class Sample:
    """The state at a moment (the logger keeps one every 5 minutes)."""

    t: int
    solar_a: float
    solar_b: float
    load: float
    battery: float  # W, positive = discharge
    soc: float

    @property
    def grid(self) -> float:
        return self.load - self.solar_a - self.solar_b - self.battery

    @property
    def ac(self) -> float:
        return self.solar_a + self.solar_b + self.battery


class Physics:
    """The time-of-day functions of a device model (mixed into :class:`DeviceModel`)."""

    seed: int
    params: ModelParams
    _pins: dict[str, float]
    _stored: dict[str, Any]

    def _smooth(self, name_key: int, t: float, knot: float) -> float:
        """Noise in [0, 1) that changes smoothly between knots ``knot`` seconds apart."""
        k = math.floor(t / knot)
        a, b = mix(self.seed, name_key, k), mix(self.seed, name_key, k + 1)
        f = (t / knot) - k
        f = (1 - math.cos(math.pi * f)) / 2
        return a + (b - a) * f

    def _noise(self, name_key: int, t: float, amplitude: float) -> float:
        return (mix(self.seed, K_NOISE, name_key, int(t)) - 0.5) * 2 * amplitude

    def _light(self, t: float) -> float:
        """Relative irradiance 0..1 at ``t``."""
        p = self.params
        day_of_year = (t / DAY) % 365.25
        season = math.cos(2 * math.pi * (day_of_year - 172) / 365.25)  # +1 in June, -1 in December
        half = (p.sunset - p.sunrise) / 2 * (1 + 0.22 * season)
        noon = (p.sunset + p.sunrise) / 2
        hour = (t % DAY) / 3600.0
        x = (hour - (noon - half)) / (2 * half)
        if x <= 0 or x >= 1:
            return 0.0
        height = float(math.sin(math.pi * x) ** 1.6) * (0.62 + 0.38 * season)
        clear = 0.25 + 0.75 * mix(self.seed, K_CLEAR, int(t // DAY))
        cloud = clear + (1 - clear) * self._smooth(K_CLOUD, t, 1800) * 0.6
        return max(0.0, min(1.0, height * min(1.0, cloud)))

    def _solar(self, t: float) -> tuple[float, float]:
        """What the generators could give (before any curtailment)."""
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
        hour = (t % DAY) / 3600.0
        load = self.params.base_load * (0.8 + 0.4 * self._smooth(K_LOAD, t, 900))
        load += 900 * math.exp(-(((hour - 7.0) / 0.7) ** 2)) + 1400 * math.exp(-(((hour - 18.5) / 1.5) ** 2))
        slot = int(t // 600)
        if mix(self.seed, K_SPIKE, slot) > 0.85:  # an appliance runs for these 10 minutes
            load += 800 + 1800 * mix(self.seed, K_SPIKE, slot, 1)
        return load

    def _soc_limits(self) -> tuple[float, float]:
        stored = self._stored
        return float(stored.get("power_mng.soc_min", 0.07)), float(stored.get("power_mng.soc_max", 0.97))

    def _battery_power(self, soc: float, solar: float, load: float) -> float:
        """Battery power (positive = discharge) for the given state."""
        p = self.params
        if p.battery_capacity <= 0:
            return 0.0
        surplus = solar - load
        soc_min, soc_max = self._soc_limits()
        if surplus >= 0:
            return -min(surplus, p.max_charge_power) if soc < soc_max else 0.0
        return min(-surplus, p.max_discharge_power) if soc > soc_min else 0.0

    def _balance(self, t: float, soc: float) -> tuple[float, float, float, float]:
        """Solar A, solar B, load and battery power at ``t``, the generators curtailed to the limits."""
        a, b = self._solar(t)
        return self._settle(a, b, self._load(t), soc)

    def _settle(self, a: float, b: float, load: float, soc: float) -> tuple[float, float, float, float]:
        """The battery's answer to what the generators could give and the house takes, and the curtailment."""
        bat = self._battery_power(soc, a + b, load)
        p = self.params
        # AC output at most the inverter's power, and what goes to the grid at most the feed-in limit
        ac_max = min(p.inverter_power, load + p.feed_in_limit)
        solar = a + b
        if solar + bat > ac_max and solar > 0 and "solar_a" not in self._pins and "solar_b" not in self._pins:
            scale = max(0.0, (ac_max - bat) / solar)
            a, b = a * scale, b * scale
        return a, b, load, bat

    def _step(self, t: float, soc: float) -> Sample:
        a, b, load, bat = self._balance(t, soc)
        return Sample(int(t), a, b, load, bat, soc)

    def _soc_after(self, s: Sample, seconds: float) -> float:
        cap = self.params.battery_capacity
        if cap <= 0:
            return 0.0
        stored = -s.battery * CHARGE_EFFICIENCY if s.battery < 0 else -s.battery
        soc = s.soc + stored * seconds / 3600.0 / cap
        # the battery management stops at the SOC limits (an integration step does not overshoot them)
        soc_min, soc_max = self._soc_limits()
        if s.battery < 0:
            soc = min(soc, max(s.soc, soc_max))
        elif s.battery > 0:
            soc = max(soc, min(s.soc, soc_min))
        return max(0.0, min(1.0, soc))

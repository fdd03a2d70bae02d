"""The device's past: energy counters, the logger's time series and the event table.

The model logs a sample every 5 minutes: the time series OIDs (``logger.*_log_ts``) serve those
samples, and synthetic history (computed day by day with the same functions) for the time before
the model was created, back to the commissioning ``history_days`` earlier. Only the last
``detail_days`` synthetic days are integrated at the 5-minute resolution (their day energies are the
sums of their 5-minute samples); the energies of older days come from a coarse daily model
(seasonal sun height, the day's clearness, mean load, one battery cycle), so that the first read of
a month or year counter or series costs milliseconds rather than a second. The 5-minute samples of
older days are still served by the minutes series (computed per requested page); their sums only
approximate those coarse day energies. Lifetime totals are the sum of every day since the
commissioning, so that day <= month <= year <= total always holds.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..faults import FAULTS
from ..registry import ObjectInfo
from ..types import DataType, EventEntry, EventTable
from ..utils import encode_value
from .physics import (
    CHARGE_EFFICIENCY,
    DAY,
    K_CLEAR,
    K_EVENT,
    K_SOC0,
    K_SPIKE,
    SAMPLE,
    Physics,
    Sample,
    key,
    mix,
    period_next,
    period_prev,
    period_start,
)

#: The fault bits whose meaning is known: what the simulated event log's fault entries name.
_KNOWN_FAULT_BITS = tuple(FAULTS)

__all__ = ["KINDS", "PERIODS", "History"]

STEP = 60  # battery integration step
#: Energy kinds: AC out, generators A and B, household, fed in, drawn from the grid, external
#: generators, into and out of the battery.
KINDS = ("ac", "dc_a", "dc_b", "load", "feed", "grid_load", "ext", "bat_in", "bat_out")
PERIODS = ("day", "month", "year")
_SIN16 = 0.5436465978599387  # mean of sin(pi x) ** 1.6 over 0..1 (the sun's height profile)
# load energy (Wh) of the morning and evening peaks: integrals of the Gaussians in Physics._load
_PEAKS_WH = 900 * 0.7 * math.sqrt(math.pi) + 1400 * 1.5 * math.sqrt(math.pi)

# logger series: the name's middle part -> energy kind (day/month/year)
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


@dataclass
class _SyntheticDay:
    samples: list[Sample]
    # energy per kind accumulated up to the end of sample i (Wh)
    cumulative: list[dict[str, float]] = field(default_factory=list)


def energies(s: Sample, seconds: float, into: dict[str, float]) -> None:
    """Add what the state ``s`` does in ``seconds`` to the energies by kind ``into``."""
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
    if s.battery < 0:
        into["bat_in"] += -s.battery * h
    else:
        into["bat_out"] += s.battery * h


class History(Physics):
    """Synthetic and logged history of a device model (mixed into :class:`DeviceModel`)."""

    start: int
    install: int
    _detail_from: int
    _soc: float
    _t: float
    _live: dict[str, float]
    _totals_base: dict[str, float] | None

    def _init_history(self) -> None:
        self._synthetic: OrderedDict[int, _SyntheticDay] = OrderedDict()
        self._synthetic_energy: dict[int, dict[str, float]] = {}
        self._log: OrderedDict[int, Sample] = OrderedDict()
        self._marks: dict[tuple[str, int], dict[str, float]] = {}
        self._live = dict.fromkeys(KINDS, 0.0)
        self._totals_base = None  # lifetime energies before the start: computed when first needed
        self._t = float(self.start)
        self._soc = self._synthetic_soc_at(self.start)

    # -- synthetic history (before the model was created) ---------------------------------------

    def _synthetic_day(self, day: int) -> _SyntheticDay:
        cached = self._synthetic.get(day)
        if cached is not None:
            self._synthetic.move_to_end(day)
            return cached
        soc_min, soc_max = self._soc_limits()
        soc = soc_min + (0.08 + 0.6 * mix(self.seed, K_SOC0, day // DAY)) * (soc_max - soc_min)
        samples: list[Sample] = []
        cumulative: list[dict[str, float]] = []
        acc = dict.fromkeys(KINDS, 0.0)
        for i in range(DAY // SAMPLE):
            s = self._step(day + i * SAMPLE, soc)
            samples.append(s)
            energies(s, SAMPLE, acc)
            cumulative.append(dict(acc))
            soc = self._soc_after(s, SAMPLE)
        result = _SyntheticDay(samples, cumulative)
        self._synthetic[day] = result
        if len(self._synthetic) > 40:
            self._synthetic.popitem(last=False)
        return result

    def _synthetic_soc_at(self, t: int) -> float:
        day = self._synthetic_day(period_start("day", t))
        s = day.samples[(t % DAY) // SAMPLE]
        return self._soc_after(s, t % SAMPLE)

    def _synthetic_day_energy(self, day: int, until: int | None = None) -> dict[str, float]:
        """Energy per kind of synthetic day ``day``, up to ``until`` (default: the whole day)."""
        if day < self.install:
            return dict.fromkeys(KINDS, 0.0)
        if until is None:
            cached = self._synthetic_energy.get(day)
            if cached is None:
                if day < self._detail_from:
                    cached = self._coarse_day_energy(day)
                else:
                    cached = self._synthetic_day(day).cumulative[-1]
                self._synthetic_energy[day] = cached
            return cached
        n = (until - day) // SAMPLE
        days = self._synthetic_day(day)
        acc = dict(days.cumulative[n - 1]) if n > 0 else dict.fromkeys(KINDS, 0.0)
        rest = (until - day) % SAMPLE
        if rest and n < len(days.samples):
            energies(days.samples[n], rest, acc)
        return acc

    def _coarse_day_energy(self, day: int) -> dict[str, float]:
        """Energy per kind of an old synthetic day from a daily model (no 5-minute integration)."""
        p = self.params
        season = math.cos(2 * math.pi * (((day + DAY / 2) / DAY) % 365.25 - 172) / 365.25)
        daylight = (p.sunset - p.sunrise) * (1 + 0.22 * season)  # hours
        clear = 0.25 + 0.75 * mix(self.seed, K_CLEAR, day // DAY)
        sun_hours = _SIN16 * max(0.0, daylight) * (0.62 + 0.38 * season) * min(1.0, clear + (1 - clear) * 0.3)
        solar_a = p.peak_power_a * sun_hours
        solar_b = p.peak_power_b * sun_hours
        solar = solar_a + solar_b
        spikes = 144 * 0.15 * (800 + 900) / 6 * (0.5 + mix(self.seed, K_SPIKE, day // DAY))
        load = p.base_load * 24 + _PEAKS_WH + spikes
        day_load = load * max(0.0, min(daylight, 24.0)) / 24
        surplus = max(0.0, solar - 0.8 * day_load)  # solar not used in the house at once
        soc_min, soc_max = self._soc_limits()
        usable = p.battery_capacity * max(0.0, soc_max - soc_min)
        night_load = 0.85 * max(0.0, load - (solar - surplus))  # what the battery can cover after sunset
        # one cycle a day, as deep as the surplus and the night allow (what goes in comes out, less the losses)
        discharge = min(usable, night_load, surplus * CHARGE_EFFICIENCY, p.max_charge_power * max(0.0, daylight))
        charge = discharge / CHARGE_EFFICIENCY
        feed = min(surplus - charge, p.feed_in_limit * sun_hours)  # curtailed above the limit
        grid_load = max(0.0, load - (solar - surplus) - discharge)
        produced = solar - (surplus - charge - feed)
        return {
            "ac": max(0.0, produced - charge + discharge),
            "dc_a": solar_a * produced / solar if solar else 0.0,
            "dc_b": solar_b * produced / solar if solar else 0.0,
            "load": load,
            "feed": feed,
            "grid_load": grid_load,
            "ext": 0.0,
            "bat_in": charge,
            "bat_out": discharge,
        }

    def _synthetic_base(self, period: str, start: int) -> dict[str, float]:
        """Energy of period ``start`` accumulated before the model was created."""
        mark = ("base:" + period, start)
        cached = self._marks.get(mark)
        if cached is not None:
            return cached
        acc = dict.fromkeys(KINDS, 0.0)
        end = min(period_next(period, start), self.start)
        day = start
        while day < end:
            part = self._synthetic_day_energy(day, until=end if end < day + DAY else None)
            for k in KINDS:
                acc[k] += part[k]
            day += DAY
        self._marks[mark] = acc
        return acc

    def _totals_before_start(self) -> dict[str, float]:
        """Lifetime energies from the commissioning to the model's start (every synthetic day summed)."""
        if self._totals_base is None:
            acc = dict.fromkeys(KINDS, 0.0)
            day = self.install
            while day < self.start:
                part = self._synthetic_day_energy(day, until=self.start if self.start < day + DAY else None)
                for k in KINDS:
                    acc[k] += part[k]
                day += DAY
            self._totals_base = acc
        return self._totals_base

    # -- live integration ------------------------------------------------------------------------

    def _advance(self, now: float) -> None:
        t = self._t
        if now <= t:
            return
        while t < now:
            nxt = min(now, (t // STEP + 1) * STEP)
            s = self._step(t, self._soc)
            energies(s, nxt - t, self._live)
            self._soc = self._soc_after(s, nxt - t)
            t = nxt
            if t % SAMPLE == 0:
                t_int = int(t)
                self._log[t_int] = self._step(t, self._soc)
                if len(self._log) > 12 * 24 * 35:
                    self._log.popitem(last=False)
                if t_int % DAY == 0:
                    for period in PERIODS:
                        if period_start(period, t_int) == t_int:
                            self._marks[(period, t_int)] = dict(self._live)
        self._t = t

    def _energy(self, kind: str, period: str, now: float) -> float:
        if period == "total":
            return self._totals_before_start()[kind] + self._live[kind]
        return self._period_energy(kind, period, period_start(period, now), now)

    def _period_energy(self, kind: str, period: str, start: int, now: float) -> float:
        """Energy of kind ``kind`` in the period starting at ``start``, as far as it went by ``now``."""
        end = period_next(period, start)
        if end <= self.install:
            return 0.0
        if end <= self.start:  # entirely before the model: synthetic
            acc = 0.0
            day = max(start, self.install)
            while day < end:
                acc += self._synthetic_day_energy(day)[kind]
                day += DAY
            return acc
        base = self._synthetic_base(period, start)[kind] if start <= self.start else 0.0
        begin = self._marks.get((period, start), {}).get(kind, 0.0) if start > self.start else 0.0
        finish = self._marks.get((period, end), {}).get(kind) if end <= now else None
        return base + (self._live[kind] if finish is None else finish) - begin

    # -- the logger: time series and event table -------------------------------------------------

    def _sample_at(self, t: int) -> Sample:
        if t > self.start:
            s = self._log.get(t)
            if s is not None:
                return s
        day = period_start("day", t)
        return self._synthetic_day(day).samples[(t - day) // SAMPLE]

    def _minutes_value(self, what: str, s: Sample) -> float:
        t = s.t
        p = self.params
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
        if what == "soc":
            return s.soc
        if what == "soc_targ":
            return float(self._stored.get("battery.soc_target", 0.5)) if p.has_battery else 0.0
        if what == "ua":
            return self._string_voltage(s.solar_a, p.peak_power_a, 0)
        if what == "ub":
            return self._string_voltage(s.solar_b, p.peak_power_b, 1)
        if what == "ubat":
            return self._battery_voltage(s.soc, s.battery) if p.has_battery else 0.0
        if what in ("ul1", "ul2", "ul3"):
            return 230.0 + 2.5 * (self._smooth(key("ul" + str(int(what[2]) - 1)), t, 120) - 0.5)
        if what == "temp":
            return 18.0 + 8.0 * self._light(t) + abs(s.ac) / 250.0
        if what == "temp2":
            return 16.0 + 8.0 * self._light(t) + abs(s.ac) / 250.0
        if what == "temp_bat":
            return 21.0 + abs(s.battery) / 900.0 if p.has_battery else 0.0
        return 0.0  # eext: no external generator

    def _string_voltage(self, power: float, peak: float, string: int) -> float:
        """The working (MPP) voltage of a generator: 0 while dark, rising with the light."""
        if power <= 0:
            return 0.0
        return 300.0 + 150.0 * min(1.0, power / max(peak, 1.0)) - 10.0 * string

    def _battery_voltage(self, soc: float, battery: float) -> float:
        """Terminal voltage of a tower: 24 cells a module in series, ~3.25-3.43 V a cell, minus R*I."""
        cells = self.params.cells_in_series
        open_circuit = cells * (3.25 + 0.18 * soc)
        towers = max(1, self.params.battery_towers)
        current = battery / towers / max(open_circuit, 1.0)
        return open_circuit - current * 0.0012 * cells  # ~1.2 mOhm a cell

    def history(self, info: ObjectInfo, before: int) -> tuple[int, list[tuple[int, Any]]]:
        """One page of a time series or the event table: ``(header, [(timestamp, value)])``, newest first.

        The points are those logged at or before ``before`` (and not after the clock's now).
        """
        now = self._now()
        self._advance(now)
        header = max(0, min(before, 0xFFFFFFFF))
        upto = int(min(before, now))
        if info.response_data_type is DataType.EVENT_TABLE:
            return header, self._events(upto, now)
        name = info.name
        middle = name[len("logger.") : -len("_log_ts")]
        period, _, what = middle.partition("_")
        points: list[tuple[int, Any]] = []
        if period == "minutes":
            t = period_start("minutes", upto)
            while len(points) < self.params.minutes_page and t >= self.install:
                points.append((t, self._minutes_value(what, self._sample_at(t))))
                t -= SAMPLE
            return header, points
        if period not in PERIODS:
            return header, points
        kind = _SERIES_ENERGY.get(what, "ac")
        page = {"day": self.params.day_page, "month": self.params.month_page, "year": self.params.year_page}[period]
        t = period_start(period, upto)
        while len(points) < page and t >= period_start(period, self.install):
            points.append((t, self._period_energy(kind, period, t, now)))
            t = period_prev(period, t)
        return header, points

    def _events(self, upto: int, now: float) -> list[tuple[int, Any]]:
        """The event log: a few warnings and faults that came and went (none lasts: the device is healthy now)."""
        out: list[tuple[int, Any]] = []
        day = period_start("day", upto)
        while len(out) < self.params.event_page and day >= self.install:
            n = int(mix(self.seed, K_EVENT, day) * 3)
            stamps = sorted((day + int(mix(self.seed, K_EVENT, day, i) * DAY), i) for i in range(n))
            for stamp, i in reversed(stamps):
                end = stamp + 60 + int(mix(self.seed, K_EVENT, day, i, 2) * 3600)
                if stamp > upto or end > now or len(out) >= self.params.event_page:
                    continue
                kind = mix(self.seed, K_EVENT, day, i, 1)
                entry_type = ord("F") if kind < 0.4 else ord("W") if kind < 0.8 else ord("S")
                pick = mix(self.seed, K_EVENT, day, i, 3)
                # a fault entry names a fault bit the devices are known to report; the meaning of other
                # entries' codes is not documented
                code = (
                    _KNOWN_FAULT_BITS[int(pick * len(_KNOWN_FAULT_BITS))] if entry_type == ord("F") else int(pick * 128)
                )
                when = datetime.fromtimestamp(stamp, UTC)
                out.append((stamp, EventEntry(entry_type, when, min(end, 0xFFFFFFFF), code, 0)))
            day -= DAY
        return out

    def encode_history(self, info: ObjectInfo, before: int) -> bytes:
        header, points = self.history(info, before)
        if info.response_data_type is DataType.EVENT_TABLE:
            return encode_value(
                DataType.EVENT_TABLE,
                EventTable(datetime.fromtimestamp(header, UTC), tuple(entry for _, entry in points)),
            )
        return encode_value(DataType.TIMESERIES, (header, dict(points)))

    def _now(self) -> float:
        raise NotImplementedError  # the model's clock

"""Per device: the last good value of each OID and when it was read, and the snapshots the exporters get.

A failed read keeps the last value until it is older than 3 x its tier's interval; then it is left out
of the snapshot (unavailable, never zero). Energy totals never go backwards: a lower reading is held
back (a dip: the last value stays); a second lower reading in a row is taken as a real reset (the
counter was reset, or a day/month/year total started over) and reported to the caller, which logs it.
Exporters then follow their conventions: a Prometheus counter may start over (``rate()`` handles
resets), Home Assistant's ``total_increasing`` takes a lower value as a new cycle.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .catalog import Quantity
from .plan import Plan

__all__ = ["STALE_FACTOR", "CounterReset", "DeviceState", "PollTimes", "Reading", "Snapshot"]

#: A value older than this many intervals of its tier is unavailable.
STALE_FACTOR = 3.0

#: Upper bounds (seconds) of the poll duration histogram.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class Reading:
    """A value and the time (Unix seconds) it was read."""

    value: Any
    time: float


@dataclass(frozen=True, slots=True)
class CounterReset:
    """An energy total went down twice in a row: taken as a reset."""

    name: str
    old: float
    new: float
    #: A lifetime total (a real reset is unusual) rather than a day/month/year total.
    lifetime: bool


@dataclass(slots=True)
class _Held:
    value: Any
    time: float  # Unix time of the read
    mono: float  # monotonic time of the read
    dipped: bool = False


@dataclass(slots=True)
class PollTimes:
    """Counted per tier: polls, failed polls, and the histogram of their durations."""

    count: int = 0
    failures: int = 0
    total: float = 0.0
    buckets: list[int] = field(default_factory=lambda: [0] * len(DURATION_BUCKETS))
    last_success: float | None = None  # Unix time

    def observe(self, seconds: float) -> None:
        self.count += 1
        self.total += seconds
        for i, bound in enumerate(DURATION_BUCKETS):
            if seconds <= bound:
                self.buckets[i] += 1

    def copy(self) -> PollTimes:
        return PollTimes(self.count, self.failures, self.total, list(self.buckets), self.last_success)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What the exporters see of one device at one moment (immutable; shared by all exporters)."""

    #: The device's label (config name) and identity (serial number; "" until known).
    device: str
    serial: str
    #: The device answers.
    up: bool
    #: Unix time of the snapshot, and the tier whose poll it follows (None: an availability change).
    time: float
    tier: str | None
    #: Available values by OID name (empty while the device is down).
    values: Mapping[str, Reading]
    #: Identity and versions from the static tier, kept while the device is down.
    identity: Mapping[str, Any]
    plan: Plan
    #: Per tier: polls, failures, durations, the time of the last good poll.
    polls: Mapping[str, PollTimes]
    #: The client's counters (:meth:`rctclient.protocol.Stats.as_dict`).
    client: Mapping[str, int | float]
    counter_resets: int = 0

    def value(self, name: str) -> Any:
        reading = self.values.get(name)
        return None if reading is None else reading.value

    @property
    def name(self) -> str:
        """The device's own name (``android_description``), or the label."""
        return str(self.identity.get("android_description") or self.device)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class DeviceState:
    """The last good values of one device (no I/O, no clock: times are passed in)."""

    def __init__(self) -> None:
        self._held: dict[str, _Held] = {}
        self.counter_resets = 0

    def update(self, q: Quantity, value: Any, mono: float, wall: float) -> CounterReset | None:
        """Record a good read; returns a reset to log, if this read is one."""
        if isinstance(value, float) and not math.isfinite(value):
            return None  # not a value: the last one stays (and ages)
        held = self._held.get(q.oid)
        if held is None or not q.energy:
            self._held[q.oid] = _Held(value, wall, mono)
            return None
        new, old = _number(value), _number(held.value)
        if new is None or old is None:
            self._held[q.oid] = _Held(value, wall, mono)
            return None
        if q.absolute:
            new, old = abs(new), abs(old)
        if new >= old:
            self._held[q.oid] = _Held(value, wall, mono)
            return None
        if not held.dipped:  # a dip: hold the last value, and see what the next read says
            held.dipped = True
            held.time, held.mono = wall, mono
            return None
        self._held[q.oid] = _Held(value, wall, mono)
        self.counter_resets += 1
        return CounterReset(q.oid, old, new, lifetime=q.kind == "counter")

    def get(self, name: str) -> Any:
        held = self._held.get(name)
        return None if held is None else held.value

    def available(self, plan: Plan, mono: float) -> dict[str, Reading]:
        """The values of ``plan`` that are not older than 3 x their tier's interval."""
        result: dict[str, Reading] = {}
        held_values = self._held
        for tier, quantities in plan.tiers.items():
            oldest = mono - STALE_FACTOR * plan.intervals[tier]
            for q in quantities:
                held = held_values.get(q.oid)
                if held is not None and held.mono >= oldest:
                    result[q.oid] = Reading(held.value, held.time)
        return result

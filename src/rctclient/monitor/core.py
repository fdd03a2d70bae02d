"""The poll scheduler of one device, without I/O: events in, actions out, the clock passed in.

:meth:`PollCore.next_action` says what to do now: read a tier (:class:`ReadTier`) or wait
(:class:`Wait`). The adapter does it and reports back with :meth:`PollCore.read_done` (the values
and the errors of the tier's ``read_many``) or :meth:`PollCore.read_failed` (nothing came back at
all); both return :class:`Notice` objects to log. :meth:`PollCore.snapshot` is what the exporters
get.

* The static tier is read first, and the device's serial number (``inverter_sn``) is its identity;
  no other tier runs before it is known. The static values also say what the device has (a battery,
  generator B, a Power Switch) and so which values the plan polls.
* A tier is due every interval, in step (a late poll does not shift the following ones).
* A device that answers nothing in a whole tier is down (night, power cut, network): one
  :class:`DeviceLost` notice, then one probe (the fast tier) per backoff period, doubling from the
  fast interval up to ``max_backoff``; the first answer gives one :class:`DeviceBack` and makes
  every tier due at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..registry import REGISTRY
from .config import TIERS, PollConfig
from .plan import Plan, Presence, build_plan
from .state import CounterReset, DeviceState, PollTimes, Snapshot

__all__ = [
    "DeviceBack",
    "DeviceLost",
    "Identified",
    "Notice",
    "PlanChanged",
    "PollCore",
    "ReadTier",
    "SerialChanged",
    "Wait",
]

SERIAL_OID = "inverter_sn"
#: The longest wait between two probes of a silent device.
MAX_BACKOFF = 300.0


@dataclass(frozen=True, slots=True)
class ReadTier:
    """Read these OIDs (one ``read_many``) and report with ``read_done`` or ``read_failed``."""

    tier: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Wait:
    """Nothing is due for this many seconds (or until something else happens)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Identified:
    serial: str
    values: int


@dataclass(frozen=True, slots=True)
class SerialChanged:
    """Another device answers at the same address: the identity stays, this is logged."""

    old: str
    new: str


@dataclass(frozen=True, slots=True)
class PlanChanged:
    presence: Presence
    values: int


@dataclass(frozen=True, slots=True)
class DeviceLost:
    reason: str
    identified: bool
    next_probe: float


@dataclass(frozen=True, slots=True)
class DeviceBack:
    after: float


Notice = Identified | SerialChanged | PlanChanged | DeviceLost | DeviceBack | CounterReset


class PollCore:
    """The schedule and the state of one device."""

    def __init__(
        self, label: str, poll: PollConfig, *, control: bool = False, max_backoff: float = MAX_BACKOFF
    ) -> None:
        self.label = label
        self.poll = poll
        self.control = control
        self.max_backoff = max_backoff
        self.plan: Plan = build_plan(poll, control=control)
        self.presence: Presence | None = None
        self.state = DeviceState()
        self.serial = ""
        self.identity: dict[str, Any] = {}
        self.up = False
        self.polls = {tier: PollTimes() for tier in TIERS}
        self._due: dict[str, float] = {tier: (0.0 if tier == "static" else math.inf) for tier in TIERS}
        self._down_since: float | None = None
        self._failures = 0
        self._next_probe = 0.0
        self._busy = False

    # -- what to do --------------------------------------------------------------------------------

    @property
    def identified(self) -> bool:
        return bool(self.serial)

    def next_action(self, now: float) -> ReadTier | Wait:
        if self._busy:
            raise RuntimeError("next_action() while a read is still open")
        if self._failures:
            if now < self._next_probe:
                return Wait(self._next_probe - now)
            return self._start("fast" if self.identified else "static")
        tier = min(TIERS, key=lambda t: self._due[t])
        due = self._due[tier]
        if due > now:
            return Wait(due - now)
        return self._start(tier)

    def _start(self, tier: str) -> ReadTier:
        self._busy = True
        return ReadTier(tier, self.plan.names(tier))

    # -- what happened -----------------------------------------------------------------------------

    def read_done(
        self,
        tier: str,
        values: Mapping[str, Any],
        errors: Mapping[str, object],
        now: float,
        wall: float,
        duration: float,
    ) -> list[Notice]:
        """A tier's ``read_many`` finished: some values, some errors."""
        self._busy = False
        if not values:
            reason = _first_error(errors) or "no values"
            return self._failed(tier, reason, now, duration)
        notices: list[Notice] = []
        if tier == "static" and not self._take_static(values, notices):
            return notices + self._failed(tier, "the serial number could not be read", now, duration)
        if not self.identified:
            return notices + self._failed(tier, "the device is not identified yet", now, duration)
        quantities = {q.oid: q for q in self.plan.tiers[tier]}
        for name, value in values.items():
            q = quantities.get(name)
            if q is not None:
                reset = self.state.update(q, value, now, wall)
                if reset is not None:
                    notices.append(reset)
        times = self.polls[tier]
        times.observe(duration)
        times.last_success = wall
        if self._failures:
            assert self._down_since is not None
            notices.append(DeviceBack(now - self._down_since))
            self._failures = 0
            self._down_since = None
            for other in TIERS:  # everything is due now (the current tier follows its step)
                if other != tier:
                    self._due[other] = now
        self.up = True
        self._schedule(tier, now)
        return notices

    def read_failed(self, tier: str, reason: str, now: float, duration: float = 0.0) -> list[Notice]:
        """Nothing came back (the connection could not be made, or every request failed)."""
        self._busy = False
        return self._failed(tier, reason, now, duration)

    def _failed(self, tier: str, reason: str, now: float, duration: float) -> list[Notice]:
        times = self.polls[tier]
        times.observe(duration)
        times.failures += 1
        self._failures += 1
        first_interval = self.poll.fast
        delay = min(self.max_backoff, first_interval * 2 ** (self._failures - 1))
        self._next_probe = now + delay
        self.up = False
        if self._failures == 1:
            self._down_since = now
            return [DeviceLost(reason, self.identified, delay)]
        return []

    def _take_static(self, values: Mapping[str, Any], notices: list[Notice]) -> bool:
        serial = values.get(SERIAL_OID)
        if not isinstance(serial, str) or not serial.strip():
            return bool(self.serial)  # a re-read that missed the serial keeps the identity
        serial = serial.strip()
        if not self.serial:
            self.serial = serial
            notices.append(Identified(serial, len(values)))
        elif serial != self.serial:
            notices.append(SerialChanged(self.serial, serial))
        self.identity.update({k: v for k, v in values.items() if REGISTRY.resolve(k).static or k in _IDENTITY_EXTRA})
        presence = Presence.from_values(values, self.presence)
        if presence != self.presence:
            self.presence = presence
            self.plan = build_plan(self.poll, control=self.control, presence=presence)
            notices.append(PlanChanged(presence, len(self.plan)))
        for tier in TIERS:
            if tier != "static" and self._due[tier] == math.inf:
                self._due[tier] = 0.0
        return True

    def _schedule(self, tier: str, now: float) -> None:
        interval = self.plan.intervals[tier]
        due = self._due[tier] + interval if self._due[tier] > 0 else now + interval
        self._due[tier] = due if due > now else now + interval

    # -- what the exporters see ----------------------------------------------------------------------

    def snapshot(self, now: float, wall: float, tier: str | None, client: Mapping[str, int | float]) -> Snapshot:
        return Snapshot(
            device=self.label,
            serial=self.serial,
            up=self.up,
            time=wall,
            tier=tier,
            values=self.state.available(self.plan, now) if self.up else {},
            identity=dict(self.identity),
            plan=self.plan,
            polls={t: p.copy() for t, p in self.polls.items()},
            client=dict(client),
            counter_resets=self.state.counter_resets,
        )


#: Static-tier values that are identity without being marked static in the registry.
_IDENTITY_EXTRA = frozenset({"power_mng.battery_type", "rb485.available"})


def _first_error(errors: Mapping[str, object]) -> str | None:
    for error in errors.values():
        return str(error)
    return None

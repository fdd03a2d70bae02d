"""The poll plan: which values each tier reads, gated by what the device has.

The default plan is the catalog (:mod:`rctclient.monitor.catalog`); the config adds OIDs to a tier
and removes OIDs from all tiers, by name or glob (square brackets are literal, as in the registry's
:meth:`~rctclient.registry.Registry.glob`). What is present is known after the first static read
(:class:`Presence`): no battery values without a battery, no generator B values when B is not
connected, no Power Switch values without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..registry import REGISTRY, ObjectInfo
from .catalog import BY_OID, CATALOG, Quantity, generic
from .config import TIERS, MonitorConfigError, PollConfig

__all__ = ["NO_BATTERY_TYPES", "Plan", "Presence", "build_plan", "resolve_names"]

#: ``power_mng.battery_type`` values that mean no battery ("No battery"; 0 is what a device without
#: a configured battery answers).
NO_BATTERY_TYPES = frozenset({0, 5})


@dataclass(frozen=True, slots=True)
class Presence:
    """What the device has; before the first static read, everything is assumed present."""

    battery: bool = True
    generator_a: bool = True
    generator_b: bool = True
    power_switch: bool = True

    @classmethod
    def from_values(cls, values: Mapping[str, Any], previous: Presence | None = None) -> Presence:
        """From the static tier's values; a value that could not be read keeps the previous answer."""
        prev = previous or cls()

        def flag(name: str, default: bool) -> bool:
            value = values.get(name)
            return bool(value) if isinstance(value, bool | int) else default

        battery_type = values.get("power_mng.battery_type")
        battery = prev.battery if not isinstance(battery_type, int) else battery_type not in NO_BATTERY_TYPES
        return cls(
            battery=battery,
            generator_a=flag("dc_conv.dc_conv_struct[0].enabled", prev.generator_a),
            generator_b=flag("dc_conv.dc_conv_struct[1].enabled", prev.generator_b),
            power_switch=flag("rb485.available", prev.power_switch),
        )

    def has(self, needs: str | None) -> bool:
        return needs is None or bool(getattr(self, needs))


def resolve_names(patterns: tuple[str, ...], key: str) -> list[ObjectInfo]:
    """The OIDs that names or globs stand for; a pattern that matches nothing is a config error."""
    found: list[ObjectInfo] = []
    for pattern in patterns:
        matches = [info for info in REGISTRY.glob(pattern) if info.kind == "value"]
        if not matches:
            raise MonitorConfigError(
                f"config: {key}: {pattern!r} matches no OID that holds a single value (see 'rctclient registry search')"
            )
        found.extend(matches)
    return found


@dataclass(frozen=True, slots=True)
class Plan:
    """The values of each tier, and the tiers' intervals."""

    tiers: Mapping[str, tuple[Quantity, ...]]
    intervals: Mapping[str, float]

    def names(self, tier: str) -> tuple[str, ...]:
        return tuple(q.oid for q in self.tiers[tier])

    def quantities(self) -> list[Quantity]:
        return [q for tier in TIERS for q in self.tiers[tier]]

    def __len__(self) -> int:
        return sum(len(v) for v in self.tiers.values())


def build_plan(poll: PollConfig, *, control: bool = False, presence: Presence | None = None) -> Plan:
    """The plan for a device with ``presence`` (None: not known yet, everything is tried once)."""
    removed = {info.name for info in resolve_names(poll.remove, "poll.remove")}
    tiers: dict[str, list[Quantity]] = {tier: [] for tier in TIERS}
    seen: set[str] = set()
    for q in CATALOG:
        if q.oid in removed or (q.control_only and not control):
            continue
        if presence is not None and not presence.has(q.needs):
            continue
        tiers[q.tier].append(q)
        seen.add(q.oid)
    for tier in TIERS:
        for info in resolve_names(poll.add.get(tier, ()), f"poll.add.{tier}"):
            if info.name in removed:
                continue
            if info.name in seen:  # moved to another tier
                for others in tiers.values():
                    others[:] = [q for q in others if q.oid != info.name]
            known = BY_OID.get(info.name)
            if known is not None:
                tiers[tier].append(replace(known, tier=tier))
            else:
                tiers[tier].append(generic(info, tier))
            seen.add(info.name)
    return Plan(
        tiers={tier: tuple(values) for tier, values in tiers.items()},
        intervals={tier: poll.interval(tier) for tier in TIERS},
    )

"""What the monitor knows about the values it polls by default: one table that every exporter reads.

Each :class:`Quantity` names one OID and says what it is: its stable ``key`` (the MQTT topic segment,
the Home Assistant object id and the Influx field name), its Prometheus metric (base units: watts,
volts, joules; ratios for fractions), its Home Assistant classes and unit, the tier that polls it and
what must be present for it to be polled. OIDs added in the config that are not in this table get a
generic entry (:func:`generic`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..registry import REGISTRY, ObjectInfo
from ..types import DataType

__all__ = ["BY_OID", "CATALOG", "Quantity", "generic", "key_for"]

#: Prometheus scale of the device's Wh to joules.
WH = 3600.0


@dataclass(frozen=True, slots=True)
class Quantity:
    """One polled value and how each exporter shows it."""

    key: str
    oid: str
    title: str
    #: Prometheus metric name (counters without ``_total``; the client adds it) and constant labels.
    metric: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    tier: str = "fast"
    #: ``gauge``, ``counter`` (a lifetime total), ``period`` (a day/month/year total that resets),
    #: ``enum`` (a state set), ``static`` (identity, versions: not a metric of its own).
    kind: str = "gauge"
    #: Device value x scale = the Prometheus value in base units.
    scale: float = 1.0
    #: The device reports it negative (feed-in totals): exported as its absolute value.
    absolute: bool = False
    #: Home Assistant: unit, device_class, state_class, and the factor to that unit (fractions -> %).
    unit: str | None = None
    device_class: str | None = None
    state_class: str | None = "measurement"
    ha_scale: float = 1.0
    #: Which Home Assistant device it belongs to: the inverter, or the battery (a sub-device).
    device: str = "inverter"
    #: What must be present: None, "battery", "generator_a", "generator_b", "power_switch".
    needs: str | None = None
    #: Polled only with mqtt.control (settings on the safe-write allow-list that are not shown otherwise).
    control_only: bool = False
    #: A diagnostic entity (Home Assistant hides it from the default dashboards).
    diagnostic: bool = False

    @property
    def energy(self) -> bool:
        """An energy total that must never go backwards (except at a real reset)."""
        return self.kind in ("counter", "period")

    def export_value(self, value: float) -> float:
        """The value in the Prometheus base unit."""
        return abs(value) * self.scale if self.absolute else value * self.scale


_PHASES = ("L1", "L2", "L3")
_GENERATORS = ("a", "b")


#: What every lifetime energy total has in common: a counter in Wh (joules in Prometheus).
_LIFETIME_ENERGY: dict[str, Any] = {
    "tier": "energy",
    "kind": "counter",
    "scale": WH,
    "unit": "Wh",
    "device_class": "energy",
    "state_class": "total_increasing",
}


def _power(
    key: str, oid: str, title: str, metric: str, labels: tuple[tuple[str, str], ...] = (), **kw: Any
) -> Quantity:
    return Quantity(key, oid, title, metric, labels, unit="W", device_class="power", **kw)


def _build() -> Iterator[Quantity]:
    # -- fast: powers, SOC, voltages, state, faults ----------------------------------------------
    yield _power("grid_power", "g_sync.p_ac_grid_sum_lp", "Grid power", "rct_grid_power_watts")
    yield _power("load_power", "g_sync.p_ac_load_sum_lp", "Household power", "rct_load_power_watts")
    yield _power("inverter_power", "g_sync.p_ac_sum_lp", "Inverter AC power", "rct_inverter_power_watts")
    for i, phase in enumerate(_PHASES):
        n = phase.lower()
        labels = (("phase", phase),)
        yield _power(
            f"grid_power_{n}", f"g_sync.p_ac_sc[{i}]", f"Grid power {phase}", "rct_grid_phase_power_watts", labels
        )
        yield _power(
            f"load_power_{n}",
            f"g_sync.p_ac_load[{i}]",
            f"Household power {phase}",
            "rct_load_phase_power_watts",
            labels,
        )
        yield _power(
            f"inverter_power_{n}",
            f"g_sync.p_ac_lp[{i}]",
            f"Inverter power {phase}",
            "rct_inverter_phase_power_watts",
            labels,
        )
        yield Quantity(
            f"grid_voltage_{n}",
            f"g_sync.u_l_rms[{i}]",
            f"Grid voltage {phase}",
            "rct_grid_voltage_volts",
            labels,
            unit="V",
            device_class="voltage",
        )
    for i, gen in enumerate(_GENERATORS):
        labels = (("generator", gen),)
        needs = f"generator_{gen}"
        yield _power(
            f"solar_power_{gen}",
            f"dc_conv.dc_conv_struct[{i}].p_dc",
            f"Solar power {gen.upper()}",
            "rct_solar_power_watts",
            labels,
            needs=needs,
        )
        yield Quantity(
            f"solar_voltage_{gen}",
            f"dc_conv.dc_conv_struct[{i}].u_sg_lp",
            f"Solar voltage {gen.upper()}",
            "rct_solar_voltage_volts",
            labels,
            unit="V",
            device_class="voltage",
            needs=needs,
        )
    yield Quantity(
        "grid_frequency",
        "grid_pll[0].f",
        "Grid frequency",
        "rct_grid_frequency_hertz",
        unit="Hz",
        device_class="frequency",
    )
    yield Quantity(
        "inverter_state",
        "prim_sm.state",
        "Inverter state",
        "rct_inverter_state",
        kind="enum",
        device_class="enum",
        state_class=None,
    )
    for i in range(4):
        yield Quantity(
            f"fault_word_{i}", f"fault[{i}].flt", f"Fault word {i}", kind="faults", state_class=None, diagnostic=True
        )
    battery: dict[str, Any] = {"device": "battery", "needs": "battery"}
    yield _power("battery_power", "g_sync.p_acc_lp", "Battery power", "rct_battery_power_watts", **battery)
    yield Quantity(
        "battery_soc",
        "battery.soc",
        "Battery state of charge",
        "rct_battery_state_of_charge_ratio",
        unit="%",
        device_class="battery",
        ha_scale=100.0,
        **battery,
    )
    yield Quantity(
        "battery_voltage",
        "battery.voltage",
        "Battery voltage",
        "rct_battery_voltage_volts",
        unit="V",
        device_class="voltage",
        **battery,
    )
    yield Quantity(
        "battery_current",
        "battery.current",
        "Battery current",
        "rct_battery_current_amperes",
        unit="A",
        device_class="current",
        **battery,
    )
    yield Quantity(
        "battery_status", "battery.bat_status", "Battery status", "rct_battery_status", diagnostic=True, **battery
    )

    # -- slow: temperatures, SOC targets, insulation, island -----------------------------------------
    def temperature(key: str, oid: str, title: str, metric: str, **kw: Any) -> Quantity:
        return Quantity(key, oid, title, metric, tier="slow", unit="°C", device_class="temperature", **kw)

    yield temperature("heatsink_temperature", "db.temp1", "Heat sink temperature", "rct_heatsink_temperature_celsius")
    yield temperature(
        "battery_actuator_temperature",
        "db.temp2",
        "Battery actuator temperature",
        "rct_battery_actuator_temperature_celsius",
    )
    yield temperature(
        "core_temperature", "db.core_temp", "Core temperature", "rct_core_temperature_celsius", diagnostic=True
    )
    yield temperature(
        "battery_temperature",
        "battery.temperature",
        "Battery temperature",
        "rct_battery_temperature_celsius",
        **battery,
    )

    def ratio(key: str, oid: str, title: str, metric: str, **kw: Any) -> Quantity:
        return Quantity(key, oid, title, metric, tier="slow", unit="%", ha_scale=100.0, **kw)

    yield ratio(
        "battery_soc_target", "battery.soc_target", "Battery SOC target", "rct_battery_soc_target_ratio", **battery
    )
    yield ratio("battery_soc_min", "power_mng.soc_min", "Battery minimum SOC", "rct_battery_soc_min_ratio", **battery)
    yield ratio("battery_soc_max", "power_mng.soc_max", "Battery maximum SOC", "rct_battery_soc_max_ratio", **battery)
    yield Quantity(
        "battery_soc_strategy",
        "power_mng.soc_strategy",
        "Battery SOC strategy",
        "rct_battery_soc_strategy",
        tier="slow",
        kind="enum",
        device_class="enum",
        state_class=None,
        **battery,
    )
    yield Quantity(
        "insulation_resistance",
        "iso_struct.Riso",
        "Insulation resistance",
        "rct_insulation_resistance_ohms",
        tier="slow",
        unit="Ω",
        diagnostic=True,
    )
    yield Quantity(
        "island_mode", "prim_sm.island_flag", "Island mode", "rct_island_mode", tier="slow", state_class=None
    )
    for i, phase in enumerate(_PHASES):
        labels = (("phase", phase),)
        yield Quantity(
            f"power_switch_voltage_{phase.lower()}",
            f"rb485.u_l_grid[{i}]",
            f"Power Switch grid voltage {phase}",
            "rct_power_switch_grid_voltage_volts",
            labels,
            tier="slow",
            unit="V",
            device_class="voltage",
            needs="power_switch",
            diagnostic=True,
        )
        yield Quantity(
            f"power_switch_frequency_{phase.lower()}",
            f"rb485.f_grid[{i}]",
            f"Power Switch grid frequency {phase}",
            "rct_power_switch_grid_frequency_hertz",
            labels,
            tier="slow",
            unit="Hz",
            device_class="frequency",
            needs="power_switch",
            diagnostic=True,
        )
    # settings shown only with mqtt.control (their state feeds the number/select/switch entities)
    control: dict[str, Any] = {"control_only": True, "tier": "slow"}
    yield Quantity(
        "battery_soc_target_set",
        "power_mng.soc_target_set",
        "Battery forced SOC target",
        unit="%",
        ha_scale=100.0,
        **control,
        **battery,
    )
    yield Quantity(
        "battery_soc_min_island",
        "power_mng.soc_min_island",
        "Battery minimum SOC (island)",
        unit="%",
        ha_scale=100.0,
        **control,
        **battery,
    )
    yield Quantity(
        "battery_soc_charge",
        "power_mng.soc_charge",
        "Battery maintenance charge SOC",
        unit="%",
        ha_scale=100.0,
        **control,
        **battery,
    )
    yield Quantity(
        "battery_charge_power",
        "power_mng.soc_charge_power",
        "Battery maintenance charge power",
        unit="W",
        device_class="power",
        **control,
        **battery,
    )
    yield Quantity(
        "battery_power_external",
        "power_mng.battery_power_extern",
        "Battery external target power",
        unit="W",
        device_class="power",
        **control,
        **battery,
    )
    yield Quantity(
        "grid_charge",
        "power_mng.use_grid_power_enable",
        "Charge battery from grid",
        state_class=None,
        **control,
        **battery,
    )
    yield Quantity(
        "feed_in_reduction",
        "buf_v_control.power_reduction",
        "Feed-in power reduction",
        unit="%",
        ha_scale=100.0,
        **control,
    )
    yield Quantity(
        "battery_to_grid_limit",
        "p_rec_lim[1]",
        "Battery to grid power limit",
        unit="W",
        device_class="power",
        **control,
        **battery,
    )

    # -- energy: lifetime and period totals, battery health --------------------------------------------
    def energy(
        key: str,
        oid: str,
        title: str,
        metric: str,
        labels: tuple[tuple[str, str], ...] = (),
        periods: tuple[str, ...] = ("day", "month", "year"),
        **kw: Any,
    ) -> Iterator[Quantity]:
        yield Quantity(
            f"{key}_total",
            oid.format(p="total"),
            f"{title} total",
            metric,
            labels,
            **_LIFETIME_ENERGY,
            **kw,
        )
        for period in periods:
            yield Quantity(
                f"{key}_{period}",
                oid.format(p=period),
                f"{title} {period}",
                metric.replace("_energy_joules", "_period_energy_joules"),
                (*labels, ("period", period)),
                **{**_LIFETIME_ENERGY, "kind": "period"},
                **kw,
            )

    yield from energy("inverter_energy", "energy.e_ac_{p}", "Inverter energy", "rct_inverter_energy_joules")
    yield from energy(
        "grid_export_energy",
        "energy.e_grid_feed_{p}",
        "Grid feed-in energy",
        "rct_grid_export_energy_joules",
        absolute=True,
    )
    yield from energy(
        "grid_import_energy", "energy.e_grid_load_{p}", "Grid import energy", "rct_grid_import_energy_joules"
    )
    yield from energy("load_energy", "energy.e_load_{p}", "Household energy", "rct_load_energy_joules")
    for i, gen in enumerate(_GENERATORS):
        yield from energy(
            f"solar_energy_{gen}",
            f"energy.e_dc_{{p}}[{i}]",
            f"Solar {gen.upper()} energy",
            "rct_solar_energy_joules",
            (("generator", gen),),
            needs=f"generator_{gen}",
            periods=("day",),
        )
    yield Quantity(
        "battery_charge_energy_total",
        "battery.stored_energy",
        "Battery charge energy total",
        "rct_battery_charge_energy_joules",
        **_LIFETIME_ENERGY,
        **battery,
    )
    yield Quantity(
        "battery_discharge_energy_total",
        "battery.used_energy",
        "Battery discharge energy total",
        "rct_battery_discharge_energy_joules",
        **_LIFETIME_ENERGY,
        **battery,
    )
    yield Quantity(
        "battery_soh",
        "battery.soh",
        "Battery state of health",
        "rct_battery_state_of_health_ratio",
        tier="energy",
        unit="%",
        ha_scale=100.0,
        diagnostic=True,
        **battery,
    )
    yield Quantity(
        "battery_cycles",
        "battery.cycles",
        "Battery cycles",
        "rct_battery_cycles",
        tier="energy",
        kind="counter",
        state_class="total_increasing",
        diagnostic=True,
        **battery,
    )

    # -- static: identity, versions, what is present ---------------------------------------------------
    def static(key: str, oid: str, title: str, **kw: Any) -> Quantity:
        return Quantity(key, oid, title, tier="static", kind="static", state_class=None, diagnostic=True, **kw)

    yield static("serial_number", "inverter_sn", "Serial number")
    yield static("device_name", "android_description", "Device name")
    yield static("software_version", "svnversion", "Software version")
    yield static("parameter_file", "parameter_file", "Grid code")
    yield static("power_board_version", "db.power_board.version_main", "Power board version")
    yield static("battery_type", "power_mng.battery_type", "Battery type")
    yield static("power_switch_available", "rb485.available", "Power Switch available")
    yield static("generator_a_connected", "dc_conv.dc_conv_struct[0].enabled", "Solar generator A connected")
    yield static("generator_b_connected", "dc_conv.dc_conv_struct[1].enabled", "Solar generator B connected")
    yield static("power_switch_version", "rb485.version_main", "Power Switch version", needs="power_switch")
    yield static("battery_serial_number", "battery.bms_sn", "Battery serial number", device="battery", needs="battery")
    yield static(
        "battery_software_version",
        "battery.bms_software_version",
        "Battery software version",
        device="battery",
        needs="battery",
    )
    for i in range(7):
        yield static(
            f"battery_module_{i}_serial_number",
            f"battery.module_sn[{i}]",
            f"Battery module {i} serial number",
            device="battery",
            needs="battery",
        )


CATALOG: tuple[Quantity, ...] = tuple(_build())
BY_OID: dict[str, Quantity] = {q.oid: q for q in CATALOG}

_KEY_CHARS = re.compile(r"[^a-z0-9]+")


def key_for(name: str) -> str:
    """A stable key for an OID name that is not in the catalog: ``g_sync.q_ac[0]`` -> ``g_sync_q_ac_0``."""
    return _KEY_CHARS.sub("_", name.lower()).strip("_")


def generic(info: ObjectInfo, tier: str) -> Quantity:
    """The entry of an OID added in the config: a gauge ``rct_value{oid=...}`` with the registry's unit."""
    numeric = info.response_data_type not in (DataType.STRING, DataType.UNKNOWN)
    unit = info.unit or None
    return Quantity(
        key=key_for(info.name),
        oid=info.name,
        title=info.description or info.name,
        tier=tier,
        metric="rct_value" if numeric else None,
        labels=(("oid", info.name),),
        kind="enum" if info.is_enum else ("gauge" if numeric else "static"),
        unit=unit if unit not in ("%",) else None,
        state_class="measurement" if numeric and not info.is_enum else None,
        diagnostic=True,
    )


def _check_catalog() -> None:
    """Every catalog OID exists and every key is unique (a programming error otherwise, caught by the tests)."""
    keys = [q.key for q in CATALOG]
    if len(set(keys)) != len(keys):
        raise RuntimeError("duplicate keys in the monitor catalog")
    for q in CATALOG:
        REGISTRY.resolve(q.oid)


_check_catalog()


def metrics_table() -> str:
    """The Markdown table of the catalog's Prometheus metrics (docs/monitor.md shows it; a test checks it)."""
    rows = ["| metric | labels | tier | OID |", "| --- | --- | --- | --- |"]
    families: dict[str, list[Quantity]] = {}
    for q in CATALOG:
        if q.metric is not None:
            families.setdefault(q.metric, []).append(q)
    for metric, members in families.items():
        q = members[0]
        name = metric + ("_total" if q.kind == "counter" else "")
        labels = ["inverter", *(k for k, _ in q.labels), *(["state"] if q.kind == "enum" else [])]
        oids = ", ".join(f"`{m.oid}`" for m in members)
        rows.append(f"| `{name}` | {', '.join(labels)} | {q.tier} | {oids} |")
    return "\n".join(rows) + "\n"

"""The installation's numbers (``ModelParams``) and the model's error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..exceptions import RctClientException
from .devices import DeviceSpec, device_spec

__all__ = ["ModelError", "ModelParams"]


class ModelError(RctClientException, ValueError):
    """A value that the model cannot take (the caller's fault): unknown OID name, or a value that does
    not fit the OID's type."""


@dataclass
class ModelParams:
    """The physical layout of the simulated installation (settable in the TOML config's ``[model]``).

    The defaults are those of the default device model (``storage-dc-6``); :meth:`for_device` gives
    another model's. ``feed_in_limit`` 0 means 70 % of both generators' peak power.
    """

    peak_power_a: float = 5200.0  # W, solar generator A at noon in June without clouds
    peak_power_b: float = 3400.0  # W, solar generator B
    base_load: float = 320.0  # W
    battery_capacity: float = 5700.0  # Wh, all towers together (0: no battery)
    max_charge_power: float = 4500.0  # W
    max_discharge_power: float = 4500.0  # W
    battery_modules: int = 3  # per tower
    battery_towers: int = 1
    module_ah: float = 24.0  # Ah of a module (the modules of a tower are in series)
    inverter_power: float = 6000.0  # W AC
    feed_in_limit: float = 0.0  # W fed into the grid at most (0: 70 % of the peak power)
    sunrise: float = 5.5  # hour of day, UTC (midsummer; shorter days in winter)
    sunset: float = 19.5
    history_days: int = 400  # how far back the logger's history goes (the device's age)
    detail_days: int = 7  # synthetic days before the start whose energies are 5-minute sums (older: coarse)
    minutes_page: int = 24  # points per time series answer (minutes: 2 hours)
    day_page: int = 20
    month_page: int = 12
    year_page: int = 10
    event_page: int = 16

    def __post_init__(self) -> None:
        if self.feed_in_limit <= 0:
            self.feed_in_limit = round(0.7 * (self.peak_power_a + self.peak_power_b), 1)
        if self.battery_towers <= 0 or self.battery_modules <= 0:
            self.battery_towers = self.battery_modules = 0
            self.battery_capacity = self.max_charge_power = self.max_discharge_power = 0.0

    @property
    def has_battery(self) -> bool:
        return self.battery_capacity > 0

    @property
    def cells_in_series(self) -> int:
        """Cells in series in one tower (24 a module)."""
        return 24 * self.battery_modules

    @classmethod
    def for_device(cls, spec: DeviceSpec | str | None = None) -> ModelParams:
        """The parameters of a device model of the catalogue (None: the default one)."""
        if not isinstance(spec, DeviceSpec):
            spec = device_spec(spec)
        return cls(
            peak_power_a=spec.peak_power_a,
            peak_power_b=spec.peak_power_b,
            battery_capacity=spec.battery_towers * spec.battery_modules * spec.module_capacity,
            max_charge_power=spec.max_charge_power,
            max_discharge_power=spec.max_discharge_power,
            battery_modules=spec.battery_modules,
            battery_towers=spec.battery_towers,
            module_ah=spec.module_ah,
            inverter_power=spec.inverter_power,
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], base: ModelParams | None = None) -> ModelParams:
        """``base`` (default: the default device's) with the numbers of ``data`` (a config's ``[model]``)."""
        known = {f.name: f for f in fields(cls)}
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise ModelError(f"unknown model parameter(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        params = base if base is not None else cls()
        changes: dict[str, Any] = {}
        for name, value in data.items():
            current = getattr(params, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ModelError(f"model parameter {name} must be a number, got {value!r}")
            changes[name] = type(current)(value)
        if "battery_modules" in changes and "battery_capacity" not in changes and params.battery_modules:
            # more or fewer modules of the same size
            per_module = params.battery_capacity / (params.battery_modules * max(1, params.battery_towers))
            towers = changes.get("battery_towers", params.battery_towers)
            changes["battery_capacity"] = per_module * changes["battery_modules"] * towers
        if "feed_in_limit" not in changes and ({"peak_power_a", "peak_power_b"} & set(changes)):
            changes["feed_in_limit"] = 0.0  # follows the new peak power
        return replace(params, **changes)

"""The device models the simulator can be: a catalogue read from ``rctclient/data/simulator_devices.toml``.

A :class:`DeviceSpec` is what stays the same for every device of a model: its power class, its
battery (towers, modules), its generators' size and its identity (firmware versions, serial
prefix). The numbers are defaults of :class:`~rctclient.simulator.model.ModelParams`, which a
configuration file may override one by one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from .._data import read_package_data
from ..exceptions import RctClientException

__all__ = ["DEFAULT_DEVICE", "DEVICES", "DeviceSpec", "UnknownDevice", "device_spec"]


class UnknownDevice(RctClientException, ValueError):
    """A device model name that is not in the catalogue (the caller's fault)."""


@dataclass(frozen=True)
class DeviceSpec:
    """One device model of the catalogue (see the data file for where the numbers come from)."""

    name: str
    title: str
    inverter_power: float  # W AC
    peak_power_a: float  # Wp
    peak_power_b: float  # Wp
    battery_towers: int
    battery_modules: int  # per tower
    module_capacity: float  # Wh
    module_ah: float
    max_charge_power: float  # W
    max_discharge_power: float  # W
    serial: str
    svnversion: str
    svnversion_factory: str
    bms_software_version: int
    bms_power_version: int
    stack_software_version: int
    power_board_version: int
    rb485_version: int

    @property
    def has_battery(self) -> bool:
        return self.battery_towers > 0 and self.battery_modules > 0


@cache
def _catalogue() -> tuple[str, dict[str, DeviceSpec]]:
    data = tomllib.loads(read_package_data("simulator_devices.toml"))
    names = {f.name for f in fields(DeviceSpec)} - {"name"}
    devices: dict[str, DeviceSpec] = {}
    for name, entry in data["devices"].items():
        values: dict[str, Any] = {k: entry[k] for k in names}
        devices[name] = DeviceSpec(name=name, **values)
    return data["default"], devices


DEFAULT_DEVICE: str = _catalogue()[0]
#: The catalogue by name, in the data file's order.
DEVICES: dict[str, DeviceSpec] = _catalogue()[1]


def device_spec(name: str | None) -> DeviceSpec:
    """The device model ``name`` (None: the default one)."""
    key = DEFAULT_DEVICE if name is None else name.strip().lower()
    try:
        return DEVICES[key]
    except KeyError:
        raise UnknownDevice(f"unknown device model {name!r} (known: {', '.join(DEVICES)})") from None

"""The device model: what a simulated inverter knows and how its values move with time.

Every OID of the registry answers what a healthy device of the chosen model (see
:mod:`~rctclient.simulator.devices`) would:

* settings from the data file of :mod:`~rctclient.simulator.values` (grid code limits, network,
  I/O board, display, ...), each group with its sources;
* identity (serial numbers, versions, capacities) and absent hardware from the device model;
* measurements, battery counters and dates computed from the time of day (:mod:`.physics`,
  :mod:`.live`), energy counters and the logger's history (:mod:`.history`).

Everything is a pure function of the seed and the clock, except the battery, whose state is
integrated in steps of at most a minute. Writes are stored; :meth:`DeviceModel.set` pins inputs.

SOC-like values are fractions 0..1 on the wire although the registry's unit says %.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from ..registry import REGISTRY, ObjectInfo, Registry
from ..types import DataType
from ..utils import encode_value
from .clock import Clock
from .devices import DeviceSpec, device_spec
from .history import PERIODS
from .live import Live, zero_of
from .params import ModelError, ModelParams
from .physics import DAY, M64, period_next, period_prev, period_start
from .values import settings

__all__ = ["DeviceModel", "ModelError", "ModelParams", "period_next", "period_prev", "period_start"]

#: Setting these pins an input of the model (the rest of the balance follows).
_SOLAR_PINS = {
    "dc_conv.dc_conv_struct[0].p_dc": "solar_a",
    "dc_conv.dc_conv_struct[0].p_dc_lp": "solar_a",
    "dc_conv.dc_conv_struct[1].p_dc": "solar_b",
    "dc_conv.dc_conv_struct[1].p_dc_lp": "solar_b",
    "g_sync.p_ac_load_sum_lp": "load",
}

_ENERGY_NAMES: dict[str, tuple[str, str]] = {}
for _period in (*PERIODS, "total"):
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


class DeviceModel(Live):
    """The state of one simulated device.

    :param seed: everything random derives from it: same seed and clock, same values.
    :param clock: where the time comes from (default: a real-time :class:`Clock`).
    :param address: the device's address for PLANT commands.
    :param index: the device's position in a plant (varies serial number and values).
    :param params: the installation's layout (default: the device model's).
    :param values: fixed values by OID name (served as they are).
    :param spec: the device model (a name of :data:`~rctclient.simulator.devices.DEVICES` or a
        :class:`~rctclient.simulator.devices.DeviceSpec`; default ``storage-dc-6``).
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
        spec: DeviceSpec | str | None = None,
    ) -> None:
        self.spec = spec if isinstance(spec, DeviceSpec) else device_spec(spec)
        self.seed = (int(seed) * 1000003 + index) & M64
        self.clock = clock if clock is not None else Clock()
        self.address = address
        self.index = index
        self.params = params if params is not None else ModelParams.for_device(self.spec)
        self.registry = registry
        self._lock = threading.RLock()
        self._fixed: dict[str, Any] = {}
        self._pins: dict[str, float] = {}
        self.start = int(self.clock.now())
        self.install = period_start("day", self.start) - self.params.history_days * DAY  # the commissioning day
        self._detail_from = period_start("day", self.start) - max(0, self.params.detail_days) * DAY
        self._stored: dict[str, Any] = settings(self.params)
        self._stored.update(self._identity(int(seed)))
        self._structure()
        self._init_history()
        self._cache_t = -1.0
        self._cache: dict[str, Any] = {}
        # encoded READ answers by OID name, valid as long as _cache (same clock window, no set())
        self._encoded: dict[str, bytes] = {}
        self._dynamic = self._struct_getters()
        self._slow = self._slow_getters()
        if values:
            self.update(values, fixed=True)

    def _now(self) -> float:
        return self.clock.now()

    def _now_values(self) -> dict[str, Any]:
        """The fast values at the clock's current time (cached while it does not move)."""
        now = self.clock.now()
        if now == self._cache_t or (0 <= now - self._cache_t < 0.05):
            return self._cache
        self._advance(now)
        self._cache = self._fast_values(now)
        self._cache_t = now
        self._encoded.clear()
        return self._cache

    # -- reading ---------------------------------------------------------------------------------

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
        absent = self._absent.get(name)
        if absent is not None:
            return absent
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
        slow = self._slow.get(name)
        if slow is not None:
            return slow()
        now_values = self._now_values()
        if name in now_values:
            return now_values[name]
        return zero_of(info)  # only OIDs with a listed zero reason get here (see the tests)

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

    # -- writing ---------------------------------------------------------------------------------

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
            elif name == "battery.soc" and self.params.has_battery:
                self._advance(self.clock.now())
                self._soc = max(0.0, min(1.0, float(value)))
            elif name in _SOLAR_PINS:
                self._advance(self.clock.now())
                self._pins[_SOLAR_PINS[name]] = float(value)
            elif name in self._now_values() or name in self._dynamic or name in self._slow or name in self._absent:
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

    # -- history ---------------------------------------------------------------------------------

    def history(self, info: ObjectInfo, before: int) -> tuple[int, list[tuple[int, Any]]]:
        """One page of a time series or the event table: ``(header, [(timestamp, value)])``, newest first.

        The points are those logged at or before ``before`` (and not after the clock's now).
        """
        with self._lock:
            return super().history(info, before)

"""Fault profiles, the TOML configuration and JSON snapshots of the simulator.

Configuration file (TOML), every key optional::

    seed = 7
    faults = "realistic"          # ideal | realistic | hostile
    shared_bus = true
    night_silent = false          # go silent while the sun is down, like inverters without battery
    max_clients = 256             # connections open at once; more are refused
    idle_timeout = 600            # seconds: close connections that send (or read) nothing; 0 never

    [fault_rates]                 # single rates on top of the profile (probabilities 0..1, seconds)
    lost_answer = 0.02
    latency = [0.01, 0.08]

    [model]                       # the device model (see devices.py) and its numbers (see ModelParams)
    name = "storage-dc-10-two-towers"   # or, instead of the table: model = "inverter-6"
    peak_power_a = 6000

    [portal]                      # the vendor portal's polling, heard on the shared bus
    enabled = true
    period = 10                   # seconds between its rounds
    oids = ["battery.soc", "g_sync.p_ac_grid_sum_lp"]

    [values]                      # fixed values by OID name, for the first device
    "battery.soc_target" = 0.6

    [plant]                       # a plant of several devices
    devices = 3                   # or: addresses = [0x1001, 0x1002]

    [[plant.device]]              # per-device values (matched by address)
    address = 0x1002
    values = { "inverter_sn" = "B" }

Snapshot (the format of ``rctclient dump``)::

    {"rctclient_snapshot": 1, "taken_at": "2024-06-01T12:00:00+00:00", "values": {"battery.soc": 0.5},
     "other": {"battery.cells[0]": {"cells": {"0": {...}}}}}

("other": the structured values of ``dump --all``, replayed too), or just ``{"battery.soc": 0.5}``.
"""

from __future__ import annotations

import ipaddress
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from ..exceptions import RctClientException
from ..registry import REGISTRY
from .devices import UnknownDevice, device_spec
from .params import ModelError, ModelParams
from .structured import from_jsonable

__all__ = [
    "DEFAULT_IDLE_TIMEOUT",
    "DEFAULT_MAX_CLIENTS",
    "DEFAULT_PORTAL_OIDS",
    "PROFILES",
    "ConfigError",
    "FaultProfile",
    "PortalSettings",
    "SimulatorConfig",
    "check_host",
    "check_idle_timeout",
    "check_max_clients",
    "is_loopback",
    "load_config",
    "load_snapshot",
    "parse_config",
    "parse_snapshot",
]


_RANGES = ("latency", "silence_duration")  # the FaultProfile fields that are (min, max) seconds


class ConfigError(RctClientException, ValueError):
    """A configuration file, snapshot or argument that cannot be used (the caller's fault; the message
    says which part and why)."""


#: Defaults of the connection limits (``max_clients``, ``idle_timeout``).
DEFAULT_MAX_CLIENTS = 256
DEFAULT_IDLE_TIMEOUT = 600.0
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def check_host(host: str) -> str:
    """The address to listen on; an empty one is an error (it would silently mean every interface)."""
    if not isinstance(host, str) or not host.strip():
        raise ConfigError("the address to listen on is empty: give 0.0.0.0 or :: to listen on every interface")
    return host.strip()


def is_loopback(host: str) -> bool:
    """Whether ``host`` is this machine only (a loopback address or name)."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_max_clients(value: object) -> int:
    if value is None:
        return DEFAULT_MAX_CLIENTS
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"max_clients must be a positive integer, got {value!r}")
    return value


def check_idle_timeout(value: object) -> float:
    if value is None:
        return DEFAULT_IDLE_TIMEOUT
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < float("inf"):
        raise ConfigError(f"idle_timeout must be seconds >= 0 (0: never), got {value!r}")
    return float(value)


@dataclass(frozen=True)
class FaultProfile:
    """Rates (probabilities 0..1 per opportunity) and delays (seconds, real time) of injected faults.

    :ivar lost_answer: an answer is not sent.
    :ivar truncated_payload: an answer's payload is cut short; its length and CRC match the cut payload.
    :ivar wrong_crc: an answer's CRC is wrong.
    :ivar interrupt: a request arriving while an answer is being prepared (latency, or the previous
        request of the same burst) cuts that answer off after a random number of bytes.
    :ivar latency: (min, max) extra delay of every answer.
    :ivar silence: per request, the chance that the device goes silent for ``silence_duration``
        (connections are accepted, nothing is answered), as at night.
    :ivar silence_duration: (min, max) length of such a silence.
    :ivar write_unanswered: a write is applied but not answered.
    :ivar unsolicited: after an answer, an extra answer for an OID nobody asked for.
    """

    lost_answer: float = 0.0
    truncated_payload: float = 0.0
    wrong_crc: float = 0.0
    interrupt: float = 0.0
    latency: tuple[float, float] = (0.0, 0.0)
    silence: float = 0.0
    silence_duration: tuple[float, float] = (5.0, 30.0)
    write_unanswered: float = 0.0
    unsolicited: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _RANGES:
                if (
                    not isinstance(value, tuple | list)
                    or len(value) != 2
                    or not all(isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value)
                ):
                    raise ConfigError(f"fault {f.name} must be (min, max) seconds >= 0, got {value!r}")
                low, high = float(value[0]), float(value[1])
                if low > high:
                    raise ConfigError(f"fault {f.name}: min {low} is greater than max {high}")
                object.__setattr__(self, f.name, (low, high))
            elif isinstance(value, bool) or not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"fault rate {f.name} must be a number in 0..1, got {value!r}")

    @classmethod
    def named(cls, name: str) -> FaultProfile:
        """The profile ``ideal``, ``realistic`` or ``hostile``."""
        try:
            return PROFILES[name.strip().lower()]
        except KeyError:
            raise ConfigError(f"unknown fault profile {name!r} (known: {', '.join(PROFILES)})") from None

    def with_rates(self, rates: Mapping[str, Any]) -> FaultProfile:
        """A copy with some rates changed; unknown names raise ConfigError."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(rates) - known)
        if unknown:
            raise ConfigError(f"unknown fault rate(s): {', '.join(unknown)} (known: {', '.join(sorted(known))})")
        changes = {k: tuple(v) if isinstance(v, list) else v for k, v in rates.items()}
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def is_ideal(self) -> bool:
        return self == PROFILES["ideal"]


PROFILES: dict[str, FaultProfile] = {
    "ideal": FaultProfile(),
    # Rates as seen on Wi-Fi connected devices in the field.
    "realistic": FaultProfile(
        lost_answer=0.01,
        truncated_payload=0.004,
        wrong_crc=0.002,
        interrupt=0.05,
        latency=(0.005, 0.06),
        silence=0.0002,
        silence_duration=(2.0, 15.0),
        write_unanswered=0.05,
        unsolicited=0.01,
    ),
    "hostile": FaultProfile(
        lost_answer=0.1,
        truncated_payload=0.05,
        wrong_crc=0.05,
        interrupt=0.3,
        latency=(0.0, 0.3),
        silence=0.003,
        silence_duration=(1.0, 8.0),
        write_unanswered=0.3,
        unsolicited=0.1,
    ),
}


#: What the simulated vendor portal asks for in each round: the values of its live view and the
#: day's energies (see docs/simulator.md).
DEFAULT_PORTAL_OIDS = (
    "dc_conv.dc_conv_struct[0].p_dc",
    "dc_conv.dc_conv_struct[1].p_dc",
    "g_sync.p_ac_load_sum_lp",
    "g_sync.p_ac_grid_sum_lp",
    "g_sync.p_acc_lp",
    "g_sync.p_ac_sum_lp",
    "battery.soc",
    "prim_sm.state",
    "energy.e_ac_day",
    "energy.e_load_day",
    "energy.e_grid_feed_day",
    "energy.e_grid_load_day",
    "fault[0].flt",
    "fault[1].flt",
    "fault[2].flt",
    "fault[3].flt",
)
_MAX_PORTAL_OIDS = 64


@dataclass(frozen=True)
class PortalSettings:
    """The vendor portal's traffic on the shared bus, as a real Wi-Fi module carries it.

    Every ``period`` seconds (real time; the first round half a second after the start) the portal
    reads ``oids`` one after the other: its READ requests and the device's answers reach every
    connected client as foreign frames. Only on a shared bus (without one nobody hears them).
    """

    enabled: bool = True
    period: float = 10.0
    oids: tuple[str, ...] = DEFAULT_PORTAL_OIDS

    def __post_init__(self) -> None:
        if not isinstance(self.enabled, bool):
            raise ConfigError(f"portal enabled must be true or false, got {self.enabled!r}")
        if (
            isinstance(self.period, bool)
            or not isinstance(self.period, int | float)
            or not 0.05 <= self.period <= 86400
        ):
            raise ConfigError(f"portal period must be seconds in 0.05..86400, got {self.period!r}")
        oids = tuple(self.oids) if isinstance(self.oids, list | tuple) else None
        if not oids or len(oids) > _MAX_PORTAL_OIDS or not all(isinstance(o, str) for o in oids):
            raise ConfigError(f"portal oids must be a list of 1..{_MAX_PORTAL_OIDS} OID names")
        unknown = sorted(o for o in oids if o not in REGISTRY)
        if unknown:
            raise ConfigError(f"portal oids: unknown OID name(s): {', '.join(unknown)}")
        object.__setattr__(self, "period", float(self.period))
        object.__setattr__(self, "oids", oids)

    @classmethod
    def off(cls) -> PortalSettings:
        return cls(enabled=False)


@dataclass
class DeviceConfig:
    address: int
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class SimulatorConfig:
    """Everything a configuration file can set. ``None`` means "not set here"."""

    seed: int | None = None
    faults: FaultProfile | None = None
    shared_bus: bool | None = None
    night_silent: bool = False
    params: ModelParams = field(default_factory=ModelParams)
    values: dict[str, Any] = field(default_factory=dict)
    plant: int | None = None
    addresses: list[int] | None = None
    device_values: dict[int, dict[str, Any]] = field(default_factory=dict)
    max_clients: int | None = None
    idle_timeout: float | None = None
    device: str | None = None  # the device model's name (None: the default)
    model_overrides: dict[str, Any] = field(default_factory=dict)  # the [model] numbers, for another device
    portal: PortalSettings | None = None


def _table(data: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _check_names(values: Mapping[str, Any], where: str) -> dict[str, Any]:
    unknown = sorted(name for name in values if name not in REGISTRY)
    if unknown:
        raise ConfigError(f"{where}: unknown OID name(s): {', '.join(unknown)}")
    return dict(values)


def parse_config(data: Mapping[str, Any], where: str = "config") -> SimulatorConfig:
    """Check and convert the parsed TOML of a configuration file."""
    known = {
        "seed",
        "faults",
        "shared_bus",
        "night_silent",
        "max_clients",
        "idle_timeout",
        "portal",
        "fault_rates",
        "model",
        "values",
        "plant",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    cfg = SimulatorConfig()
    if "seed" in data:
        if not isinstance(data["seed"], int) or isinstance(data["seed"], bool):
            raise ConfigError(f"{where}: seed must be an integer")
        cfg.seed = data["seed"]
    for flag in ("shared_bus", "night_silent"):
        if flag in data and not isinstance(data[flag], bool):
            raise ConfigError(f"{where}: {flag} must be true or false")
    if "shared_bus" in data:
        cfg.shared_bus = data["shared_bus"]
    cfg.night_silent = bool(data.get("night_silent", False))
    try:
        if "max_clients" in data:
            cfg.max_clients = check_max_clients(data["max_clients"])
        if "idle_timeout" in data:
            cfg.idle_timeout = check_idle_timeout(data["idle_timeout"])
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    rates = _table(data, "fault_rates", where)
    if "faults" in data or rates:
        profile = FaultProfile.named(str(data.get("faults", "ideal")))
        try:
            cfg.faults = profile.with_rates(rates)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    model = data.get("model", {})
    if isinstance(model, str):
        model = {"name": model}
    if not isinstance(model, Mapping):
        raise ConfigError(f"{where}: model must be a device model's name or a [model] table")
    overrides = {k: v for k, v in model.items() if k != "name"}
    try:
        if "name" in model:
            if not isinstance(model["name"], str):
                raise ConfigError(f"model name must be a string, got {model['name']!r}")
            cfg.device = device_spec(model["name"]).name
        cfg.params = ModelParams.from_mapping(overrides, ModelParams.for_device(cfg.device))
    except (ModelError, UnknownDevice, ConfigError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
    cfg.model_overrides = overrides
    portal = _table(data, "portal", where)
    if portal:
        extra = sorted(set(portal) - {"enabled", "period", "oids"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) in [portal]: {', '.join(extra)}")
        try:
            cfg.portal = PortalSettings(**portal)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    cfg.values = _check_names(_table(data, "values", where), f"{where} [values]")
    plant = _table(data, "plant", where)
    if plant:
        extra = sorted(set(plant) - {"devices", "addresses", "device"})
        if extra:
            raise ConfigError(f"{where}: unknown key(s) in [plant]: {', '.join(extra)}")
        if "addresses" in plant:
            addresses = plant["addresses"]
            if not isinstance(addresses, list) or not all(
                isinstance(a, int) and 0 <= a <= 0xFFFFFFFF for a in addresses
            ):
                raise ConfigError(f"{where}: [plant] addresses must be a list of 32-bit integers")
            if len(set(addresses)) != len(addresses) or not addresses:
                raise ConfigError(f"{where}: [plant] addresses must be distinct and not empty")
            cfg.addresses = list(addresses)
            cfg.plant = len(addresses)
        elif "devices" in plant:
            if not isinstance(plant["devices"], int) or plant["devices"] < 1:
                raise ConfigError(f"{where}: [plant] devices must be a positive integer")
            cfg.plant = plant["devices"]
        for i, dev in enumerate(plant.get("device", [])):
            if not isinstance(dev, Mapping) or not isinstance(dev.get("address"), int):
                raise ConfigError(f"{where}: [[plant.device]] #{i + 1} needs an integer address")
            values = dev.get("values", {})
            if not isinstance(values, Mapping):
                raise ConfigError(f"{where}: [[plant.device]] #{i + 1}: values must be a table")
            cfg.device_values[dev["address"]] = _check_names(values, f"{where} [[plant.device]] #{i + 1}")
    return cfg


def load_config(path: str | Path) -> SimulatorConfig:
    """Read a TOML configuration file."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return parse_config(data, str(path))


def parse_snapshot(data: Any, where: str = "snapshot") -> dict[str, Any]:
    """The values (by OID name) of a parsed snapshot; unknown names raise ConfigError naming them."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a JSON object")
    if "rctclient_snapshot" in data:
        if data["rctclient_snapshot"] != 1:
            raise ConfigError(f"{where}: unsupported snapshot version {data['rctclient_snapshot']!r}")
        values = data.get("values")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: 'values' must be an object of OID name -> value")
    else:
        values = data
    bad = sorted(name for name, v in values.items() if not isinstance(v, bool | int | float | str))
    if bad:
        raise ConfigError(f"{where}: values must be numbers, booleans or strings: {', '.join(bad)}")
    out = _check_names(values, where)
    other = data.get("other", {}) if "rctclient_snapshot" in data else {}
    if not isinstance(other, dict):
        raise ConfigError(f"{where}: 'other' must be an object of OID name -> structured value")
    _check_names(other, f"{where} (other)")
    broken = []
    for name, value in other.items():
        try:
            out[name] = from_jsonable(REGISTRY.get_by_name(name), value)
        except (ValueError, KeyError, TypeError):
            broken.append(name)
    if broken:
        raise ConfigError(f"{where}: structured values that do not fit their type: {', '.join(sorted(broken))}")
    return out


def load_snapshot(path: str | Path) -> dict[str, Any]:
    """Read a JSON snapshot file (see the module docstring)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from None
    return parse_snapshot(data, str(path))

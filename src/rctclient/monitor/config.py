"""The monitor's configuration: a TOML file (or the quick-start options), checked before anything starts.

Every key is known and typed; a mistake is one line that names the key (``config: mqtt.refresh: ...``)
and nothing starts. :data:`DEFAULT_CONFIG` is the commented default that ``rctclient monitor
--print-config`` prints; it loads back to :func:`default_config` (a test checks both, and that
``docs/monitor.md`` shows it).
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

from ..exceptions import RctClientException

__all__ = [
    "DEFAULT_CONFIG",
    "DeviceConfig",
    "InfluxConfig",
    "LogConfig",
    "MonitorConfig",
    "MonitorConfigError",
    "MqttConfig",
    "PollConfig",
    "PrometheusConfig",
    "StdoutConfig",
    "default_config",
    "load_config",
    "parse_config",
]

TIERS = ("fast", "slow", "energy", "static")


class MonitorConfigError(RctClientException, ValueError):
    """The configuration cannot be used (the user's mistake); the message names the key."""


@dataclass(frozen=True, slots=True)
class DeviceConfig:
    """One device to poll (an inverter, or ``rctclient proxy`` in front of one)."""

    host: str
    port: int = 8899
    #: A label for the logs and the daemon's own metrics; the identity is the serial number.
    name: str = ""
    #: Plant address (PLANT commands); None for a single device.
    address: int | None = None
    timeout: float = 3.0
    retries: int = 2

    @property
    def label(self) -> str:
        return self.name or f"{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class PollConfig:
    """The tiers' intervals (seconds) and changes to the default plan (OID names and globs)."""

    fast: float = 10.0
    slow: float = 60.0
    energy: float = 300.0
    static: float = 3600.0
    #: tier -> names or globs added to it.
    add: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: names or globs removed from every tier.
    remove: tuple[str, ...] = ()

    def interval(self, tier: str) -> float:
        value: float = getattr(self, tier)
        return value


@dataclass(frozen=True, slots=True)
class PrometheusConfig:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 9831
    #: Also export the process_* and python_* series of prometheus_client.
    process_metrics: bool = False


@dataclass(frozen=True, slots=True)
class MqttConfig:
    enabled: bool = False
    host: str = "localhost"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: str | None = None
    cert_file: str | None = None
    key_file: str | None = None
    #: States go to ``<topic>/<serial>/<key>``.
    topic: str = "rctclient"
    discovery: bool = True
    discovery_prefix: str = "homeassistant"
    #: Unchanged states are published again after this many seconds.
    refresh: float = 300.0
    #: number/select/switch entities for the settings on the safe-write allow-list.
    control: bool = False
    #: At most one command per this many seconds and device.
    control_interval: float = 2.0
    keepalive: int = 60


@dataclass(frozen=True, slots=True)
class InfluxConfig:
    enabled: bool = False
    url: str = "http://localhost:8086"
    #: InfluxDB 1.x: the database (and optional credentials).
    database: str = "rct"
    username: str | None = None
    password: str | None = None
    #: InfluxDB 2.x: org, bucket and token (setting a bucket selects the 2.x API).
    org: str | None = None
    bucket: str | None = None
    token: str | None = None
    measurement: str = "rct"
    batch_size: int = 1000
    flush_interval: float = 10.0
    #: Lines kept while the database is away; the oldest are dropped (and counted) beyond it.
    queue_max: int = 100_000
    timeout: float = 10.0

    @property
    def v2(self) -> bool:
        return self.bucket is not None


@dataclass(frozen=True, slots=True)
class StdoutConfig:
    #: "" (off), "influx" (line protocol, for Telegraf's execd/stdin input) or "json" (one object per line).
    format: str = ""


@dataclass(frozen=True, slots=True)
class LogConfig:
    format: str = "text"
    level: str = "info"


@dataclass(frozen=True, slots=True)
class MonitorConfig:
    devices: tuple[DeviceConfig, ...]
    poll: PollConfig = PollConfig()
    prometheus: PrometheusConfig = PrometheusConfig()
    mqtt: MqttConfig = MqttConfig()
    influx: InfluxConfig = InfluxConfig()
    stdout: StdoutConfig = StdoutConfig()
    log: LogConfig = LogConfig()


DEFAULT_CONFIG = """\
# rctclient monitor configuration (TOML). Every key is optional except device.host.
# The daemon keeps no state on disk; identity comes from each device's serial number.

# One [[device]] table per inverter (each gets its own connection and task).
# host may be 'rctclient proxy' in front of the inverter.
[[device]]
host = "192.168.0.10"
port = 8899
name = "home"        # a label for the logs; not part of any metric or topic name
# address = 0x20001001  # plant address (PLANT commands), only for a plant
timeout = 3.0        # seconds per request, all attempts
retries = 2

# Poll intervals in seconds, and changes to the default plan (OID names or globs, see
# 'rctclient registry list'). Values the device does not have are never polled.
[poll]
fast = 10.0          # powers, SOC, voltages, state, faults
slow = 60.0          # temperatures, SOC targets, insulation
energy = 300.0       # energy counters, battery health
static = 3600.0      # names, serials, versions (and at start)
remove = []          # e.g. ["db.core_temp"]
# add = { slow = ["g_sync.q_ac_sum_lp", "battery.cells_stat[0].*"] }

[prometheus]
enabled = true
host = "127.0.0.1"
port = 9831
process_metrics = false   # also export process_* and python_* series

[mqtt]
enabled = false
host = "localhost"
port = 1883
# username = "rct"
# password = "secret"
tls = false
# ca_file = "/etc/ssl/certs/ca-certificates.crt"
# cert_file = "client.pem"
# key_file = "client.key"
topic = "rctclient"              # states under <topic>/<serial>/<key>
discovery = true                 # Home Assistant MQTT discovery
discovery_prefix = "homeassistant"
refresh = 300.0                  # publish unchanged states again after this many seconds
control = false                  # number/select/switch entities for the safe-write allow-list
control_interval = 2.0           # at most one command per this many seconds and device
keepalive = 60

[influx]
enabled = false
url = "http://localhost:8086"
database = "rct"                 # InfluxDB 1.x
# username = "rct"
# password = "secret"
# org = "home"                   # InfluxDB 2.x: setting a bucket selects the /api/v2/write API
# bucket = "rct"
# token = "..."
measurement = "rct"
batch_size = 1000
flush_interval = 10.0
queue_max = 100000               # lines kept while the database is away; the oldest are dropped beyond
timeout = 10.0

[stdout]
format = ""                      # "influx" (line protocol, for Telegraf) or "json"

[log]
format = "text"                  # or "json" (one object per line, for journald/Loki)
level = "info"                   # debug, info, warning, error
"""


def default_config() -> MonitorConfig:
    """What :data:`DEFAULT_CONFIG` says (for the tests)."""
    return parse_config(tomllib.loads(DEFAULT_CONFIG))


def load_config(path: str | Path) -> MonitorConfig:
    """Read and check a TOML file; raises :class:`MonitorConfigError` with one line naming the problem."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise MonitorConfigError(f"config: cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise MonitorConfigError(f"config: {path} is not UTF-8 text") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MonitorConfigError(f"config: {path}: not valid TOML: {exc}") from None
    return parse_config(data)


# -- checking --------------------------------------------------------------------------------------

T = TypeVar("T")


def _fail(key: str, message: str) -> MonitorConfigError:
    return MonitorConfigError(f"config: {key}: {message}")


def _table(data: Any, key: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise _fail(key, f"expected a table, got {data!r}")
    return data


def _check_keys(data: Mapping[str, Any], key: str, known: tuple[str, ...]) -> None:
    for name in data:
        if name not in known:
            where = f"{key}.{name}" if key else name
            raise MonitorConfigError(f"config: unknown key {where!r} (known: {', '.join(known)})")


def _bool(value: Any, key: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(key, f"expected true or false, got {value!r}")
    return value


def _str(value: Any, key: str, *, empty: bool = True) -> str:
    if not isinstance(value, str) or (not empty and not value.strip()):
        raise _fail(key, f"expected a {'' if empty else 'non-empty '}string, got {value!r}")
    return value


def _number(value: Any, key: str, *, low: float = 0.0, high: float = math.inf, inclusive: bool = False) -> float:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value < low or (value == low and not inclusive) or value > high):
        ok = False
    if not ok:
        bound = f">= {low:g}" if inclusive else f"> {low:g}"
        limit = "" if high == math.inf else f" and <= {high:g}"
        raise _fail(key, f"expected a number {bound}{limit}, got {value!r}")
    return float(value)


def _int(value: Any, key: str, *, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise _fail(key, f"expected an integer {low}..{high}, got {value!r}")
    return value


def _names(value: Any, key: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(key, f"expected a list of OID names or globs, got {value!r}")
    return tuple(v.strip() for v in value)


def _optional(data: Mapping[str, Any], name: str, key: str, check: Callable[[Any, str], T]) -> T | None:
    return check(data[name], f"{key}.{name}") if name in data else None


def _device(data: Any, key: str) -> DeviceConfig:
    table = _table(data, key)
    _check_keys(table, key, ("host", "port", "name", "address", "timeout", "retries"))
    if "host" not in table:
        raise _fail(f"{key}.host", "missing (the device's host name or address)")
    return DeviceConfig(
        host=_str(table["host"], f"{key}.host", empty=False).strip(),
        port=_int(table.get("port", 8899), f"{key}.port", low=1, high=65535),
        name=_str(table.get("name", ""), f"{key}.name").strip(),
        address=_optional(table, "address", key, lambda v, k: _int(v, k, low=0, high=0xFFFFFFFF)),
        timeout=_number(table.get("timeout", 3.0), f"{key}.timeout", high=120.0),
        retries=_int(table.get("retries", 2), f"{key}.retries", low=0, high=10),
    )


_POLL_DEFAULTS = PollConfig()


def _poll(data: Any) -> PollConfig:
    table = _table(data, "poll")
    _check_keys(table, "poll", (*TIERS, "add", "remove"))
    intervals = {
        tier: _number(table.get(tier, getattr(_POLL_DEFAULTS, tier)), f"poll.{tier}", low=1.0, inclusive=True)
        for tier in TIERS
    }
    add_table = _table(table.get("add", {}), "poll.add")
    _check_keys(add_table, "poll.add", TIERS)
    add = {tier: _names(names, f"poll.add.{tier}") for tier, names in add_table.items()}
    return PollConfig(**intervals, add=add, remove=_names(table.get("remove", []), "poll.remove"))


def _prometheus(data: Any) -> PrometheusConfig:
    table = _table(data, "prometheus")
    _check_keys(table, "prometheus", ("enabled", "host", "port", "process_metrics"))
    return PrometheusConfig(
        enabled=_bool(table.get("enabled", True), "prometheus.enabled"),
        host=_str(table.get("host", "127.0.0.1"), "prometheus.host", empty=False),
        port=_int(table.get("port", 9831), "prometheus.port", low=0, high=65535),
        process_metrics=_bool(table.get("process_metrics", False), "prometheus.process_metrics"),
    )


def _topic(value: Any, key: str) -> str:
    text = _str(value, key, empty=False).strip().strip("/")
    if not text or any(c in text for c in "+#\0"):
        raise _fail(key, f"not a usable MQTT topic prefix: {value!r} (no '+', '#')")
    return text


def _mqtt(data: Any) -> MqttConfig:
    table = _table(data, "mqtt")
    known = tuple(MqttConfig.__dataclass_fields__)
    _check_keys(table, "mqtt", known)
    d = MqttConfig()
    return MqttConfig(
        enabled=_bool(table.get("enabled", d.enabled), "mqtt.enabled"),
        host=_str(table.get("host", d.host), "mqtt.host", empty=False),
        port=_int(table.get("port", d.port), "mqtt.port", low=1, high=65535),
        username=_optional(table, "username", "mqtt", _str),
        password=_optional(table, "password", "mqtt", _str),
        tls=_bool(table.get("tls", d.tls), "mqtt.tls"),
        ca_file=_optional(table, "ca_file", "mqtt", _str),
        cert_file=_optional(table, "cert_file", "mqtt", _str),
        key_file=_optional(table, "key_file", "mqtt", _str),
        topic=_topic(table.get("topic", d.topic), "mqtt.topic"),
        discovery=_bool(table.get("discovery", d.discovery), "mqtt.discovery"),
        discovery_prefix=_topic(table.get("discovery_prefix", d.discovery_prefix), "mqtt.discovery_prefix"),
        refresh=_number(table.get("refresh", d.refresh), "mqtt.refresh", low=1.0, inclusive=True),
        control=_bool(table.get("control", d.control), "mqtt.control"),
        control_interval=_number(
            table.get("control_interval", d.control_interval), "mqtt.control_interval", inclusive=True
        ),
        keepalive=_int(table.get("keepalive", d.keepalive), "mqtt.keepalive", low=5, high=3600),
    )


def _influx(data: Any) -> InfluxConfig:
    table = _table(data, "influx")
    _check_keys(table, "influx", tuple(InfluxConfig.__dataclass_fields__))
    d = InfluxConfig()
    url = _str(table.get("url", d.url), "influx.url", empty=False).rstrip("/")
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
        raise _fail("influx.url", f"expected http://host:port or https://..., got {url!r}")
    config = InfluxConfig(
        enabled=_bool(table.get("enabled", d.enabled), "influx.enabled"),
        url=url,
        database=_str(table.get("database", d.database), "influx.database", empty=False),
        username=_optional(table, "username", "influx", _str),
        password=_optional(table, "password", "influx", _str),
        org=_optional(table, "org", "influx", _str),
        bucket=_optional(table, "bucket", "influx", _str),
        token=_optional(table, "token", "influx", _str),
        measurement=_str(table.get("measurement", d.measurement), "influx.measurement", empty=False),
        batch_size=_int(table.get("batch_size", d.batch_size), "influx.batch_size", low=1, high=100_000),
        flush_interval=_number(table.get("flush_interval", d.flush_interval), "influx.flush_interval", high=3600.0),
        queue_max=_int(table.get("queue_max", d.queue_max), "influx.queue_max", low=1, high=10_000_000),
        timeout=_number(table.get("timeout", d.timeout), "influx.timeout", high=300.0),
    )
    if config.bucket is not None and config.org is None:
        raise _fail("influx.org", "missing (InfluxDB 2.x needs org with bucket)")
    return config


def _stdout(data: Any) -> StdoutConfig:
    table = _table(data, "stdout")
    _check_keys(table, "stdout", ("format",))
    fmt = _str(table.get("format", ""), "stdout.format")
    if fmt not in ("", "influx", "json"):
        raise _fail("stdout.format", f'expected "", "influx" or "json", got {fmt!r}')
    return StdoutConfig(format=fmt)


def _log(data: Any) -> LogConfig:
    table = _table(data, "log")
    _check_keys(table, "log", ("format", "level"))
    fmt = _str(table.get("format", "text"), "log.format")
    level = _str(table.get("level", "info"), "log.level").lower()
    if fmt not in ("text", "json"):
        raise _fail("log.format", f'expected "text" or "json", got {fmt!r}')
    if level not in ("debug", "info", "warning", "error"):
        raise _fail("log.level", f"expected debug, info, warning or error, got {level!r}")
    return LogConfig(format=fmt, level=level)


def parse_config(data: Mapping[str, Any]) -> MonitorConfig:
    """Check a parsed TOML document (see :data:`DEFAULT_CONFIG` for the keys)."""
    _check_keys(data, "", ("device", "poll", "prometheus", "mqtt", "influx", "stdout", "log"))
    devices_data = data.get("device", [])
    if isinstance(devices_data, dict):
        devices_data = [devices_data]
    if not isinstance(devices_data, list) or not devices_data:
        raise _fail("device", "at least one [[device]] table with a host is needed")
    devices = tuple(_device(d, f"device[{i}]") for i, d in enumerate(devices_data))
    labels = [d.label for d in devices]
    for i, label in enumerate(labels):
        if label in labels[:i]:
            raise _fail(f"device[{i}].name", f"{label!r} is used twice (each device needs its own name)")
    return MonitorConfig(
        devices=devices,
        poll=_poll(data.get("poll", {})),
        prometheus=_prometheus(data.get("prometheus", {})),
        mqtt=_mqtt(data.get("mqtt", {})),
        influx=_influx(data.get("influx", {})),
        stdout=_stdout(data.get("stdout", {})),
        log=_log(data.get("log", {})),
    )


# -- the quick-start options -----------------------------------------------------------------------


def parse_listen(text: str, what: str = "--prometheus") -> tuple[str, int]:
    """``host:port``, ``:port`` or ``port`` (host 127.0.0.1)."""
    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = "127.0.0.1", text
    host = host.strip("[]") or "127.0.0.1"
    try:
        number = int(port)
    except ValueError:
        raise MonitorConfigError(f"{what}: expected host:port, got {text!r}") from None
    if not 0 <= number <= 65535:
        raise MonitorConfigError(f"{what}: port {number} is out of range")
    return host, number


def mqtt_from_url(text: str) -> dict[str, Any]:
    """``mqtt://user:password@host:1883`` (``mqtts://`` for TLS) as [mqtt] keys."""
    parts = urlsplit(text)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise MonitorConfigError(f"--mqtt: expected mqtt://host:port or mqtts://..., got {text!r}")
    try:
        port = parts.port
    except ValueError:
        raise MonitorConfigError(f"--mqtt: bad port in {text!r}") from None
    table: dict[str, Any] = {
        "enabled": True,
        "host": parts.hostname,
        "port": port or (8883 if parts.scheme == "mqtts" else 1883),
        "tls": parts.scheme == "mqtts",
    }
    if parts.username:
        table["username"] = unquote(parts.username)
    if parts.password:
        table["password"] = unquote(parts.password)
    return table


def influx_from_url(text: str) -> dict[str, Any]:
    """``http://host:8086?db=rct`` (1.x) or ``http://host:8086?org=o&bucket=b&token=t`` (2.x) as [influx] keys."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise MonitorConfigError(f"--influx: expected http://host:8086?db=NAME, got {text!r}")
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    unknown = sorted(set(query) - {"db", "org", "bucket", "token", "u", "p"})
    if unknown:
        raise MonitorConfigError(
            f"--influx: unknown parameter(s) {', '.join(unknown)} (known: db, org, bucket, token, u, p)"
        )
    table: dict[str, Any] = {"enabled": True, "url": f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")}
    names = {"db": "database", "org": "org", "bucket": "bucket", "token": "token", "u": "username", "p": "password"}
    for short, value in query.items():
        table[names[short]] = value
    return table

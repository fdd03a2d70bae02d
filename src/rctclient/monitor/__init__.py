"""``rctclient monitor``: poll devices on a schedule and feed Prometheus, MQTT (with Home Assistant
discovery) and InfluxDB.

Layers, as elsewhere in the package: :mod:`.config` (the TOML file, checked), :mod:`.catalog` and
:mod:`.plan` (what is polled and how each exporter names it), :mod:`.state` and :mod:`.core` (the
per-device state and the poll scheduler, without I/O), :mod:`.daemon` (the asyncio adapter) and
:mod:`.exporters` (each in its own task). The exporters' libraries (the ``monitor`` extra) are imported
only when the exporter is switched on.
"""

from __future__ import annotations

from .config import DEFAULT_CONFIG, MonitorConfig, MonitorConfigError, load_config, parse_config
from .core import PollCore
from .daemon import Monitor, MonitorError
from .state import Snapshot

__all__ = [
    "DEFAULT_CONFIG",
    "Monitor",
    "MonitorConfig",
    "MonitorConfigError",
    "MonitorError",
    "PollCore",
    "Snapshot",
    "load_config",
    "parse_config",
]

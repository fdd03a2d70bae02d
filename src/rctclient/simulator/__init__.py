"""A simulated RCT Power inverter (or plant of them) that speaks the protocol on TCP.

Embed it in tests::

    async with Simulator(port=0, seed=1, faults="ideal") as sim:
        ...  # connect to ("127.0.0.1", sim.port); sim.model.set("battery.soc", 0.5)

or, from synchronous code, ``with SimulatorThread(port=0) as sim: ...``. The command line form is
``rctclient simulator``. It uses the standard library only.
"""

from __future__ import annotations

from .clock import Clock
from .config import PROFILES, ConfigError, FaultProfile, PortalSettings, SimulatorConfig, load_config, load_snapshot
from .counters import Counters
from .devices import DEFAULT_DEVICE, DEVICES, DeviceSpec
from .model import DeviceModel, ModelError, ModelParams
from .server import Simulator, SimulatorThread

__all__ = [
    "DEFAULT_DEVICE",
    "DEVICES",
    "PROFILES",
    "Clock",
    "ConfigError",
    "Counters",
    "DeviceModel",
    "DeviceSpec",
    "FaultProfile",
    "ModelError",
    "ModelParams",
    "PortalSettings",
    "Simulator",
    "SimulatorConfig",
    "SimulatorThread",
    "load_config",
    "load_snapshot",
]

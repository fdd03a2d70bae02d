"""A simulated RCT Power inverter (or plant of them) that speaks the protocol on TCP.

Embed it in tests::

    async with Simulator(port=0, seed=1, faults="ideal") as sim:
        ...  # connect to ("127.0.0.1", sim.port); sim.model.set("battery.soc", 0.5)

or, from synchronous code, ``with SimulatorThread(port=0) as sim: ...``. The command line form is
``rctclient simulator``. It uses the standard library only.
"""

from __future__ import annotations

from .clock import Clock
from .config import PROFILES, ConfigError, FaultProfile, SimulatorConfig, load_config, load_snapshot
from .model import DeviceModel, ModelError, ModelParams
from .server import Counters, Simulator, SimulatorThread

__all__ = [
    "PROFILES",
    "Clock",
    "ConfigError",
    "Counters",
    "DeviceModel",
    "FaultProfile",
    "ModelError",
    "ModelParams",
    "Simulator",
    "SimulatorConfig",
    "SimulatorThread",
    "load_config",
    "load_snapshot",
]

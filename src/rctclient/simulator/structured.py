"""Structured values of a snapshot back to the package's types (what ``rctclient dump --all`` keeps under "other").

``describe.jsonable`` writes the battery module structures as objects of their fields (cells keyed
by number, datetimes in ISO 8601) and raw (UNKNOWN) payloads as hex; :func:`from_jsonable` is its
inverse for those types, so that a replayed snapshot serves the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..registry import ObjectInfo
from ..types import (
    BatteryModuleCellResistance,
    BatteryModuleCellStatus,
    BatteryModuleHistoryEntry,
    BatteryModuleResistance,
    BatteryModuleStatistics,
    BatteryModuleStatus,
    DataType,
)

__all__ = ["from_jsonable"]


def _cells(value: Any) -> list[tuple[int, Mapping[str, Any]]]:
    cells = value.get("cells") if isinstance(value, Mapping) else None
    if not isinstance(cells, Mapping) or not all(isinstance(c, Mapping) for c in cells.values()):
        raise ValueError("expected an object with 'cells'")
    return sorted((int(k), c) for k, c in cells.items())


def _entry(value: Any) -> BatteryModuleHistoryEntry:
    if not isinstance(value, Mapping):
        raise ValueError("expected an object with cell, timestamp and value")
    stamp = value.get("timestamp")
    return BatteryModuleHistoryEntry(
        cell=int(value["cell"]),
        timestamp=datetime.fromisoformat(stamp) if stamp else None,
        value=float(value["value"]),
    )


def from_jsonable(info: ObjectInfo, value: Any) -> Any:
    """The value of ``info`` from its JSON form; ValueError (or KeyError/TypeError) if it does not fit."""
    dt = info.response_data_type
    if dt is DataType.UNKNOWN:
        if not isinstance(value, str):
            raise ValueError("expected a hex string")
        return bytes.fromhex(value)
    if dt is DataType.BATTERY_MODULE_STATUS:
        return BatteryModuleStatus(
            {
                n: BatteryModuleCellStatus(int(c["temperature_c"]), int(c["voltage_mv"]), int(c["status"]))
                for n, c in _cells(value)
            }
        )
    if dt is DataType.BATTERY_MODULE_RESISTANCE:
        return BatteryModuleResistance(
            {n: BatteryModuleCellResistance(int(c["raw_value"]), float(c["resistance_mohm"])) for n, c in _cells(value)}
        )
    if dt is DataType.BATTERY_MODULE_STATISTICS:
        if not isinstance(value, Mapping):
            raise ValueError("expected an object with u_min, u_max, t_min and t_max")
        return BatteryModuleStatistics(*(_entry(value[k]) for k in ("u_min", "u_max", "t_min", "t_max")))
    raise ValueError(f"{dt.name} is not a structured type")

"""The decoded composite values (time series, event table, battery module data).

They are part of :mod:`rctclient.types` and should be imported from there; they live in this
module so that importing the protocol enumerations does not pay for creating the dataclasses.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TimeseriesPoint:
    """One logged point of a time series: when (UTC) and the value."""

    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class Timeseries:
    """A decoded TIMESERIES answer, lossless: the header's timestamp and every point in wire order.

    ``request_timestamp`` is the timestamp the device echoes in the header (the one that was
    written to ask for the data); the points are logged before it, newest first on real devices.
    Points that share a timestamp are all kept.
    """

    request_timestamp: datetime
    points: tuple[TimeseriesPoint, ...]

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[TimeseriesPoint]:
        return iter(self.points)


@dataclass(frozen=True, slots=True)
class EventEntry:
    """One entry of the event table.

    Little is known about the entries: ``entry_type`` selects the meaning of the three raw 32-bit
    elements. ``timestamp`` is when the event happened (or started, for events with a duration).
    """

    entry_type: int
    timestamp: datetime
    element2: int | None = None
    element3: int | None = None
    element4: int | None = None

    def __post_init__(self) -> None:
        if not 0 <= self.entry_type <= 0xFF:
            raise ValueError(f"event entry type {self.entry_type} is outside of 0..255")

    @property
    def entry_char(self) -> str:
        """The entry type as a character; the known types are letters."""
        return chr(self.entry_type)


@dataclass(frozen=True, slots=True)
class EventTable:
    """A decoded EVENT_TABLE answer, lossless: the header's timestamp and every entry in wire order."""

    request_timestamp: datetime
    entries: tuple[EventEntry, ...]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[EventEntry]:
        return iter(self.entries)


@dataclass(frozen=True, slots=True)
class BatteryModuleCellStatus:
    """Temperature, voltage and status of one battery cell."""

    temperature_c: int
    voltage_mv: int
    status: int

    @property
    def voltage_v(self) -> float:
        return self.voltage_mv / 1000.0


class _CellTable:
    """Shared behaviour of the per-cell tables: ``len()``, indexing by cell and iteration."""

    __slots__ = ()
    cells: Mapping[int, object]

    def __len__(self) -> int:
        return len(self.cells)


@dataclass(frozen=True, slots=True)
class BatteryModuleStatus(_CellTable):
    """Status of the 24 cells of one battery module, indexed by cell number (0-based)."""

    cells: Mapping[int, BatteryModuleCellStatus]

    def __iter__(self) -> Iterator[BatteryModuleCellStatus]:
        return iter(self.cells.values())

    def __getitem__(self, cell: int) -> BatteryModuleCellStatus:
        return self.cells[cell]


@dataclass(frozen=True, slots=True)
class BatteryModuleHistoryEntry:
    """One extreme value: the cell it was seen on, when (None if the device recorded no time), the value."""

    cell: int
    timestamp: datetime | None
    value: float


@dataclass(frozen=True, slots=True)
class BatteryModuleStatistics:
    """Extreme cell voltages (V) and temperatures (°C) of one battery module."""

    u_min: BatteryModuleHistoryEntry
    u_max: BatteryModuleHistoryEntry
    t_min: BatteryModuleHistoryEntry
    t_max: BatteryModuleHistoryEntry


@dataclass(frozen=True, slots=True)
class BatteryModuleCellResistance:
    """Internal resistance of one battery cell; ``raw_value`` is in 1/256 mΩ."""

    raw_value: int
    resistance_mohm: float

    @property
    def resistance_ohm(self) -> float:
        return self.resistance_mohm / 1000.0


@dataclass(frozen=True, slots=True)
class BatteryModuleResistance(_CellTable):
    """Internal resistance of the 24 cells of one battery module, indexed by cell number (0-based)."""

    cells: Mapping[int, BatteryModuleCellResistance]

    def __iter__(self) -> Iterator[BatteryModuleCellResistance]:
        return iter(self.cells.values())

    def __getitem__(self, cell: int) -> BatteryModuleCellResistance:
        return self.cells[cell]


for _cls in (
    BatteryModuleCellResistance,
    BatteryModuleCellStatus,
    BatteryModuleHistoryEntry,
    BatteryModuleResistance,
    BatteryModuleStatistics,
    BatteryModuleStatus,
    EventEntry,
    EventTable,
    Timeseries,
    TimeseriesPoint,
):
    _cls.__module__ = "rctclient.types"  # where users import (and pickle) them from
del _cls

"""Enumerations and decoded value types of the protocol.

Everything here is plain data: no I/O, no dependencies beyond the standard library.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

__all__ = [
    "BatteryModuleCellResistance",
    "BatteryModuleCellStatus",
    "BatteryModuleHistoryEntry",
    "BatteryModuleResistance",
    "BatteryModuleStatistics",
    "BatteryModuleStatus",
    "Command",
    "DataType",
    "EventEntry",
    "EventTable",
    "FrameType",
    "ObjectGroup",
    "Timeseries",
    "TimeseriesPoint",
]

_PLANT_BIT = 0x40


class Command(IntEnum):
    """The command byte, the second byte of every frame.

    The ``PLANT_`` variants (command | 0x40) carry a 4-byte device address in front of the object ID
    and are used to talk to one device of a plant of several devices.
    """

    READ = 0x01
    WRITE = 0x02
    LONG_WRITE = 0x03
    #: Answer to READ and WRITE.
    RESPONSE = 0x05
    #: Answer whose payload does not fit a 1-byte length field; the length field is 2 bytes.
    LONG_RESPONSE = 0x06
    #: Ask the device to send the OID's value periodically (every ``pas.period`` seconds).
    READ_PERIODICALLY = 0x08
    PLANT_READ = READ | _PLANT_BIT
    PLANT_WRITE = WRITE | _PLANT_BIT
    PLANT_LONG_WRITE = LONG_WRITE | _PLANT_BIT
    PLANT_RESPONSE = RESPONSE | _PLANT_BIT
    PLANT_LONG_RESPONSE = LONG_RESPONSE | _PLANT_BIT
    PLANT_READ_PERIODICALLY = READ_PERIODICALLY | _PLANT_BIT
    #: Sent by the vendor's app as the three bytes ``+<\\xe1``; its structure is unknown.
    EXTENSION = 0x3C
    #: Placeholder for "no command decoded yet" (kept for compatibility).
    _NONE = 0xFF

    @staticmethod
    def is_plant(command: int) -> bool:
        """True for the PLANT_ commands, which carry an address."""
        return command not in (Command._NONE, Command.EXTENSION) and bool(command & _PLANT_BIT)

    @staticmethod
    def is_long(command: int) -> bool:
        """True for the commands with a 2-byte length field: LONG_WRITE, LONG_RESPONSE, their PLANT_ forms."""
        return command in _LONG_COMMANDS

    @staticmethod
    def is_write(command: int) -> bool:
        """True for WRITE, LONG_WRITE and their PLANT_ forms."""
        return command in _WRITE_COMMANDS

    @staticmethod
    def is_response(command: int) -> bool:
        """True for RESPONSE, LONG_RESPONSE and their PLANT_ forms."""
        return command in _RESPONSE_COMMANDS

    @staticmethod
    def is_read(command: int) -> bool:
        """True for READ, READ_PERIODICALLY and their PLANT_ forms."""
        return command in _READ_COMMANDS


_LONG_COMMANDS = frozenset(
    {Command.LONG_WRITE, Command.LONG_RESPONSE, Command.PLANT_LONG_WRITE, Command.PLANT_LONG_RESPONSE}
)
_WRITE_COMMANDS = frozenset({Command.WRITE, Command.LONG_WRITE, Command.PLANT_WRITE, Command.PLANT_LONG_WRITE})
_RESPONSE_COMMANDS = frozenset(
    {Command.RESPONSE, Command.LONG_RESPONSE, Command.PLANT_RESPONSE, Command.PLANT_LONG_RESPONSE}
)
_READ_COMMANDS = frozenset(
    {Command.READ, Command.READ_PERIODICALLY, Command.PLANT_READ, Command.PLANT_READ_PERIODICALLY}
)


class FrameType(IntEnum):
    """The number of bytes that address and object ID add to a frame's length field."""

    #: Object ID only.
    STANDARD = 4
    #: Address and object ID (PLANT_ commands).
    PLANT = 8
    #: Placeholder for "not decoded yet" (kept for compatibility).
    _NONE = 0


class DataType(IntEnum):
    """How a payload is encoded: selects the codec of ``encode_value`` and ``decode_value``."""

    UNKNOWN = 0
    BOOL = 1
    UINT8 = 2
    INT8 = 3
    UINT16 = 4
    INT16 = 5
    UINT32 = 6
    INT32 = 7
    #: One unsigned byte; the meaning of each value is in the OID's ``enum_map``.
    ENUM = 8
    #: IEEE 754 single precision.
    FLOAT = 9
    #: UTF-8 text, possibly NUL-padded.
    STRING = 10
    #: Answer to a time series request: request timestamp, then (timestamp, float) pairs.
    TIMESERIES = 20
    #: Answer to an event table request: request timestamp, then 20-byte entries.
    EVENT_TABLE = 21
    #: Per-cell temperature, voltage and status of one battery module (24 cells).
    BATTERY_MODULE_STATUS = 22
    #: Minimum and maximum cell voltage and temperature of one battery module, with cell and time.
    BATTERY_MODULE_STATISTICS = 23
    #: Per-cell internal resistance of one battery module (24 cells).
    BATTERY_MODULE_RESISTANCE = 24

    def __str__(self) -> str:
        # ``print(info.response_data_type)`` shows ``DataType.FLOAT``, as documented (Python 3.11
        # would otherwise print the bare number for an IntEnum).
        return f"DataType.{self.name}"


class ObjectGroup(IntEnum):
    """The group an OID belongs to (the part of its name before the first dot). Not used on the wire."""

    RB485 = 0
    ENERGY = 1
    GRID_MON = 2
    TEMPERATURE = 3
    BATTERY = 4
    CS_NEG = 5
    HW_TEST = 6
    G_SYNC = 7
    LOGGER = 8
    WIFI = 9
    ADC = 10
    NET = 11
    ACC_CONV = 12
    DC_CONV = 13
    NSM = 14
    IO_BOARD = 15
    FLASH_RTC = 16
    POWER_MNG = 17
    BUF_V_CONTROL = 18
    DB = 19
    SWITCH_ON_COND = 20
    P_REC = 21
    MODBUS = 22
    BAT_MNG_STRUCT = 23
    ISO_STRUCT = 24
    GRID_LT = 25
    CAN_BUS = 26
    DISPLAY_STRUCT = 27
    FLASH_PARAM = 28
    FAULT = 29
    PRIM_SM = 30
    CS_MAP = 31
    LINE_MON = 32
    OTHERS = 33
    BATTERY_PLACEHOLDER = 34
    FRT = 35
    PARTITION = 36


# --------------------------------------------------------------------------------------------------
# Decoded composite values
# --------------------------------------------------------------------------------------------------


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

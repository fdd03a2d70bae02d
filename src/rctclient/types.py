"""Enumerations and decoded value types of the protocol.

Everything here is plain data: no I/O, no dependencies beyond the standard library.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

__all__ = [
    "INTEGER_TYPES",
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


#: The data types whose values are Python ints (ENUM included; BOOL is not among them).
INTEGER_TYPES: frozenset[DataType] = frozenset(
    {
        DataType.UINT8,
        DataType.INT8,
        DataType.UINT16,
        DataType.INT16,
        DataType.UINT32,
        DataType.INT32,
        DataType.ENUM,
    }
)


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


_VALUE_TYPES = frozenset(
    {
        "BatteryModuleCellResistance",
        "BatteryModuleCellStatus",
        "BatteryModuleHistoryEntry",
        "BatteryModuleResistance",
        "BatteryModuleStatistics",
        "BatteryModuleStatus",
        "EventEntry",
        "EventTable",
        "Timeseries",
        "TimeseriesPoint",
    }
)

if TYPE_CHECKING:
    from ._values import (
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
    )


def __getattr__(name: str) -> object:
    # The composite value types are created on first use (see rctclient._values).
    if name in _VALUE_TYPES:
        from . import _values  # noqa: PLC0415

        value = getattr(_values, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _VALUE_TYPES)

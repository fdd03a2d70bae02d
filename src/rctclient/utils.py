"""Payload codecs and the frame checksum.

:func:`encode_value` turns a Python value into the payload bytes of a data type and
:func:`decode_value` does the reverse; :func:`CRC16` is the checksum that ends every frame.

Byte order
    The native types (BOOL .. FLOAT) and the TIMESERIES/EVENT_TABLE records are big-endian. The
    battery module types are not uniform: BATTERY_MODULE_STATUS and BATTERY_MODULE_STATISTICS are
    little-endian, while the resistance in BATTERY_MODULE_RESISTANCE is a big-endian 16-bit number.

Errors
    A payload that does not fit its data type (wrong length, impossible content) raises
    :class:`~rctclient.exceptions.PayloadDecodeError`; a value that cannot be encoded raises
    :class:`~rctclient.exceptions.ValueEncodeError`. Both are :class:`struct.error` and
    :class:`ValueError` subclasses, so code written against the historic contract keeps working.

Timestamps
    Timestamps on the wire are unsigned 32-bit UNIX times. They are decoded to timezone-aware
    :class:`~datetime.datetime` objects in UTC. Encoders take such datetimes (a naive datetime is
    read as UTC, fractions of a second are cut off) or plain integers.
"""

from __future__ import annotations

import struct
import sys
from array import array
from binascii import crc_hqx
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from itertools import accumulate, repeat
from operator import sub
from types import MappingProxyType
from typing import Literal, TypeAlias, cast, overload

from .exceptions import PayloadDecodeError, ValueEncodeError
from .types import (
    BatteryModuleCellResistance,
    BatteryModuleCellStatus,
    BatteryModuleHistoryEntry,
    BatteryModuleResistance,
    BatteryModuleStatistics,
    BatteryModuleStatus,
    DataType,
    EventEntry,
    EventTable,
    Timeseries,
    TimeseriesPoint,
)

__all__ = [
    "CRC16",
    "PAYLOAD_SIZES",
    "Buffer",
    "DecodedValue",
    "EncodableValue",
    "decode_event_table",
    "decode_lossless",
    "decode_timeseries",
    "decode_timeseries_raw",
    "decode_value",
    "encode_value",
    "max_payload_size",
]

#: Anything the decoders and :func:`CRC16` read bytes from.
Buffer: TypeAlias = bytes | bytearray | memoryview

#: A timestamp as the encoders take it: a datetime or a UNIX time.
_Stamp: TypeAlias = datetime | int

#: The value shapes that TIMESERIES accepts besides :class:`Timeseries`.
_TimeseriesTuple: TypeAlias = tuple[_Stamp, Mapping[datetime, float] | Mapping[int, float]]
#: The value shapes that EVENT_TABLE accepts besides :class:`EventTable`.
_EventTableTuple: TypeAlias = tuple[_Stamp, Mapping[datetime, EventEntry] | Mapping[int, EventEntry]]

#: Everything :func:`encode_value` can take (which of these depends on the data type).
EncodableValue: TypeAlias = (
    bool
    | int
    | float
    | str
    | bytes
    | bytearray
    | memoryview
    | Timeseries
    | _TimeseriesTuple
    | EventTable
    | _EventTableTuple
    | BatteryModuleStatus
    | BatteryModuleStatistics
    | BatteryModuleResistance
)

#: Everything :func:`decode_value` can return (which of these depends on the data type).
DecodedValue: TypeAlias = (
    bool
    | int
    | float
    | str
    | bytes
    | tuple[datetime, dict[datetime, float]]
    | tuple[datetime, dict[datetime, EventEntry]]
    | BatteryModuleStatus
    | BatteryModuleStatistics
    | BatteryModuleResistance
)

# --------------------------------------------------------------------------------------------------
# Checksum
# --------------------------------------------------------------------------------------------------


def CRC16(data: Buffer, _crc: Callable[[Buffer, int], int] = crc_hqx) -> int:  # noqa: N802 - documented name
    """Return the frame checksum of ``data``.

    The checksum is CRC-CCITT (polynomial 0x1021, start value 0xFFFF, no reflection, no final XOR)
    over ``data`` followed by one zero byte when the length of ``data`` is odd, that is
    ``binascii.crc_hqx(data + pad, 0xFFFF)``. A memoryview must have byte-sized items.
    (``_crc`` only binds ``crc_hqx`` as a local, which matters at this size; do not pass it.)
    """
    # Feeding the pad byte separately saves concatenating (copying) the data.
    return _crc(b"\0", _crc(data, 0xFFFF)) if len(data) & 1 else _crc(data, 0xFFFF)


# --------------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------------

#: The cells of one battery module.
_CELLS = 24

#: One precompiled struct per native type. BOOL uses "?" so that any non-zero byte decodes to True
#: and any truthy value encodes to 1.
_NATIVE_STRUCTS: dict[DataType, struct.Struct] = {
    DataType.BOOL: struct.Struct(">?"),
    DataType.UINT8: struct.Struct(">B"),
    DataType.INT8: struct.Struct(">b"),
    DataType.UINT16: struct.Struct(">H"),
    DataType.INT16: struct.Struct(">h"),
    DataType.UINT32: struct.Struct(">I"),
    DataType.INT32: struct.Struct(">i"),
    DataType.ENUM: struct.Struct(">B"),
    DataType.FLOAT: struct.Struct(">f"),
}

#: The ranges of the integer types (the keys are :data:`~rctclient.types.INTEGER_TYPES`).
_INT_RANGES: dict[DataType, tuple[int, int]] = {
    DataType.UINT8: (0, 0xFF),
    DataType.INT8: (-0x80, 0x7F),
    DataType.UINT16: (0, 0xFFFF),
    DataType.INT16: (-0x8000, 0x7FFF),
    DataType.UINT32: (0, 0xFFFF_FFFF),
    DataType.INT32: (-0x8000_0000, 0x7FFF_FFFF),
    DataType.ENUM: (0, 0xFF),
}

_U32 = struct.Struct(">I")
# Battery module status: per cell a temperature byte, the voltage in mV as little-endian uint16 and a
# status byte. "<" means no alignment padding, so each record is exactly 4 bytes.
_BATTERY_STATUS = struct.Struct("<" + "BHB" * _CELLS)
# Battery module statistics: four (cell, unix time, value) groups of little-endian 32-bit words.
_BATTERY_STATISTICS = struct.Struct("<" + "IIf" * 4)
# Battery module resistance: per cell a big-endian uint16 in 1/256 mOhm and two zero bytes.
_BATTERY_RESISTANCE = struct.Struct(">" + "H2x" * _CELLS)
_TIMESERIES_POINT = struct.Struct(">If")
_EVENT_ENTRY = struct.Struct(">5I")

_TIMESERIES_RECORD = _TIMESERIES_POINT.size  # 8
_EVENT_RECORD = _EVENT_ENTRY.size  # 20
_HEADER = _U32.size  # 4

_sizes: dict[DataType, int] = {data_type: st.size for data_type, st in _NATIVE_STRUCTS.items()}
_sizes[DataType.BATTERY_MODULE_STATUS] = _BATTERY_STATUS.size
_sizes[DataType.BATTERY_MODULE_STATISTICS] = _BATTERY_STATISTICS.size
_sizes[DataType.BATTERY_MODULE_RESISTANCE] = _BATTERY_RESISTANCE.size

#: The payload size in bytes of every data type whose payloads always have the same size:
#: BOOL .. FLOAT and the three battery module types. STRING, UNKNOWN, TIMESERIES and EVENT_TABLE
#: are not in it.
PAYLOAD_SIZES: Mapping[DataType, int] = MappingProxyType(_sizes)
del _sizes


def max_payload_size(data_type: DataType) -> int | None:
    """Return the largest payload that ``data_type`` can have, or None if there is no bound.

    The fixed-size types (see :data:`PAYLOAD_SIZES`) return their size; STRING, UNKNOWN,
    TIMESERIES and EVENT_TABLE (and a number that is no data type) return None.
    """
    return PAYLOAD_SIZES.get(data_type)


# --------------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND = timedelta(seconds=1)
_STAMP_CACHE_LIMIT = 1 << 15


# Turning UNIX times into datetimes is most of the work of decoding a TIMESERIES or EVENT_TABLE, and
# datetime.fromtimestamp() is slow. Two things make it cheaper:
#
# * Series are logged at a fixed interval (5 minutes, a day, ...), so successive points are a few
#   distinct steps apart. One datetime is made with fromtimestamp(); each next one is the previous
#   one plus a timedelta (exact integer arithmetic in C, several times faster). See _new_datetimes.
# * UNIX time -> datetime cache. Every poll of a time series repeats most of the points of the
#   previous answer, and a cached datetime also keeps its hash, which for an aware datetime costs
#   more than making it (it is computed once, when the datetime first becomes a dict key).
#   Datetimes are immutable, so sharing them is safe. The cache is emptied whenever it would grow
#   beyond its limit.
_stamp_cache: dict[int, datetime] = {}
_cached_stamp = _stamp_cache.__getitem__

#: Step in seconds -> timedelta, for the steps between successive points (bounded like the cache).
_steps: dict[int, timedelta] = {}
_STEPS_LIMIT = 256


def _step(seconds: int) -> timedelta:
    delta = _steps.get(seconds)
    if delta is None:
        delta = timedelta(seconds=seconds)
        if len(_steps) >= _STEPS_LIMIT:
            _steps.clear()
        _steps[seconds] = delta
    return delta


def _new_datetimes(stamps: Sequence[int]) -> list[datetime]:
    """Convert UNIX times to aware UTC datetimes without the cache: the same as fromtimestamp(t, UTC) for each."""
    count = len(stamps)
    if count < 3:
        return list(map(datetime.fromtimestamp, stamps, repeat(UTC)))
    first = stamps[0]
    first_dt = datetime.fromtimestamp(first, UTC)
    interval = stamps[1] - first
    if (
        interval
        and stamps[-1] == first + (count - 1) * interval
        and list(stamps) == list(range(first, first + count * interval, interval))
    ):
        # Equally spaced (the usual case): add the same step over and over.
        # (accumulate() adds with +: datetime + timedelta; the cast tells the type checker so.)
        return list(accumulate(cast("Iterable[datetime]", repeat(_step(interval), count - 1)), initial=first_dt))
    try:
        steps = list(map(_steps.__getitem__, map(sub, stamps[1:], stamps[:-1])))
    except KeyError:
        steps = list(map(_step, map(sub, stamps[1:], stamps[:-1])))
    return list(accumulate(cast("list[datetime]", steps), initial=first_dt))


def _remember(stamps: Iterable[int], datetimes: Iterable[datetime], count: int) -> None:
    if len(_stamp_cache) + count > _STAMP_CACHE_LIMIT:
        _stamp_cache.clear()
        if count > _STAMP_CACHE_LIMIT:
            return
    _stamp_cache.update(zip(stamps, datetimes, strict=True))


def _to_datetimes(stamps: Sequence[int]) -> list[datetime]:
    """Convert UNIX times to aware UTC datetimes, in bulk."""
    if not stamps:
        return []
    first_known = stamps[0] in _stamp_cache
    last_known = stamps[-1] in _stamp_cache
    if first_known and last_known:
        try:
            return list(map(_cached_stamp, stamps))
        except KeyError:
            pass
    elif not first_known and not last_known:
        # Most likely none of them is known (a series not seen before): make them all. Should some
        # be cached after all, they are replaced by equal datetimes, which is still correct.
        result = _new_datetimes(stamps)
        _remember(stamps, result, len(result))
        return result
    # Some are known (the next poll of a series): make only the new ones.
    missing = sorted(set(stamps).difference(_stamp_cache))
    _remember(missing, _new_datetimes(missing), len(missing))
    try:
        return list(map(_cached_stamp, stamps))
    except KeyError:  # the cache was emptied in between (by this call or by another thread)
        return _new_datetimes(stamps)


def _to_datetime(stamp: int) -> datetime:
    """Convert one UNIX time to an aware UTC datetime."""
    value = _stamp_cache.get(stamp)
    if value is None:
        value = datetime.fromtimestamp(stamp, UTC)
        if len(_stamp_cache) < _STAMP_CACHE_LIMIT:
            _stamp_cache[stamp] = value
    return value


def _to_unix(stamp: _Stamp, data_type: DataType, value: object) -> int:
    """Convert a timestamp argument of an encoder to a UNIX time (range-checked by the caller's pack)."""
    if isinstance(stamp, datetime):
        if stamp.tzinfo is None:
            stamp = stamp.replace(tzinfo=UTC)
        return (stamp - _EPOCH) // _SECOND
    if isinstance(stamp, int):
        return stamp
    raise ValueEncodeError(
        f"{data_type.name}: a timestamp must be a datetime or an int, got {type(stamp).__name__}",
        data_type,
        value,
    )


# --------------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------------


def _length_error(data_type: DataType, data: Buffer, expected: str) -> PayloadDecodeError:
    return PayloadDecodeError(
        f"{data_type.name} payload must be {expected} bytes, got {len(data)}", data_type, bytes(data)
    )


def _decode_string(data: Buffer) -> str:
    # Text ends at the first NUL (devices pad with NULs). The rest is decoded as UTF-8; bytes that
    # are not valid UTF-8 become U+FFFD instead of raising, so a decoded string is never a crash
    # (at the price of being lossy for such bytes: use DataType.UNKNOWN to get the raw bytes).
    if not isinstance(data, bytes):
        data = bytes(data)
    end = data.find(0)
    if end >= 0:
        data = data[:end]
    return data.decode("utf-8", "replace")


def _decode_unknown(data: Buffer) -> bytes:
    return bytes(data)


# Bulk decoding of the 32-bit records: one array of native words, byte-swapped at C speed, then
# sliced column-wise. Falls back to a struct format when the platform's "I" is not 32 bits.
_WORD = "I" if array("I").itemsize == 4 else "q"
_FLOAT_OK = array("f").itemsize == 4
_SWAP = sys.byteorder == "little"


def _words(data: Buffer, start: int, end: int) -> array[int]:
    """Return the big-endian 32-bit words of ``data[start:end]`` as native unsigned ints."""
    words = array(_WORD)
    if _WORD == "I":
        with memoryview(data) as view:
            words.frombytes(view[start:end])
        if _SWAP:
            words.byteswap()
    else:  # pragma: no cover - no 32-bit C int on this platform
        words.fromlist(list(struct.unpack_from(f">{(end - start) // 4}I", data, start)))
    return words


def _as_floats(words: array[int]) -> list[float]:
    """Reinterpret 32-bit words (bit patterns) as IEEE single precision numbers."""
    if _WORD == "I" and _FLOAT_OK:
        return array("f", words.tobytes()).tolist()
    count = len(words)  # pragma: no cover
    return list(struct.unpack(f"={count}f", struct.pack(f"={count}I", *words)))  # pragma: no cover


def _record_span(data: Buffer, data_type: DataType, record: int, strict: bool) -> int:
    """Return the end of the last whole record of a header + records payload."""
    size = len(data)
    if size < _HEADER:
        raise _length_error(data_type, data, f"4 + {record}*k")
    partial = (size - _HEADER) % record
    if partial:
        if strict:
            raise _length_error(data_type, data, f"4 + {record}*k")
        size -= partial
    return size


def _split_timeseries(data: Buffer, strict: bool) -> tuple[int, list[datetime], list[float]]:
    end = _record_span(data, DataType.TIMESERIES, _TIMESERIES_RECORD, strict)
    header: int = _U32.unpack_from(data)[0]
    words = _words(data, _HEADER, end)
    return header, _to_datetimes(words[0::2]), _as_floats(words[1::2])


def decode_timeseries(data: Buffer, *, strict: bool = True) -> Timeseries:
    """Decode a TIMESERIES payload without losing anything.

    The result holds the request timestamp from the payload's header and every point in the order
    of the payload, points with the same timestamp included.

    With ``strict`` (the default) a payload whose length is not 4 + 8*k raises
    :class:`PayloadDecodeError`. Devices cut long answers short, though; with ``strict=False`` a
    trailing partial point is dropped instead. A payload shorter than the 4-byte header always raises.
    """
    header, stamps, values = _split_timeseries(data, strict)
    return Timeseries(
        request_timestamp=_to_datetime(header),
        points=tuple(map(TimeseriesPoint, stamps, values)),
    )


def decode_timeseries_raw(data: Buffer, *, strict: bool = True) -> tuple[int, list[int], list[float]]:
    """Decode a TIMESERIES payload into plain columns: ``(request_timestamp, timestamps, values)``.

    Timestamps are unix seconds (ints), in the order of the payload. This is the fastest form (no
    datetime objects are made): use it for bulk work such as paging through history, and turn
    only what you keep into datetimes. ``strict`` as for :func:`decode_timeseries`.
    """
    end = _record_span(data, DataType.TIMESERIES, _TIMESERIES_RECORD, strict)
    header: int = _U32.unpack_from(data)[0]
    words = _words(data, _HEADER, end)
    return header, words[0::2].tolist(), _as_floats(words[1::2])


def _decode_timeseries_dict(data: Buffer) -> tuple[datetime, dict[datetime, float]]:
    header, stamps, values = _split_timeseries(data, True)
    return _to_datetime(header), dict(zip(stamps, values, strict=True))


def _split_event_table(data: Buffer, strict: bool) -> tuple[int, list[list[int]]]:
    end = _record_span(data, DataType.EVENT_TABLE, _EVENT_RECORD, strict)
    header: int = _U32.unpack_from(data)[0]
    words = _words(data, _HEADER, end)
    columns = [words[i::5].tolist() for i in range(5)]
    types = columns[0]
    if types and max(types) > 0xFF:
        bad = next(i for i, value in enumerate(types) if value > 0xFF)
        raise PayloadDecodeError(
            f"EVENT_TABLE entry {bad} has type {types[bad]:#x}, which is outside of 0..255",
            DataType.EVENT_TABLE,
            bytes(data),
        )
    return header, columns


def _event_entries(columns: list[list[int]]) -> map[EventEntry]:
    types, stamps, element2, element3, element4 = columns
    return map(EventEntry, types, _to_datetimes(stamps), element2, element3, element4)


def decode_event_table(data: Buffer, *, strict: bool = True) -> EventTable:
    """Decode an EVENT_TABLE payload without losing anything.

    The result holds the request timestamp from the payload's header and every entry in the order of
    the payload. An entry type above 255 raises :class:`PayloadDecodeError`. ``strict`` works as in
    :func:`decode_timeseries`: with ``strict=False`` a trailing partial 20-byte entry is dropped.
    """
    header, columns = _split_event_table(data, strict)
    return EventTable(request_timestamp=_to_datetime(header), entries=tuple(_event_entries(columns)))


def _decode_event_table_dict(data: Buffer) -> tuple[datetime, dict[datetime, EventEntry]]:
    header, columns = _split_event_table(data, True)
    return _to_datetime(header), {entry.timestamp: entry for entry in _event_entries(columns)}


def _decode_battery_status(data: Buffer) -> BatteryModuleStatus:
    try:
        flat = _BATTERY_STATUS.unpack(data)
    except struct.error:
        raise _length_error(DataType.BATTERY_MODULE_STATUS, data, str(_BATTERY_STATUS.size)) from None
    return BatteryModuleStatus(
        cells={
            cell: BatteryModuleCellStatus(temperature_c=flat[i], voltage_mv=flat[i + 1], status=flat[i + 2])
            for cell, i in enumerate(range(0, len(flat), 3))
        }
    )


def _history_entry(cell: int, stamp: int, value: float) -> BatteryModuleHistoryEntry:
    return BatteryModuleHistoryEntry(cell=cell, timestamp=_to_datetime(stamp) if stamp else None, value=value)


def _decode_battery_statistics(data: Buffer) -> BatteryModuleStatistics:
    try:
        flat = _BATTERY_STATISTICS.unpack(data)
    except struct.error:
        raise _length_error(DataType.BATTERY_MODULE_STATISTICS, data, str(_BATTERY_STATISTICS.size)) from None
    return BatteryModuleStatistics(
        u_min=_history_entry(*flat[0:3]),
        u_max=_history_entry(*flat[3:6]),
        t_min=_history_entry(*flat[6:9]),
        t_max=_history_entry(*flat[9:12]),
    )


def _decode_battery_resistance(data: Buffer) -> BatteryModuleResistance:
    try:
        raw = _BATTERY_RESISTANCE.unpack(data)
    except struct.error:
        raise _length_error(DataType.BATTERY_MODULE_RESISTANCE, data, str(_BATTERY_RESISTANCE.size)) from None
    return BatteryModuleResistance(
        cells={
            cell: BatteryModuleCellResistance(raw_value=value, resistance_mohm=value / 256.0)
            for cell, value in enumerate(raw)
        }
    )


def _in_tuple(decoder: Callable[[Buffer], DecodedValue]) -> Callable[[Buffer], tuple[DecodedValue]]:
    """Wrap a decoder so that it returns a 1-tuple, like ``Struct.unpack`` of a native type does."""

    def wrapped(data: Buffer) -> tuple[DecodedValue]:
        return (decoder(data),)

    return wrapped


#: Data type -> callable returning a tuple whose first item is the decoded value. The native types
#: map straight to ``Struct.unpack``, so that decoding them costs one dict lookup and one C call.
_UNPACK: dict[DataType, Callable[[Buffer], tuple[DecodedValue, ...]]] = {
    data_type: st.unpack for data_type, st in _NATIVE_STRUCTS.items()
}
_UNPACK.update(
    {
        DataType.UNKNOWN: _in_tuple(_decode_unknown),
        DataType.STRING: _in_tuple(_decode_string),
        DataType.TIMESERIES: _in_tuple(_decode_timeseries_dict),
        DataType.EVENT_TABLE: _in_tuple(_decode_event_table_dict),
        DataType.BATTERY_MODULE_STATUS: _in_tuple(_decode_battery_status),
        DataType.BATTERY_MODULE_STATISTICS: _in_tuple(_decode_battery_statistics),
        DataType.BATTERY_MODULE_RESISTANCE: _in_tuple(_decode_battery_resistance),
    }
)


_IntType: TypeAlias = Literal[
    DataType.UINT8,
    DataType.INT8,
    DataType.UINT16,
    DataType.INT16,
    DataType.UINT32,
    DataType.INT32,
    DataType.ENUM,
]


@overload
def decode_value(data_type: Literal[DataType.BOOL], data: Buffer) -> bool: ...
@overload
def decode_value(data_type: _IntType, data: Buffer) -> int: ...
@overload
def decode_value(data_type: Literal[DataType.FLOAT], data: Buffer) -> float: ...
@overload
def decode_value(data_type: Literal[DataType.STRING], data: Buffer) -> str: ...
@overload
def decode_value(data_type: Literal[DataType.UNKNOWN], data: Buffer) -> bytes: ...
@overload
def decode_value(data_type: Literal[DataType.TIMESERIES], data: Buffer) -> tuple[datetime, dict[datetime, float]]: ...
@overload
def decode_value(
    data_type: Literal[DataType.EVENT_TABLE], data: Buffer
) -> tuple[datetime, dict[datetime, EventEntry]]: ...
@overload
def decode_value(data_type: Literal[DataType.BATTERY_MODULE_STATUS], data: Buffer) -> BatteryModuleStatus: ...
@overload
def decode_value(data_type: Literal[DataType.BATTERY_MODULE_STATISTICS], data: Buffer) -> BatteryModuleStatistics: ...
@overload
def decode_value(data_type: Literal[DataType.BATTERY_MODULE_RESISTANCE], data: Buffer) -> BatteryModuleResistance: ...
@overload
def decode_value(data_type: DataType, data: Buffer) -> DecodedValue: ...


def decode_value(data_type: DataType, data: Buffer) -> DecodedValue:
    """Decode a payload received from a device according to ``data_type``.

    Returns a bool (BOOL: any non-zero byte is True), an int (the integer types and ENUM), a float
    (FLOAT), a str (STRING, see below), the raw bytes (UNKNOWN), ``(request timestamp, {timestamp:
    value})`` (TIMESERIES), ``(request timestamp, {timestamp: EventEntry})`` (EVENT_TABLE) or one of
    the battery module dataclasses.

    STRING payloads end at the first NUL byte and are decoded as UTF-8 with invalid bytes replaced by
    U+FFFD, so that no payload makes decoding fail.

    The dictionaries of TIMESERIES and EVENT_TABLE keep only the last of several records with the same
    timestamp; :func:`decode_timeseries` and :func:`decode_event_table` keep them all. The request
    timestamp is the one in the payload's header.

    Note that the data type of an answer may differ from the one used to write: writing a UNIX time to
    a logger object answers with a TIMESERIES payload, for instance.

    :raises PayloadDecodeError: The payload does not fit the data type (for example a payload cut
        short by the device), or ``data_type`` is not a data type.
    """
    try:
        return _UNPACK[data_type](data)[0]
    except struct.error as exc:
        if isinstance(exc, PayloadDecodeError):
            raise
        # Only the native types get here: Struct.unpack rejected the length.
        raise _length_error(DataType(data_type), data, str(PAYLOAD_SIZES[data_type])) from None
    except KeyError:
        if data_type in _UNPACK:
            raise
        raise PayloadDecodeError(f"no decoder for data type {data_type!r}", data_type, bytes(data)) from None


def decode_lossless(data_type: DataType, data: Buffer) -> DecodedValue | Timeseries | EventTable:
    """Decode a payload strictly, with time series and event tables kept whole.

    The same as :func:`decode_value` except for TIMESERIES and EVENT_TABLE, which come out as
    :class:`~rctclient.types.Timeseries` and :class:`~rctclient.types.EventTable` (every record, in
    order) instead of dictionaries. This is the one decode dispatch of the clients, the capture
    reader and the descriptions of frames.

    :raises PayloadDecodeError: the payload does not fit the data type.
    """
    if data_type is DataType.TIMESERIES:
        return decode_timeseries(data, strict=True)
    if data_type is DataType.EVENT_TABLE:
        return decode_event_table(data, strict=True)
    return decode_value(data_type, data)


# --------------------------------------------------------------------------------------------------
# Encoding
# --------------------------------------------------------------------------------------------------


def _encode_error(data_type: DataType, value: object, problem: str) -> ValueEncodeError:
    return ValueEncodeError(f"cannot encode {value!r} as {data_type.name}: {problem}", data_type, value)


def _encode_bytes(data_type: DataType, value: object) -> bytes:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise _encode_error(data_type, value, "expected bytes")


def _encode_unknown(value: object) -> bytes:
    return _encode_bytes(DataType.UNKNOWN, value)


def _encode_string(value: object) -> bytes:
    # NUL characters are not rejected: a NUL-padded payload is legal, it just decodes up to the NUL.
    if isinstance(value, str):
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise _encode_error(DataType.STRING, value, str(exc)) from exc
    return _encode_bytes(DataType.STRING, value)


def _pack(st: struct.Struct, data_type: DataType, value: object, *args: object) -> bytes:
    try:
        return st.pack(*args)
    except (struct.error, OverflowError, TypeError) as exc:
        raise _encode_error(data_type, value, str(exc)) from exc


def _encode_timeseries(value: object) -> bytes:
    data_type = DataType.TIMESERIES
    if isinstance(value, Timeseries):
        header: _Stamp = value.request_timestamp
        points: list[tuple[_Stamp, float]] = [(point.timestamp, point.value) for point in value.points]
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        header = value[0]
        points = list(value[1].items())
    else:
        raise _encode_error(data_type, value, "expected a Timeseries or (timestamp, {timestamp: value})")
    parts = [_pack(_U32, data_type, value, _to_unix(header, data_type, value))]
    parts.extend(
        _pack(_TIMESERIES_POINT, data_type, value, _to_unix(stamp, data_type, value), number)
        for stamp, number in points
    )
    return b"".join(parts)


def _encode_event_table(value: object) -> bytes:
    data_type = DataType.EVENT_TABLE
    if isinstance(value, EventTable):
        header: _Stamp = value.request_timestamp
        entries: list[object] = list(value.entries)
    elif isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], Mapping):
        # The entries carry their own timestamps; the keys of the mapping are not used.
        header = value[0]
        entries = list(value[1].values())
    else:
        raise _encode_error(data_type, value, "expected an EventTable or (timestamp, {timestamp: EventEntry})")
    parts = [_pack(_U32, data_type, value, _to_unix(header, data_type, value))]
    for entry in entries:
        if not isinstance(entry, EventEntry):
            raise _encode_error(data_type, value, f"{entry!r} is not an EventEntry")
        parts.append(
            _pack(
                _EVENT_ENTRY,
                data_type,
                value,
                entry.entry_type,
                _to_unix(entry.timestamp, data_type, value),
                entry.element2 or 0,
                entry.element3 or 0,
                entry.element4 or 0,
            )
        )
    return b"".join(parts)


def _cells(data_type: DataType, value: object, cells: Mapping[int, object]) -> list[object]:
    try:
        return [cells[cell] for cell in range(_CELLS)]
    except KeyError as exc:
        raise _encode_error(data_type, value, f"cell {exc.args[0]} is missing (cells 0..23 are needed)") from None


def _encode_battery_status(value: object) -> bytes:
    data_type = DataType.BATTERY_MODULE_STATUS
    if not isinstance(value, BatteryModuleStatus):
        raise _encode_error(data_type, value, "expected a BatteryModuleStatus")
    flat: list[object] = []
    for cell in _cells(data_type, value, value.cells):
        if not isinstance(cell, BatteryModuleCellStatus):
            raise _encode_error(data_type, value, f"{cell!r} is not a BatteryModuleCellStatus")
        flat += (cell.temperature_c, cell.voltage_mv, cell.status)
    return _pack(_BATTERY_STATUS, data_type, value, *flat)


def _encode_battery_statistics(value: object) -> bytes:
    data_type = DataType.BATTERY_MODULE_STATISTICS
    if not isinstance(value, BatteryModuleStatistics):
        raise _encode_error(data_type, value, "expected a BatteryModuleStatistics")
    flat: list[object] = []
    for entry in (value.u_min, value.u_max, value.t_min, value.t_max):
        # No timestamp is encoded as 0, which is what the devices send for "never".
        stamp = 0 if entry.timestamp is None else _to_unix(entry.timestamp, data_type, value)
        flat += (entry.cell, stamp, entry.value)
    return _pack(_BATTERY_STATISTICS, data_type, value, *flat)


def _encode_battery_resistance(value: object) -> bytes:
    data_type = DataType.BATTERY_MODULE_RESISTANCE
    if not isinstance(value, BatteryModuleResistance):
        raise _encode_error(data_type, value, "expected a BatteryModuleResistance")
    raw: list[object] = []
    for cell in _cells(data_type, value, value.cells):
        if not isinstance(cell, BatteryModuleCellResistance):
            raise _encode_error(data_type, value, f"{cell!r} is not a BatteryModuleCellResistance")
        # raw_value is the wire value; resistance_mohm is derived from it and not encoded.
        raw.append(cell.raw_value)
    return _pack(_BATTERY_RESISTANCE, data_type, value, *raw)


#: Data type -> encoder. The native types map straight to ``Struct.pack``.
_PACK: dict[DataType, Callable[[object], bytes]] = {data_type: st.pack for data_type, st in _NATIVE_STRUCTS.items()}
_PACK.update(
    {
        DataType.UNKNOWN: _encode_unknown,
        DataType.STRING: _encode_string,
        DataType.TIMESERIES: _encode_timeseries,
        DataType.EVENT_TABLE: _encode_event_table,
        DataType.BATTERY_MODULE_STATUS: _encode_battery_status,
        DataType.BATTERY_MODULE_STATISTICS: _encode_battery_statistics,
        DataType.BATTERY_MODULE_RESISTANCE: _encode_battery_resistance,
    }
)


@overload
def encode_value(data_type: Literal[DataType.BOOL], value: object) -> bytes: ...
@overload
def encode_value(data_type: _IntType, value: int) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.FLOAT], value: float) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.STRING], value: str | Buffer) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.UNKNOWN], value: Buffer) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.TIMESERIES], value: Timeseries | _TimeseriesTuple) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.EVENT_TABLE], value: EventTable | _EventTableTuple) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.BATTERY_MODULE_STATUS], value: BatteryModuleStatus) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.BATTERY_MODULE_STATISTICS], value: BatteryModuleStatistics) -> bytes: ...
@overload
def encode_value(data_type: Literal[DataType.BATTERY_MODULE_RESISTANCE], value: BatteryModuleResistance) -> bytes: ...
@overload
def encode_value(data_type: DataType, value: EncodableValue) -> bytes: ...


def encode_value(data_type: DataType, value: object) -> bytes:
    """Encode ``value`` as the payload of ``data_type``, the inverse of :func:`decode_value`.

    * BOOL: any value, by truthiness (one byte, 0 or 1).
    * UINT8/INT8/ENUM, UINT16/INT16, UINT32/INT32: an int in the full range of the type (ENUM is
      one unsigned byte), big-endian. FLOAT: a float (or int) that fits IEEE single precision; it is
      rounded to single precision.
    * STRING: a str, encoded as UTF-8, or bytes, taken as they are. UNKNOWN: bytes only.
    * TIMESERIES: a :class:`~rctclient.types.Timeseries` or ``(request timestamp, {timestamp:
      value})``; timestamps are datetimes or ints.
    * EVENT_TABLE: an :class:`~rctclient.types.EventTable` or ``(request timestamp, {timestamp:
      EventEntry})``; each entry is written with its own timestamp, the keys are ignored. Missing
      (None) elements are written as 0.
    * The battery module types: their dataclasses, which must hold cells 0..23. A statistics entry
      without timestamp is written as time 0; of a cell resistance only ``raw_value`` is written.

    :raises ValueEncodeError: The value is out of range or of the wrong kind for the data type, or
        ``data_type`` is not a data type.
    """
    try:
        return _PACK[data_type](value)
    except (struct.error, OverflowError) as exc:
        if isinstance(exc, ValueEncodeError):
            raise
        # Only the native types get here: Struct.pack rejected the value.
        data_type = DataType(data_type)
        limits = _INT_RANGES.get(data_type)
        problem = f"must be an int in {limits[0]}..{limits[1]}" if limits else str(exc)
        raise _encode_error(data_type, value, problem) from exc
    except KeyError:
        if data_type in _PACK:
            raise
        raise ValueEncodeError(f"no encoder for data type {data_type!r}", data_type, value) from None

"""Tests of the payload codecs and the checksum in rctclient.utils."""

from __future__ import annotations

import binascii
import math
import struct
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rctclient import utils
from rctclient.exceptions import PayloadDecodeError, RctClientException, ValueEncodeError
from rctclient.types import (
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
from rctclient.utils import (
    CRC16,
    PAYLOAD_SIZES,
    decode_event_table,
    decode_timeseries,
    decode_value,
    encode_value,
    max_payload_size,
)

INT_RANGES = {
    DataType.UINT8: (0, 0xFF),
    DataType.INT8: (-0x80, 0x7F),
    DataType.UINT16: (0, 0xFFFF),
    DataType.INT16: (-0x8000, 0x7FFF),
    DataType.UINT32: (0, 0xFFFF_FFFF),
    DataType.INT32: (-0x8000_0000, 0x7FFF_FFFF),
    DataType.ENUM: (0, 0xFF),
}
FIXED_SIZES = {
    DataType.BOOL: 1,
    DataType.UINT8: 1,
    DataType.INT8: 1,
    DataType.UINT16: 2,
    DataType.INT16: 2,
    DataType.UINT32: 4,
    DataType.INT32: 4,
    DataType.ENUM: 1,
    DataType.FLOAT: 4,
    DataType.BATTERY_MODULE_STATUS: 96,
    DataType.BATTERY_MODULE_STATISTICS: 48,
    DataType.BATTERY_MODULE_RESISTANCE: 96,
}
T0 = 1_700_000_000


def utc(stamp: int) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def encode_any(data_type: DataType, value: object) -> bytes:
    """encode_value with a value of any type, for the tests of what it rejects."""
    return encode_value(data_type, cast(Any, value))


def f32(value: float) -> float:
    return cast(float, struct.unpack(">f", struct.pack(">f", value))[0])


uint32s = st.integers(0, 0xFFFF_FFFF)
stamps = uint32s.map(utc)
floats32 = st.floats(width=32, allow_nan=False)


# --------------------------------------------------------------------------------------------------
# CRC16
# --------------------------------------------------------------------------------------------------


def reference_crc(data: bytes) -> int:
    """Bit by bit CRC-CCITT (0x1021, start 0xFFFF) with the protocol's zero padding to even length."""
    if len(data) % 2:
        data += b"\0"
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def test_crc_of_known_frame() -> None:
    frame = bytes.fromhex("2b0104959930bf0d65")
    assert CRC16(frame[1:-2]) == 0x0D65 == int.from_bytes(frame[-2:], "big")


def test_crc_odd_length_is_padded() -> None:
    data = bytes.fromhex("0104959930bf0d")
    assert CRC16(data) == binascii.crc_hqx(data + b"\0", 0xFFFF) == reference_crc(data)


def test_crc_empty() -> None:
    assert CRC16(b"") == 0xFFFF


@given(st.binary(max_size=300))
def test_crc_matches_reference(data: bytes) -> None:
    expected = reference_crc(data)
    assert CRC16(data) == expected
    assert CRC16(bytearray(data)) == expected
    assert CRC16(memoryview(b"x" + data)[1:]) == expected
    assert CRC16(data) == binascii.crc_hqx(data + b"\0" * (len(data) % 2), 0xFFFF)


# --------------------------------------------------------------------------------------------------
# Sizes
# --------------------------------------------------------------------------------------------------


def test_payload_sizes() -> None:
    assert dict(PAYLOAD_SIZES) == FIXED_SIZES
    for data_type in DataType:
        assert max_payload_size(data_type) == FIXED_SIZES.get(data_type)
    for unbounded in (DataType.STRING, DataType.UNKNOWN, DataType.TIMESERIES, DataType.EVENT_TABLE):
        assert max_payload_size(unbounded) is None


def test_payload_sizes_is_read_only() -> None:
    with pytest.raises(TypeError):
        PAYLOAD_SIZES[DataType.BOOL] = 2  # type: ignore[index]


# --------------------------------------------------------------------------------------------------
# Native types
# --------------------------------------------------------------------------------------------------


def test_float_vector_battery_soc() -> None:
    assert decode_value(DataType.FLOAT, bytes.fromhex("3f590f86")) == 0.8478931188583374
    assert encode_value(DataType.FLOAT, 0.8478931188583374) == bytes.fromhex("3f590f86")


@pytest.mark.parametrize(
    ("data_type", "payload", "value"),
    [
        (DataType.BOOL, b"\x00", False),
        (DataType.BOOL, b"\x01", True),
        (DataType.UINT8, b"\xff", 255),
        (DataType.INT8, b"\xff", -1),
        (DataType.ENUM, b"\xfe", 254),
        (DataType.UINT16, b"\x01\x02", 0x0102),
        (DataType.INT16, b"\xff\xfe", -2),
        (DataType.UINT32, b"\x95\x99\x30\xbf", 0x959930BF),
        (DataType.INT32, b"\x80\x00\x00\x00", -0x8000_0000),
        (DataType.FLOAT, b"\xc0\x20\x00\x00", -2.5),
    ],
)
def test_native_vectors(data_type: DataType, payload: bytes, value: object) -> None:
    decoded = decode_value(data_type, payload)
    assert decoded == value
    assert type(decoded) is type(value)
    assert encode_value(data_type, value) == payload


@pytest.mark.parametrize("byte", [0x02, 0x7F, 0x80, 0xFF])
def test_bool_any_nonzero_is_true(byte: int) -> None:
    assert decode_value(DataType.BOOL, bytes([byte])) is True


@pytest.mark.parametrize(("value", "payload"), [(True, b"\x01"), (False, b"\x00"), (5, b"\x01"), (0, b"\x00")])
def test_bool_encodes_truthiness(value: object, payload: bytes) -> None:
    assert encode_value(DataType.BOOL, value) == payload


def test_native_decoders_take_any_buffer() -> None:
    assert decode_value(DataType.UINT16, bytearray(b"\x01\x02")) == 0x0102
    assert decode_value(DataType.FLOAT, memoryview(bytes.fromhex("003f590f86"))[1:]) == 0.8478931188583374


@pytest.mark.parametrize("data_type", list(INT_RANGES))
def test_integer_range_limits(data_type: DataType) -> None:
    low, high = INT_RANGES[data_type]
    for value in (low, high):
        assert decode_value(data_type, encode_value(data_type, value)) == value
    for value in (low - 1, high + 1, high * 4 + 7, -(2**64)):
        with pytest.raises(ValueEncodeError) as info:
            encode_value(data_type, value)
        assert isinstance(info.value, struct.error)
        assert isinstance(info.value, ValueError)
        assert info.value.data_type == data_type
        assert info.value.value == value


def test_unsigned_take_their_full_range() -> None:
    assert encode_value(DataType.UINT8, 200) == b"\xc8"
    assert encode_value(DataType.ENUM, 255) == b"\xff"
    assert encode_value(DataType.UINT16, 0xFFFF) == b"\xff\xff"
    # Object-ID sized values: fine as UINT32, too large for INT32 and for anything shorter.
    assert encode_value(DataType.UINT32, 0x959930BF) == b"\x95\x99\x30\xbf"
    for data_type in (DataType.INT32, DataType.UINT16, DataType.UINT8):
        with pytest.raises(ValueEncodeError):
            encode_value(data_type, 0x959930BF)
    for data_type in (DataType.UINT8, DataType.UINT16, DataType.UINT32, DataType.ENUM):
        with pytest.raises(ValueEncodeError):
            encode_value(data_type, -1)
    with pytest.raises(ValueEncodeError):
        encode_value(DataType.UINT8, 300)
    with pytest.raises(ValueEncodeError):
        encode_value(DataType.UINT32, 2**32)


@pytest.mark.parametrize("data_type", list(INT_RANGES))
@pytest.mark.parametrize("value", [1.5, "3", b"\x01", None])
def test_integer_types_reject_other_kinds(data_type: DataType, value: object) -> None:
    with pytest.raises(ValueEncodeError):
        encode_any(data_type, value)


@pytest.mark.parametrize("value", ["1.0", None, 1e39, -1e300, 2**1100])
def test_float_rejects_unencodable(value: object) -> None:
    with pytest.raises(ValueEncodeError) as info:
        encode_any(DataType.FLOAT, value)
    assert isinstance(info.value, struct.error)


def test_float_specials() -> None:
    assert decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, math.inf)) == math.inf
    assert decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, -math.inf)) == -math.inf
    assert math.isnan(decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, math.nan)))
    assert math.copysign(1.0, decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, -0.0))) == -1.0
    assert encode_value(DataType.FLOAT, 1) == b"\x3f\x80\x00\x00"


@given(st.sampled_from(list(INT_RANGES)), st.data())
def test_integer_round_trip(data_type: DataType, data: st.DataObject) -> None:
    low, high = INT_RANGES[data_type]
    value = data.draw(st.integers(low, high))
    payload = encode_value(data_type, value)
    assert len(payload) == PAYLOAD_SIZES[data_type]
    assert decode_value(data_type, payload) == value


@given(st.booleans())
def test_bool_round_trip(value: bool) -> None:
    assert decode_value(DataType.BOOL, encode_value(DataType.BOOL, value)) is value


@given(floats32)
def test_float_round_trip(value: float) -> None:
    decoded = decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, value))
    assert struct.pack(">d", decoded) == struct.pack(">d", value)  # bitwise, keeps the sign of zero


@given(st.floats(allow_nan=False, min_value=-3.4e38, max_value=3.4e38))
def test_float_rounds_doubles_to_single(value: float) -> None:
    assert decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, value)) == f32(value)


@given(st.binary(min_size=4, max_size=4))
def test_float_any_four_bytes(payload: bytes) -> None:
    value = decode_value(DataType.FLOAT, payload)
    if math.isnan(value):
        assert math.isnan(decode_value(DataType.FLOAT, encode_value(DataType.FLOAT, value)))
    else:
        assert encode_value(DataType.FLOAT, value) == payload


# --------------------------------------------------------------------------------------------------
# Wrong lengths
# --------------------------------------------------------------------------------------------------


def assert_decode_error(data_type: DataType, payload: bytes) -> None:
    with pytest.raises(PayloadDecodeError) as info:
        decode_value(data_type, payload)
    error = info.value
    assert isinstance(error, struct.error)
    assert isinstance(error, ValueError)
    assert isinstance(error, RctClientException)
    assert error.data_type == data_type
    assert error.data == payload


@pytest.mark.parametrize("data_type", list(FIXED_SIZES))
def test_fixed_types_reject_every_wrong_length(data_type: DataType) -> None:
    size = FIXED_SIZES[data_type]
    for length in range(size + 9):
        if length != size:
            assert_decode_error(data_type, bytes(range(length)))
    assert_decode_error(data_type, bytes(size * 2))


@pytest.mark.parametrize(("data_type", "record"), [(DataType.TIMESERIES, 8), (DataType.EVENT_TABLE, 20)])
def test_record_types_reject_wrong_lengths(data_type: DataType, record: int) -> None:
    for length in range(4 + 3 * record + 1):
        payload = bytes(length)
        if length >= 4 and (length - 4) % record == 0:
            decode_value(data_type, payload)
        else:
            assert_decode_error(data_type, payload)


def test_truncated_payloads_raise_decode_error() -> None:
    # What devices send: the start of a valid payload, with a checksum that matches.
    payload = struct.pack(">IIfIf", T0, T0 - 300, 1.0, T0 - 600, 2.0)
    for cut in range(1, 8):
        assert_decode_error(DataType.TIMESERIES, payload[:-cut])
    assert_decode_error(DataType.FLOAT, b"\x3f\x59\x0f")
    assert_decode_error(DataType.FLOAT, b"")


# --------------------------------------------------------------------------------------------------
# STRING and UNKNOWN
# --------------------------------------------------------------------------------------------------


def test_string_vectors() -> None:
    assert decode_value(DataType.STRING, b"PS 6.0\x00\x00\x00") == "PS 6.0"
    assert decode_value(DataType.STRING, b"abc\x00garbage\xff") == "abc"
    assert decode_value(DataType.STRING, b"") == ""
    assert decode_value(DataType.STRING, b"\x00abc") == ""
    assert decode_value(DataType.STRING, "Größe".encode()) == "Größe"
    assert decode_value(DataType.STRING, bytearray(b"ab\x00")) == "ab"
    assert decode_value(DataType.STRING, memoryview(b"xab\x00c")[1:]) == "ab"


def test_string_invalid_utf8_is_replaced() -> None:
    assert decode_value(DataType.STRING, b"a\xffb\xc3") == "a\ufffdb\ufffd"


def test_string_encode() -> None:
    assert encode_value(DataType.STRING, "Größe") == "Größe".encode()
    assert encode_value(DataType.STRING, b"raw\xff") == b"raw\xff"
    assert encode_value(DataType.STRING, bytearray(b"ab")) == b"ab"
    assert encode_value(DataType.STRING, "") == b""


@pytest.mark.parametrize("value", [1, None, 1.5, "\ud800"])
def test_string_encode_rejects(value: object) -> None:
    with pytest.raises(ValueEncodeError) as info:
        encode_any(DataType.STRING, value)
    assert isinstance(info.value, ValueError)


@given(st.text().filter(lambda text: "\0" not in text))
def test_string_round_trip(text: str) -> None:
    assert decode_value(DataType.STRING, encode_value(DataType.STRING, text)) == text


@given(st.binary())
def test_string_decodes_any_bytes(payload: bytes) -> None:
    text = decode_value(DataType.STRING, payload)
    assert isinstance(text, str)
    assert "\0" not in text


def test_unknown_is_raw_bytes() -> None:
    decoded = decode_value(DataType.UNKNOWN, bytearray(b"\x00\xff"))
    assert decoded == b"\x00\xff"
    assert type(decoded) is bytes
    assert encode_value(DataType.UNKNOWN, b"\x01\x02") == b"\x01\x02"
    assert encode_value(DataType.UNKNOWN, memoryview(b"\x03")) == b"\x03"
    for value in ("text", 1, None):
        with pytest.raises(ValueEncodeError):
            encode_any(DataType.UNKNOWN, value)


@given(st.binary())
def test_unknown_round_trip(payload: bytes) -> None:
    assert decode_value(DataType.UNKNOWN, encode_value(DataType.UNKNOWN, payload)) == payload


# --------------------------------------------------------------------------------------------------
# Data types that are not
# --------------------------------------------------------------------------------------------------


def test_unknown_data_type_number() -> None:
    bogus = cast(DataType, 99)
    with pytest.raises(PayloadDecodeError):
        decode_value(bogus, b"\x00")
    with pytest.raises(ValueEncodeError):
        encode_value(bogus, 1)


def test_plain_int_data_type_works() -> None:
    assert decode_value(cast(DataType, 9), bytes.fromhex("3f590f86")) == 0.8478931188583374
    assert encode_value(cast(DataType, 2), 255) == b"\xff"


# --------------------------------------------------------------------------------------------------
# TIMESERIES
# --------------------------------------------------------------------------------------------------


def timeseries_payload(header: int, points: list[tuple[int, float]]) -> bytes:
    return struct.pack(">I", header) + b"".join(struct.pack(">If", stamp, value) for stamp, value in points)


def test_timeseries_vector() -> None:
    payload = bytes.fromhex("6553f1006553ef003f8000006553edd4c0200000")
    request, series = decode_value(DataType.TIMESERIES, payload)
    assert request == utc(0x6553F100)
    assert request.tzinfo is not None
    assert request.utcoffset() == timedelta(0)
    assert series == {utc(0x6553EF00): 1.0, utc(0x6553EDD4): -2.5}
    assert list(series) == [utc(0x6553EF00), utc(0x6553EDD4)]  # wire order
    assert all(key.tzinfo is not None for key in series)


def test_timeseries_header_timestamp_is_the_headers() -> None:
    # The header is neither the newest nor the last point.
    payload = timeseries_payload(T0, [(T0 - 300, 1.0), (T0 - 600, 2.0), (T0 + 900, 3.0)])
    request, _ = decode_value(DataType.TIMESERIES, payload)
    assert request == utc(T0)
    assert decode_timeseries(payload).request_timestamp == utc(T0)


def test_timeseries_header_only() -> None:
    payload = struct.pack(">I", T0)
    assert decode_value(DataType.TIMESERIES, payload) == (utc(T0), {})
    assert decode_timeseries(payload) == Timeseries(utc(T0), ())


def test_timeseries_duplicates_kept_in_lossless_form() -> None:
    points = [(T0 - 300, 1.0), (T0 - 300, 2.0), (T0 - 600, 3.0), (T0 - 300, 4.0)]
    payload = timeseries_payload(T0, points)
    series = decode_timeseries(payload)
    assert len(series) == 4
    assert [(point.timestamp, point.value) for point in series] == [(utc(s), v) for s, v in points]
    _, mapping = decode_value(DataType.TIMESERIES, payload)
    assert mapping == {utc(T0 - 300): 4.0, utc(T0 - 600): 3.0}  # last one wins in the dict
    assert encode_value(DataType.TIMESERIES, series) == payload


def test_timeseries_strict_false_drops_partial_record() -> None:
    payload = timeseries_payload(T0, [(T0 - 300, 1.0), (T0 - 600, 2.0)])
    for cut in range(1, 8):
        short = payload[:-cut]
        with pytest.raises(PayloadDecodeError):
            decode_timeseries(short)
        lenient = decode_timeseries(short, strict=False)
        assert lenient == Timeseries(utc(T0), (TimeseriesPoint(utc(T0 - 300), 1.0),))
    assert decode_timeseries(payload, strict=False) == decode_timeseries(payload)
    assert decode_timeseries(payload[:5], strict=False) == Timeseries(utc(T0), ())
    for length in range(4):
        with pytest.raises(PayloadDecodeError):
            decode_timeseries(payload[:length], strict=False)


def test_timeseries_encode_forms() -> None:
    payload = timeseries_payload(T0, [(T0 - 300, 1.5), (T0 - 600, -2.0)])
    assert encode_value(DataType.TIMESERIES, (T0, {T0 - 300: 1.5, T0 - 600: -2.0})) == payload
    assert encode_value(DataType.TIMESERIES, (utc(T0), {utc(T0 - 300): 1.5, utc(T0 - 600): -2.0})) == payload
    naive = datetime(2023, 11, 14, 22, 13, 20)
    assert encode_value(DataType.TIMESERIES, (naive, {})) == struct.pack(">I", T0)
    berlin = timezone(timedelta(hours=1))
    assert encode_value(DataType.TIMESERIES, (utc(T0).astimezone(berlin), {})) == struct.pack(">I", T0)
    assert encode_value(DataType.TIMESERIES, decode_timeseries(payload)) == payload
    assert encode_value(DataType.TIMESERIES, decode_value(DataType.TIMESERIES, payload)) == payload


@pytest.mark.parametrize(
    "value",
    [
        (T0, {-1: 1.0}),
        (2**32, {}),
        (utc(0) - timedelta(seconds=1), {}),
        (T0, {T0: 1e39}),
        (T0, {T0: "x"}),
        (T0, {"x": 1.0}),
        (T0,),
        [T0, {}],
        42,
        Timeseries(utc(T0), (TimeseriesPoint(utc(T0), cast(float, None)),)),
    ],
)
def test_timeseries_encode_rejects(value: object) -> None:
    with pytest.raises(ValueEncodeError):
        encode_any(DataType.TIMESERIES, value)


timeseries_values = st.builds(
    Timeseries,
    request_timestamp=stamps,
    points=st.lists(st.builds(TimeseriesPoint, stamps, floats32), max_size=40).map(tuple),
)


@given(timeseries_values)
def test_timeseries_round_trip(series: Timeseries) -> None:
    payload = encode_value(DataType.TIMESERIES, series)
    assert len(payload) == 4 + 8 * len(series)
    assert decode_timeseries(payload) == series
    request, mapping = decode_value(DataType.TIMESERIES, payload)
    assert request == series.request_timestamp
    assert mapping == {point.timestamp: point.value for point in series}


@given(stamps, st.dictionaries(stamps, st.floats(width=32), max_size=40))
def test_timeseries_dict_round_trip_bitwise(request: datetime, points: dict[datetime, float]) -> None:
    payload = encode_value(DataType.TIMESERIES, (request, points))
    decoded = decode_value(DataType.TIMESERIES, payload)
    assert decoded[0] == request
    assert list(decoded[1]) == list(points)
    assert encode_value(DataType.TIMESERIES, decoded) == payload  # NaN included, bit for bit


@given(timeseries_values)
def test_timeseries_raw_columns_agree(series: Timeseries) -> None:
    payload = encode_value(DataType.TIMESERIES, series)
    header, stamps, values = utils.decode_timeseries_raw(payload)
    assert header == int(series.request_timestamp.timestamp())
    assert stamps == [int(p.timestamp.timestamp()) for p in series]
    assert struct.pack(f">{len(values)}f", *values) == struct.pack(f">{len(series)}f", *(p.value for p in series))


def test_timeseries_raw_strictness() -> None:
    payload = struct.pack(">IIf", 1000, 900, 1.5) + b"\x01\x02"
    with pytest.raises(PayloadDecodeError):
        utils.decode_timeseries_raw(payload)
    assert utils.decode_timeseries_raw(payload, strict=False) == (1000, [900], [1.5])


@given(st.binary(max_size=100))
def test_timeseries_lenient_never_crashes(payload: bytes) -> None:
    if len(payload) < 4:
        with pytest.raises(PayloadDecodeError):
            decode_timeseries(payload, strict=False)
    else:
        assert len(decode_timeseries(payload, strict=False)) == (len(payload) - 4) // 8


def test_timeseries_many_distinct_timestamps(monkeypatch: pytest.MonkeyPatch) -> None:
    # More distinct timestamps than the datetime cache holds: still right.
    monkeypatch.setattr(utils, "_STAMP_CACHE_LIMIT", 16)
    points = [(T0 - 60 * i, float(i)) for i in range(100)]
    for _ in range(3):
        series = decode_timeseries(timeseries_payload(T0, points))
        assert [(p.timestamp, p.value) for p in series] == [(utc(s), v) for s, v in points]
    assert len(utils._stamp_cache) <= 100


# --------------------------------------------------------------------------------------------------
# EVENT_TABLE
# --------------------------------------------------------------------------------------------------


def event_payload(header: int, entries: list[tuple[int, int, int, int, int]]) -> bytes:
    return struct.pack(">I", header) + b"".join(struct.pack(">5I", *entry) for entry in entries)


def test_event_table_vector() -> None:
    payload = bytes.fromhex(
        "6553f100" "00000053" "6553ef00" "959930bf" "00000001" "00000002"
        "00000077" "6553edd4" "0000000a" "0000000b" "0000000c"
    )  # fmt: skip
    request, table = decode_value(DataType.EVENT_TABLE, payload)
    assert request == utc(0x6553F100)
    assert table == {
        utc(0x6553EF00): EventEntry(0x53, utc(0x6553EF00), 0x959930BF, 1, 2),
        utc(0x6553EDD4): EventEntry(0x77, utc(0x6553EDD4), 10, 11, 12),
    }
    assert table[utc(0x6553EF00)].entry_char == "S"
    lossless = decode_event_table(payload)
    assert lossless.request_timestamp == request
    assert list(lossless) == list(table.values())
    assert encode_value(DataType.EVENT_TABLE, lossless) == payload
    assert encode_value(DataType.EVENT_TABLE, (request, table)) == payload


def test_event_table_header_and_duplicates() -> None:
    entries = [(0x53, T0 - 60, 1, 2, 3), (0x77, T0 - 60, 4, 5, 6), (0x53, T0 - 120, 7, 8, 9)]
    payload = event_payload(T0, entries)
    request, table = decode_value(DataType.EVENT_TABLE, payload)
    assert request == utc(T0)  # not the timestamp of an entry
    assert table[utc(T0 - 60)].element2 == 4  # last one wins in the dict
    lossless = decode_event_table(payload)
    assert len(lossless) == 3
    assert [entry.element2 for entry in lossless] == [1, 4, 7]


def test_event_table_entry_type_out_of_range() -> None:
    payload = event_payload(T0, [(0x53, T0, 0, 0, 0), (0x100, T0, 0, 0, 0)])
    assert_decode_error(DataType.EVENT_TABLE, payload)
    with pytest.raises(PayloadDecodeError):
        decode_event_table(payload, strict=False)


def test_event_table_strict_false_drops_partial_entry() -> None:
    payload = event_payload(T0, [(0x53, T0 - 60, 1, 2, 3), (0x77, T0 - 120, 4, 5, 6)])
    for cut in range(1, 20):
        with pytest.raises(PayloadDecodeError):
            decode_event_table(payload[:-cut])
        lenient = decode_event_table(payload[:-cut], strict=False)
        assert lenient == EventTable(utc(T0), (EventEntry(0x53, utc(T0 - 60), 1, 2, 3),))
    with pytest.raises(PayloadDecodeError):
        decode_event_table(payload[:3], strict=False)


def test_event_table_encode_missing_elements_as_zero() -> None:
    table = EventTable(utc(T0), (EventEntry(0x41, utc(T0 - 1)),))
    assert encode_value(DataType.EVENT_TABLE, table) == event_payload(T0, [(0x41, T0 - 1, 0, 0, 0)])


@pytest.mark.parametrize(
    "value",
    [
        (T0, {T0: "not an entry"}),
        (T0, {T0: EventEntry(0x41, utc(T0), 2**32)}),
        (2**32, {}),
        42,
        EventTable(utc(T0), (EventEntry(0x41, utc(T0), -1),)),
    ],
)
def test_event_table_encode_rejects(value: object) -> None:
    with pytest.raises(ValueEncodeError):
        encode_any(DataType.EVENT_TABLE, value)


event_tables = st.builds(
    EventTable,
    request_timestamp=stamps,
    entries=st.lists(st.builds(EventEntry, st.integers(0, 255), stamps, uint32s, uint32s, uint32s), max_size=20).map(
        tuple
    ),
)


@given(event_tables)
def test_event_table_round_trip(table: EventTable) -> None:
    payload = encode_value(DataType.EVENT_TABLE, table)
    assert len(payload) == 4 + 20 * len(table)
    assert decode_event_table(payload) == table
    request, mapping = decode_value(DataType.EVENT_TABLE, payload)
    assert request == table.request_timestamp
    assert mapping == {entry.timestamp: entry for entry in table}


# --------------------------------------------------------------------------------------------------
# Battery module types
# --------------------------------------------------------------------------------------------------


def test_battery_status_layout() -> None:
    # Cell 0: 25 °C, 3300 mV (0x0ce4, little-endian), status 1; cell 23: 255 °C, 0xfffe mV, status 0x80.
    records = [b"\x19\xe4\x0c\x01"] + [bytes([i, i, 0x0D, 0]) for i in range(1, 23)] + [b"\xff\xfe\xff\x80"]
    payload = b"".join(records)
    status = decode_value(DataType.BATTERY_MODULE_STATUS, payload)
    assert len(status) == 24
    assert status[0] == BatteryModuleCellStatus(temperature_c=25, voltage_mv=3300, status=1)
    assert status[0].voltage_v == 3.3
    assert status[5] == BatteryModuleCellStatus(temperature_c=5, voltage_mv=0x0D05, status=0)
    assert status[23] == BatteryModuleCellStatus(temperature_c=255, voltage_mv=0xFFFE, status=0x80)
    assert list(status.cells) == list(range(24))
    assert encode_value(DataType.BATTERY_MODULE_STATUS, status) == payload


def test_battery_statistics_layout() -> None:
    payload = b"".join(
        [
            struct.pack("<IIf", 3, T0, 3.25),
            struct.pack("<IIf", 17, 0, 3.5),
            struct.pack("<IIf", 0, T0 + 60, -5.0),
            struct.pack("<IIf", 23, 0xFFFF_FFFF, 41.5),
        ]
    )
    stats = decode_value(DataType.BATTERY_MODULE_STATISTICS, payload)
    assert stats == BatteryModuleStatistics(
        u_min=BatteryModuleHistoryEntry(cell=3, timestamp=utc(T0), value=3.25),
        u_max=BatteryModuleHistoryEntry(cell=17, timestamp=None, value=3.5),
        t_min=BatteryModuleHistoryEntry(cell=0, timestamp=utc(T0 + 60), value=-5.0),
        t_max=BatteryModuleHistoryEntry(cell=23, timestamp=utc(0xFFFF_FFFF), value=41.5),
    )
    assert encode_value(DataType.BATTERY_MODULE_STATISTICS, stats) == payload


def test_battery_resistance_layout() -> None:
    # 0x0180 big-endian = 384/256 = 1.5 mOhm; the two bytes after it are padding.
    payload = b"\x01\x80\x00\x00" + b"\x00\x01\x00\x00" * 22 + b"\xff\xff\x00\x00"
    resistance = decode_value(DataType.BATTERY_MODULE_RESISTANCE, payload)
    assert resistance[0] == BatteryModuleCellResistance(raw_value=384, resistance_mohm=1.5)
    assert resistance[0].resistance_ohm == 0.0015
    assert resistance[1].raw_value == 1
    assert resistance[23] == BatteryModuleCellResistance(raw_value=0xFFFF, resistance_mohm=0xFFFF / 256)
    assert len(resistance) == 24
    assert encode_value(DataType.BATTERY_MODULE_RESISTANCE, resistance) == payload


def test_battery_resistance_ignores_padding_content() -> None:
    payload = b"\x01\x80\xaa\xbb" * 24
    assert decode_value(DataType.BATTERY_MODULE_RESISTANCE, payload)[7].raw_value == 384


def test_battery_encode_rejects() -> None:
    cell = BatteryModuleCellStatus(temperature_c=20, voltage_mv=3300, status=0)
    missing = BatteryModuleStatus(cells={i: cell for i in range(23)})
    hot = BatteryModuleStatus(cells={i: BatteryModuleCellStatus(256, 3300, 0) for i in range(24)})
    ohm = BatteryModuleCellResistance(raw_value=0x10000, resistance_mohm=256.0)
    entry = BatteryModuleHistoryEntry(cell=-1, timestamp=None, value=1.0)
    cases: list[tuple[DataType, object]] = [
        (DataType.BATTERY_MODULE_STATUS, missing),
        (DataType.BATTERY_MODULE_STATUS, hot),
        (DataType.BATTERY_MODULE_STATUS, BatteryModuleStatus(cells=cast(Any, dict.fromkeys(range(24), 1)))),
        (DataType.BATTERY_MODULE_STATUS, 1),
        (DataType.BATTERY_MODULE_RESISTANCE, BatteryModuleResistance(cells=dict.fromkeys(range(24), ohm))),
        (DataType.BATTERY_MODULE_RESISTANCE, BatteryModuleStatus(cells=dict.fromkeys(range(24), cell))),
        (DataType.BATTERY_MODULE_STATISTICS, BatteryModuleStatistics(entry, entry, entry, entry)),
        (DataType.BATTERY_MODULE_STATISTICS, None),
    ]
    for data_type, value in cases:
        with pytest.raises(ValueEncodeError):
            encode_any(data_type, value)


cell_statuses = st.builds(BatteryModuleCellStatus, st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 255))
history_entries = st.builds(
    BatteryModuleHistoryEntry, uint32s, st.none() | st.integers(1, 0xFFFF_FFFF).map(utc), floats32
)


@given(st.lists(cell_statuses, min_size=24, max_size=24))
def test_battery_status_round_trip(cells: list[BatteryModuleCellStatus]) -> None:
    status = BatteryModuleStatus(cells=dict(enumerate(cells)))
    payload = encode_value(DataType.BATTERY_MODULE_STATUS, status)
    assert len(payload) == 96
    assert decode_value(DataType.BATTERY_MODULE_STATUS, payload) == status


@given(history_entries, history_entries, history_entries, history_entries)
def test_battery_statistics_round_trip(
    u_min: BatteryModuleHistoryEntry,
    u_max: BatteryModuleHistoryEntry,
    t_min: BatteryModuleHistoryEntry,
    t_max: BatteryModuleHistoryEntry,
) -> None:
    stats = BatteryModuleStatistics(u_min=u_min, u_max=u_max, t_min=t_min, t_max=t_max)
    payload = encode_value(DataType.BATTERY_MODULE_STATISTICS, stats)
    assert len(payload) == 48
    assert decode_value(DataType.BATTERY_MODULE_STATISTICS, payload) == stats


@given(st.lists(st.integers(0, 0xFFFF), min_size=24, max_size=24))
def test_battery_resistance_round_trip(raws: list[int]) -> None:
    resistance = BatteryModuleResistance(
        cells={i: BatteryModuleCellResistance(raw_value=raw, resistance_mohm=raw / 256) for i, raw in enumerate(raws)}
    )
    payload = encode_value(DataType.BATTERY_MODULE_RESISTANCE, resistance)
    assert len(payload) == 96
    assert decode_value(DataType.BATTERY_MODULE_RESISTANCE, payload) == resistance


@given(st.sampled_from(list(FIXED_SIZES)), st.data())
def test_fixed_types_any_bytes_of_right_size(data_type: DataType, data: st.DataObject) -> None:
    payload = data.draw(st.binary(min_size=FIXED_SIZES[data_type], max_size=FIXED_SIZES[data_type]))
    value = decode_value(data_type, payload)
    reencoded = encode_value(data_type, value)
    assert len(reencoded) == len(payload)
    assert decode_value(data_type, reencoded) == value or data_type in (
        DataType.FLOAT,  # NaN
        DataType.BATTERY_MODULE_STATISTICS,  # NaN
    )


# --------------------------------------------------------------------------------------------------
# UNIX time -> datetime conversion (the fast paths behind TIMESERIES and EVENT_TABLE)
# --------------------------------------------------------------------------------------------------

u32 = st.integers(0, 0xFFFF_FFFF)


def reference_datetimes(stamps: list[int]) -> list[datetime]:
    return [datetime.fromtimestamp(stamp, UTC) for stamp in stamps]


def assert_same_datetimes(got: list[datetime], stamps: list[int]) -> None:
    assert got == reference_datetimes(stamps)
    assert all(value.tzinfo is UTC for value in got)
    assert [hash(value) for value in got] == [hash(value) for value in reference_datetimes(stamps)]


@pytest.mark.parametrize(
    "stamps",
    [
        [],
        [T0],
        [T0, T0 - 300],
        [T0 - 300 * i for i in range(127)],  # equally spaced, newest first (the usual answer)
        [T0 + 86_400 * i for i in range(40)],  # equally spaced, ascending
        [T0] * 5,  # all the same
        [T0, T0 - 300, T0 - 600, T0 - 1500, T0 - 1800, T0 + 7, 0, 0xFFFF_FFFF],  # gaps, jumps, the extremes
        [0, 0xFFFF_FFFF, 0, 0xFFFF_FFFF],
        list(range(0xFFFF_FFFF - 10, 0xFFFF_FFFF + 1)),
    ],
)
def test_new_datetimes_equal_fromtimestamp(stamps: list[int]) -> None:
    assert_same_datetimes(utils._new_datetimes(stamps), stamps)
    utils._stamp_cache.clear()
    assert_same_datetimes(utils._to_datetimes(stamps), stamps)  # not cached
    assert_same_datetimes(utils._to_datetimes(stamps), stamps)  # cached


@given(st.lists(u32, max_size=60))
def test_new_datetimes_any_stamps(stamps: list[int]) -> None:
    assert_same_datetimes(utils._new_datetimes(stamps), stamps)


@given(
    st.lists(u32, max_size=60), st.lists(u32, max_size=30), st.integers(0, 0xFFFF_FFFF), st.integers(-86_400, 86_400)
)
def test_to_datetimes_with_a_partly_filled_cache(stamps: list[int], known: list[int], start: int, step: int) -> None:
    # Whatever the cache holds beforehand (nothing, some of the stamps, the first or last only), the
    # result is what fromtimestamp gives.
    series = [s for s in (start + step * i for i in range(30)) if 0 <= s <= 0xFFFF_FFFF]
    for probe in (stamps, series, series[::-1]):
        utils._stamp_cache.clear()
        utils._to_datetimes(known + probe[:1] + probe[-1:] + probe[::3])
        assert_same_datetimes(utils._to_datetimes(probe), probe)


def test_to_datetimes_reuses_cached_datetimes() -> None:
    utils._stamp_cache.clear()
    first = utils._to_datetimes([T0 - 300 * i for i in range(10)])
    # The next poll: one new point in front, the rest known. The known ones are the same objects.
    again = utils._to_datetimes([T0 + 300] + [T0 - 300 * i for i in range(9)])
    assert again[0] == utc(T0 + 300)
    assert all(a is b for a, b in zip(again[1:], first[:9], strict=True))


def test_to_datetimes_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(utils, "_STAMP_CACHE_LIMIT", 16)
    monkeypatch.setattr(utils, "_STEPS_LIMIT", 4)
    utils._stamp_cache.clear()
    for k in range(20):
        stamps = [T0 + 1000 * k + i * i for i in range(12)]  # irregular steps: many distinct step sizes
        assert_same_datetimes(utils._to_datetimes(stamps), stamps)
        assert len(utils._stamp_cache) <= 16
        assert len(utils._steps) <= 4
    # A series longer than the whole cache is converted right and not cached.
    stamps = [T0 - 60 * i for i in range(40)]
    assert_same_datetimes(utils._to_datetimes(stamps), stamps)
    assert len(utils._stamp_cache) <= 16


def test_timeseries_fresh_and_repeated_decode_agree() -> None:
    utils._stamp_cache.clear()
    points = [(T0 - 300 * i, float(i)) for i in range(127)]
    payload = timeseries_payload(T0, points)
    fresh = decode_value(DataType.TIMESERIES, payload)
    repeated = decode_value(DataType.TIMESERIES, payload)
    assert fresh == repeated == (utc(T0), {utc(s): v for s, v in points})
    assert all(key.tzinfo is UTC for key in fresh[1])

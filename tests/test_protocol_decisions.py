"""The protocol decisions that have one home each: command choice, frame assembly, integer types, decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rctclient.frame import CRCMismatch, Frame, command_for, decode_frames, make_bad_frame, make_frame
from rctclient.registry import REGISTRY
from rctclient.types import INTEGER_TYPES, Command, DataType, EventTable, Timeseries
from rctclient.utils import decode_lossless, decode_value, encode_value


@pytest.mark.parametrize(
    ("operation", "length", "plant", "expected"),
    [
        ("read", 0, False, Command.READ),
        ("read", 0, True, Command.PLANT_READ),
        ("write", 4, False, Command.WRITE),
        ("write", 251, False, Command.WRITE),  # 4 + 251 = 255: the 1-byte length field still holds it
        ("write", 252, False, Command.LONG_WRITE),
        ("write", 247, True, Command.PLANT_WRITE),  # address + id + 247 = 255
        ("write", 248, True, Command.PLANT_LONG_WRITE),
        ("response", 4, False, Command.RESPONSE),
        ("response", 252, False, Command.LONG_RESPONSE),
        ("response", 247, True, Command.PLANT_RESPONSE),
        ("response", 248, True, Command.PLANT_LONG_RESPONSE),
    ],
)
def test_command_for_picks_the_short_long_and_plant_forms(
    operation: str, length: int, plant: bool, expected: Command
) -> None:
    assert command_for(operation, length, plant=plant) is expected


@given(length=st.integers(0, 2000), plant=st.booleans(), operation=st.sampled_from(["write", "response"]))
def test_command_for_always_builds(length: int, plant: bool, operation: str) -> None:
    command = command_for(operation, length, plant=plant)
    frame = make_frame(command, 0x12345678, bytes(length), 7)
    (event,) = decode_frames(frame, registry=None)
    assert isinstance(event, Frame)
    assert event.command is command
    assert len(event.data) == length


@given(
    payload=st.binary(max_size=300),
    crc_xor=st.integers(1, 0xFFFF),
    plant=st.booleans(),
)
def test_make_bad_frame_fails_exactly_its_crc(payload: bytes, crc_xor: int, plant: bool) -> None:
    command = command_for("response", len(payload), plant=plant)
    good = make_frame(command, 0x959930BF, payload, 3)
    bad = make_bad_frame(command, 0x959930BF, payload, 3, crc_xor=crc_xor)
    events = decode_frames(bad, registry=None)
    mismatches = [e for e in events if isinstance(e, CRCMismatch)]
    assert mismatches, events
    assert mismatches[0].data == payload
    assert mismatches[0].received_crc ^ mismatches[0].calculated_crc == crc_xor
    (good_event,) = decode_frames(good, registry=None)
    assert isinstance(good_event, Frame)


def test_make_bad_frame_rejects_a_harmless_xor() -> None:
    with pytest.raises(ValueError, match="crc_xor"):
        make_bad_frame(Command.RESPONSE, 1, b"\0\0\0\0", crc_xor=0)


def test_integer_types_are_the_types_decoded_as_int() -> None:
    samples: dict[DataType, bool | float | str | bytes] = {
        DataType.BOOL: True,
        DataType.FLOAT: 1.5,
        DataType.STRING: "x",
        DataType.UNKNOWN: b"x",
    }
    for data_type in DataType:
        if data_type >= DataType.TIMESERIES:
            continue
        decoded = decode_value(data_type, encode_value(data_type, samples.get(data_type, 1)))
        assert (type(decoded) is int) == (data_type in INTEGER_TYPES), data_type


def test_decode_lossless_keeps_time_series_and_event_tables_whole() -> None:
    series = encode_value(DataType.TIMESERIES, (1000, {900: 1.0, 600: 2.0}))
    value = decode_lossless(DataType.TIMESERIES, series)
    assert isinstance(value, Timeseries)
    assert len(value) == 2
    table = decode_lossless(DataType.EVENT_TABLE, (1000).to_bytes(4, "big"))
    assert isinstance(table, EventTable)
    assert decode_lossless(DataType.FLOAT, encode_value(DataType.FLOAT, 0.5)) == 0.5


def test_static_oids_are_identity_and_versions() -> None:
    static = {info.name for info in REGISTRY.all() if info.static}
    assert {"inverter_sn", "svnversion", "battery.bms_sn", "battery.module_sn[0]", "android_description"} <= static
    assert "battery.soc" not in static
    assert all(REGISTRY.get_by_name(name).response_data_type is not DataType.FLOAT for name in static)


def test_kind_of_an_oid() -> None:
    assert REGISTRY.get_by_name("battery.soc").kind == "value"
    assert REGISTRY.get_by_name("logger.minutes_soc_log_ts").kind == "timeseries"
    assert REGISTRY.get_by_name("logger.error_log_time_stamp").kind == "events"
    composite = [info for info in REGISTRY.all() if info.kind == "composite"]
    assert composite
    assert all(info.response_data_type > DataType.EVENT_TABLE for info in composite)

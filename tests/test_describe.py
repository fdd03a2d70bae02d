"""describe: readable events for the CLI and the capture reader."""

from __future__ import annotations

import json
import math
import struct
from datetime import UTC, datetime

import pytest

from rctclient.describe import EventDescription, decode_payload, describe_event, format_value, jsonable
from rctclient.frame import CRCMismatch, Extension, Frame, Garbage, GarbageReason, KeepAlive, decode_frames, make_frame
from rctclient.registry import REGISTRY
from rctclient.types import Command, DataType, Timeseries, TimeseriesPoint
from rctclient.utils import encode_value

SOC = REGISTRY.get_by_name("battery.soc")
STRATEGY = REGISTRY.get_by_name("power_mng.soc_strategy")


def only(data: bytes) -> EventDescription:
    (event,) = decode_frames(data)
    return describe_event(event)


def test_response_is_decoded_with_unit() -> None:
    d = only(bytes.fromhex("2b0508959930bf3f590f868810"))
    assert (d.kind, d.command, d.name, d.object_id) == ("frame", "RESPONSE", "battery.soc", SOC.object_id)
    assert d.value == 0.8478931188583374
    assert d.text == "0.8478931188583374 (84.8 %)"
    assert d.flags == ()


def test_enum_label_and_write() -> None:
    d = only(make_frame(Command.WRITE, STRATEGY.object_id, encode_value(DataType.ENUM, 2)))
    assert d.value == 2 and d.text == "2 (External)"


def test_timeseries_uses_response_type() -> None:
    info = REGISTRY.get_by_name("logger.minutes_soc_log_ts")
    ts = Timeseries(
        datetime(2026, 11, 24, 12, 0, tzinfo=UTC),
        (TimeseriesPoint(datetime(2026, 11, 24, 11, 55, tzinfo=UTC), 0.5),),
    )
    payload = encode_value(DataType.TIMESERIES, ts)
    value = decode_payload(info, Command.RESPONSE, payload)
    assert value == ts
    d = only(make_frame(Command.RESPONSE, info.object_id, payload))
    assert d.text == "time series: 1 points 2026-11-24 11:55..2026-11-24 11:55Z"
    # the request (a WRITE of the timestamp) decodes with the request type
    request = only(make_frame(Command.WRITE, info.object_id, struct.pack(">i", 1764000000)))
    assert request.value == 1764000000


def test_truncated_payload_is_flagged_not_raised() -> None:
    d = only(make_frame(Command.RESPONSE, SOC.object_id, b"\x3f\x59"))
    assert d.value is None and d.text == "0x3f59"
    assert d.flags[0].startswith("bad payload")


def test_unknown_oid_and_read() -> None:
    d = only(make_frame(Command.RESPONSE, 0x12345678, b"\x01\x02"))
    assert d.name is None and "unknown oid" in d.flags and d.text == "0x0102"
    r = only(make_frame(Command.READ, SOC.object_id))
    assert r.text == "" and r.value is None and r.flags == ()


def test_plant_address() -> None:
    d = only(make_frame(Command.PLANT_RESPONSE, SOC.object_id, struct.pack(">f", 0.5), address=7))
    assert d.address == 7 and d.command == "PLANT_RESPONSE"


def test_other_events() -> None:
    crc = describe_event(CRCMismatch(Command.RESPONSE, SOC.object_id, 0, b"\x3f\x59\x0f\x86", 1, 2, 5, 13))
    assert crc.kind == "crc-mismatch" and "received 0x0001, calculated 0x0002" in crc.flags[0]
    g = describe_event(Garbage(GarbageReason.TRUNCATED, b"+\x05", 3))
    assert (g.kind, g.flags, g.offset, g.text) == ("garbage", ("truncated",), 3, "2 bytes: 0x2b05")
    assert describe_event(Garbage(GarbageReason.INVALID_COMMAND, b"+", 7)).text == "1 byte: 0x2b"  # not "1 bytes"
    assert describe_event(KeepAlive(9)).kind == "keep-alive"
    assert describe_event(Extension(b"+<\xe1", 1)).text == "0x2b3ce1"
    with pytest.raises(TypeError):
        describe_event("nope")  # type: ignore[arg-type]


def test_as_dict_is_json() -> None:
    frame = Frame(Command.RESPONSE, SOC.object_id, 0, b"\x3f\x59\x0f\x86", 0, 13)
    row = describe_event(frame).as_dict()
    assert json.loads(json.dumps(row))["id"] == "0x959930BF"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (math.nan, "nan"),
        (b"\x01", "01"),
        (datetime(2026, 1, 1, tzinfo=UTC), "2026-01-01T00:00:00+00:00"),
        ({datetime(2026, 1, 1, tzinfo=UTC): 1.5}, {"2026-01-01T00:00:00+00:00": 1.5}),
        (
            TimeseriesPoint(datetime(2026, 1, 1, tzinfo=UTC), 2.0),
            {"timestamp": "2026-01-01T00:00:00+00:00", "value": 2.0},
        ),
    ],
)
def test_jsonable(value: object, expected: object) -> None:
    assert jsonable(value) == expected


def test_format_value_plain() -> None:
    assert format_value(True) == "true"
    assert format_value("x") == "'x'"
    assert format_value(3, STRATEGY) == "3 (Middle battery voltage)"
    assert format_value(9, STRATEGY) == "9"

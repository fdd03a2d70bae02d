"""Golden tests of the line protocol builder: escaping, and field types by data type (never by value)."""

from __future__ import annotations

from rctclient.monitor.exporters.influx import snapshot_lines
from rctclient.monitor.lineprotocol import field_value, float32_text, line
from rctclient.types import DataType

from ._snap import make_snapshot


def test_field_types_follow_the_data_type() -> None:
    assert field_value(20, DataType.FLOAT) == "20.0"  # a float OID stays a float even when the value is whole
    assert field_value(0.0, DataType.FLOAT) == "0.0"
    assert field_value(272.26336669921875, DataType.FLOAT) == "272.26337"
    assert field_value(float("nan"), DataType.FLOAT) is None
    assert field_value(float("inf"), DataType.FLOAT) is None
    assert field_value(7, DataType.UINT32) == "7i"
    assert field_value(-3, DataType.INT16) == "-3i"
    assert field_value(13, DataType.ENUM) == "13i"
    assert field_value(True, DataType.BOOL) == "true"
    assert field_value(0, DataType.BOOL) == "false"
    assert field_value('a "b" \\c\nd', DataType.STRING) == '"a \\"b\\" \\\\c d"'
    assert field_value(b"\x01\xff", DataType.UNKNOWN) == '"01ff"'
    assert field_value(1.5) == "1.5" and field_value(2) == "2i" and field_value(None) is None


def test_float32_text() -> None:
    assert float32_text(0.07000000029802322) == "0.07"
    assert float32_text(20566142.0) == "20566142.0"
    assert float32_text(123456789.0) == "123456789.0"  # not a single-precision value: as it is
    assert float32_text(1e300) == "1e+300"


def test_escaping() -> None:
    assert line("rct power", {"inverter": "a,b=c d", "empty": ""}, [("f x", "1i"), ("g=h", "2.0")], 17) == (
        "rct\\ power,inverter=a\\,b\\=c\\ d f\\ x=1i,g\\=h=2.0 17"
    )
    assert line("m", {"b": "2", "a": "1"}, [("v", "true")]) == "m,a=1,b=2 v=true"  # tags sorted
    assert line("m", {"a": "1"}, []) is None
    assert line("m,x", {}, [("v", "1i")], 1) == "m\\,x v=1i 1"


def test_a_snapshot_is_one_line_per_tier() -> None:
    snap = make_snapshot(tiers=4)  # the last poll is the energy tier
    (text,) = snapshot_lines(snap)
    assert text.startswith("rct,inverter=SN\\ 1/x ")
    assert text.endswith(" 1700000000")
    fields = dict(item.split("=", 1) for item in text.split(" ")[2].split(","))
    assert fields["grid_export_energy_total"] == "2000000.0"  # reported negative, written as its magnitude
    assert fields["inverter_energy_total"] == "3000000.0"
    assert fields["battery_cycles"] == "42i"
    fast = make_snapshot(tiers=2)
    (text,) = snapshot_lines(fast)
    fields = dict(item.split("=", 1) for item in text.split(" ")[2].split(","))
    assert fields["battery_soc"] == "0.5" and fields["grid_power"] == "-1234.5" and fields["inverter_state"] == "13i"

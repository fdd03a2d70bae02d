"""Values, tables and messages for people: rounding by unit, composites summarised, widths, plurals."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from rctclient.cli._common import people_text
from rctclient.cli._events import entry_elements, entry_end, entry_type
from rctclient.cli._format import detail_lines, display, duration, number
from rctclient.cli._table import PIPE_WIDTH, clip, render, terminal_width
from rctclient.cli.commands.history import plot_axis
from rctclient.protocol import EventRecord
from rctclient.registry import REGISTRY
from rctclient.types import (
    BatteryModuleCellResistance,
    BatteryModuleCellStatus,
    BatteryModuleHistoryEntry,
    BatteryModuleResistance,
    BatteryModuleStatistics,
    BatteryModuleStatus,
)


def show(name: str, value: object, *, raw: bool = False) -> str:
    return display(value, REGISTRY.resolve(name), raw=raw)


@pytest.mark.parametrize(
    ("name", "value", "text"),
    [
        ("g_sync.p_acc_lp", 1087.4999, "1087 W"),  # W to 1
        ("g_sync.p_acc_lp", -0.2, "0 W"),  # no "-0"
        ("battery.voltage", 363.94, "363.9 V"),  # V to 0.1
        ("battery.temperature", 21.037525177001953, "21.0 °C"),  # °C to 0.1
        ("energy.e_ac_total", 12642.8994140625, "12.64 kWh"),  # energy in kWh with 2 decimals
        ("battery.soc", 0.53210002, "53.2 %"),  # a fraction on the wire, a percentage for people
        ("power_mng.soc_min", 0.07, "7.0 %"),  # a fraction by the list of writable OIDs (no unit)
        ("grid_pll[0].f", 50.0149, "50.01 Hz"),
        ("battery.current", 0.8952448964118958, "0.90 A"),
        ("power_mng.soc_strategy", 4, "4 (Internal)"),
        ("power_mng.use_grid_power_enable", True, "true"),
        ("inverter_sn", "", '""'),
        ("inverter_sn", "A\x00B", "'A\\x00B'"),  # unprintable text is escaped, not printed raw
        ("battery.soc", float("nan"), "nan %"),
    ],
)
def test_numbers_are_rounded_by_unit(name: str, value: object, text: str) -> None:
    # Before: "12642.8994140625 Wh" and "21.037525177001953 °C"
    assert show(name, value) == text


def test_raw_keeps_full_precision() -> None:
    assert show("energy.e_ac_total", 12642.8994140625, raw=True) == "12642.8994140625 Wh"
    assert show("battery.soc", 0.53210002, raw=True) == "0.53210002 (53.2 %)"


def test_numbers_without_a_unit_keep_about_four_digits() -> None:
    assert [number(v) for v in (0.0, 12345.678, 0.8952448, 0.000123456, -2.5)] == [
        "0",
        "12346",
        "0.8952",
        "0.000123",
        "-2.5",
    ]
    assert number(float("inf")) == "inf"
    assert duration(59 * 60) == "59 min" and duration(3 * 3600 + 5 * 60) == "3 h 5 min"


def _statistics() -> BatteryModuleStatistics:
    when = datetime(2024, 6, 1, tzinfo=UTC)
    return BatteryModuleStatistics(
        BatteryModuleHistoryEntry(3, when, 3.2912),
        BatteryModuleHistoryEntry(7, None, 3.3301),
        BatteryModuleHistoryEntry(1, when, 12.5),
        BatteryModuleHistoryEntry(20, when, 31.0),
    )


def test_composite_values_are_summarised_and_shown_in_full_on_request() -> None:
    # Before: the table cell held the whole structure as JSON, 1,417 characters wide.
    cells = BatteryModuleStatus({i: BatteryModuleCellStatus(20 + i % 3, 3300 + i, 0 if i else 2) for i in range(24)})
    summary = show("battery.cells[0]", cells)
    assert summary == "24 cells: 3.300..3.323 V, 20..22 °C, status 0, 2"
    lines = detail_lines(cells, REGISTRY.resolve("battery.cells[0]"))
    assert len(lines) == 25 and lines[1].split() == ["0", "3.300", "V", "20", "°C", "2"]
    stats = show("battery.cells_stat[0]", _statistics())
    assert stats == "U 3.291..3.330 V, T 12.5..31.0 °C"
    assert any(
        "no time recorded" in line for line in detail_lines(_statistics(), REGISTRY.resolve("battery.cells_stat[0]"))
    )
    resist = BatteryModuleResistance({i: BatteryModuleCellResistance(256, 1.0 + i / 100) for i in range(24)})
    assert show("battery.cells_resist[0]", resist) == "24 cells: 1.00..1.23 mΩ"
    assert show("battery.cells_resist[0]", resist, raw=True).startswith('{"cells":')
    assert all(len(text) < 80 for text in (summary, stats))


def test_tables_fit_the_width() -> None:
    rows = [["battery.soc", "53.2 %", "SOC (State of charge) " * 10], ["x", "1", "short"]]
    lines = render(["name", "value", "description"], rows, width=60, flexible=[2])
    assert lines[0].split() == ["NAME", "VALUE", "DESCRIPTION"]
    assert all(len(line) <= 60 for line in lines) and lines[1].endswith("…")
    assert lines[2].endswith("short")
    # what still does not fit is cut at the end
    assert all(len(line) <= 40 for line in render(["a", "b"], [["x" * 50, "y" * 50]], width=40))
    assert clip("abcdef", 4) == "abc…" and clip("abc", 4) == "abc"


def test_terminal_width_respects_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    assert terminal_width() == 100
    monkeypatch.delenv("COLUMNS")
    assert terminal_width() == PIPE_WIDTH  # the test's stdout is no terminal
    assert os.environ.get("COLUMNS") is None


def test_counts_read_as_words() -> None:
    # Before: "(1 attempts)", "payload must be 1 bytes"
    assert people_text("no valid answer within 3 s (1 attempts)") == "no valid answer within 3 s (1 attempt)"
    assert people_text("UINT8 payload must be 1 bytes, got 0") == "UINT8 payload must be 1 byte, got 0"
    assert people_text("11 attempts, 1 entries") == "11 attempts, 1 entry"


def test_event_entries_for_people() -> None:
    start = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
    entry = EventRecord(ord("F"), start, int(start.timestamp()) + 600, 7, 0)
    assert entry_type(ord("F")) == "F fault" and entry_type(ord("W")) == "W warning" and entry_type(ord("Q")) == "Q"
    assert entry_type(3) == "0x03"
    end = entry_end(entry)
    assert end == datetime(2024, 6, 1, 12, 10, tzinfo=UTC)
    assert entry_elements(entry, end) == "0x7"
    assert entry_end(EventRecord(ord("S"), start, 5, 6, 7)) is None


def test_plot_axis_has_the_real_unit() -> None:
    # Before: SOC values 0..0.5 were drawn against "%"
    assert plot_axis(REGISTRY.resolve("logger.minutes_soc_log_ts")) == (100.0, "%")
    assert plot_axis(REGISTRY.resolve("logger.minutes_ubat_log_ts")) == (1.0, "V")

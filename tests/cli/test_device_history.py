"""history and events against a simulator: CSV headers, JSON, line protocol, atomic files, time zones."""

from __future__ import annotations

import csv
import importlib.util
import io
import itertools
import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rctclient.cli._common import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_TIMEOUT
from rctclient.simulator import SimulatorThread

from ._helpers import at, run

SERIES = "logger.minutes_soc_log_ts"


def test_history_csv_simple_last_day(sim: SimulatorThread) -> None:
    r = run("history", *at(sim), SERIES, "--tz", "UTC")
    assert r.code == 0, r
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["timestamp", SERIES]
    stamps = [datetime.fromisoformat(row[0]) for row in rows[1:]]
    assert 280 <= len(stamps) <= 290
    assert all(b - a == timedelta(minutes=5) for a, b in itertools.pairwise(stamps))
    assert all(0.0 <= float(row[1]) <= 1.0 for row in rows[1:])
    assert stamps[0].utcoffset() == timedelta(0)


def test_history_headers_json_influx(sim: SimulatorThread) -> None:
    args = ("history", *at(sim), "minutes_soc", "--from", "2h", "--tz", "Europe/Berlin")
    plain = run(*args, "--header", "none")
    assert plain.code == 0 and not plain.out.startswith("timestamp")
    first = plain.out.splitlines()[0].split(",")[0]
    assert first.endswith(("+01:00", "+02:00"))
    influx2 = run(*args, "--header", "influx2").out.splitlines()
    assert influx2[0] == "#datatype measurement,tag,double,dateTime:RFC3339"
    assert influx2[1] == "m,oid,value,time"
    assert re.fullmatch(rf"rctclient,{re.escape(SERIES)},[-0-9.e]+,\d{{4}}-\d\d-\d\dT\d\d:\d\d:00Z", influx2[2])
    assert len(influx2) - 2 == len(plain.out.splitlines())
    data = json.loads(run(*args, "--json").out)
    assert data["name"] == SERIES and len(data["points"]) == len(plain.out.splitlines())
    lines = run(*args, "--influx", "--measurement", "solar").out.splitlines()
    assert len(lines) == len(data["points"])
    pattern = rf"solar,oid={re.escape(SERIES)},host=127\.0\.0\.1:\d+ value=[-0-9.e]+ \d{{19}}"
    assert all(re.fullmatch(pattern, line) for line in lines), lines[0]


def test_history_file_is_written_atomically(sim: SimulatorThread, tmp_path: Path) -> None:
    target = tmp_path / "soc.csv"
    target.write_text("old\n")
    day = (datetime.now(UTC) - timedelta(days=2)).date().isoformat()
    args = ("history", *at(sim), SERIES, "--from", f"{day}T00:00", "--to", f"{day}T06:00", "--tz", "UTC")
    r = run(*args, "-o", str(target))
    assert r.code == 0 and r.out == ""
    assert os.listdir(tmp_path) == ["soc.csv"]
    assert target.read_text() == run(*args).out
    assert len(target.read_text().splitlines()) == 1 + 73  # 00:00 .. 06:00 inclusive, every 5 minutes
    r = run(*args, "-o", str(tmp_path / "missing" / "x.csv"))
    assert r.code == EXIT_BAD_INPUT and "cannot write" in r.err


def test_history_bad_input(sim: SimulatorThread) -> None:
    assert run("history", *at(sim), "battery.soc").code == EXIT_BAD_INPUT
    r = run("history", *at(sim), SERIES, "--from", "yesterday")
    assert r.code == EXIT_BAD_INPUT and "--from" in r.err
    r = run("history", *at(sim), SERIES, "--from", "1h", "--to", "2h")
    assert r.code == EXIT_BAD_INPUT and "before" in r.err
    r = run("history", *at(sim), SERIES, "--tz", "Nowhere/Atlantis")
    assert r.code == EXIT_BAD_INPUT and "time zone" in r.err


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is not None, reason="matplotlib is installed")
def test_history_plot_names_the_extra(sim: SimulatorThread, tmp_path: Path) -> None:
    r = run("history", *at(sim), SERIES, "--plot", str(tmp_path / "x.png"))
    assert r.code == EXIT_ERROR and "rctclient[plot]" in r.err and r.out == ""


def test_history_silent_device(fresh_sim: SimulatorThread) -> None:
    fresh_sim.set_silent(True)
    r = run("history", *at(fresh_sim, timeout=0.3, retries=0), SERIES)
    assert r.code == EXIT_TIMEOUT and r.out == "" and r.err.count("\n") == 1


def test_events(sim: SimulatorThread) -> None:
    r = run("events", *at(sim), "--json")
    assert r.code == 0, r
    rows = json.loads(r.out)
    assert rows and all({"time", "type", "faults"} <= set(row) for row in rows)
    stamps = [datetime.fromisoformat(row["time"]) for row in rows]
    assert stamps == sorted(stamps)
    assert any(row["type"] == "F" and row["type_name"] == "fault" and row["faults"] for row in rows)
    assert all({"element2", "element3", "element4", "ended"} <= set(row) for row in rows)
    table = run("events", *at(sim), "--from", "30d")
    lines = table.out.splitlines()
    assert table.code == 0 and lines[0].split() == ["TIME", "TYPE", "ENDED", "LASTED", "ELEMENTS", "FAULTS"]
    # Before: the types were bare letters and an element holding the end of the event a raw number
    assert any(" F fault " in line for line in lines) and all(
        re.search(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  [FWS] (fault|warning|status) ", line) for line in lines[1:]
    )
    ended = [row for row in rows if row["ended"]]
    assert ended and all(datetime.fromisoformat(row["ended"]) >= datetime.fromisoformat(row["time"]) for row in ended)
    r = run("events", *at(sim), "--from", "2000-01-01", "--to", "2000-01-02")
    assert r.code == 0 and r.out == "" and "no events" in r.err


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    from rctclient.cli import _device

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    quiet = io.StringIO()
    monkeypatch.setattr("sys.stderr", quiet)
    with _device.progress(3, "fetching") as advance:
        advance(3)
    assert quiet.getvalue() == ""
    terminal = Terminal()
    monkeypatch.setattr("sys.stderr", terminal)
    with _device.progress(3, "fetching") as advance:
        advance(3)
    assert "fetching" in terminal.getvalue()

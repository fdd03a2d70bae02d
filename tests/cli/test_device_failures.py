"""Device commands when the user or the device gets something wrong: one line, a distinct exit code, no hang."""

from __future__ import annotations

import importlib.util
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rctclient.cli._common import EXIT_BAD_INPUT, EXIT_INTERRUPTED, EXIT_TIMEOUT
from rctclient.cli._device import parse_time, parse_tz
from rctclient.cli.commands.dump import BATCH
from rctclient.client import Client
from rctclient.simulator import SimulatorThread

from ._helpers import at, run

SERIES = "logger.minutes_soc_log_ts"


def test_dump_stops_when_the_device_goes_silent(fresh_sim: SimulatorThread, tmp_path: Path) -> None:
    # Before: every batch of 50 waited for its own deadlines; a silent device took ~33 s at --timeout 0.5
    # (minutes at the default 3 s) and exited 0 with an empty snapshot. Now the first batch that brings
    # nothing ends it: the requests sent are those of one batch (each sent at most retries + 1 times).
    fresh_sim.set_silent()
    target = tmp_path / "dump.json"
    r = run("dump", *at(fresh_sim, timeout=0.5, retries=1), "-o", str(target))
    assert r.code == EXIT_TIMEOUT and r.err.count("\n") == 1, r
    match = re.search(r"stopped answering after 0 of (\d+) values \((\d+) requests sent, nothing came back\)", r.err)
    assert match is not None, r.err
    wanted, sent = int(match.group(1)), int(match.group(2))
    assert 1 <= sent <= BATCH * 2 < wanted
    assert not target.exists()


def test_output_paths_are_checked_before_the_device_is_asked(closed_port: int, tmp_path: Path) -> None:
    # Before: dump and history read everything, then failed to write (exit 1); with an unreachable device
    # the error was about the device, not the path.
    device = ["-h", "127.0.0.1", "-p", str(closed_port), "--timeout", "0.5"]
    for command in (["dump"], ["history", SERIES]):
        r = run(*command, *device, "-o", str(tmp_path / "missing" / "out"))
        assert r.code == EXIT_BAD_INPUT and "cannot write" in r.err and r.err.count("\n") == 1, r
    if importlib.util.find_spec("matplotlib") is not None:
        r = run("history", SERIES, *device, "--plot", str(tmp_path / "missing" / "p.png"))
        assert r.code == EXIT_BAD_INPUT and "cannot write" in r.err, r


def test_history_range_beyond_2038_and_before_1970(sim: SimulatorThread) -> None:
    # Before: --to 9999-12-31 failed with exit 1 "cannot encode ... as INT32" (and would have walked
    # millions of day chunks); --from 0001-01-01 timed out on negative timestamps. Now the stretches
    # without points cost one query each: a handful of requests, not one per day of the range.
    before = sim.counters.requests
    r = run("history", *at(sim), SERIES, "--from", "2h", "--to", "9999-12-31", "--tz", "UTC")
    assert r.code == 0 and 20 <= len(r.out.splitlines()) <= 26, r
    assert sim.counters.requests - before <= 5
    before = sim.counters.requests
    r = run("history", *at(sim), "day_ea", "--from", "0001-01-01", "--tz", "UTC")
    points = len(r.out.splitlines()) - 1
    assert r.code == 0 and points > 300, r
    # pages of the device's answers (a few dozen points each), and one query for the time before the log
    assert sim.counters.requests - before <= points // 10 + 5
    r = run("history", *at(sim), SERIES, "--from", "99999999d")
    assert r.code == EXIT_BAD_INPUT and "--from" in r.err


def test_ctrl_c_while_talking_to_the_device(sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: click's "Aborted!" and exit 1, like any other error.
    def interrupted(self: Client, *args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Client, "history", interrupted)
    monkeypatch.setattr(Client, "read_many", interrupted)
    r = run("history", *at(sim), SERIES)
    assert r.code == EXIT_INTERRUPTED and r.err.strip() == "Error: interrupted", r
    assert run("read", *at(sim), "battery.soc").code == EXIT_INTERRUPTED


def test_relative_times_are_real_hours_across_a_change_of_daylight_saving_time() -> None:
    berlin = parse_tz("Europe/Berlin")
    now = datetime(2024, 3, 31, 12, 0, tzinfo=berlin)  # CEST since 02:00 that night
    ago = parse_time("24h", berlin, "--from", now)
    assert now.timestamp() - ago.timestamp() == 24 * 3600
    assert ago.astimezone(UTC) == datetime(2024, 3, 30, 10, 0, tzinfo=UTC)
    assert ago.utcoffset() == timedelta(hours=1)


def test_the_local_time_zone_keeps_its_daylight_saving_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: the default --tz was today's fixed offset, an hour off for times in the other half of the year.
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        local = parse_tz(None)
        assert datetime(2024, 1, 15, 0, 0, tzinfo=local).utcoffset() == timedelta(hours=1)
        assert datetime(2024, 7, 15, 0, 0, tzinfo=local).utcoffset() == timedelta(hours=2)
        summer = datetime(2024, 7, 14, 22, 0, tzinfo=UTC).astimezone(local)
        assert (summer.hour, summer.day) == (0, 15)
        winter = datetime(2024, 1, 14, 23, 0, tzinfo=UTC).astimezone(local)
        assert (winter.hour, winter.day) == (0, 15)
        assert (
            parse_time("2024-01-15", local, "--from").timestamp() == datetime(2024, 1, 14, 23, tzinfo=UTC).timestamp()
        )
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()

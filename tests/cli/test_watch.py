"""--watch: in place on a terminal, one line per refresh into a pipe, Ctrl-C ends it with 130."""

from __future__ import annotations

import csv
import io
import json
import re

from rctclient.cli._common import EXIT_TIMEOUT, CliError
from rctclient.cli._watch import Refresh, watch
from rctclient.simulator import SimulatorThread

from ._helpers import at, interrupt, run

LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d  solar \d+ W  battery \d+ W.* SOC [\d.]+ %  household .* kWh$")


def test_status_watch_into_a_pipe_is_one_line_per_refresh(sim: SimulatorThread) -> None:
    r = run("status", *at(sim), "--watch", "0.1", "--count", "3")
    assert r.code == 0 and r.err == "", r
    lines = r.out.splitlines()
    assert len(lines) == 3 and all(LINE.match(line) for line in lines), lines
    assert "\x1b" not in r.out
    r = run("status", *at(sim), "--watch", "0.1", "--count", "2", "--json")
    objects = [json.loads(line) for line in r.out.splitlines()]
    assert len(objects) == 2 and all(o["battery"]["soc"] is not None for o in objects)


def test_read_watch_into_a_pipe(sim: SimulatorThread) -> None:
    r = run("read", *at(sim), "battery.soc", "g_sync.p_acc_lp", "--watch", "0.1", "--count", "2")
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert len(lines) == 2 and all(
        re.match(r"^\S+ \S+  battery\.soc [\d.]+ %  g_sync\.p_acc_lp -?\d+ W$", x) for x in lines
    )
    r = run("read", *at(sim), "battery.soc", "g_sync.p_acc_lp", "--watch", "0.1", "--count", "3", "--csv")
    rows = list(csv.reader(io.StringIO(r.out)))
    assert rows[0] == ["time", "battery.soc", "g_sync.p_acc_lp"] and len(rows) == 4
    assert 0.0 <= float(rows[1][1]) <= 1.0  # full precision, as read


def test_a_failing_refresh_does_not_end_the_watch(fresh_sim: SimulatorThread) -> None:
    fresh_sim.set_silent(True)
    r = run("status", *at(fresh_sim, timeout=0.2, retries=0), "--watch", "0.1", "--count", "2")
    assert r.code == EXIT_TIMEOUT
    assert len(r.out.splitlines()) == 2 and all(line.endswith("  n/a") for line in r.out.splitlines())
    # one line per failed refresh, and nothing more at the end (the last one was shown already)
    assert r.err.count("\n") == 2 and all("did not answer" in line for line in r.err.splitlines())


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_watch_refreshes_in_place_on_a_terminal_on_schedule() -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    takes = iter([Refresh(["a", "b"], "a b"), Refresh(["c"], "c", CliError("gone", EXIT_TIMEOUT)), Refresh(["d"], "d")])

    def take() -> Refresh:
        now[0] += 0.5  # a refresh takes half a second
        return next(takes)

    out = Terminal()
    last = watch(2.0, 3, take, out=out, clock=lambda: now[0], sleep=sleep)
    assert last is None
    text = out.getvalue()
    assert text.startswith("\x1b[2J\x1b[Ha\x1b[K\nb\x1b[K\n\x1b[J")  # cleared once, then drawn from the top
    assert text.count("\x1b[H") == 3 and text.count("\x1b[2J") == 1
    assert "Error: gone" in text  # a failed refresh says so on the screen
    assert slept == [1.5, 1.5]  # every 2 s from the start of each refresh, not 2 s after its end


def test_watch_without_bursts_after_a_slow_refresh() -> None:
    now = [0.0]
    slept: list[float] = []

    def take() -> Refresh:
        now[0] += 5.0  # slower than the interval
        return Refresh(["x"], "x")

    def sleep(seconds: float) -> None:
        slept.append(seconds)

    watch(1.0, 3, take, out=io.StringIO(), clock=lambda: now[0], sleep=sleep)
    assert slept == [0.0, 0.0]


def test_ctrl_c_ends_a_watch_with_130_and_one_line() -> None:
    args = ["status", "--simulate", "--watch", "0.2"]
    code, seen, err = interrupt(args, lambda seen: seen.endswith("\n"))
    assert LINE.match(seen.rstrip("\n")), seen
    assert code == 130
    assert err == "Error: interrupted\n"

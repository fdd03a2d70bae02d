"""read-value and read against a simulator: outputs, unknown names, unreachable and silent devices."""

from __future__ import annotations

import csv
import io
import json
import re

from rctclient.cli._common import EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_NOT_FOUND, EXIT_TIMEOUT, EXIT_UNREACHABLE
from rctclient.simulator import SimulatorThread

from ._helpers import at, run, unanswered


def test_read_value_bare_verbose_and_json(sim: SimulatorThread) -> None:
    sim.model.set("battery.soc", 0.5, fixed=True)
    r = run("read-value", *at(sim), "-n", "battery.soc")
    assert r.code == 0, r
    assert r.out == "0.5\n" and r.err == ""
    r = run("read-value", *at(sim), "--id", "0x959930BF", "--verbose")
    assert r.code == 0, r
    (line,) = r.out.splitlines()
    assert line.startswith("#545 0x959930BF battery.soc ")
    assert "SOC (State of charge)" in line and line.endswith("0.5 (50.0 %)")
    r = run("read-value", *at(sim), "-n", "battery.soc", "--json")
    data = json.loads(r.out)
    assert data["value"] == 0.5 and data["id"] == "0x959930BF" and data["unit"] == "%"
    sim.model.set("prim_sm.state", 13, fixed=True)
    r = run("read-value", *at(sim), "-i", "0x5F33284E", "-v")
    # Before: "-v" showed the bare 13 where 'read' showed "13 (Feed in)"
    assert r.code == 0 and r.out.rstrip().endswith(" 13 (Feed in)") and r.out.count("\n") == 1
    r = run("read-value", *at(sim), "-i", "0x5F33284E")
    assert r.out == "13\n"  # the bare value, as the original tool printed it


def test_read_value_needs_exactly_one_of_id_and_name(sim: SimulatorThread) -> None:
    assert run("read-value", *at(sim)).code == 2
    assert run("read-value", *at(sim), "-n", "battery.soc", "-i", "0x959930BF").code == 2


def test_read_value_unknown_name_suggests(sim: SimulatorThread) -> None:
    r = run("read-value", *at(sim), "-n", "battery.sco")
    assert r.code == EXIT_NOT_FOUND and r.out == ""
    assert r.err.count("\n") == 1 and "did you mean" in r.err and "battery.soc" in r.err
    r = run("read-value", *at(sim), "-i", "0x12345678")
    assert r.code == EXIT_NOT_FOUND and "0x12345678" in r.err
    r = run("read-value", *at(sim), "-i", "zz")
    assert r.code == EXIT_BAD_INPUT


def test_read_value_time_series_and_event_table(sim: SimulatorThread) -> None:
    r = run("read-value", *at(sim), "-n", "logger.minutes_soc_log_ts", "-v")
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert "logger.minutes_soc_log_ts" in lines[0] and "points" in lines[0]
    assert len(lines) > 10 and "%" in lines[1]
    r = run("read-value", *at(sim), "-n", "logger.error_log_time_stamp", "--json")
    assert r.code == 0, r
    entries = json.loads(r.out)["value"]
    assert entries and {"entry_type", "timestamp"} <= set(entries[0])


def test_unreachable_host_is_one_line(closed_port: int) -> None:
    r = run("read-value", "-h", "127.0.0.1", "-p", str(closed_port), "-n", "battery.soc")
    assert r.code == EXIT_UNREACHABLE and r.out == ""
    assert r.err.startswith("Error: cannot connect to 127.0.0.1:") and r.err.count("\n") == 1
    assert "Traceback" not in r.err
    r = run("read", "-h", "127.0.0.1", "-p", str(closed_port), "battery.soc")
    assert r.code == EXIT_UNREACHABLE and r.err.count("\n") == 1


def test_silent_device_times_out(fresh_sim: SimulatorThread) -> None:
    fresh_sim.set_silent(True)
    r = run("read-value", *at(fresh_sim, timeout=0.3, retries=0), "-n", "battery.soc")
    assert r.code == EXIT_TIMEOUT and r.out == ""
    assert r.err.count("\n") == 1 and "battery.soc" in r.err
    r = run("read", *at(fresh_sim, timeout=0.3, retries=0), "battery.soc", "battery.soh", "--json")
    # nothing came: one line on stderr, and the JSON error object on stdout
    assert r.code == EXIT_TIMEOUT and r.err.count("\n") == 1
    assert "did not answer" in r.err and "requests sent, nothing came back" in r.err
    error = json.loads(r.out)["error"]
    assert error["kind"] == "timeout" and error["exit_code"] == EXIT_TIMEOUT and "did not answer" in error["message"]


def test_read_table_json_csv(sim: SimulatorThread) -> None:
    sim.model.set("battery.soc", 0.25, fixed=True)
    sim.model.set("prim_sm.state", 13, fixed=True)
    r = run("read", *at(sim), "prim_sm.state", "battery.soc", "g_sync.p_ac_load_sum_lp")
    assert r.code == 0, r
    lines = r.out.splitlines()
    assert lines[0].split() == ["NAME", "VALUE", "DESCRIPTION"]
    # sorted by name; rounded for people
    assert [line.split()[0] for line in lines[1:]] == ["battery.soc", "g_sync.p_ac_load_sum_lp", "prim_sm.state"]
    assert " 25.0 % " in lines[1] and "13 (Feed in)" in lines[3]
    assert re.search(r" \d+ W ", lines[2]), lines[2]
    r = run("read", *at(sim), "battery.soc", "--raw")
    assert "0.25 (25.0 %)" in r.out
    r = run("read", *at(sim), "battery.soc", "prim_sm.state", "--json")
    rows = json.loads(r.out)
    assert [(row["name"], row["value"]) for row in rows] == [("battery.soc", 0.25), ("prim_sm.state", 13)]
    r = run("read", *at(sim), "battery.soc", "--csv")
    (row,) = list(csv.DictReader(io.StringIO(r.out)))
    assert row["name"] == "battery.soc" and float(row["value"]) == 0.25 and row["unit"] == "%"


def test_read_globs_and_groups(sim: SimulatorThread) -> None:
    r = run("read", *at(sim), "fault[*].flt", "--json")
    assert r.code == 0, r
    assert sorted(row["name"] for row in json.loads(r.out)) == [f"fault[{i}].flt" for i in range(4)]
    r = run("read", *at(sim), "prim_sm", "--csv")
    names = [row["name"] for row in csv.DictReader(io.StringIO(r.out))]
    assert r.code == 0 and "prim_sm.state" in names and all(n.startswith("prim_sm.") for n in names)
    r = run("read", *at(sim), "logger.*_soc_*")  # only time series: all left out
    assert r.code == EXIT_NOT_FOUND and "left out" in r.err


def test_read_unknown_and_unsuitable_names(sim: SimulatorThread) -> None:
    r = run("read", *at(sim), "battery.soc", "battery.sco")
    assert r.code == EXIT_NOT_FOUND and "did you mean" in r.err and r.out == ""
    r = run("read", *at(sim), "nothing.*")
    assert r.code == EXIT_NOT_FOUND and "no OID name matches" in r.err
    r = run("read", *at(sim), "logger.minutes_soc_log_ts")
    assert r.code == EXIT_BAD_INPUT and "rctclient history" in r.err


def test_simulate_needs_no_device() -> None:
    r = run("read-value", "--simulate", "-n", "battery.soc", "-v")
    assert r.code == 0, r
    assert r.out.startswith("#545 0x959930BF battery.soc") and "%" in r.out
    r = run("read", "--simulate", "battery.*", "--json")
    assert r.code == 0 and len(json.loads(r.out)) > 20


def test_cut_payloads_are_a_device_error() -> None:
    from rctclient.simulator import FaultProfile

    with SimulatorThread(port=0, faults=FaultProfile(truncated_payload=1.0)) as cutting:
        r = run("read-value", *at(cutting, timeout=1.0, retries=1), "-n", "battery.soc")
    assert r.code == EXIT_DEVICE and r.err.count("\n") == 1 and "cut short" in r.err


def test_debug_logs_details(closed_port: int) -> None:
    r = run("-d", "read-value", "-h", "127.0.0.1", "-p", str(closed_port), "-n", "battery.soc")
    assert r.code == EXIT_UNREACHABLE
    assert r.err.splitlines()[-1].startswith("Error: cannot connect")


def test_suggestions_wherever_a_name_is_typed(sim: SimulatorThread) -> None:
    # Before: "-n soc", "BATTERY.SOC" and "history minutes_sco" got no suggestion.
    for args, first in (
        (("read-value", "-n", "soc"), "battery.soc"),
        (("read-value", "-n", "BATTERY.SOC"), "battery.soc"),
        (("read", "BATTERY.SOC"), "battery.soc"),
        (("history", "minutes_sco"), "minutes_soc"),
        (("read", "batery.*"), "battery"),
    ):
        r = run(*args[:1], *at(sim), *args[1:])
        assert r.code == EXIT_NOT_FOUND and r.err.count("\n") == 1, r
        assert f"did you mean {first}" in r.err, r.err
    r = run("registry", "search", "socc")
    assert r.code == EXIT_NOT_FOUND and "did you mean" in r.err


def test_partial_answers_show_what_arrived(sim: SimulatorThread) -> None:
    with unanswered(["battery.soh", "battery.temperature"]):
        r = run("read", *at(sim), "battery.soc", "battery.soh", "battery.temperature")
        assert r.code == EXIT_TIMEOUT
        assert [line.split()[:2] for line in r.out.splitlines()[1:]] == [
            ["battery.soc", r.out.splitlines()[1].split()[1]],
            ["battery.soh", "n/a"],
            ["battery.temperature", "n/a"],
        ]
        (line,) = r.err.splitlines()
        assert line.startswith("Error: 2 of 3 values could not be read from 127.0.0.1:")
        assert line.endswith(": battery.soh, battery.temperature")
        r = run("read", *at(sim), "battery.soc", "battery.soh", "battery.temperature", "--json")
        rows = json.loads(r.out)  # the rows say what failed; no second JSON document
        assert [row["error"] is None for row in rows] == [True, False, False] and r.code == EXIT_TIMEOUT
        assert "did not answer battery.soh" in rows[1]["error"]

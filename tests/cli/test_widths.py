"""Every command against the simulator: no line of output wider than 160 characters (unless JSON or CSV
was asked for), and tables within the terminal's width."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from rctclient.cli import cli
from rctclient.simulator import SimulatorThread

from ._helpers import at, run

ROOT = Path(__file__).resolve().parents[2]
DEMO = str(ROOT / "docs" / "examples" / "demo.pcap")
WIDTH = 160

#: One run of each command, in its form for people ("{sim}": the options that point it at the simulator).
RUNS: dict[str, list[tuple[str, ...]]] = {
    "decode": [("decode", "002b0508959930bf3f590f868810", "2b0104959930bf0d65", "2b05089599", "--noise")],
    "dump": [("dump", "{sim}", "-o", "{tmp}/snapshot.json")],
    "events": [("events", "{sim}")],
    "faults": [("faults", "{sim}")],
    "history": [("history", "{sim}", "minutes_soc", "--from", "2h")],
    "read": [("read", "{sim}", "battery.*", "g_sync", "fault[*].flt"), ("read", "{sim}", "battery.cells*", "-v")],
    "read-pcap": [("read-pcap", DEMO), ("read-pcap", DEMO, "--summary")],
    "read-value": [
        ("read-value", "{sim}", "-n", "battery.soc", "-v"),
        ("read-value", "{sim}", "-n", "battery.cells[0]", "-v"),
        ("read-value", "{sim}", "-n", "logger.error_log_time_stamp", "-v"),
        ("read-value", "{sim}", "-n", "logger.minutes_soc_log_ts"),
    ],
    "registry list": [("registry", "list")],
    "registry search": [("registry", "search", "soc")],
    "registry show": [("registry", "show", "power_mng.soc_strategy")],
    "status": [("status", "{sim}"), ("status", "{sim}", "--watch", "0.1", "--count", "2")],
    "write-value": [("write-value", "{sim}", "power_mng.soc_min", "20%", "--yes")],
}
#: Commands that serve until stopped: no output to measure (proxy and monitor: on other branches).
SERVERS = {"simulator", "proxy", "monitor"}
#: Commands whose output is a table (fitted to the terminal's width).
TABLES = ["decode", "events", "faults", "read", "read-pcap", "registry list", "registry search"]


def _names(group: click.Group, prefix: str = "") -> list[str]:
    found: list[str] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _names(command, f"{prefix}{name} ")
        else:
            found.append(prefix + name)
    return found


def test_every_command_is_measured() -> None:
    assert set(_names(cli)) - SERVERS == set(RUNS)


def _args(args: tuple[str, ...], sim: SimulatorThread, tmp: Path) -> list[str]:
    out: list[str] = []
    for arg in args:
        if arg == "{sim}":
            out += at(sim)
        else:
            out.append(arg.replace("{tmp}", str(tmp)))
    return out


@pytest.mark.parametrize("command", sorted(RUNS))
def test_no_line_is_wider_than_160(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    with SimulatorThread(port=0, seed=6, faults="ideal") as sim:
        sim.model.set("fault[0].flt", 0b10, fixed=True)
        for args in RUNS[command]:
            r = run(*_args(args, sim, tmp_path))
            assert r.code == 0, (args, r)
            assert r.out or r.err, args
            wide = [line for line in (r.out + r.err).splitlines() if len(line) > WIDTH]
            assert not wide, (args, wide[:3])


@pytest.mark.parametrize("command", TABLES)
def test_tables_fit_the_terminal(
    command: str, sim: SimulatorThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    for args in RUNS[command]:
        r = run(*_args(args, sim, tmp_path))
        assert r.code == 0, (args, r)
        assert all(len(line) <= 80 for line in r.out.splitlines()), (args, r.out[:500])

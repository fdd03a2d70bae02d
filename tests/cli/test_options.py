"""Options that work the same everywhere: conflicts, -h and --help, -d after the command, --address,
JSON errors, file modes, shell completion."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from rctclient.cli import cli
from rctclient.cli._common import EXIT_USAGE
from rctclient.simulator import SimulatorConfig, SimulatorThread

from ._helpers import at, run


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append(((*prefix, name), command))
    return found


COMMANDS = _commands(cli)
WITH_JSON = sorted(path for path, command in COMMANDS if any("--json" in p.opts for p in command.params))


def test_help_everywhere_and_debug_after_the_command() -> None:
    for path, command in COMMANDS:
        r = run(*path, "--help")
        assert r.code == 0 and "Usage:" in r.out, path
        assert any("--debug" in p.opts for p in command.params), path


def test_h_is_the_host() -> None:
    # Before: "Error: Option '-h' requires an argument." with nothing to say why.
    r = run("status", "-h")
    assert r.code == EXIT_USAGE and r.err.count("\n") == 1
    assert "-h is the host" in r.err and "--help" in r.err
    r = run("registry", "search", "-h")
    assert r.code == EXIT_USAGE and r.err.count("\n") == 1 and "--help shows the help" in r.err


def test_usage_errors_are_one_line() -> None:
    r = run("read")
    assert r.code == EXIT_USAGE and r.err.count("\n") == 1 and "(see 'rctclient read --help')" in r.err
    r = run("status", "--no-such-option")
    assert r.code == EXIT_USAGE and r.err.count("\n") == 1


def test_conflicting_flags_are_rejected(closed_port: int) -> None:
    # Before: the last of --csv --json won silently, and --simulate ignored --port.
    r = run("read", "--simulate", "battery.soc", "--csv", "--json")
    assert r.code == EXIT_USAGE and r.err.strip() == (
        "Error: --json and --csv cannot be used together: choose one output format"
    )
    r = run("history", "--simulate", "minutes_soc", "--influx", "--json")
    assert r.code == EXIT_USAGE and "cannot be used together" in r.err
    r = run("read", "--simulate", "-p", str(closed_port), "battery.soc")
    assert r.code == EXIT_USAGE and "--port does not go with --simulate" in r.err and r.out == ""
    r = run("status", "--simulate", "--host", "inverter")
    assert r.code == EXIT_USAGE and "--host does not go with --simulate" in r.err


def test_debug_after_the_command_and_before(sim: SimulatorThread) -> None:
    for args in (
        ("-d", "read-value", *at(sim), "-n", "battery.soc"),
        ("read-value", *at(sim), "-n", "battery.soc", "-d"),
    ):
        r = run(*args)
        assert r.code == 0 and "Got frame: <ReceiveFrame(cmd=5, id=959930bf, address=0, data=" in r.err, args


def test_debug_shows_the_bytes_and_frames_as_documented(sim: SimulatorThread) -> None:
    # Before: a counters dict and no bytes; the documented way to get a raw payload did not work.
    sim.model.set("battery.soc", 0.8478931188583374, fixed=True)
    r = run("read-value", *at(sim), "-n", "battery.soc", "--debug")
    assert r.code == 0 and r.out == "0.8478931188583374\n"
    lines = r.err.splitlines()
    assert any(line.endswith("Sent 9 bytes: 2b0104959930bf0d65") for line in lines)
    sent = next(line for line in lines if "Sent frame:" in line)
    assert "<SendFrame(command=1, id=0x959930BF, payload=0x)>  = READ battery.soc" in sent
    assert any(line.endswith("Received 13 bytes: 2b0508959930bf3f590f868810") for line in lines), lines
    got = next(line for line in lines if "Got frame:" in line)
    assert "<ReceiveFrame(cmd=5, id=959930bf, address=0, data=3f590f86)>" in got
    assert got.endswith("= RESPONSE battery.soc 0.8478931188583374 (84.8 %)")
    assert "Traceback" not in r.err


def test_address_for_a_device_of_a_plant() -> None:
    config = SimulatorConfig(addresses=[0x1001, 0x1002])
    with SimulatorThread(port=0, seed=4, faults="ideal", config=config, plant=2) as plant:
        plant.simulator.device(0x1002).set("battery.soc", 0.75, fixed=True)
        r = run("read-value", *at(plant), "--address", "0x1002", "-n", "battery.soc")
        assert r.code == 0 and r.out == "0.75\n", r
        r = run("read", *at(plant), "--address", "4098", "battery.soc", "--json")  # decimal too
        assert json.loads(r.out)[0]["value"] == 0.75
    r = run("read-value", "--simulate", "--address", "0x20000101", "-n", "battery.soc", "-v")
    assert r.code == 0 and "battery.soc" in r.out, r
    r = run("read-value", "--simulate", "--address", "plant", "-n", "battery.soc")
    assert r.code == EXIT_USAGE and "not an address" in r.err


FAILING_ARGS: dict[tuple[str, ...], tuple[str, ...]] = {
    ("decode",): ("2b01zz",),
    ("events",): ("{device}",),
    ("faults",): ("{device}",),
    ("history",): ("{device}", "minutes_soc"),
    ("read",): ("{device}", "battery.soc"),
    ("read-pcap",): ("/nonexistent/capture.pcap",),
    ("read-value",): ("{device}", "-n", "battery.soc"),
    ("registry", "list"): ("--group", "nope"),
    ("registry", "search"): ("no-such-thing",),
    ("registry", "show"): ("battery.sco",),
    ("status",): ("{device}",),
}


@pytest.mark.parametrize("path", WITH_JSON, ids=" ".join)
def test_json_on_failure_is_a_json_error_object(path: tuple[str, ...], closed_port: int) -> None:
    assert path in FAILING_ARGS, f"add a failing invocation of {' '.join(path)} to FAILING_ARGS"
    device = ["-h", "127.0.0.1", "-p", str(closed_port), "--timeout", "0.5"]
    args = [a for arg in FAILING_ARGS[path] for a in (device if arg == "{device}" else [arg])]
    r = run(*path, *args, "--json")
    assert r.code not in (0, EXIT_USAGE), r
    error = json.loads(r.out)["error"]
    assert error["exit_code"] == r.code and error["message"] and error["kind"]
    assert r.err.count("\n") == 1 and r.err.strip() == f"Error: {error['message']}"


def test_files_get_the_users_umask(sim: SimulatorThread, tmp_path: Path) -> None:
    # Before: 0600 (the temporary file's mode) whatever the umask.
    old = os.umask(0o022)
    try:
        target = tmp_path / "soc.csv"
        r = run("history", *at(sim), "minutes_soc", "--from", "1h", "-o", str(target))
        assert r.code == 0, r
        assert stat.S_IMODE(target.stat().st_mode) == 0o644
        target.chmod(0o640)  # an existing file keeps its mode
        run("history", *at(sim), "minutes_soc", "--from", "1h", "-o", str(target))
        assert stat.S_IMODE(target.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def _complete(words: str) -> list[str]:
    env = {"_RCTCLIENT_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    result = CliRunner().invoke(cli, [], prog_name="rctclient", env=env)
    return [line.split(",", 1)[1] for line in result.output.splitlines() if "," in line]


def test_shell_completion_of_commands_and_oid_names() -> None:
    assert "status" in _complete("rctclient sta")
    assert "battery.soc" in _complete("rctclient read-value -n battery.so")
    assert "battery.soc" in _complete("rctclient read battery.so")
    assert set(_complete("rctclient history minutes_so")) >= {"minutes_soc", "minutes_soc_targ"}
    assert "battery.soc" in _complete("rctclient read-value -n BATTERY.SO")  # any case

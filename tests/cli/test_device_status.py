"""status, faults and dump against a simulator; the CLI as a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from rctclient.cli._common import EXIT_TIMEOUT
from rctclient.faults import FAULT_OIDS, fault_words
from rctclient.simulator import SimulatorThread, load_snapshot

from ._helpers import at, run


def _pin(sim: SimulatorThread, **values: float) -> None:
    for name, value in values.items():
        sim.model.set(name.replace("__", "."), value, fixed=True)


def _set_faults(sim: SimulatorThread, *bits: int) -> None:
    for name, word in zip(FAULT_OIDS, fault_words(bits), strict=True):
        sim.model.set(name, word, fixed=True)


def _scene(sim: SimulatorThread) -> None:
    sim.model.update(
        {
            "dc_conv.dc_conv_struct[0].p_dc": 2500.0,
            "dc_conv.dc_conv_struct[0].u_sg_lp": 420.5,
            "dc_conv.dc_conv_struct[1].p_dc": 1000.0,
            "dc_conv.dc_conv_struct[1].u_sg_lp": 390.0,
            "battery.soc": 0.625,
            "g_sync.p_acc_lp": -1500.0,
            "battery.bat_status": 0,
            "g_sync.p_ac_load_sum_lp": 1200.0,
            "g_sync.p_ac_grid_sum_lp": -800.0,
            "grid_pll[0].f": 50.01,
            "prim_sm.state": 13,
        },
        fixed=True,
    )
    _set_faults(sim, 1)


def test_status_screen(fresh_sim: SimulatorThread) -> None:
    _scene(fresh_sim)
    r = run("status", *at(fresh_sim))
    assert r.code == 0, r
    text = r.out
    assert "Feed in (13)" in text
    assert "2500 W" in text and "420.5 V" in text and "1000 W" in text
    assert "1500 W charging" in text and "SOC 62.5 %" in text and "normal operation" in text
    assert "Household" in text and "1200 W" in text
    assert "800 W to the grid" in text and "50.01 Hz" in text
    assert "RTC can't be configured" in text


def test_status_json_and_battery_not_normal(fresh_sim: SimulatorThread) -> None:
    _scene(fresh_sim)
    _pin(fresh_sim, battery__bat_status=8, g_sync__p_acc_lp=700.0, g_sync__p_ac_grid_sum_lp=300.0)
    r = run("status", *at(fresh_sim), "--json")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert data["inverter"] == {"state": 13, "label": "Feed in"}
    assert data["solar"]["a"] == {"power_w": 2500.0, "voltage_v": 420.5} and data["solar"]["total_w"] == 3500.0
    assert data["battery"]["soc_percent"] == 62.5 and data["battery"]["direction"] == "discharging"
    assert data["battery"]["normal"] is False
    assert data["grid"]["direction"] == "import"
    assert [f["bit"] for f in data["faults"]] == [1]
    r = run("status", *at(fresh_sim))
    assert "NOT in normal operation" in r.out and "from the grid" in r.out


def test_status_silent_device(fresh_sim: SimulatorThread) -> None:
    fresh_sim.set_silent(True)
    r = run("status", *at(fresh_sim, timeout=0.3, retries=0))
    assert r.code == EXIT_TIMEOUT
    assert "n/a" in r.out and "could not be read" in r.err.splitlines()[-1]


def test_faults(fresh_sim: SimulatorThread) -> None:
    r = run("faults", *at(fresh_sim))
    assert r.code == 0 and r.out == "" and "no active faults" in r.err
    _set_faults(fresh_sim, 1, 92)
    r = run("faults", *at(fresh_sim), "--json")
    assert r.code == 0, r
    rows = json.loads(r.out)
    assert [(row["bit"], row["word"]) for row in rows] == [(1, "fault[0].flt"), (92, "fault[2].flt")]
    assert rows[0]["description"] == "RTC can't be configured"
    r = run("faults", *at(fresh_sim))
    assert "RTC can't be configured" in r.out


def test_dump_replays_in_the_simulator(fresh_sim: SimulatorThread, tmp_path: Path) -> None:
    fresh_sim.model.set("battery.soc", 0.4375, fixed=True)
    fresh_sim.model.set("power_mng.soc_min", 0.125)
    target = tmp_path / "snap.json"
    r = run("dump", *at(fresh_sim), "-o", str(target))
    assert r.code == 0, r
    assert r.out == "" and "dumped" in r.err
    assert os.listdir(tmp_path) == ["snap.json"]  # no temporary file left behind
    data = json.loads(target.read_text())
    assert data["rctclient_snapshot"] == 1 and "taken_at" in data
    assert data["values"]["battery.soc"] == 0.4375 and "missing" not in data
    assert not any(name.endswith("_log_ts") for name in data["values"])
    values = load_snapshot(target)
    assert len(values) > 500
    with SimulatorThread(port=0, snapshot=str(target)) as replay:
        r = run("read", *at(replay), "battery.soc", "power_mng.soc_min", "--json")
    assert [row["value"] for row in json.loads(r.out)] == [0.4375, 0.125]


def test_dump_to_stdout_with_all(fresh_sim: SimulatorThread) -> None:
    r = run("dump", *at(fresh_sim), "--all")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert any("module" in name or "bat_mng" in name or name.startswith("battery.") for name in data["other"])
    assert not set(data["other"]) & set(data["values"])


def test_real_process_with_simulate() -> None:
    env = {**os.environ, "COLUMNS": "120"}
    out = subprocess.run(
        [sys.executable, "-m", "rctclient", "status", "--simulate"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert out.returncode == 0, out.stderr
    assert "Battery" in out.stdout and "Grid" in out.stdout and "Faults" in out.stdout
    assert out.stderr == ""
    out = subprocess.run(
        [sys.executable, "-m", "rctclient", "read-value", "--simulate", "-n", "battery.soc", "-v"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.startswith("#545 0x959930BF battery.soc"), out.stderr


def test_real_process_unreachable(closed_port: int) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rctclient", "status", "-h", "127.0.0.1", "-p", str(closed_port)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 5 and out.stdout == ""
    assert out.stderr.count("\n") == 1 and "Traceback" not in out.stderr

"""status, faults and dump against a simulator; the CLI as a real process."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rctclient.cli._common import EXIT_TIMEOUT
from rctclient.cli.commands.status import OPTIONAL, status_oids
from rctclient.faults import FAULT_OIDS, fault_words
from rctclient.simulator import SimulatorThread, load_snapshot

from ._helpers import at, run, unanswered


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
    name, serial = fresh_sim.model.get("android_description"), fresh_sim.model.get("inverter_sn")
    assert f'RCT Power "{name}", serial {serial}' in text.splitlines()[0]
    assert re.search(r"^Inverter +Feed in$", text, re.MULTILINE)
    assert "3500 W" in text and "A 2500 W at 420.5 V, B 1000 W at 390.0 V" in text
    assert "1500 W   charging, SOC 62.5 %" in text and "normal operation" in text
    assert re.search(r"Household +1200 W", text)
    assert "800 W   to the grid (feed-in), 50.01 Hz" in text
    assert "RTC can't be configured" in text


def test_status_is_what_an_owner_wants(fresh_sim: SimulatorThread) -> None:
    # Before: no name, serial, clock, energy of the day or lifetime, battery temperature or SOC target.
    _scene(fresh_sim)
    now = int(datetime.now(UTC).timestamp())
    fresh_sim.model.update(
        {
            "battery.soc_target": 0.5,
            "battery.temperature": 21.037525177001953,
            "energy.e_dc_day[0]": 3000.0,
            "energy.e_dc_day[1]": 1234.5,
            "energy.e_grid_feed_day": -2500.0,  # devices report feed-in (and household) negative
            "energy.e_grid_load_day": 800.0,
            "energy.e_load_day": -4100.0,
            "energy.e_grid_feed_total": 12642.8994140625,
            "flash_rtc.time_stamp": now + 300,
        },
        fixed=True,
    )
    r = run("status", *at(fresh_sim))
    assert r.code == 0, r
    text = r.out
    assert "SOC 62.5 % (target 50.0 %), 21.0 °C" in text
    assert re.search(r"Solar yield +4\.23 kWh", text) and re.search(r"Feed-in +2\.50 kWh +12\.64 kWh", text)
    assert re.search(r"Purchase +0\.80 kWh", text) and re.search(r"Household +4\.10 kWh", text)
    assert "device clock" in text and "(5 min ahead)" in text
    data = json.loads(run("status", *at(fresh_sim), "--json").out)
    assert data["energy_wh"]["today"] == {"solar": 4234.5, "feed_in": 2500.0, "purchase": 800.0, "household": 4100.0}
    assert data["energy_wh"]["lifetime"]["feed_in"] == 12642.8994140625  # full precision
    assert data["battery"]["temperature_c"] == 21.037525177001953 and data["battery"]["soc_target"] == 0.5
    assert data["inverter"]["name"] == fresh_sim.model.get("android_description")
    assert data["inverter"]["clock_offset_s"] in range(295, 306)


def test_status_json_and_battery_not_normal(fresh_sim: SimulatorThread) -> None:
    _scene(fresh_sim)
    _pin(fresh_sim, battery__bat_status=8, g_sync__p_acc_lp=700.0, g_sync__p_ac_grid_sum_lp=300.0)
    r = run("status", *at(fresh_sim), "--json")
    assert r.code == 0, r
    data = json.loads(r.out)
    assert {k: data["inverter"][k] for k in ("state", "label")} == {"state": 13, "label": "Feed in"}
    assert data["solar"]["a"] == {"power_w": 2500.0, "voltage_v": 420.5} and data["solar"]["total_w"] == 3500.0
    assert data["battery"]["soc_percent"] == 62.5 and data["battery"]["direction"] == "discharging"
    assert data["battery"]["normal"] is False
    assert data["grid"]["direction"] == "import"
    assert [f["bit"] for f in data["faults"]] == [1]
    assert data["error"] is None and data["errors"] == {}
    r = run("status", *at(fresh_sim))
    assert "NOT in normal operation" in r.out and "from the grid" in r.out


def test_status_silent_device_is_one_line(fresh_sim: SimulatorThread) -> None:
    # Before: an all-"n/a" screen and 16 "Error:" lines, each naming the OID twice.
    fresh_sim.set_silent(True)
    r = run("status", *at(fresh_sim, timeout=0.3, retries=0))
    assert r.code == EXIT_TIMEOUT and r.out == ""
    assert r.err.count("\n") == 1 and "did not answer within 0.3 s" in r.err
    sent = int(re.search(r"\((\d+) requests sent, nothing came back\)", r.err).group(1))  # type: ignore[union-attr]
    assert 1 <= sent <= len(status_oids())
    r = run("status", *at(fresh_sim, timeout=0.3, retries=0), "--json")
    assert r.code == EXIT_TIMEOUT and json.loads(r.out)["error"]["kind"] == "timeout"


def test_status_partial_answers_show_what_arrived(fresh_sim: SimulatorThread) -> None:
    lost = ["battery.temperature", "energy.e_load_day", "energy.e_load_total"]
    fresh_sim.model.update({"battery.soc": 0.5}, fixed=True)
    with unanswered(lost):
        r = run("status", *at(fresh_sim, timeout=0.5, retries=0))
        assert r.code == EXIT_TIMEOUT, r
        assert "SOC 50.0 %" in r.out and re.search(r"Household +n/a", r.out)
        # one line; the lifetime total is shown where the device reports it, its absence is no failure
        (line,) = r.err.splitlines()
        required = len(set(status_oids()) - OPTIONAL)
        assert line.startswith(f"Error: 2 of {required} values could not be read") and "no answer within 0.5 s" in line
        assert "battery.temperature, energy.e_load_day" in line and "e_load_total" not in line
        data = json.loads(run("status", *at(fresh_sim, timeout=0.5, retries=0), "--json").out)
        assert data["battery"]["temperature_c"] is None and set(data["errors"]) == set(lost)


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

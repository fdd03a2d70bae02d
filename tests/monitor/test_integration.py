"""The monitor against real servers: mosquitto, Prometheus (and promtool), InfluxDB 1.x.

The simulator runs in this process (fixed values, so that what arrives can be checked exactly);
the monitor runs as its own process (``python -m rctclient monitor --config ...``), so that it can
be stopped with SIGTERM and killed with SIGKILL. Poll intervals are 1/2/3 s to keep the tests short.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rctclient.simulator import DeviceModel, SimulatorThread

from . import servers
from .servers import wait_for

pytestmark = pytest.mark.integration

FIXED = {"battery.soc": 0.25, "energy.e_ac_total": 123456.0, "g_sync.p_ac_grid_sum_lp": -512.0}
SERIAL = str(DeviceModel().get("inverter_sn"))  # the simulated device's serial number


@pytest.fixture
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(port=0, seed=1, snapshot=FIXED) as s:
        yield s


class MonitorProcess:
    def __init__(self, directory: Path, config: str) -> None:
        self.directory = directory
        self.config = directory / "monitor.toml"
        self.config.write_text(config, encoding="utf-8")
        self.stdout = directory / "monitor.out"
        self.stderr = directory / "monitor.err"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> MonitorProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(self.stdout, "ab") as out, open(self.stderr, "ab") as err:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "rctclient", "monitor", "--config", str(self.config)],
                stdout=out,
                stderr=err,
                env=env,
            )
        return self

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 5.0) -> int:
        assert self.process is not None
        os.kill(self.process.pid, sig)
        code = self.process.wait(timeout)
        self.process = None
        return code

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.read_text().splitlines() if line.strip()]


def monitor_config(sim: SimulatorThread, **tables: str) -> str:
    text = f"""
[[device]]
host = "127.0.0.1"
port = {sim.port}
name = "sim"
timeout = 1.0
[poll]
fast = 1.0
slow = 2.0
energy = 3.0
[prometheus]
enabled = false
[log]
level = "info"
"""
    return text + "".join(f"[{name}]\n{body}\n" for name, body in tables.items())


@pytest.fixture
def monitors() -> Iterator[list[MonitorProcess]]:
    started: list[MonitorProcess] = []
    yield started
    for m in started:
        if m.process is not None:
            m.stop(signal.SIGKILL)


class Subscriber:
    """A paho client in its own thread that records every message (topic -> [(payload, retained)])."""

    def __init__(self, port: int, topic: str = "#") -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self.messages: dict[str, list[tuple[str, bool]]] = {}
        self.lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2)
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *_: c.subscribe(topic, qos=1)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self.lock:
            self.messages.setdefault(message.topic, []).append((message.payload.decode(), bool(message.retain)))

    def last(self, topic: str) -> str | None:
        with self.lock:
            values = self.messages.get(topic)
            return values[-1][0] if values else None

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_mqtt_and_home_assistant_on_mosquitto(
    tmp_path: Path, sim: SimulatorThread, monitors: list[MonitorProcess]
) -> None:
    broker = servers.mosquitto(tmp_path).start()
    port = broker.port  # type: ignore[attr-defined]
    root = f"rctclient/{SERIAL}"
    sub = Subscriber(port)
    try:
        mqtt = (
            f'enabled = true\nhost = "127.0.0.1"\nport = {port}\ncontrol = true\ncontrol_interval = 0.1\nkeepalive = 5'
        )
        monitor = MonitorProcess(tmp_path, monitor_config(sim, mqtt=mqtt, stdout='format = "json"')).start()
        monitors.append(monitor)
        wait_for(lambda: sub.last(f"{root}/availability") == "online", 20, "online")
        wait_for(lambda: sub.last(f"{root}/battery_soc") == "0.25", 10, "the SOC state")
        wait_for(lambda: sub.last(f"{root}/inverter_energy_total") == "123456", 10, "the energy state")
        configs = {t: p for t, v in sub.messages.items() if t.startswith("homeassistant/") for p, _ in v[-1:]}
        payloads = [json.loads(p) for p in configs.values() if p]
        assert len(payloads) > 40
        first_ids = sorted(p["unique_id"] for p in payloads)
        assert len(first_ids) == len(set(first_ids))
        soc = json.loads(configs[f"homeassistant/sensor/rctclient_{SERIAL}/battery_soc/config"])
        assert soc["device"]["via_device"] == f"rctclient_{SERIAL}" and soc["unit_of_measurement"] == "%"

        # retained: a client that comes later gets the states at once
        late = Subscriber(port, f"{root}/#")
        wait_for(lambda: late.last(f"{root}/battery_soc") == "0.25", 5, "retained states")
        assert all(retained for _, retained in late.messages[f"{root}/battery_soc"][:1])
        late.close()

        # control: through the allow-list, bounds and read-back; the outcome on the result topic
        sub.publish(f"{root}/battery_soc_min/set", "0.3")
        wait_for(lambda: sub.last(f"{root}/battery_soc_min/result") is not None, 10, "a command result")
        result = json.loads(sub.last(f"{root}/battery_soc_min/result") or "")
        assert result["ok"] is True and abs(result["value"] - 0.3) < 1e-6
        assert abs(sim.model.get("power_mng.soc_min") - 0.3) < 1e-6
        time.sleep(0.2)
        sub.publish(f"{root}/battery_soc_min/set", "1.5")
        wait_for(lambda: "maximum" in (sub.last(f"{root}/battery_soc_min/result") or ""), 10, "a refusal")
        assert abs(sim.model.get("power_mng.soc_min") - 0.3) < 1e-6
        sub.publish(f"{root}/grid_power/set", "0")
        wait_for(lambda: sub.last(f"{root}/grid_power/result") is not None, 10, "a refusal")
        assert "allow-list" in (sub.last(f"{root}/grid_power/result") or "")

        # Home Assistant comes online: discovery again
        count = len(sub.messages[f"homeassistant/sensor/rctclient_{SERIAL}/battery_soc/config"])
        sub.publish("homeassistant/status", "online")
        wait_for(
            lambda: len(sub.messages[f"homeassistant/sensor/rctclient_{SERIAL}/battery_soc/config"]) > count,
            5,
            "rediscovery",
        )

        # the broker goes away for a while: polling goes on, the monitor reconnects, logs once each way
        broker.stop()
        outage_start = time.time()
        time.sleep(3.0)
        broker.start()
        outage_end = time.time()
        sub.close()
        sub = Subscriber(port)
        wait_for(lambda: sub.last(f"{root}/availability") == "online", 30, "online after the broker restart")
        fast = [r["time"] for r in monitor.records() if r.get("tier") == "fast"]
        during = [t for t in fast if outage_start <= t <= outage_end]
        assert len(during) >= 2, "polling paused while the broker was away"
        log = monitor.log()
        assert log.count("is not reachable") == 1 and log.count("is back after") == 1

        # SIGTERM: offline published, exit 0 within the daemon's shutdown bound (its own timer; the
        # wait only guards against a hang); a second run has the same unique ids
        assert monitor.stop(signal.SIGTERM, timeout=30) == 0
        assert "did not finish" not in monitor.log()
        wait_for(lambda: sub.last(f"{root}/availability") == "offline", 5, "offline at exit")
        sub.close()
        sub = Subscriber(port)
        (tmp_path / "again").mkdir()
        again = MonitorProcess(tmp_path / "again", monitor.config.read_text())
        monitors.append(again.start())
        wait_for(lambda: sub.last(f"{root}/availability") == "online", 20, "online (second run)")
        wait_for(
            lambda: len([t for t in sub.messages if t.startswith("homeassistant/")]) >= len(configs), 10, "discovery"
        )
        second = sorted(json.loads(v[-1][0])["unique_id"] for t, v in sub.messages.items()
                        if t.startswith("homeassistant/") and v[-1][0])  # fmt: skip
        assert second == first_ids

        # kill -9: the broker publishes the last will
        again.stop(signal.SIGKILL)
        wait_for(lambda: sub.last(f"{root}/availability") == "offline", 10, "the last will")
    finally:
        sub.close()
        broker.stop()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.loads(response.read())


def test_prometheus_scrapes_the_monitor(tmp_path: Path, sim: SimulatorThread, monitors: list[MonitorProcess]) -> None:
    promtool = servers.need("promtool", "prometheus")
    port = servers.free_port()
    config = monitor_config(sim).replace(
        "[prometheus]\nenabled = false", f"[prometheus]\nenabled = true\nport = {port}"
    )
    monitors.append(MonitorProcess(tmp_path, config).start())
    url = f"http://127.0.0.1:{port}/metrics"

    def exposition() -> bytes:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bytes(response.read())

    wait_for(lambda: b"rct_inverter_energy_joules_total" in exposition(), 20, "the metrics")
    text = exposition()
    check = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, timeout=30, check=False)
    assert check.returncode == 0, check.stdout.decode() + check.stderr.decode()

    server, api = servers.prometheus(tmp_path, f"127.0.0.1:{port}")
    server.start()
    try:

        def query(expr: str) -> list[Any]:
            data = _get(f"http://127.0.0.1:{api}/api/v1/query?query={urllib.parse.quote(expr)}")
            return list(data["data"]["result"])

        wait_for(lambda: bool(query("rct_battery_state_of_charge_ratio")), 20, "a scraped SOC")
        (soc,) = query("rct_battery_state_of_charge_ratio")
        assert soc["metric"]["inverter"] == SERIAL and float(soc["value"][1]) == 0.25
        (energy,) = query("rct_inverter_energy_joules_total")
        assert float(energy["value"][1]) == 123456.0 * 3600
    finally:
        server.stop()


def test_influxdb_write_outage_and_catch_up(
    tmp_path: Path, sim: SimulatorThread, monitors: list[MonitorProcess]
) -> None:
    server, port = servers.influxd(tmp_path)
    server.start()
    base = f"http://127.0.0.1:{port}"

    def influx_query(q: str) -> list[Any]:
        req = urllib.request.Request(f"{base}/query?db=rct&epoch=s&q={urllib.parse.quote(q)}", method="POST")
        with urllib.request.urlopen(req, timeout=5) as response:
            result = json.loads(response.read())["results"][0]
        series = result.get("series") or [{"values": []}]
        return list(series[0]["values"])

    try:
        influx_query("CREATE DATABASE rct")
        influx = f'enabled = true\nurl = "{base}"\ndatabase = "rct"\nflush_interval = 0.5\nqueue_max = 1000'
        monitor = MonitorProcess(tmp_path, monitor_config(sim, influx=influx)).start()
        monitors.append(monitor)
        wait_for(lambda: bool(influx_query("SELECT battery_soc FROM rct")), 20, "points in InfluxDB")
        (_, soc), *_ = influx_query("SELECT battery_soc FROM rct")
        assert soc == 0.25
        rows = influx_query("SELECT inverter_energy_total FROM rct WHERE inverter_energy_total > 0")
        assert rows and rows[0][1] == 123456.0

        server.stop()
        down_from = int(time.time()) + 1
        time.sleep(3.0)
        down_to = int(time.time()) - 1
        server.start()
        wait_for(
            lambda: (
                len(influx_query(f"SELECT battery_soc FROM rct WHERE time >= {down_from}s AND time <= {down_to}s")) >= 1
            ),
            20,
            "the points of the outage",
        )
        wait_for(lambda: "is back after" in monitor.log(), 5, "the line that says InfluxDB is back")
        log = monitor.log()
        assert log.count("InfluxDB at") == 2  # not reachable, then back: once each
        assert monitor.stop() == 0
    finally:
        server.stop()

"""The exporters with in-memory sinks: Prometheus exposition, Home Assistant payloads, Influx batches and retries."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from rctclient.monitor.catalog import BY_OID
from rctclient.monitor.config import InfluxConfig, PrometheusConfig
from rctclient.monitor.exporters import Mailbox, state_text
from rctclient.monitor.exporters.homeassistant import Topics, discovery_messages, safe_id
from rctclient.monitor.exporters.influx import InfluxExporter
from rctclient.monitor.exporters.prometheus import PrometheusExporter
from rctclient.monitor.exporters.stdout import StdoutExporter, snapshot_json

from ._snap import make_snapshot


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_prometheus_names_units_and_values() -> None:
    exporter = PrometheusExporter(PrometheusConfig())
    exporter.offer(make_snapshot())
    text = exporter.render().decode()
    samples = _samples(text)
    inv = ("inverter", "SN 1/x")
    assert samples[("rct_up", (inv,))] == 1.0
    assert samples[("rct_battery_state_of_charge_ratio", (inv,))] == 0.5
    assert samples[("rct_grid_power_watts", (inv,))] == -1234.5
    # Wh x 3600, feed-in reported negative exported as a positive counter
    assert samples[("rct_grid_export_energy_joules_total", (inv,))] == 2_000_000.0 * 3600
    assert samples[("rct_inverter_energy_joules_total", (inv,))] == 3_000_000.0 * 3600
    assert samples[("rct_inverter_state", (inv, ("state", "Feed in")))] == 1.0
    assert samples[("rct_inverter_state", (inv, ("state", "Standby")))] == 0.0  # one series per label, no duplicates
    assert samples[("rct_inverter_state_code", (inv,))] == 13.0
    info = dict(next(k for k in samples if k[0] == "rct_inverter_info")[1])
    assert info["name"] == "Roof" and info["sw_version"] == "RCT-3.14" and info["serial"] == "SN 1/x"
    assert samples[("rct_active_faults", (inv,))] == 1.0
    assert any(k[0] == "rct_fault_active" and ("bit", "2") in k[1] for k in samples)
    assert samples[("rctclient_crc_errors_total", (("device", "site"),))] == 1.0
    assert samples[("rctclient_request_latency_seconds_count", (("device", "site"),))] == 9.0
    assert ("rctclient_poll_duration_seconds_bucket", (("device", "site"), ("le", "+Inf"), ("tier", "fast"))) in samples
    assert "not read at scrape time" in text
    assert "process_cpu_seconds_total" not in text and "python_info" not in text
    for line in text.splitlines():
        assert not line.startswith("# TYPE") or line.split()[2].startswith(("rct_", "rctclient_")), line


def test_prometheus_leaves_out_what_is_unavailable() -> None:
    exporter = PrometheusExporter(PrometheusConfig())
    snap = make_snapshot()
    from dataclasses import replace

    exporter.offer(replace(snap, up=False, values={}))
    samples = _samples(exporter.render().decode())
    assert samples[("rct_up", (("inverter", "SN 1/x"),))] == 0.0
    assert not any(k[0] == "rct_battery_state_of_charge_ratio" for k in samples)  # absent, never 0
    assert any(k[0] == "rct_inverter_info" for k in samples)


def test_home_assistant_discovery() -> None:
    snap = make_snapshot()
    topics = Topics("rctclient", snap.serial)
    assert topics.root == "rctclient/SN_1_x" and safe_id("a+b#c") == "a_b_c"
    messages = dict(discovery_messages(snap, topics, control=False))
    soc = messages["homeassistant/sensor/rctclient_SN_1_x/battery_soc/config"]
    assert soc is not None
    assert soc["unique_id"] == "rctclient_SN_1_x_battery_soc"
    assert soc["unit_of_measurement"] == "%" and soc["device_class"] == "battery" and "* 100" in soc["value_template"]
    assert soc["device"]["via_device"] == "rctclient_SN_1_x" and soc["device"]["serial_number"] == "BMS9"
    assert soc["availability"][0]["topic"] == "rctclient/SN_1_x/availability"
    assert soc["origin"]["name"] == "rctclient"
    energy = messages["homeassistant/sensor/rctclient_SN_1_x/grid_export_energy_total/config"]
    assert energy is not None
    assert (energy["state_class"], energy["device_class"], energy["unit_of_measurement"]) == (
        "total_increasing", "energy", "Wh",
    )  # fmt: skip
    state = messages["homeassistant/sensor/rctclient_SN_1_x/inverter_state/config"]
    assert state is not None and state["device_class"] == "enum" and "Feed in" in state["options"]
    assert len(state["options"]) == len(set(state["options"]))
    power = messages["homeassistant/sensor/rctclient_SN_1_x/grid_power/config"]
    assert power is not None
    assert power["device"] == {
        "identifiers": ["rctclient_SN_1_x"], "name": "Roof", "manufacturer": "RCT Power", "model": "Inverter",
        "serial_number": "SN 1/x", "sw_version": "RCT-3.14", "hw_version": "VDE",
    }  # fmt: skip
    # no control entities unless asked (and those of an earlier run with control are removed)
    assert all(m is None for t, m in messages.items() if "/number/" in t)
    assert messages["homeassistant/number/rctclient_SN_1_x/battery_soc_min/config"] is None
    # stable: the same snapshot gives the same configs
    assert dict(discovery_messages(snap, topics, control=False)) == messages
    ids = [m["unique_id"] for m in messages.values() if m is not None]
    assert len(ids) == len(set(ids))


def test_home_assistant_control_entities_follow_the_allow_list() -> None:
    snap = make_snapshot(control=True)
    topics = Topics("rctclient", snap.serial)
    messages = dict(discovery_messages(snap, topics, control=True))
    number = messages["homeassistant/number/rctclient_SN_1_x/battery_soc_min/config"]
    assert number is not None
    assert (number["min"], number["max"], number["command_template"]) == (0.0, 100.0, "{{ value / 100 }}")
    assert number["command_topic"] == "rctclient/SN_1_x/battery_soc_min/set"
    select = messages["homeassistant/select/rctclient_SN_1_x/battery_soc_strategy/config"]
    assert select is not None and "External" in select["options"]
    switch = messages["homeassistant/switch/rctclient_SN_1_x/grid_charge/config"]
    assert switch is not None and switch["payload_on"] == "true"
    # the sensor config of a key that is now a number is removed
    assert messages["homeassistant/sensor/rctclient_SN_1_x/battery_soc_min/config"] is None
    extern = messages["homeassistant/number/rctclient_SN_1_x/battery_power_external/config"]
    assert extern is not None and (extern["min"], extern["max"]) == (-6000.0, 6000.0)


def test_state_text() -> None:
    assert state_text(BY_OID["battery.soc"], 0.5) == "0.5"
    assert state_text(BY_OID["energy.e_grid_feed_total"], -12.0) == "12"
    assert state_text(BY_OID["prim_sm.state"], 13) == "Feed in"
    assert state_text(BY_OID["prim_sm.state"], 99) == "99"
    assert state_text(BY_OID["power_mng.use_grid_power_enable"], True) == "true"
    assert state_text(BY_OID["battery.soc"], None) == ""
    assert state_text(BY_OID["battery.soc"], float("nan")) == ""


def test_mailbox_drops_the_oldest() -> None:
    box: Mailbox[int] = Mailbox(3)
    for i in range(5):
        box.put(i)
    assert list(box) == [2, 3, 4] and box.dropped == 2
    taken = box.take(2)
    box.extend_left([0, 1, *taken])
    assert list(box) == [1, 2, 3, 4][-3:] or len(box) == 3
    assert box.dropped == 4


def test_stdout_json_and_influx() -> None:
    snap = make_snapshot(tiers=2)
    record = json.loads(snapshot_json(snap) or "")
    assert record["inverter"] == "SN 1/x" and record["tier"] == "fast"
    assert record["values"]["battery_soc"] == 0.5 and record["values"]["inverter_state"] == "Feed in"
    out = io.StringIO()

    async def run() -> None:
        exporter = StdoutExporter("influx", stream=out)
        task = asyncio.ensure_future(exporter.run())
        exporter.offer(snap)
        exporter.offer(snap)
        for _ in range(100):
            if out.getvalue().count("\n") == 2:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    asyncio.run(run())
    assert out.getvalue().count("\n") == 2 and out.getvalue().startswith("rct,inverter=SN\\ 1/x ")


class FakeInflux:
    """A local HTTP server that takes /write (or refuses with 503 while ``down``)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.params: list[dict[str, str]] = []
        self.headers: list[dict[str, str]] = []
        self.down = False
        self.port = 0

    async def start(self) -> Any:
        from aiohttp import web

        async def write(request: web.Request) -> web.Response:
            if self.down:
                return web.Response(status=503, text="unavailable")
            self.bodies.append(await request.text())
            self.params.append(dict(request.query))
            self.headers.append(dict(request.headers))
            return web.Response(status=204)

        app = web.Application()
        app.router.add_post("/write", write)
        app.router.add_post("/api/v2/write", write)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = runner.addresses[0][1]
        return runner


@pytest.mark.parametrize("v2", [False, True])
def test_influx_batches_and_keeps_lines_while_the_database_is_away(v2: bool, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, "rctclient.monitor.influx")
    fake = FakeInflux()
    snap = make_snapshot(tiers=2)

    async def run() -> InfluxExporter:
        runner = await fake.start()
        extra: dict[str, Any] = {"org": "o", "bucket": "b", "token": "t"} if v2 else {}
        config = InfluxConfig(
            enabled=True, url=f"http://127.0.0.1:{fake.port}", flush_interval=0.05, queue_max=5, **extra
        )
        exporter = InfluxExporter(config)
        task = asyncio.ensure_future(exporter.run())
        fake.down = True
        for _ in range(8):  # 8 polls while the database is away: 3 oldest dropped
            exporter.offer(snap)
        for _ in range(200):
            if not exporter.connected:
                break
            await asyncio.sleep(0.01)
        assert not exporter.connected
        fake.down = False
        for _ in range(500):
            if exporter.sent == 5:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await runner.cleanup()
        return exporter

    exporter = asyncio.run(run())
    assert exporter.sent == 5 and exporter.dropped == 3 and exporter.connected
    assert sum(body.count("\n") for body in fake.bodies) == 5
    if v2:
        assert fake.params[0] == {"org": "o", "bucket": "b", "precision": "s"}
        assert fake.headers[0]["Authorization"] == "Token t"
    else:
        assert fake.params[0] == {"db": "rct", "precision": "s"}
    messages = [r.getMessage() for r in caplog.records]
    assert sum("is not reachable" in m for m in messages) == 1  # once per outage, not per retry
    assert sum("is back" in m for m in messages) == 1


def test_mqtt_commands_are_read_in_the_units_of_the_states() -> None:
    from rctclient.exceptions import WriteOutOfBounds
    from rctclient.monitor.catalog import Quantity
    from rctclient.monitor.exporters import command_value, state_text

    def quantity(oid: str) -> Quantity:
        return Quantity(key=oid.replace(".", "_"), oid=oid, title=oid)

    soc_min = quantity("power_mng.soc_min")
    assert command_value(soc_min, "0.25") == 0.25
    assert command_value(soc_min, state_text(soc_min, 0.5)) == 0.5
    strategy = quantity("power_mng.soc_strategy")
    assert command_value(strategy, "Internal") == 4 == command_value(strategy, "internal")
    assert command_value(strategy, "4") == 4
    for bad_soc in ("half", "nan", "inf", ""):
        with pytest.raises(WriteOutOfBounds):
            command_value(soc_min, bad_soc)
    with pytest.raises(WriteOutOfBounds, match="one of"):
        command_value(strategy, "Bogus")

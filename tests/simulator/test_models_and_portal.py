"""Device models and the portal's traffic, through our own clients: ``Client``, ``dump`` and ``status``.

The portal stays on here (the default): these clients must take its foreign frames in their stride.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from rctclient.cli import cli
from rctclient.client import Client as RctClient
from rctclient.frame import Frame, make_frame
from rctclient.registry import REGISTRY
from rctclient.simulator import (
    DEVICES,
    Clock,
    ConfigError,
    PortalSettings,
    Simulator,
    SimulatorThread,
    load_config,
)
from rctclient.simulator.config import DEFAULT_PORTAL_OIDS
from rctclient.types import Command

from .client import Client, wait_until
from .conftest import NOON

PORTAL_IDS = {REGISTRY.get_by_name(n).object_id for n in DEFAULT_PORTAL_OIDS}


def _cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def _at(sim: SimulatorThread) -> list[str]:
    return ["-h", "127.0.0.1", "-p", str(sim.port), "--timeout", "3"]


@pytest.fixture(params=list(DEVICES))
def device_sim(request: pytest.FixtureRequest) -> Iterator[SimulatorThread]:
    """Each device model, frozen at NOON, with the portal polling every 0.2 s."""
    portal = PortalSettings(period=0.2)
    with SimulatorThread(
        port=0, seed=7, device_model=request.param, clock=Clock(NOON, frozen=True), portal=portal
    ) as s:
        yield s


def test_our_client_reads_each_model_amid_the_portal_traffic(device_sim: SimulatorThread) -> None:
    names = ["inverter_sn", "battery.soc", "battery.bms_sn", "dc_conv.dc_conv_struct[0].u_target", "energy.e_ac_day"]
    with RctClient("127.0.0.1", device_sim.port, timeout=3.0) as client:
        assert wait_until(lambda: device_sim.counters.portal_answers > 0)  # the portal talks meanwhile
        for _ in range(3):
            result = client.read_many(names)
            assert result.errors == {}
            for name in names:  # the device's values (float32 on the wire), not the portal's answers to others
                expected = device_sim.model.get(name)
                if isinstance(expected, float):
                    expected = pytest.approx(expected, rel=1e-6, abs=1e-6)
                assert result.values[name] == expected
    spec = DEVICES[device_sim.simulator.spec.name]
    assert (result.values["battery.bms_sn"] != "") is spec.has_battery


def test_dump_and_status_of_each_model(device_sim: SimulatorThread, tmp_path: Path) -> None:
    code, out, err = _cli("status", *_at(device_sim))
    assert code == 0, err
    assert re.search(r"^Inverter +Feed in$", out, re.MULTILINE) and re.search(r"^Faults +none$", out, re.MULTILINE)
    target = tmp_path / "dump.json"
    code, _, err = _cli("dump", *_at(device_sim), "--all", "-o", str(target))
    assert code == 0, err
    data = json.loads(target.read_text())
    assert "missing" not in data and len(data["values"]) > 800 and data["other"]
    # the dump replayed: every value the same, structured values included
    with SimulatorThread(port=0, portal=False, snapshot=data, device_model=device_sim.simulator.spec.name) as replay:
        replayed = tmp_path / "replayed.json"
        code, _, err = _cli("dump", *_at(replay), "--all", "-o", str(replayed))
        assert code == 0, err
    again = json.loads(replayed.read_text())
    assert again["values"] == data["values"]
    assert again["other"] == data["other"]


def test_a_silent_client_hears_the_portal_soon() -> None:
    # evcc's library waits for bytes on the bus before it takes a connection as up: a real Wi-Fi module
    # carries the vendor portal's polling, so they come.
    with SimulatorThread(port=0, clock=Clock(NOON, frozen=True)) as sim, Client(sim.port) as c:
        events = c.frames(2, timeout=10)  # the first round comes half a second after the start
        assert [e.command for e in events] == [Command.READ, Command.RESPONSE]
        assert events[0].id == events[1].id == REGISTRY.get_by_name(DEFAULT_PORTAL_OIDS[0]).object_id
        round_frames = c.frames(2 * len(DEFAULT_PORTAL_OIDS) - 2, timeout=10)
        assert {f.id for f in round_frames} <= PORTAL_IDS
    counters = sim.counters
    assert counters.portal_requests >= len(DEFAULT_PORTAL_OIDS)
    assert counters.requests == counters.answers == 0  # the portal's traffic is not the clients'


def test_portal_settings_period_oids_and_off(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text('[portal]\nperiod = 0.1\noids = ["db.temp1", "battery.soc"]\n')
    wanted = {REGISTRY.get_by_name(n).object_id for n in ("db.temp1", "battery.soc")}
    with SimulatorThread(port=0, config=config, clock=Clock(NOON, frozen=True)) as sim, Client(sim.port) as c:
        frames = c.frames(12, timeout=10)
        assert len(frames) == 12 and {f.id for f in frames} == wanted
    for off in (
        SimulatorThread(port=0, portal=False, clock=Clock(NOON, frozen=True)),
        SimulatorThread(port=0, shared_bus=False, portal=PortalSettings(period=0.1), clock=Clock(NOON, frozen=True)),
    ):
        with off as sim, Client(sim.port) as c:
            assert c.frames(1, timeout=0.5) == []  # off, or nobody shares the bus with the portal
            assert sim.counters.portal_requests == 0


def test_the_portal_hears_no_answer_while_the_device_is_silent() -> None:
    portal = PortalSettings(period=0.1, oids=("battery.soc",))
    with SimulatorThread(port=0, portal=portal, clock=Clock(NOON, frozen=True)) as sim, Client(sim.port) as c:
        sim.set_silent(True)
        c.frames(10**6, timeout=0.3)  # what came before
        frames = c.frames(3, timeout=10)
        assert [f.command for f in frames] == [Command.READ] * 3


@pytest.mark.parametrize(
    ("text", "device"),
    [
        ('model = "inverter-6"\n', "inverter-6"),
        ('[model]\nname = "storage-dc-10-two-towers"\npeak_power_a = 9000\n', "storage-dc-10-two-towers"),
        ("[model]\nbase_load = 400\n", "storage-dc-6"),
    ],
)
def test_model_in_the_config(tmp_path: Path, text: str, device: str) -> None:
    path = tmp_path / "sim.toml"
    path.write_text(text)
    sim = Simulator(config=load_config(path), clock=Clock(NOON, frozen=True))
    assert sim.spec.name == device
    assert sim.model.params.battery_towers == DEVICES[device].battery_towers
    if "9000" in text:
        assert sim.model.params.peak_power_a == 9000.0
        assert sim.model.params.feed_in_limit == pytest.approx(0.7 * (9000 + 5200), abs=0.1)
    other = Simulator(config=load_config(path), device_model="inverter-6", clock=Clock(NOON, frozen=True))
    assert other.spec.name == "inverter-6" and not other.model.params.has_battery  # the argument wins


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('model = "storage-dc-99"\n', "unknown device model 'storage-dc-99'"),
        ("model = 3\n", "model must be a device model's name"),
        ("[model]\nname = 1\n", "model name must be a string"),
        ("[portal]\nperiod = 0\n", "portal period must be seconds"),
        ("[portal]\noids = []\n", "portal oids must be a list"),
        ('[portal]\noids = ["battery.sock"]\n', "unknown OID name(s): battery.sock"),
        ("[portal]\nenabled = 1\n", "portal enabled must be true or false"),
        ("[portal]\nevery = 3\n", "unknown key(s) in [portal]: every"),
    ],
)
def test_model_and_portal_config_errors(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert message in str(exc.value)
    with pytest.raises(ConfigError, match="unknown device model"):
        Simulator(device_model="nope")


def test_cli_model_and_portal_options() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = _cli("simulator", "-p", str(port), "--model", "storage-dc-99")
    assert code != 0 and "storage-dc-99" in err
    code, out, _ = _cli("simulator", "--help")
    for name, spec in DEVICES.items():
        assert name in out and spec.title.split(" (")[0][:20] in " ".join(out.split())


def test_every_oid_answers_on_each_model(device_sim: SimulatorThread) -> None:
    objects = REGISTRY.all()
    answers: dict[int, Frame] = {}
    with Client(device_sim.port) as c:
        for start in range(0, len(objects), 100):
            batch = objects[start : start + 100]
            c.send(b"".join(make_frame(Command.READ, o.object_id) for o in batch))
            wanted = {o.object_id for o in batch}
            while wanted - set(answers):  # the answers, amid the portal's traffic
                frames = c.frames(1, timeout=10)
                assert frames, f"missing answers: {len(wanted - set(answers))}"
                if Command.is_response(frames[0].command):
                    answers[frames[0].id] = frames[0]
    assert set(answers) >= {o.object_id for o in objects}

"""The TOML configuration and the JSON snapshots of the simulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rctclient.registry import REGISTRY
from rctclient.simulator import PROFILES, Clock, ConfigError, Simulator, load_config, load_snapshot
from rctclient.utils import decode_value, encode_value

from .client import Client
from .conftest import NOON, quiet

FULL = """
seed = 7
faults = "realistic"
shared_bus = false
night_silent = true
max_clients = 8
idle_timeout = 30

[fault_rates]
lost_answer = 0.02
latency = [0.01, 0.08]

[model]
peak_power_a = 6000
battery_capacity = 12000.5

[values]
"battery.soc_target" = 0.6
"inverter_sn" = "ABC"

[plant]
addresses = [0x1001, 0x1002]

[[plant.device]]
address = 0x1002
values = { "inverter_sn" = "B" }
"""


def _write(tmp_path: Path, text: str, name: str = "sim.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_key_of_the_config_file(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, FULL))
    assert cfg.seed == 7
    assert cfg.shared_bus is False
    assert cfg.night_silent is True
    assert cfg.faults is not None
    assert cfg.faults.lost_answer == 0.02
    assert cfg.faults.latency == (0.01, 0.08)
    assert cfg.faults.wrong_crc == PROFILES["realistic"].wrong_crc  # the rest comes from the profile
    assert cfg.params.peak_power_a == 6000.0 and isinstance(cfg.params.peak_power_a, float)
    assert cfg.params.battery_capacity == 12000.5
    assert cfg.values == {"battery.soc_target": 0.6, "inverter_sn": "ABC"}
    assert cfg.addresses == [0x1001, 0x1002] and cfg.plant == 2
    assert cfg.device_values == {0x1002: {"inverter_sn": "B"}}
    sim = Simulator(config=cfg, clock=Clock(NOON, frozen=True))
    assert sim.seed == 7 and sim.shared_bus is False and sim.night_silent is True
    assert sim.addresses == [0x1001, 0x1002]
    assert sim.model.get("inverter_sn") == "ABC"
    assert sim.device(0x1002).get("inverter_sn") == "B"
    assert sim.model.params.peak_power_a == 6000.0
    assert cfg.max_clients == 8 and cfg.idle_timeout == 30.0
    assert sim.max_clients == 8 and sim.idle_timeout == 30.0
    assert Simulator(config=cfg, max_clients=3).max_clients == 3  # explicit arguments win


def test_plant_devices_count_and_defaults(tmp_path: Path) -> None:
    cfg = load_config(_write(tmp_path, "[plant]\ndevices = 3\n"))
    assert cfg.plant == 3 and cfg.addresses is None
    assert cfg.faults is None and cfg.seed is None and cfg.shared_bus is None and cfg.night_silent is False
    assert len(Simulator(config=cfg).devices) == 3
    only_rates = load_config(_write(tmp_path, "[fault_rates]\nwrong_crc = 0.5\n"))
    assert only_rates.faults is not None and only_rates.faults.wrong_crc == 0.5 and only_rates.faults.lost_answer == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("sede = 1\n", "unknown key(s) sede"),
        ("seed = 'one'\n", "seed must be an integer"),
        ("seed = true\n", "seed must be an integer"),
        ("shared_bus = 1\n", "shared_bus must be true or false"),
        ("night_silent = 'yes'\n", "night_silent must be true or false"),
        ("faults = 'nice'\n", "unknown fault profile 'nice'"),
        ("[fault_rates]\nlost = 0.1\n", "unknown fault rate(s): lost"),
        ("[fault_rates]\nlost_answer = 1.5\n", "must be a number in 0..1"),
        ("[fault_rates]\nlost_answer = -0.1\n", "must be a number in 0..1"),
        ("[fault_rates]\nlost_answer = 'often'\n", "must be a number in 0..1"),
        ("[fault_rates]\nlatency = [0.5, 0.1]\n", "greater than max"),
        ("[fault_rates]\nlatency = 0.1\n", "(min, max) seconds"),
        ("fault_rates = 3\n", "[fault_rates] must be a table"),
        ("[model]\npeak_power = 1\n", "unknown model parameter(s): peak_power"),
        ("[model]\npeak_power_a = 'big'\n", "peak_power_a must be a number"),
        ("[values]\n'battery.sock' = 0.5\n'nope' = 1\n", "unknown OID name(s): battery.sock, nope"),
        ("[plant]\ndevices = 0\n", "devices must be a positive integer"),
        ("[plant]\naddresses = [1, 1]\n", "distinct"),
        ("[plant]\naddresses = [-1]\n", "32-bit integers"),
        ("[plant]\nsize = 2\n", "unknown key(s) in [plant]: size"),
        ("[[plant.device]]\nvalues = {}\n", "needs an integer address"),
        ("[[plant.device]]\naddress = 1\nvalues = {'x.y' = 1}\n", "unknown OID name(s): x.y"),
        ("seed = \n", "not valid TOML"),
        ("max_clients = 0\n", "max_clients must be a positive integer"),
        ("max_clients = 2.5\n", "max_clients must be a positive integer"),
        ("idle_timeout = -1\n", "idle_timeout must be seconds >= 0"),
        ("idle_timeout = 'long'\n", "idle_timeout must be seconds >= 0"),
    ],
)
def test_config_errors_say_what_is_wrong(tmp_path: Path, text: str, message: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    assert message in str(exc.value)


def test_config_errors_at_simulator_creation(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "missing.toml")
    path = _write(tmp_path, "[plant]\ndevices = 2\n[[plant.device]]\naddress = 0x77\n")
    with pytest.raises(ConfigError, match="0x77 is not in the plant"):
        Simulator(config=path)
    bad_value = _write(tmp_path, "[values]\n'battery.soc' = 'full'\n")
    with pytest.raises(ConfigError, match=r"battery\.soc"):
        Simulator(config=bad_value)


def test_snapshot_formats(tmp_path: Path) -> None:
    agreed = tmp_path / "dump.json"
    agreed.write_text(
        json.dumps({"rctclient_snapshot": 1, "taken_at": "2024-06-01T12:00:00+00:00", "values": {"battery.soc": 0.5}})
    )
    assert load_snapshot(agreed) == {"battery.soc": 0.5}
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps({"inverter_sn": "X1", "battery.soc": 0.25}))
    assert load_snapshot(plain) == {"inverter_sn": "X1", "battery.soc": 0.25}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"battery.soc": 0.5, "nope.a": 1, "nope.b": 2}, "unknown OID name(s): nope.a, nope.b"),
        ({"rctclient_snapshot": 2, "values": {}}, "unsupported snapshot version 2"),
        ({"rctclient_snapshot": 1, "values": [1]}, "'values' must be an object"),
        ([1, 2], "expected a JSON object"),
        ({"battery.soc": [0.5]}, "values must be numbers, booleans or strings: battery.soc"),
    ],
)
def test_snapshot_errors(tmp_path: Path, content: object, message: str) -> None:
    path = tmp_path / "snap.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ConfigError) as exc:
        load_snapshot(path)
    assert message in str(exc.value)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ConfigError, match="not valid JSON"):
        load_snapshot(broken)


def test_snapshot_value_is_served_exactly(tmp_path: Path) -> None:
    path = tmp_path / "dump.json"
    values: dict[str, float | str] = {
        "battery.soc": 0.123456789,
        "inverter_sn": "REPLAY-1",
        "g_sync.p_ac_grid_sum_lp": -1234.5,
    }
    path.write_text(json.dumps({"rctclient_snapshot": 1, "taken_at": "2024-06-01T12:00:00+00:00", "values": values}))
    with (
        quiet(snapshot=path) as sim,
        Client(sim.port) as c,
    ):
        for name, value in values.items():
            info = REGISTRY.get_by_name(name)
            frame = c.read(name)
            assert frame.data == encode_value(info.response_data_type, value)  # the same bytes
            decoded = decode_value(info.response_data_type, frame.data)
            if isinstance(value, str):
                assert decoded == value
            else:
                assert isinstance(decoded, float) and abs(decoded - value) < 1e-3
        sim.call(lambda: sim.simulator.clock.advance(3600))
        assert c.read("battery.soc").data == encode_value(
            REGISTRY.get_by_name("battery.soc").response_data_type, 0.123456789
        )


def test_errors_are_rctclient_exceptions() -> None:
    # rctclient.exceptions promises that every error of the package is one
    from rctclient.exceptions import RctClientException
    from rctclient.simulator import ModelError

    assert issubclass(ConfigError, RctClientException) and issubclass(ConfigError, ValueError)
    assert issubclass(ModelError, RctClientException) and issubclass(ModelError, ValueError)

"""Where the device is when the command line does not say: RCTCLIENT_HOST/PORT, the config file, the first run."""

from __future__ import annotations

from pathlib import Path

import pytest

from rctclient.cli._common import EXIT_UNREACHABLE, EXIT_USAGE
from rctclient.cli._config import config_path
from rctclient.simulator import SimulatorThread

from ._helpers import run


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RCTCLIENT_* variables and an empty config directory of the test's own."""
    monkeypatch.delenv("RCTCLIENT_HOST", raising=False)
    monkeypatch.delenv("RCTCLIENT_PORT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    return tmp_path


def write_config(text: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_the_config_file_is_in_the_users_config_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path() == tmp_path / "rctclient" / "config.toml"
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/dir")  # invalid by the XDG spec: ignored
    assert config_path() == Path.home() / ".config" / "rctclient" / "config.toml"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    assert config_path() == Path.home() / ".config" / "rctclient" / "config.toml"


def test_first_run_says_where_it_looked_and_what_to_do(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Before: "cannot connect to localhost:8899: [Errno 111] Connection refused", nothing more.
    monkeypatch.setenv("RCTCLIENT_PORT", str(closed_port))  # nothing listens there (8899 may be taken)
    monkeypatch.setenv("RCTCLIENT_HOST", "")  # empty: not given
    r = run("status")
    assert r.code == EXIT_UNREACHABLE and r.out == "" and r.err.count("\n") == 1
    line = r.err.strip()
    assert line.startswith(f"Error: cannot connect to localhost:{closed_port}: connection refused; no host given")
    assert "--host" in line and "RCTCLIENT_HOST" in line and "config.toml" in line and "--simulate" in line
    assert "Errno" not in line
    # a host that was given: no advice about giving one
    r = run("status", "-h", "127.0.0.1")
    assert r.code == EXIT_UNREACHABLE and "no host given" not in r.err


def test_environment_variables(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with SimulatorThread(port=0, seed=2, faults="ideal") as sim:
        sim.model.set("battery.soc", 0.5, fixed=True)
        monkeypatch.setenv("RCTCLIENT_HOST", "127.0.0.1")
        monkeypatch.setenv("RCTCLIENT_PORT", str(sim.port))
        r = run("read-value", "-n", "battery.soc")
        assert r.code == 0 and r.out == "0.5\n", r
        # the command line wins over the environment
        r = run("read-value", "-n", "battery.soc", "-p", str(closed_port), "--timeout", "0.5")
        assert r.code == EXIT_UNREACHABLE
    monkeypatch.setenv("RCTCLIENT_PORT", "eighty")
    r = run("read-value", "-n", "battery.soc")
    assert r.code == EXIT_USAGE and r.err.strip() == "Error: RCTCLIENT_PORT: not a port number (1..65535): 'eighty'"


def test_config_file(closed_port: int, monkeypatch: pytest.MonkeyPatch) -> None:
    with SimulatorThread(port=0, seed=2, faults="ideal") as sim:
        sim.model.set("battery.soc", 0.25, fixed=True)
        write_config(f'host = "127.0.0.1"\nport = {sim.port}\ntimeout = 2.5\nretries = 1\n')
        r = run("read-value", "-n", "battery.soc")
        assert r.code == 0 and r.out == "0.25\n", r
        # the environment wins over the file
        monkeypatch.setenv("RCTCLIENT_PORT", str(closed_port))
        assert run("read-value", "-n", "battery.soc").code == EXIT_UNREACHABLE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('host = "x"\nprot = 1\n', "unknown key 'prot' (known: host, port, timeout, retries, address)"),
        ("port = 70000\n", "port must be a port number, 1..65535, not 70000"),
        ('host = "x\n', "not valid TOML"),
        ("address = 'plant'\n", "address must be a plant address such as 0x20000101, not 'plant'"),
    ],
)
def test_a_broken_config_file_is_one_line_naming_the_file_and_the_key(text: str, expected: str) -> None:
    write_config(text)
    r = run("read-value", "-n", "battery.soc")
    assert r.code == EXIT_USAGE and r.out == "" and r.err.count("\n") == 1, r
    assert r.err.startswith("Error: config file ") and "rctclient/config.toml" in r.err and expected in r.err


def test_a_broken_config_file_does_not_stop_commands_without_a_device() -> None:
    write_config("nonsense = [\n")
    assert run("registry", "show", "battery.soc").code == 0
    assert run("decode", "2b0104959930bf0d65").code == 0

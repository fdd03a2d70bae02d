"""``rctclient monitor`` as a user meets it: --print-config, --check-config, one-line errors, signals."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from rctclient.cli import cli
from rctclient.monitor.config import DEFAULT_CONFIG
from rctclient.simulator import DeviceModel


def test_print_config_loads_back(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["monitor", "--print-config"])
    assert result.exit_code == 0 and result.output == DEFAULT_CONFIG
    path = tmp_path / "monitor.toml"
    path.write_text(result.output, encoding="utf-8")
    check = CliRunner().invoke(cli, ["monitor", "--config", str(path), "--check-config"])
    assert check.exit_code == 0, check.output
    assert "fast (every 10 s, " in check.output and "battery.soc" in check.output
    assert "exporters: prometheus" in check.output


def test_config_errors_are_one_line_with_exit_code_4(tmp_path: Path) -> None:
    path = tmp_path / "monitor.toml"
    path.write_text('[[device]]\nhost = "x"\n[mqtt]\nrefresh = "often"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["monitor", "--config", str(path)])
    assert result.exit_code == 4
    assert result.output == "Error: config: mqtt.refresh: expected a number >= 1, got 'often'\n"
    for args, message in [
        ([], "give --config FILE, or --host"),
        (["--config", str(path), "--host", "x"], "cannot be combined"),
        (["--host", "x", "--prometheus", "nowhere"], "--prometheus: expected host:port"),
        (["--host", "x", "--mqtt", "http://x"], "--mqtt: expected mqtt://"),
        (["--host", "x", "--influx", "http://x?database=y"], "--influx: unknown parameter"),
    ]:
        result = CliRunner().invoke(cli, ["monitor", *args])
        assert result.exit_code == 4, (args, result.output)
        assert message in result.output and result.output.count("\n") == 1


def test_an_address_in_use_is_one_line() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "rctclient", "monitor", "--simulate", "--prometheus", f"127.0.0.1:{port}"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    assert proc.returncode == 1
    assert f"Error: prometheus: cannot listen on 127.0.0.1:{port}" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_sigterm_and_sigint_exit_0_quickly() -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        with subprocess.Popen(
            [sys.executable, "-m", "rctclient", "monitor", "--simulate", "--log-format", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            try:
                assert proc.stdout is not None and proc.stderr is not None
                first = json.loads(proc.stdout.readline())  # JSON lines on stdout when no exporter is named
                assert first["inverter"] == DeviceModel().get("inverter_sn")
                os.kill(proc.pid, sig)  # at once: while a poll is in flight
                # The exit is bounded by the daemon's own shutdown timer (SHUTDOWN_TIMEOUT, 3.5 s, within
                # the 5 s promised); the wait here only guards against a hang, it measures nothing.
                assert proc.wait(30) == 0
                logs = [json.loads(line) for line in proc.stderr.read().splitlines()]
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert {"time", "level", "logger", "message"} <= set(logs[0])
        assert logs[-1]["message"] == "stopped"
        assert not any("did not finish" in entry["message"] for entry in logs)  # shut down within its bound

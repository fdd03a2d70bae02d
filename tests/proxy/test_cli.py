"""``rctclient proxy``: one-line errors, the exposure warning, and a real run stopped by SIGTERM."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from rctclient.cli import cli
from rctclient.cli.commands import proxy as proxy_command
from rctclient.cli.commands.proxy import is_loopback, parse_address

from ._helpers import RawClient
from ._playbook import req


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["proxy", *args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        ((), 2, "give the inverter's --host, or --simulate"),
        (("--host", "inverter", "--simulate"), 2, "not both"),
        (("--host", "inverter", "--writes", "maybe"), 2, "--writes: expected forward, deny or allow"),
        (("--host", "inverter", "--writes", "allow:battery.sox"), 3, "did you mean battery.soc"),
        (("--host", "inverter", "--listen", "localhost:http"), 2, "'http' is not a TCP port"),
        (("--host", "inverter", "--listen", "[::1"), 2, "cannot read the address"),
        (("--host", "127.0.0.1", "--listen", "localhost:8899"), 2, "would connect to itself"),
        (("--host", "inverter", "--request-timeout", "0"), 2, "0.05<=x<=60"),
    ],
)
def test_bad_command_lines_are_one_line_errors(args: tuple[str, ...], code: int, message: str) -> None:
    exit_code, err = invoke(*args)
    assert exit_code == code
    assert message in err
    lines = err.strip().splitlines()
    assert lines[-1].startswith("Error: ")
    assert len(lines) == 1 or lines[0].startswith("Usage: ")  # click's own errors come with the usage line
    assert "Traceback" not in err


def test_a_busy_port_is_one_line() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = invoke("--simulate", "--listen", f"127.0.0.1:{port}")
    assert code == 1
    assert err.strip() == f"Error: cannot listen on 127.0.0.1:{port}: {os.strerror(errno.EADDRINUSE)}"


def test_metrics_without_prometheus_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "prometheus_client", None)
    code, err = invoke("--simulate", "--listen", "0", "--metrics", "0")
    assert (code, err.strip()) == (1, "Error: --metrics needs prometheus_client: pip install 'rctclient[proxy]'")


def test_one_warning_line_for_addresses_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, Any] = {}

    def fake_serve(*args: Any) -> dict[str, int]:
        seen["args"] = args
        return dict.fromkeys(("reads", "cache_hits", "coalesced", "writes", "upstream_requests", "timeouts"), 0)

    monkeypatch.setattr(proxy_command, "_serve", fake_serve)
    code, err = invoke("--host", "inverter", "--listen", "0.0.0.0:8899", "--listen", "[::]:8899", "--listen", "9000")
    assert code == 0
    warnings = [line for line in err.splitlines() if line.startswith("warning:")]
    assert warnings == [
        "warning: listening on 0.0.0.0:8899, [::]:8899: the protocol has no authentication, anyone who reaches it "
        "can read and change the inverter's settings"
    ]
    assert seen["args"][2] == [("0.0.0.0", 8899), ("::", 8899), ("127.0.0.1", 9000)]
    code, err = invoke("--host", "inverter", "--listen", "127.0.0.2")
    assert "warning" not in err


def test_parse_address() -> None:
    assert parse_address("8899", "x") == ("127.0.0.1", 8899)
    assert parse_address("192.168.0.5", "x") == ("192.168.0.5", 8899)
    assert parse_address("192.168.0.5:9000", "x") == ("192.168.0.5", 9000)
    assert parse_address("[fd00::5]:9000", "x") == ("fd00::5", 9000)
    assert parse_address("fd00::5", "x") == ("fd00::5", 8899)
    assert is_loopback("localhost") and is_loopback("::1") and is_loopback("127.1.2.3")
    assert not is_loopback("0.0.0.0") and not is_loopback("inverter.local")


@pytest.fixture
def running() -> Iterator[tuple[subprocess.Popen[str], int]]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rctclient", "proxy", "--simulate", "--listen", "127.0.0.1:0", "-v"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "listening on 127.0.0.1:" in line, line
        port = int(line.split("listening on 127.0.0.1:")[1].split(";")[0])
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_a_real_run_logs_each_request_and_stops_on_sigterm(running: tuple[subprocess.Popen[str], int]) -> None:
    proc, port = running
    with RawClient(port) as app:
        app.send(req("battery.soc") + req("battery.soc"))
        assert len(app.frames(2)) == 2
    time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0
    assert "> READ battery.soc: to the inverter" in err
    assert "> READ battery.soc: joins a waiting request" in err or "from the cache" in err
    assert "< RESPONSE battery.soc" in err
    assert err.strip().splitlines()[-1].startswith("stopped: 2 reads, 1 of them from the cache or joined to another;")

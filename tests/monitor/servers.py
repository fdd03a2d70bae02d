"""Real servers for the integration tests: mosquitto, Prometheus (and promtool) and InfluxDB 1.x.

Each runs from its Debian package's binary on a free loopback port, with its config and data in a
temporary directory; it is stopped by its PID. The packages' own services are never used (they are
not started here; the tests talk only to the ports they picked). A missing binary skips the test,
naming the package to install.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

__all__ = ["Server", "free_port", "need", "wait_for"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def need(binary: str, package: str) -> str:
    path = shutil.which(binary) or (f"/usr/sbin/{binary}" if os.path.exists(f"/usr/sbin/{binary}") else None)
    if path is None:
        pytest.skip(f"{binary} is not installed (Debian package {package}; .ci/run installs it in CI)")
    return path


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def http_ok(url: str, statuses: tuple[int, ...] = (200, 204)) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:
            return int(response.status) in statuses
    except urllib.error.HTTPError as exc:
        return exc.code in statuses
    except OSError:
        return False


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Server:
    """A child process with a log file, stopped (and restarted) by PID."""

    def __init__(self, name: str, argv: list[str], directory: Path, ready: Callable[[], bool]) -> None:
        self.name = name
        self.argv = argv
        self.directory = directory
        self.ready = ready
        self.log = directory / f"{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> Server:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.directory)
        try:
            wait_for(lambda: self._alive() and self.ready(), timeout, f"{self.name} to be ready")
        except AssertionError:
            self.stop()
            raise AssertionError(f"{self.name} did not start: {self.log.read_text(errors='replace')[-2000:]}") from None
        return self

    def _alive(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise AssertionError(f"{self.name} exited: {self.log.read_text(errors='replace')[-2000:]}")
        return True

    def stop(self, sig: int = signal.SIGTERM) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, sig)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(5)


def mosquitto(directory: Path, port: int | None = None) -> Server:
    binary = need("mosquitto", "mosquitto")
    port = port or free_port()
    conf = directory / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n", encoding="utf-8")
    server = Server("mosquitto", [binary, "-c", str(conf)], directory, lambda: port_open(port))
    server.port = port  # type: ignore[attr-defined]  # read by the tests
    return server


def prometheus(directory: Path, target: str) -> tuple[Server, int]:
    binary = need("prometheus", "prometheus")
    port = free_port()
    conf = directory / "prometheus.yml"
    conf.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        f"scrape_configs:\n  - job_name: monitor\n    static_configs:\n      - targets: ['{target}']\n",
        encoding="utf-8",
    )
    argv = [
        binary,
        f"--config.file={conf}",
        f"--storage.tsdb.path={directory / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return Server("prometheus", argv, directory, lambda: http_ok(f"http://127.0.0.1:{port}/-/ready")), port


def influxd(directory: Path) -> tuple[Server, int]:
    binary = need("influxd", "influxdb")
    port, rpc = free_port(), free_port()
    conf = directory / "influxdb.conf"
    conf.write_text(
        f'reporting-disabled = true\nbind-address = "127.0.0.1:{rpc}"\n'
        f'[meta]\n  dir = "{directory / "meta"}"\n'
        f'[data]\n  dir = "{directory / "data"}"\n  wal-dir = "{directory / "wal"}"\n'
        "  query-log-enabled = false\n"
        f'[http]\n  bind-address = "127.0.0.1:{port}"\n  log-enabled = false\n'
        "[monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n",
        encoding="utf-8",
    )
    server = Server(
        "influxd", [binary, "-config", str(conf)], directory, lambda: http_ok(f"http://127.0.0.1:{port}/ping")
    )
    return server, port

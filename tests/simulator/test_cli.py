"""``rctclient simulator`` as a real process: port 0, verbose lines, clean stop, bad config, help."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .client import Client

CMD = [sys.executable, "-m", "rctclient", "simulator"]


class Running:
    """The simulator process; its stderr is read line by line in a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [*CMD, "-p", "0", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()
        line = self.wait_for(r" on \S+:(\d+)")
        match = re.search(r" on \S+:(\d+)", line)
        assert match
        self.port = int(match.group(1))
        assert self.port != 0

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 10.0) -> str:
        deadline = time.monotonic() + timeout
        for line in self.seen:
            if re.search(pattern, line):
                return line
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no line matching {pattern!r} in {self.seen}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(line)
            if re.search(pattern, line):
                return line

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(10)
        finally:
            self.kill()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def running() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for r in started:
        r.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_port_0_verbose_lines_and_clean_stop(running: list[Running], sig: int) -> None:
    sim = Running("-v", "--seed", "3", "--no-portal")
    running.append(sim)
    with Client(sim.port) as c:
        answer = c.read("battery.soc")
        assert answer.data
        local = c.sock.getsockname()
    peer = f"{local[0]}:{local[1]}"
    request = sim.wait_for(r">.*battery\.soc")
    assert re.match(r"\d\d:\d\d:\d\d\.\d{3} ", request)  # the time first
    assert peer in request and "READ" in request
    reply = sim.wait_for(r"<.*RESPONSE.*battery\.soc")
    assert re.search(r"battery\.soc \S*\d", reply)  # with its value
    assert sim.stop(sig) == 0
    summary = sim.wait_for(r"^stopped: ")
    assert "1 requests, 1 answers, faults: none" in summary


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_event_loops(running: list[Running], loop: str) -> None:
    if loop == "uvloop":
        pytest.importorskip("uvloop", reason="the 'fast' extra is not installed")
    sim = Running("--loop", loop)
    running.append(sim)
    with Client(sim.port) as c:
        assert c.read("battery.soc").data
    assert sim.stop() == 0
    assert "1 requests, 1 answers" in sim.wait_for(r"^stopped: ")


def test_uvloop_missing_is_one_line(tmp_path: Path) -> None:
    # a Python that cannot import uvloop: a clear error, not a traceback
    blocker = tmp_path / "uvloop.py"
    blocker.write_text("raise ImportError('blocked for the test')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [*CMD, "-p", "0", "--loop", "uvloop"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60, check=False)
    assert out.returncode != 0
    assert out.stderr.strip() == "Error: --loop uvloop needs uvloop: pip install 'rctclient[fast]'"


def test_bad_config_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[values]\n'battery.sock' = 1\n")
    result = subprocess.run(
        [*CMD, "-p", "0", "--config", str(path)], check=False, capture_output=True, text=True, timeout=30
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "battery.sock" in lines[0] and "Traceback" not in result.stderr


def test_help_says_why_it_binds_localhost() -> None:
    result = subprocess.run([*CMD, "--help"], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    assert "localhost" in text
    assert "no authentication or encryption" in text


def test_an_empty_host_is_refused_and_every_interface_is_warned_about(running: list[Running]) -> None:
    result = subprocess.run([*CMD, "-p", "0", "-h", ""], check=False, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [
        "Error: --host: the address to listen on is empty: give 0.0.0.0 or :: to listen on every interface"
    ]
    sim = Running("-h", "0.0.0.0")
    running.append(sim)
    warning = sim.wait_for("^warning: ")
    assert "0.0.0.0" in warning and "no authentication" in warning
    quiet = Running("-h", "127.0.0.1")
    running.append(quiet)
    quiet.stop()
    assert not any(line.startswith("warning") for line in quiet.seen)


def test_max_clients_and_idle_timeout_options(running: list[Running]) -> None:
    sim = Running("--max-clients", "1", "--idle-timeout", "0.2")
    running.append(sim)
    with Client(sim.port) as first:
        assert first.read("battery.soc").data
        with socket.create_connection(("127.0.0.1", sim.port), timeout=10) as second:
            assert second.recv(10) == b""  # refused: one client at most
        sim.wait_for("1 connections open \\(the limit\\): refusing new ones")
        first.sock.settimeout(10)
        assert first.sock.recv(10) == b""  # closed once it sent nothing for 0.2 s
    assert sim.stop() == 0

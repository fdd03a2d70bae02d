"""Child processes of the benchmarks: start one and wait until it listens, its CPU time, stopping it.

Shared by the benchmark scripts (each runs as ``python bench/<name>.py``, so this folder is on
``sys.path``). CPU time is read from ``/proc`` so that a child's own work is measured, not ours.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of a running process."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()  # (after the command name, which may hold spaces)
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def free_port() -> int:
    """A loopback port free now (for a child to listen on)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_listening(cmd: Sequence[str], port: int, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    """Start ``cmd`` and return once it accepts connections on ``port`` (exit with a message after 15 s)."""
    proc = subprocess.Popen(list(cmd), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=dict(env))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    proc.wait()
    raise SystemExit(f"did not start: {' '.join(cmd)}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """Terminate, and kill what does not end within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)

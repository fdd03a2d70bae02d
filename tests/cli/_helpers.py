"""Running the CLI in-process and pointing it at a simulator."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from rctclient.cli import cli
from rctclient.client import Client
from rctclient.exceptions import RctClientException, RctTimeout
from rctclient.protocol import ReadManyResult
from rctclient.simulator import SimulatorThread


class Run:
    """The result of one CLI invocation."""

    def __init__(self, code: int, out: str, err: str) -> None:
        self.code = code
        self.out = out
        self.err = err

    def __repr__(self) -> str:
        return f"<Run code={self.code} out={self.out[:200]!r} err={self.err[:300]!r}>"


def run(*args: str, stdin: str | None = None) -> Run:
    result = CliRunner().invoke(cli, list(args), input=stdin, prog_name="rctclient")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return Run(result.exit_code, result.stdout, result.stderr)


def at(sim: SimulatorThread, timeout: float = 2.0, retries: int = 1) -> list[str]:
    """The device options that point a command at ``sim``."""
    return ["-h", "127.0.0.1", "-p", str(sim.port), "--timeout", str(timeout), "--retries", str(retries)]


@contextlib.contextmanager
def unanswered(names: list[str]) -> Iterator[None]:
    """The device answers every value but ``names`` (their requests time out after one attempt)."""
    real = Client.read_many

    def read_many(self: Client, oids: Any, **kwargs: Any) -> ReadManyResult:
        result = real(self, oids, **kwargs)
        values = {k: v for k, v in result.values.items() if k not in names}
        errors: dict[str, RctClientException] = {**result.errors}
        errors.update({k: RctTimeout(f"no answer for {k}", name=k, attempts=1) for k in result.values if k in names})
        return ReadManyResult(values, errors)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Client, "read_many", read_many)
        yield


def interrupt(args: list[str], ready: Callable[[str], bool], settle: float = 0.0) -> tuple[int, str, str]:
    """Run ``rctclient ARGS`` in a real process, send it SIGINT (Ctrl-C) once what it printed on stdout is
    ``ready`` (and ``settle`` seconds more); returns the exit code, that stdout and the whole stderr."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "rctclient", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60  # a safety net against a hang, not a measurement
        seen = ""
        while not ready(seen) and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        time.sleep(settle)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    return proc.returncode, seen, err

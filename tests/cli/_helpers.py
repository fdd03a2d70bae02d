"""Running the CLI in-process and pointing it at a simulator."""

from __future__ import annotations

from click.testing import CliRunner

from rctclient.cli import cli
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

"""What the device commands share: the connection options, the embedded simulator, error mapping, files, times.

Every device command takes ``-h/--host``, ``-p/--port``, ``--timeout``, ``--retries`` and
``--simulate`` through :func:`device_options`, which hands the command one :class:`DeviceSpec`.
:func:`open_client` connects a blocking :class:`~rctclient.client.Client` (to an embedded
simulator with ``--simulate``) and turns the library's exceptions into one line on stderr and a
distinct exit code (:func:`exit_code_for`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import (
    EXIT_BAD_INPUT,
    EXIT_DEVICE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_NOT_VERIFIED,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    CliError,
)

# Re-exported for older imports; their home is _parse (text typed by people).
from ._parse import LocalZone, parse_time, parse_tz

if TYPE_CHECKING:
    from ..client import Client

__all__ = [
    "SIMULATOR_SEED",
    "DeviceSpec",
    "LocalZone",
    "check_output",
    "device_options",
    "exit_code_for",
    "open_client",
    "parse_time",
    "parse_tz",
    "progress",
    "write_output",
]

log = logging.getLogger("rctclient.cli")

#: The seed of the simulator behind ``--simulate`` (fixed, so that runs are comparable).
SIMULATOR_SEED = 1

F = TypeVar("F", bound=Callable[..., Any])

#: Loggers that would add a second line to a one-line error unless --debug is given.
_NOISY_LOGGERS = ("rctclient.client", "rctclient.aio", "rctclient.simulator")


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """Where and how to reach the device, from the shared options."""

    host: str
    port: int
    timeout: float
    retries: int
    simulate: bool
    debug: bool = False

    @property
    def label(self) -> str:
        return "simulator" if self.simulate else f"{self.host}:{self.port}"


def device_options(func: F) -> F:
    """Add the connection options to a command; it receives them as one ``device: DeviceSpec`` argument."""

    @functools.wraps(func)
    def wrapper(*args: Any, host: str, port: int, timeout: float, retries: int, simulate: bool, **kwargs: Any) -> Any:
        ctx = click.get_current_context(silent=True)
        debug = bool(ctx is not None and isinstance(ctx.obj, dict) and ctx.obj.get("debug"))
        spec = DeviceSpec(host, port, timeout, retries, simulate, debug)
        return func(*args, device=spec, **kwargs)

    options = [
        click.option(
            "-h",
            "--host",
            default="localhost",
            show_default=True,
            help="Host name or IP address of the inverter.",
        ),
        click.option("-p", "--port", default=8899, show_default=True, type=click.IntRange(1, 65535), help="TCP port."),
        click.option(
            "--timeout",
            default=3.0,
            show_default=True,
            type=click.FloatRange(0.05, 600),
            help="Seconds to wait for each value (all its attempts) and for the connection.",
        ),
        click.option(
            "--retries",
            default=3,
            show_default=True,
            type=click.IntRange(0, 20),
            help="How often a request is sent again when the answer is lost or cut short.",
        ),
        click.option(
            "--simulate",
            is_flag=True,
            help="Talk to an embedded simulated inverter on 127.0.0.1 instead of a device (no device needed). "
            "Note that the protocol has no authentication or encryption: anyone on the network can read and "
            "change a real device's settings.",
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def exit_code_for(exc: BaseException) -> int:
    """The exit code of a library exception (whose fault, what kind of failure)."""
    from ..exceptions import (  # noqa: PLC0415
        PayloadDecodeError,
        RctConnectionError,
        RctTimeout,
        RegistryKeyError,
        UnsafeWrite,
        WriteNotVerified,
        WriteRefused,
    )

    if isinstance(exc, RctConnectionError):
        return EXIT_UNREACHABLE
    if isinstance(exc, RctTimeout):
        # answers came, but none had a payload that fits the data type: the device answered wrongly
        return EXIT_DEVICE if exc.truncated else EXIT_TIMEOUT
    if isinstance(exc, PayloadDecodeError | WriteRefused):
        return EXIT_DEVICE
    if isinstance(exc, RegistryKeyError):
        return EXIT_NOT_FOUND
    if isinstance(exc, UnsafeWrite):  # WriteOutOfBounds too
        return EXIT_BAD_INPUT
    if isinstance(exc, WriteNotVerified):
        return EXIT_NOT_VERIFIED
    return EXIT_ERROR


def worst_exit_code(errors: Any) -> int:
    """One exit code for several failed values: unreachable before timeout before anything else."""
    codes = {exit_code_for(exc) for exc in errors}
    for code in (EXIT_UNREACHABLE, EXIT_TIMEOUT, EXIT_DEVICE, EXIT_NOT_FOUND):
        if code in codes:
            return code
    return min(codes, default=EXIT_ERROR)


@contextlib.contextmanager
def _quiet_logs(debug: bool) -> Iterator[None]:
    """Keep the clients' and the simulator's warnings out of a one-line error (they show with --debug)."""
    if debug:
        yield
        return
    saved = [(logging.getLogger(name), logging.getLogger(name).level) for name in _NOISY_LOGGERS]
    for logger, _ in saved:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in saved:
            logger.setLevel(level)


@contextlib.contextmanager
def cli_errors(spec: DeviceSpec | None = None) -> Iterator[None]:
    """Turn the library's exceptions raised inside into a :class:`CliError` (one line, a distinct exit code)."""
    from ..exceptions import RctClientException  # noqa: PLC0415

    try:
        yield
    except RctClientException as exc:
        log.debug("failed", exc_info=True)
        from ..exceptions import RctConnectionError  # noqa: PLC0415

        message = str(exc)
        if (
            spec is not None
            and not isinstance(exc, RctConnectionError)
            and exit_code_for(exc)
            in (
                EXIT_TIMEOUT,
                EXIT_DEVICE,
            )
        ):
            message = f"{spec.label}: {message}"
        raise CliError(message, exit_code_for(exc)) from None


@contextlib.contextmanager
def open_client(spec: DeviceSpec) -> Iterator[Client]:
    """A connected :class:`Client` for the command (and the simulator behind it with ``--simulate``)."""
    from ..client import Client  # noqa: PLC0415

    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_logs(spec.debug))
        stack.enter_context(cli_errors(spec))
        host, port = spec.host, spec.port
        if spec.simulate:
            from ..simulator import SimulatorThread  # noqa: PLC0415

            sim = stack.enter_context(SimulatorThread(host="127.0.0.1", port=0, seed=SIMULATOR_SEED, faults="ideal"))
            host, port = sim.host, sim.port
            log.debug("simulated inverter on %s:%d (seed %d)", host, port, SIMULATOR_SEED)
        client = Client(host, port, timeout=spec.timeout, retries=spec.retries, connect_timeout=spec.timeout)
        if spec.debug:
            stack.callback(lambda: log.debug("client counters: %s", client.stats.as_dict()))
        try:
            yield stack.enter_context(client)
        except KeyboardInterrupt:  # Ctrl-C while talking to the device (click would exit 1, "Aborted!")
            raise CliError("interrupted", EXIT_INTERRUPTED) from None


@contextlib.contextmanager
def progress(length: int, label: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on stderr when it is a terminal (else nothing); yields the function that advances it."""
    if not sys.stderr.isatty() or length <= 0:
        yield lambda steps: None
        return
    with click.progressbar(length=length, label=label, file=sys.stderr) as bar:
        yield bar.update


# -- output files -----------------------------------------------------------------------------------


def check_output(path: str | None) -> None:
    """Fail now, before any I/O with the device, if ``path`` cannot be written (a missing or read-only directory).

    A temporary file is made and removed in its directory, which is what :func:`write_output` needs.
    """
    if path is None or path == "-":
        return
    if os.path.isdir(path):
        raise CliError(f"cannot write {path}: it is a directory", EXIT_BAD_INPUT)
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    os.close(fd)
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    if os.path.exists(path) and not os.access(path, os.W_OK):
        raise CliError(f"cannot write {path}: permission denied", EXIT_BAD_INPUT)


def write_output(path: str | None, text: str) -> None:
    """Write ``text`` to stdout (``path`` None or ``-``) or atomically to a file (temp file + rename)."""
    if path is None or path == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    directory = os.path.dirname(os.path.abspath(path))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_ERROR) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise CliError(f"cannot write {path}: {exc.strerror or exc}", EXIT_ERROR) from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

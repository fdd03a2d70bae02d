"""What the device commands share: the connection options, the embedded simulator, error mapping, files, times.

Every device command takes ``-h/--host``, ``-p/--port``, ``--address``, ``--timeout``,
``--retries`` and ``--simulate`` through :func:`device_options`, which hands the command one
:class:`DeviceSpec` (settings not given come from the environment, the config file or the
defaults: :mod:`._config`). :func:`open_client` connects a blocking
:class:`~rctclient.client.Client` (to an embedded simulator with ``--simulate``) and turns the
library's exceptions into one line on stderr and a distinct exit code (:func:`exit_code_for`).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    EXIT_USAGE,
    CliError,
    people_text,
)
from ._format import plural

# Re-exported for older imports; their home is _parse (text typed by people).
from ._parse import LocalZone, parse_time, parse_tz

if TYPE_CHECKING:
    from ..client import Client
    from ..protocol import Stats

__all__ = [
    "SIMULATOR_SEED",
    "DeviceSpec",
    "LocalZone",
    "check_output",
    "cli_errors",
    "describe_error",
    "device_options",
    "exit_code_for",
    "failed_values",
    "listed",
    "open_client",
    "parse_time",
    "parse_tz",
    "progress",
    "sent_summary",
    "worst_exit_code",
    "write_output",
]

log = logging.getLogger("rctclient.cli")

#: The seed of the simulator behind ``--simulate`` (fixed, so that runs are comparable).
SIMULATOR_SEED = 1
#: Names of failed values listed in a one-line error before "and N more".
NAMES_SHOWN = 5

F = TypeVar("F", bound=Callable[..., Any])

#: Loggers that would add a second line to a one-line error unless --debug is given.
_NOISY_LOGGERS = ("rctclient.client", "rctclient.aio", "rctclient.simulator")
#: The option of each device setting (where a setting given on the command line came from).
_FLAGS = {"host": "--host", "port": "--port", "timeout": "--timeout", "retries": "--retries", "address": "--address"}


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """Where and how to reach the device, from the shared options (and the environment and config file)."""

    host: str
    port: int
    timeout: float
    retries: int
    simulate: bool
    debug: bool = False
    #: The plant address of the device (PLANT_ commands), None for a single device.
    address: int | None = None
    #: Where the host came from: ``--host``, ``RCTCLIENT_HOST``, the config file, or ``default``.
    host_source: str = "--host"

    @property
    def label(self) -> str:
        where = "simulator" if self.simulate else f"{self.host}:{self.port}"
        return where if self.address is None else f"{where} address 0x{self.address:08X}"


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> int | None:
    """A plant address: 0x20000101 or decimal, 32 bits."""
    if value is None:
        return None
    try:
        number = int(value.strip(), 0)
    except ValueError:
        raise click.BadParameter(f"not an address: {value!r} (hex such as 0x20000101, or decimal)") from None
    if not 0 <= number <= 0xFFFFFFFF:
        raise click.BadParameter(f"{value!r} does not fit 32 bits")
    return number


def _debugging() -> bool:
    ctx = click.get_current_context(silent=True)
    root = ctx.find_root() if ctx is not None else None
    return bool(root is not None and isinstance(root.obj, dict) and root.obj.get("debug"))


def device_options(func: F) -> F:
    """Add the connection options to a command; it receives them as one ``device: DeviceSpec`` argument."""
    from ._config import ENV_HOST, ENV_PORT, resolve  # noqa: PLC0415

    @functools.wraps(func)
    def wrapper(
        *args: Any,
        host: str | None,
        port: int | None,
        timeout: float | None,
        retries: int | None,
        address: int | None,
        simulate: bool,
        **kwargs: Any,
    ) -> Any:
        given = {"host": host, "port": port, "timeout": timeout, "retries": retries, "address": address}
        if simulate:
            if host is not None or port is not None:
                flag = "--host" if host is not None else "--port"
                raise CliError(
                    f"{flag} does not go with --simulate: the built-in simulator listens on 127.0.0.1,"
                    " on a port the system picks (for a simulator of your own: rctclient simulator -p PORT)",
                    EXIT_USAGE,
                )
            given.update(host="127.0.0.1", port=0)
        settings = resolve(given, _FLAGS)
        spec = DeviceSpec(
            host=settings["host"].value,
            port=settings["port"].value,
            timeout=settings["timeout"].value,
            retries=settings["retries"].value,
            simulate=simulate,
            debug=_debugging(),
            address=settings["address"].value,
            host_source=settings["host"].source,
        )
        return func(*args, device=spec, **kwargs)

    options = [
        click.option(
            "-h",
            "--host",
            metavar="HOST",
            help=f"Host name or IP address of the inverter (-h, as in the original tool; --help is the help)."
            f"  [default: ${ENV_HOST}, the config file, or localhost]",
        ),
        click.option(
            "-p",
            "--port",
            type=click.IntRange(1, 65535),
            help=f"TCP port.  [default: ${ENV_PORT}, the config file, or 8899]",
        ),
        click.option(
            "--address",
            callback=_address,
            metavar="ADDRESS",
            help="Plant address of the device (0x20000101) for a plant of several inverters: requests go as"
            " PLANT_ commands and only that device's answers count.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(0.05, 600),
            help="Seconds to wait for each value (all its attempts) and for the connection.  [default: 3]",
        ),
        click.option(
            "--retries",
            type=click.IntRange(0, 20),
            help="How often a request is sent again when the answer is lost or cut short.  [default: 3]",
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


def worst_exit_code(errors: Iterable[BaseException]) -> int:
    """One exit code for several failed values: unreachable before timeout before anything else."""
    codes = {exit_code_for(exc) for exc in errors}
    for code in (EXIT_UNREACHABLE, EXIT_TIMEOUT, EXIT_DEVICE, EXIT_NOT_FOUND):
        if code in codes:
            return code
    return min(codes, default=EXIT_ERROR)


# -- messages ---------------------------------------------------------------------------------------


def _first_run_hint(spec: DeviceSpec) -> str:
    """What to do when the default host did not answer: the user has not said where the device is."""
    if spec.simulate or spec.host_source != "default":
        return ""
    from ._config import ENV_HOST, config_path, display_path  # noqa: PLC0415

    return f"; no host given: use --host, {ENV_HOST} or {display_path(config_path())}, or try --simulate"


def listed(names: Iterable[str]) -> str:
    """The first few names, and how many more (``a, b, c, d, e and 12 more``)."""
    names = list(names)
    more = len(names) - NAMES_SHOWN
    return ", ".join(names[:NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def sent_summary(stats: Stats | None) -> str:
    """`` (21 requests sent, nothing came back)``: the work done, for a one-line error."""
    if stats is None:
        return ""
    received = "nothing came back" if not stats.responses else f"{plural(stats.responses, 'answer')} came back"
    return f" ({plural(stats.frames_sent, 'request')} sent, {received})"


def _message(exc: BaseException, spec: DeviceSpec | None, stats: Stats | None = None) -> str:
    """A one-line message for a library exception: what failed, where, and the work done."""
    from ..exceptions import RctConnectionError, RctTimeout  # noqa: PLC0415

    label = spec.label if spec is not None else "the device"
    if isinstance(exc, RctConnectionError):
        cause = exc.__cause__
        if isinstance(cause, OSError) and (cause.strerror or isinstance(cause, TimeoutError)):
            # "[Errno 111] Connection refused" -> "connection refused"
            reason = (cause.strerror or "timed out").lower()
            message = f"cannot connect to {exc.host}:{exc.port}: {reason}"
        else:
            message = str(exc)
        return message + (_first_run_hint(spec) if spec is not None else "")
    if isinstance(exc, RctTimeout):
        what = exc.name or "the value"
        if exc.truncated:
            return f"{label}: every answer for {what} was cut short ({plural(exc.truncated, 'answer')})"
        if not exc.attempts:
            return f"{label}: no answer for {what}: {exc}"
        within = f" within {spec.timeout:g} s" if spec is not None else ""
        sent = "sent once" if exc.attempts == 1 else f"sent {exc.attempts} times"
        return f"{label} did not answer {what}{within} ({sent})"
    text = str(exc)
    if spec is not None and exit_code_for(exc) == EXIT_DEVICE:
        return f"{label}: {text}"
    return text


def describe_error(exc: BaseException, spec: DeviceSpec | None = None) -> str:
    """The one-line message of a library exception for people (what failed, where)."""
    return people_text(_message(exc, spec))


def failed_values(
    errors: Mapping[str, BaseException], total: int, spec: DeviceSpec, stats: Stats | None = None
) -> CliError:
    """One line for the values that could not be read: how many, why, and which (the first few)."""
    from ..exceptions import RctConnectionError, RctTimeout  # noqa: PLC0415

    code = worst_exit_code(errors.values())
    if len(errors) == total and stats is not None and not stats.responses:
        first = next(iter(errors.values()))
        if isinstance(first, RctConnectionError):
            return CliError(_message(first, spec), code)
        return CliError(f"{spec.label} did not answer within {spec.timeout:g} s{sent_summary(stats)}", code)
    if len(errors) == 1:
        return CliError(_message(next(iter(errors.values())), spec), code)
    reasons = set()
    for exc in errors.values():
        if isinstance(exc, RctConnectionError):
            reasons.add("connection lost")
        elif isinstance(exc, RctTimeout):
            reasons.add("answers cut short" if exc.truncated else f"no answer within {spec.timeout:g} s")
        else:
            reasons.add(type(exc).__name__)
    return CliError(
        f"{len(errors)} of {plural(total, 'value')} could not be read from {spec.label}"
        f" ({', '.join(sorted(reasons))}): {listed(errors)}",
        code,
    )


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
def cli_errors(spec: DeviceSpec | None = None, stats: Callable[[], Stats | None] | None = None) -> Iterator[None]:
    """Turn the library's exceptions raised inside into a :class:`CliError` (one line, a distinct exit code)."""
    from ..exceptions import RctClientException  # noqa: PLC0415

    try:
        yield
    except RctClientException as exc:
        log.debug("failed", exc_info=True)
        raise CliError(_message(exc, spec, stats() if stats else None), exit_code_for(exc)) from None


@contextlib.contextmanager
def open_client(spec: DeviceSpec) -> Iterator[Client]:
    """A connected :class:`Client` for the command (and the simulator behind it with ``--simulate``)."""
    from ..client import Client  # noqa: PLC0415

    with contextlib.ExitStack() as stack:
        stack.enter_context(_quiet_logs(spec.debug))
        stack.enter_context(cli_errors(spec))
        host, port = spec.host, spec.port
        if spec.simulate:
            from ..simulator import SimulatorConfig, SimulatorThread  # noqa: PLC0415

            # a plant address asked for: the simulated device answers to it
            config = SimulatorConfig(addresses=[spec.address]) if spec.address is not None else None
            sim = stack.enter_context(
                SimulatorThread(host="127.0.0.1", port=0, seed=SIMULATOR_SEED, faults="ideal", config=config)
            )
            host, port = sim.host, sim.port
            log.debug("simulated inverter on %s:%d (seed %d)", host, port, SIMULATOR_SEED)
        trace = None
        if spec.debug:
            from ._trace import PacketTrace  # noqa: PLC0415

            trace = PacketTrace()
        client = Client(
            host,
            port,
            timeout=spec.timeout,
            retries=spec.retries,
            connect_timeout=spec.timeout,
            address=spec.address,
            trace_packet=trace,
        )
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


def _file_mode(path: str) -> int:
    """The mode of a new file: an existing file's, else what the user's umask allows (mkstemp makes 0600)."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


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
            os.fchmod(fh.fileno(), _file_mode(path))
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

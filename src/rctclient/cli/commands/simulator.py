"""``rctclient simulator``: serve a simulated device (or plant) on a TCP port."""

from __future__ import annotations

import logging
import sys
from datetime import datetime
from typing import Any

import click

from .._common import EXIT_BAD_INPUT, EXIT_ERROR, CliError


def _parse_start(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise CliError(f"--start: not an ISO 8601 time: {text!r}", EXIT_BAD_INPUT) from None
    if value.tzinfo is None:
        from datetime import UTC  # noqa: PLC0415

        value = value.replace(tzinfo=UTC)
    return value.timestamp()


def _models() -> tuple[list[str], str, str]:
    from ...simulator.devices import DEFAULT_DEVICE, DEVICES  # noqa: PLC0415 - the catalogue is small

    width = max(map(len, DEVICES))
    lines = "\n".join(f"  {name:<{width}}  {spec.title}" for name, spec in DEVICES.items())
    return list(DEVICES), DEFAULT_DEVICE, lines


_MODEL_NAMES, _DEFAULT_MODEL, _MODEL_HELP = _models()


def _loop_factory(name: str) -> Any:
    """The event loop factory for --loop (None: asyncio's own)."""
    if name == "asyncio":
        return None
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:
        if name == "uvloop":
            raise CliError("--loop uvloop needs uvloop: pip install 'rctclient[fast]'", EXIT_ERROR) from None
        return None
    return uvloop.new_event_loop


_HELP = f"""Serve a simulated RCT Power inverter, for developing and testing integrations.

Every OID of the registry answers what a healthy device of the chosen model would: settings of
the German grid code, identity, power, SOC, energy counters and temperatures that follow the
time of day; writes are stored; time series and the event table are served page by page; the
vendor portal's polling is heard on the bus; faults of real devices (lost, cut or corrupted
answers, silence, unsolicited answers) can be switched on. Ctrl-C stops it.

\b
Device models (--model):
{_MODEL_HELP}

\b
Examples:
  rctclient simulator                      # localhost:8899
  rctclient simulator -p 9000 -v --faults realistic
  rctclient simulator --model inverter-6 --no-portal
  rctclient simulator --plant 3 --seed 7 --config sim.toml
  rctclient simulator --snapshot dump.json --speed 60
"""


@click.command(help=_HELP)
@click.option(
    "-h",
    "--host",
    default="localhost",
    show_default=True,
    help="Address to listen on. The protocol has no authentication or encryption at all: anyone who can "
    "reach the port can change the device's settings, so it stays on this machine unless you say otherwise "
    "(0.0.0.0 or :: for every interface).",
)
@click.option("-p", "--port", default=8899, show_default=True, type=click.IntRange(0, 65535), help="TCP port (0: any).")
@click.option("-v", "--verbose", is_flag=True, help="Log every request and answer: time, peer, command, OID, value.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML file: values, plant, fault rates.")
@click.option("--seed", type=int, help="Seed of everything random (values and faults).  [default: 1]")
@click.option(
    "--faults",
    type=click.Choice(["ideal", "realistic", "hostile"], case_sensitive=False),
    help="Fault profile; single rates go into the config file.  [default: ideal]",
)
@click.option("--plant", type=click.IntRange(1, 64), help="Simulate a plant of N devices (PLANT_ commands).")
@click.option(
    "--snapshot", type=click.Path(dir_okay=False), help="JSON snapshot (rctclient dump) whose values to serve."
)
@click.option(
    "--shared-bus/--no-shared-bus",
    default=None,
    help="Send every answer to all connected clients, like the real Wi-Fi module.  [default: shared]",
)
@click.option("--speed", type=float, default=1.0, show_default=True, help="Run the device's clock this much faster.")
@click.option("--start", "start_time", help="Start the device's clock at this ISO 8601 time (UTC unless given).")
@click.option("--night-silent", is_flag=True, default=None, help="Answer nothing while the sun is down.")
@click.option(
    "--model",
    "device_model",
    type=click.Choice(_MODEL_NAMES, case_sensitive=False),
    help="Device model (see above).  [default: " + _DEFAULT_MODEL + "]",
)
@click.option(
    "--portal/--no-portal",
    default=None,
    help="The vendor portal's polling on the shared bus (its requests and the answers reach every client), "
    "as on a real Wi-Fi module.  [default: on]",
)
@click.option(
    "--portal-period",
    type=click.FloatRange(0.05, 86400),
    help="Seconds between the portal's rounds (its OIDs go into the config file).  [default: 10]",
)
@click.option(
    "--max-clients",
    type=click.IntRange(1, 100_000),
    help="Connections open at once; more are refused.  [default: 256]",
)
@click.option(
    "--idle-timeout",
    type=click.FloatRange(0),
    help="Close connections that send nothing (or read nothing) for this many seconds; 0: never.  [default: 600]",
)
@click.option(
    "--loop",
    "loop_name",
    type=click.Choice(["auto", "asyncio", "uvloop"]),
    default="auto",
    show_default=True,
    help="Event loop: uvloop (the 'fast' extra) needs about a fifth less CPU; auto uses it when installed.",
)
@click.pass_context
def simulator(
    ctx: click.Context,
    host: str,
    port: int,
    verbose: bool,
    config_path: str | None,
    seed: int | None,
    faults: str | None,
    plant: int | None,
    snapshot: str | None,
    shared_bus: bool | None,
    speed: float,
    start_time: str | None,
    night_silent: bool | None,
    device_model: str | None,
    portal: bool | None,
    portal_period: float | None,
    max_clients: int | None,
    idle_timeout: float | None,
    loop_name: str,
) -> None:
    import asyncio  # noqa: PLC0415
    import contextlib  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from ...simulator import Clock, ConfigError, PortalSettings, Simulator  # noqa: PLC0415
    from ...simulator.config import check_host, is_loopback, load_config  # noqa: PLC0415

    if speed <= 0:
        raise CliError("--speed must be positive", EXIT_BAD_INPUT)
    try:
        host = check_host(host)
    except ConfigError as exc:
        raise CliError(f"--host: {exc}", EXIT_BAD_INPUT) from None
    if verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        sim_log = logging.getLogger("rctclient.simulator")
        sim_log.addHandler(handler)
        sim_log.setLevel(logging.DEBUG if ctx.obj and ctx.obj.get("debug") else logging.INFO)
        sim_log.propagate = False
    try:
        config = load_config(config_path) if config_path else None
        portal_settings: PortalSettings | bool | None = portal
        if portal_period is not None:  # the config's OIDs (or the default ones) at this period
            base = config.portal if config is not None and config.portal is not None else PortalSettings()
            portal_settings = PortalSettings(
                enabled=base.enabled if portal is None else portal, period=portal_period, oids=base.oids
            )
        sim = Simulator(
            host=host,
            port=port,
            seed=seed,
            faults=faults,
            clock=Clock(_parse_start(start_time), speed=speed),
            shared_bus=shared_bus,
            plant=plant,
            config=config,
            snapshot=snapshot,
            night_silent=night_silent,
            max_clients=max_clients,
            idle_timeout=idle_timeout,
            device_model=device_model,
            portal=portal_settings,
        )
    except ConfigError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None

    async def serve() -> None:
        try:
            await sim.start()
        except OSError as exc:
            raise CliError(f"cannot listen on {host}:{port}: {exc.strerror or exc}", EXIT_ERROR) from None
        if not is_loopback(host):
            click.echo(
                f"warning: listening on {host} port {sim.port}: the protocol has no authentication, so anyone "
                "who can reach it can change the simulated device's settings",
                err=True,
            )
        devices = ", ".join(f"0x{a:08X}" for a in sim.addresses)
        portal_text = f"portal every {sim.portal.period:g} s" if sim.portal.enabled and sim.shared_bus else "no portal"
        click.echo(
            f"simulating {len(sim.devices)} {sim.spec.name} device(s) ({devices}) on {host}:{sim.port}, "
            f"seed {sim.seed}, {portal_text}; Ctrl-C stops",
            err=True,
        )
        stop = asyncio.Event()
        with contextlib.suppress(NotImplementedError):  # not on Windows
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        try:
            await stop.wait()
        finally:
            await sim.stop()

    loop_factory = _loop_factory(loop_name)
    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serve())
    counters: dict[str, Any] = sim.counters.as_dict()
    faults_text = ", ".join(f"{k} {v}" for k, v in sorted(counters["faults"].items())) or "none"
    click.echo(
        f"stopped: {counters['requests']} requests, {counters['answers']} answers, faults: {faults_text}", err=True
    )


COMMANDS = [simulator]

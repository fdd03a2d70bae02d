"""``rctclient proxy``: share one connection to the inverter between any number of apps."""

from __future__ import annotations

import ipaddress
import logging
import sys
from typing import Any

import click

from .._common import EXIT_ERROR, EXIT_NOT_FOUND, EXIT_USAGE, CliError

DEFAULT_PORT = 8899


def parse_address(text: str, option: str, default_port: int = DEFAULT_PORT) -> tuple[str, int]:
    """``HOST:PORT``, ``HOST``, ``PORT`` or ``[IPv6]:PORT`` -> (host, port); a bare port means 127.0.0.1."""
    value = text.strip()
    host, port_text = value, ""
    if value.isdigit():
        host, port_text = "127.0.0.1", value
    elif value.startswith("["):
        inside, bracket, rest = value[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise CliError(f"{option}: cannot read the address {text!r}", EXIT_USAGE)
        host, port_text = inside, rest[1:]
    elif value.count(":") == 1:
        host, port_text = value.split(":")
    if not host:
        raise CliError(f"{option}: no host in {text!r}", EXIT_USAGE)
    if not port_text:
        return host, default_port
    if not port_text.isdigit() or int(port_text) > 65535:
        raise CliError(f"{option}: {port_text!r} is not a TCP port (0..65535)", EXIT_USAGE)
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _setup_logging(verbose: bool, debug: bool) -> None:
    """The proxy's own lines (writes, outages, dropped clients) always; every request and answer with -v."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    proxy_log = logging.getLogger("rctclient.proxy")
    proxy_log.addHandler(handler)
    proxy_log.setLevel(logging.DEBUG if debug else logging.INFO)
    proxy_log.propagate = False
    logging.getLogger("rctclient.proxy.traffic").setLevel(logging.INFO if verbose or debug else logging.WARNING)


def _label(address: tuple[str, int]) -> str:
    host, port = address
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


@click.command()
@click.option("-h", "--host", help="Host name or IP address of the inverter (or use --simulate).")
@click.option("-p", "--port", default=DEFAULT_PORT, show_default=True, type=click.IntRange(1, 65535), help="Its port.")
@click.option(
    "--listen",
    multiple=True,
    metavar="[HOST:]PORT",
    help="Where the apps connect; repeat for several addresses.  [default: 127.0.0.1:8899] The protocol has no "
    "authentication: an address other than loopback lets anyone who reaches it change the inverter's settings.",
)
@click.option(
    "--cache-max-age",
    type=click.FloatRange(0, 86400),
    default=10.0,
    show_default=True,
    help="Answer a READ from the cache while the value is at most this many seconds old (0: never).",
)
@click.option(
    "--static-max-age",
    type=click.FloatRange(0, 10**6),
    default=3600.0,
    show_default=True,
    help="The same for values that never change at run time: serial numbers, versions, names.",
)
@click.option(
    "--request-timeout",
    type=click.FloatRange(0.05, 60),
    default=2.0,
    show_default=True,
    help="Seconds to wait for the inverter's answer before a READ is sent once more, and again before it is given up.",
)
@click.option(
    "--max-inflight",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Requests on the wire to the inverter at once; the rest wait their turn, app by app.",
)
@click.option(
    "--max-clients", type=click.IntRange(1, 10000), default=64, show_default=True, help="Apps connected at once."
)
@click.option(
    "--writes",
    default="forward",
    show_default=True,
    metavar="forward|deny|allow:OID,...",
    help="What to do with the apps' WRITEs: forward them (one at a time), deny them (logged; the app times out), "
    "or allow only the OIDs listed (names or 0x ids). Time series and event table queries always pass.",
)
@click.option("--metrics", metavar="[HOST:]PORT", help="Serve Prometheus metrics at http://HOST:PORT/metrics.")
@click.option("--simulate", is_flag=True, help="Put the built-in simulated inverter behind it (no device needed).")
@click.option("-v", "--verbose", is_flag=True, help="Log every request of the apps and every answer of the inverter.")
@click.pass_context
def proxy(
    ctx: click.Context,
    host: str | None,
    port: int,
    listen: tuple[str, ...],
    cache_max_age: float,
    static_max_age: float,
    request_timeout: float,
    max_inflight: int,
    max_clients: int,
    writes: str,
    metrics: str | None,
    simulate: bool,
    verbose: bool,
) -> None:
    """Share one connection to the inverter between Home Assistant, evcc, ioBroker, the app and scripts.

    The inverter sends every answer to every connected app, so apps that poll it side by side get
    each other's answers. Point the apps at the proxy instead: each gets the answers to its own
    requests only, byte for byte as the inverter sent them; values asked for by several apps are read
    once; writes go one at a time and are logged. The inverter may be off (at night): the proxy
    keeps the apps connected, serves what it has cached and connects again when it is back.
    Ctrl-C or SIGTERM stops it.

    \b
    Examples:
      rctclient proxy --host 192.168.0.10                 # apps on this machine connect to 127.0.0.1:8899
      rctclient proxy --host inverter --listen 192.168.0.5:8899 --metrics 9832
      rctclient proxy --host inverter --writes deny -v
      rctclient proxy --simulate --listen 9000
    """
    from ...exceptions import RegistryKeyError  # noqa: PLC0415
    from ...proxy import ProxyConfig, ProxyConfigError, WritePolicy  # noqa: PLC0415

    if simulate == (host is not None):
        raise CliError("give the inverter's --host, or --simulate (not both)", EXIT_USAGE)
    addresses = [parse_address(text, "--listen") for text in listen] or [("127.0.0.1", DEFAULT_PORT)]
    metrics_address = parse_address(metrics, "--metrics") if metrics else None
    if host is not None and any(
        a[1] == port and (a[0] == host or (is_loopback(a[0]) and is_loopback(host))) for a in addresses
    ):
        raise CliError(f"the proxy would connect to itself: it listens on {host}:{port}", EXIT_USAGE)
    try:
        policy = WritePolicy.parse(writes)
        config = ProxyConfig(
            cache_max_age=cache_max_age,
            static_max_age=static_max_age,
            request_timeout=request_timeout,
            max_inflight=max_inflight,
            writes=policy,
        )
    except RegistryKeyError as exc:
        raise CliError(f"--writes: {exc}", EXIT_NOT_FOUND) from None
    except ProxyConfigError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None
    if metrics_address is not None:
        try:
            import prometheus_client  # noqa: F401, PLC0415
        except ImportError:
            raise CliError("--metrics needs prometheus_client: pip install 'rctclient[proxy]'", EXIT_ERROR) from None
    exposed = [a for a in [*addresses, *([metrics_address] if metrics_address else [])] if not is_loopback(a[0])]
    if exposed:
        click.echo(
            f"warning: listening on {', '.join(_label(a) for a in exposed)}: the protocol has no authentication, "
            "anyone who reaches it can read and change the inverter's settings",
            err=True,
        )
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    _setup_logging(verbose, debug)
    stats = _serve(host, port, addresses, config, max_clients, metrics_address, simulate)
    if stats is not None:
        shared = stats["cache_hits"] + stats["coalesced"]
        click.echo(
            f"stopped: {stats['reads']} reads, {shared} of them from the cache or joined to another; "
            f"{stats['writes']} writes; {stats['upstream_requests']} requests to the inverter; "
            f"{stats['timeouts']} timeouts",
            err=True,
        )


def _serve(
    host: str | None,
    port: int,
    addresses: list[tuple[str, int]],
    config: Any,
    max_clients: int,
    metrics: tuple[str, int] | None,
    simulate: bool,
) -> dict[str, int] | None:
    """Run the proxy until Ctrl-C or SIGTERM; its counters, or None if it did not start."""
    import asyncio  # noqa: PLC0415
    import contextlib  # noqa: PLC0415
    import signal  # noqa: PLC0415

    from ...proxy import ProxyServer  # noqa: PLC0415
    from ...simulator import Simulator  # noqa: PLC0415
    from .._device import SIMULATOR_SEED  # noqa: PLC0415

    result: dict[str, int] | None = None

    async def serve() -> None:
        nonlocal result
        async with contextlib.AsyncExitStack() as stack:
            upstream = (host or "", port)
            if simulate:
                sim = Simulator(host="127.0.0.1", port=0, seed=SIMULATOR_SEED, faults="ideal")
                await sim.start()
                stack.push_async_callback(sim.stop)
                upstream = ("127.0.0.1", sim.port)
            server = ProxyServer(
                upstream[0], upstream[1], listen=addresses, config=config, max_clients=max_clients, metrics=metrics
            )
            try:
                await server.start()
            except OSError as exc:
                raise CliError(exc.strerror or str(exc), EXIT_ERROR) from None
            stack.push_async_callback(server.stop)
            where = ", ".join(_label(a) for a in server.addresses)
            target = f"a simulated inverter ({_label(upstream)})" if simulate else _label(upstream)
            extra = f"; metrics on http://{_label(server.metrics_address)}/metrics" if server.metrics_address else ""
            click.echo(f"proxy for {target} listening on {where}{extra}; Ctrl-C stops", err=True)
            result = server.core.stats.as_dict()
            stop = asyncio.Event()
            with contextlib.suppress(NotImplementedError):  # not on Windows
                asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            try:
                await stop.wait()
            finally:
                result = server.core.stats.as_dict()

    with contextlib.suppress(KeyboardInterrupt), asyncio.Runner() as runner:
        runner.run(serve())
    return result


COMMANDS = [proxy]

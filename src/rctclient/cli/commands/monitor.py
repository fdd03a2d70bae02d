"""``rctclient monitor``: the long-running poller with Prometheus, MQTT (Home Assistant) and InfluxDB exporters."""

from __future__ import annotations

from typing import Any

import click

from .._common import EXIT_BAD_INPUT, EXIT_ERROR, CliError


def _quick_config(
    host: str | None,
    port: int,
    name: str | None,
    prometheus: str | None,
    mqtt: str | None,
    mqtt_control: bool,
    influx: str | None,
    stdout: str | None,
) -> dict[str, Any]:
    """The [tables] of a config from the quick-start options."""
    from ...monitor.config import influx_from_url, mqtt_from_url, parse_listen  # noqa: PLC0415

    device: dict[str, Any] = {"host": host or "127.0.0.1", "port": port}
    if name:
        device["name"] = name
    data: dict[str, Any] = {"device": [device], "prometheus": {"enabled": False}}
    if prometheus is not None:
        listen_host, listen_port = parse_listen(prometheus)
        data["prometheus"] = {"enabled": True, "host": listen_host, "port": listen_port}
    if mqtt is not None:
        data["mqtt"] = {**mqtt_from_url(mqtt), "control": mqtt_control}
    if influx is not None:
        data["influx"] = influx_from_url(influx)
    if stdout is not None:
        data["stdout"] = {"format": stdout}
    if prometheus is None and mqtt is None and influx is None and stdout is None:
        data["stdout"] = {"format": "json"}
    return data


@click.command()
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="TOML file (see --print-config).")
@click.option("-h", "--host", help="Quick start without a file: the device (or 'rctclient proxy') to poll.")
@click.option("-p", "--port", default=8899, show_default=True, type=click.IntRange(1, 65535), help="TCP port.")
@click.option("--name", help="A label for the device in the logs (quick start).")
@click.option("--simulate", is_flag=True, help="Poll an embedded simulated inverter (no device needed).")
@click.option("--prometheus", metavar="HOST:PORT", help="Serve /metrics here, e.g. 127.0.0.1:9831.")
@click.option(
    "--mqtt", metavar="URL", help="Publish to this broker: mqtt://[user:password@]host[:1883] (mqtts:// for TLS)."
)
@click.option("--mqtt-control", is_flag=True, help="Let MQTT write the settings on the safe-write allow-list.")
@click.option(
    "--influx",
    metavar="URL",
    help="Write to InfluxDB: http://host:8086?db=NAME (1.x) or ?org=O&bucket=B&token=T (2.x).",
)
@click.option("--stdout", "stdout_format", type=click.Choice(["influx", "json"]), help="Write every poll to stdout.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), help="Log lines as text or JSON objects.  [default: text]"
)
@click.option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="Log level.  [default: info]"
)
@click.option("--print-config", is_flag=True, help="Print a commented default config and exit.")
@click.option("--check-config", is_flag=True, help="Check the config, print the poll plan and exit.")
@click.pass_context
def monitor(
    ctx: click.Context,
    config_path: str | None,
    host: str | None,
    port: int,
    name: str | None,
    simulate: bool,
    prometheus: str | None,
    mqtt: str | None,
    mqtt_control: bool,
    influx: str | None,
    stdout_format: str | None,
    log_format: str | None,
    log_level: str | None,
    print_config: bool,
    check_config: bool,
) -> None:
    """Poll devices on a schedule and feed Prometheus, MQTT (with Home Assistant discovery) and InfluxDB.

    Values are read in tiers (fast 10 s: powers, SOC, voltages, state, faults; slow 60 s:
    temperatures, SOC targets; energy 300 s: energy totals, battery health; static hourly: names,
    serials, versions), pipelined, and only what the device has. A device that goes silent is
    retried with backoff (at most every 5 minutes) and shown as unavailable; one line is logged
    when it goes and one when it comes back. SIGTERM or Ctrl-C publishes unavailability, flushes
    and exits 0. Identity (metric label, MQTT topic, Home Assistant ids, Influx tag) is the
    inverter's serial number. With no exporter option, JSON lines go to stdout.

    \b
    Examples:
      rctclient monitor --simulate
      rctclient monitor --host 192.168.0.10 --prometheus 127.0.0.1:9831
      rctclient monitor --host inverter --mqtt mqtt://localhost --influx 'http://localhost:8086?db=rct'
      rctclient monitor --host inverter --stdout influx      # for Telegraf's execd input
      rctclient monitor --print-config > monitor.toml; rctclient monitor --config monitor.toml
    """
    from ...monitor.config import DEFAULT_CONFIG, MonitorConfigError, load_config, parse_config  # noqa: PLC0415

    if print_config:
        click.echo(DEFAULT_CONFIG, nl=False)
        return
    quick = (host, prometheus, mqtt, influx, stdout_format)
    try:
        if config_path is not None:
            if any(v is not None for v in quick) or simulate or mqtt_control or name:
                raise CliError(
                    "--config cannot be combined with the quick-start options (--host, --mqtt...)", EXIT_BAD_INPUT
                )
            config = load_config(config_path)
        else:
            if host is None and not simulate:
                raise CliError("give --config FILE, or --host (or --simulate) for a quick start", EXIT_BAD_INPUT)
            config = parse_config(
                _quick_config(host, port, name, prometheus, mqtt, mqtt_control, influx, stdout_format)
            )
    except MonitorConfigError as exc:
        raise CliError(str(exc), EXIT_BAD_INPUT) from None
    if log_format or log_level:
        from dataclasses import replace  # noqa: PLC0415

        config = replace(
            config, log=replace(config.log, format=log_format or config.log.format, level=log_level or config.log.level)
        )
    if check_config:
        _print_plan(config)
        return
    _run(config, simulate, ctx.obj.get("debug", False) if ctx.obj else False)


def _print_plan(config: Any) -> None:
    from ...monitor.config import TIERS  # noqa: PLC0415
    from ...monitor.plan import build_plan  # noqa: PLC0415

    plan = build_plan(config.poll, control=config.mqtt.enabled and config.mqtt.control)
    for device in config.devices:
        click.echo(f"device {device.label}: {device.host}:{device.port}")
    for tier in TIERS:
        names = plan.names(tier)
        click.echo(f"{tier} (every {plan.intervals[tier]:g} s, {len(names)} values): {', '.join(names)}")
    on = [
        name
        for name, enabled in (
            ("prometheus", config.prometheus.enabled),
            ("mqtt", config.mqtt.enabled),
            ("influx", config.influx.enabled),
            (f"stdout ({config.stdout.format})", bool(config.stdout.format)),
        )
        if enabled
    ]
    click.echo(f"exporters: {', '.join(on) or 'none'}")
    click.echo("the config is valid (values the device does not have are left out when it is polled)")


def _run(config: Any, simulate: bool, debug: bool) -> None:
    import asyncio  # noqa: PLC0415
    import signal  # noqa: PLC0415
    from dataclasses import replace  # noqa: PLC0415

    from ...monitor.daemon import Monitor, MonitorError, setup_logging  # noqa: PLC0415

    setup_logging(config.log.format, "debug" if debug else config.log.level)

    async def main() -> None:
        nonlocal config
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        simulator = None
        if simulate:
            import logging  # noqa: PLC0415

            from ...simulator import Simulator  # noqa: PLC0415
            from .._device import SIMULATOR_SEED  # noqa: PLC0415

            logging.getLogger("rctclient.simulator").setLevel(logging.WARNING)  # it logs every frame at INFO
            simulator = Simulator(port=0, seed=SIMULATOR_SEED)
            await simulator.start()
            device = replace(
                config.devices[0], host="127.0.0.1", port=simulator.port, name=config.devices[0].name or "simulator"
            )
            config = replace(config, devices=(device,))
        try:
            await Monitor(config).run(stop)
        finally:
            if simulator is not None:
                await simulator.stop()

    try:
        asyncio.run(main())
    except MonitorError as exc:
        raise CliError(str(exc), EXIT_ERROR) from None


COMMANDS = [monitor]

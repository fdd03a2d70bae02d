"""``rctclient write-value``: a checked, confirmed and verified write of one setting."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import click

from .._common import EXIT_BAD_INPUT, CliError, complete_oid_name, resolve_oid
from .._device import DeviceSpec, cli_errors, device_options, open_client
from .read import value_text

if TYPE_CHECKING:
    from ...protocol import WritableSpec
    from ...registry import ObjectInfo


def _bounds(spec: WritableSpec) -> str:
    unit = f" {spec.unit}" if spec.unit else ""
    if spec.min is not None and spec.max is not None:
        return f"{spec.min:g}..{spec.max:g}{unit}"
    if spec.min is not None:
        return f">= {spec.min:g}{unit}"
    if spec.max is not None:
        return f"<= {spec.max:g}{unit}"
    return "true/false" if spec.kind == "bool" else spec.kind


def _show(value: Any, info: ObjectInfo, spec: WritableSpec | None) -> str:
    """A value as written: floats with single precision's 7 digits, fractions with their percentage."""
    if isinstance(value, float) and math.isfinite(value):
        text = f"{value:.7g}"
        if (spec is not None and spec.kind == "fraction") or info.unit == "%":
            return f"{text} ({value * 100:.5g} %)"
        unit = (spec.unit if spec is not None else "") or info.unit or ""
        return f"{text} {unit}".rstrip()
    return value_text(value, info)


@click.command(name="write-value", context_settings={"ignore_unknown_options": True})
@device_options
@click.argument("name", shell_complete=complete_oid_name)
@click.argument("value")
@click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option("--dry-run", is_flag=True, help="Only check the value and print the frame that would be sent (no I/O).")
@click.option("--force", is_flag=True, help="Write an OID that is not on the list of OIDs known to be safe to write.")
def write_value(device: DeviceSpec, name: str, value: str, yes: bool, dry_run: bool, force: bool) -> None:
    """Write VALUE to the setting NAME, then read it back to check that the device took it.

    Only OIDs known to be safe to write (battery strategy and SOC limits, external battery power,
    grid charging, feed-in reduction...) are accepted unless --force is given, and only values
    within their bounds. VALUE is read by the OID's type: true/false/on/off, an enum label or
    number, a number; fractions such as SOC limits take 0.5 or 50%. The current value and the
    battery status are shown first and the write is confirmed unless --yes. Nothing is stored in
    the device's flash: settings may be lost at a restart.

    Exit codes: 4 value out of bounds or OID not allowed, 7 the device kept another value,
    8 the value could not be read back (the write may or may not have been applied).

    \b
    Examples:
      rctclient write-value --simulate power_mng.soc_min 30% --yes
      rctclient write-value -h 192.168.0.10 power_mng.soc_strategy External
      rctclient write-value -h inverter power_mng.battery_power_extern -2000
      rctclient write-value --dry-run power_mng.use_grid_power_enable on
    """
    from ...exceptions import UnsafeWrite, WriteOutOfBounds  # noqa: PLC0415
    from ...protocol import prepare_write  # noqa: PLC0415
    from .._parse import parse_value  # noqa: PLC0415

    info = resolve_oid(name)
    with cli_errors(device):
        parsed = parse_value(info, value)
        try:
            # checks the allow-list and the bounds before anything goes on the wire
            plan = prepare_write(info, parsed, force=force)
        except UnsafeWrite as exc:
            if isinstance(exc, WriteOutOfBounds):
                raise
            raise CliError(
                f"{info.name} is not on the list of OIDs known to be safe to write; --force writes it anyway"
                " (see 'rctclient write-value --help')",
                EXIT_BAD_INPUT,
            ) from None
    if plan.spec is None:
        click.echo(f"warning: {info.name} is not on the list of OIDs known to be safe to write (--force)", err=True)
    if dry_run:
        click.echo(
            f"dry run: would write {_show(plan.written, info, plan.spec)} to {info.name} (0x{info.object_id:08X})"
        )
        click.echo(f"frame: {plan.frame.hex()}")
        return
    with open_client(device) as client:
        current = client.read(info)
        battery = client.battery_status()
        what = f" ({plan.spec.meaning}; allowed {_bounds(plan.spec)})" if plan.spec else ""
        click.echo(f"{info.name}{what}")
        click.echo(f"  current value: {_show(current, info, plan.spec)}")
        click.echo(f"  new value:     {_show(plan.written, info, plan.spec)}")
        if not battery.normal:
            click.echo(f"warning: {battery}", err=True)
        if plan.spec and plan.spec.related:
            click.echo(f"  note: some firmware also changes {', '.join(plan.spec.related)}")
        if not yes:
            click.confirm("Write it?", abort=True, err=True)
        result = client.write(info, parsed, force=force)
    if result.verified:
        click.echo(f"written and verified: {info.name} = {_show(result.read_back, info, plan.spec)}")
    else:  # pragma: no cover - write() raises unless verified
        click.echo(f"written: {info.name} (not verified)")


COMMANDS = [write_value]

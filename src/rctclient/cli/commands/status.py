"""``rctclient status`` (the app's main view on one screen) and ``rctclient faults`` (the active faults)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import click

from .._common import CliError, emit, output_format_options
from .._device import DeviceSpec, device_options, open_client, worst_exit_code

SOLAR = {
    "a": ("dc_conv.dc_conv_struct[0].p_dc", "dc_conv.dc_conv_struct[0].u_sg_lp"),
    "b": ("dc_conv.dc_conv_struct[1].p_dc", "dc_conv.dc_conv_struct[1].u_sg_lp"),
}
SOC = "battery.soc"
BATTERY_POWER = "g_sync.p_acc_lp"  # positive: the battery discharges
BATTERY_STATUS = "battery.bat_status"  # 0: normal operation
LOAD = "g_sync.p_ac_load_sum_lp"
GRID_POWER = "g_sync.p_ac_grid_sum_lp"  # positive: power comes from the grid
GRID_FREQUENCY = "grid_pll[0].f"
STATE = "prim_sm.state"

#: Below this many watts a flow counts as none.
IDLE_W = 1.0


def _fault_oids() -> list[str]:
    from ...faults import FAULT_OIDS  # noqa: PLC0415

    return list(FAULT_OIDS)


def status_oids() -> list[str]:
    """Every OID that ``status`` reads."""
    solar = [name for pair in SOLAR.values() for name in pair]
    return [*solar, SOC, BATTERY_POWER, BATTERY_STATUS, LOAD, GRID_POWER, GRID_FREQUENCY, STATE, *_fault_oids()]


def _direction(power: float | None, positive: str, negative: str) -> str | None:
    if power is None:
        return None
    if abs(power) < IDLE_W:
        return "idle"
    return positive if power > 0 else negative


def build_status(values: dict[str, Any]) -> dict[str, Any]:
    """The status as a JSON-able structure (None where a value could not be read)."""
    from ...faults import FAULT_OIDS, active_faults  # noqa: PLC0415
    from ...registry import REGISTRY  # noqa: PLC0415

    def get(name: str) -> Any:
        return values.get(name)

    state = get(STATE)
    soc = get(SOC)
    battery_power = get(BATTERY_POWER)
    grid_power = get(GRID_POWER)
    bat_status = get(BATTERY_STATUS)
    words = [values.get(name) for name in FAULT_OIDS]
    faults = None
    if all(isinstance(w, int) for w in words):
        faults = [
            {"bit": f.bit, "word": f.oid_name, "description": f.description, "known": f.known}
            for f in active_faults([int(w) for w in words if w is not None])
        ]
    solar = {key: {"power_w": get(p), "voltage_v": get(u)} for key, (p, u) in SOLAR.items()}
    solar_total = None
    if all(s["power_w"] is not None for s in solar.values()):
        solar_total = sum(s["power_w"] for s in solar.values())
    return {
        "inverter": {
            "state": state,
            "label": None if state is None else (REGISTRY.resolve(STATE).enum_map or {}).get(state),
        },
        "solar": {**solar, "total_w": solar_total},
        "battery": {
            "soc": soc,
            "soc_percent": None if soc is None else round(soc * 100.0, 1),
            "power_w": battery_power,
            "direction": _direction(battery_power, "discharging", "charging"),
            "bat_status": bat_status,
            "normal": None if bat_status is None else bat_status == 0,
        },
        "household": {"power_w": get(LOAD)},
        "grid": {
            "power_w": grid_power,
            "direction": _direction(grid_power, "import", "export"),
            "frequency_hz": get(GRID_FREQUENCY),
        },
        "faults": faults,
    }


def _w(power: float | None) -> str:
    return "n/a" if power is None else f"{power:.0f} W"


def render_status(status: dict[str, Any], title: str) -> str:
    """The status as one screen of text."""
    lines = [title, ""]
    inverter = status["inverter"]
    state = "n/a" if inverter["state"] is None else f"{inverter['label'] or 'unknown state'} ({inverter['state']})"
    lines.append(f"{'Inverter':<12}{state}")
    for key in ("a", "b"):
        s = status["solar"][key]
        voltage = "" if s["voltage_v"] is None else f"   {s['voltage_v']:.1f} V"
        lines.append(f"{'Solar ' + key.upper():<12}{_w(s['power_w']):>9}{voltage}")
    if status["solar"]["total_w"] is not None:
        lines.append(f"{'Solar total':<12}{_w(status['solar']['total_w']):>9}")
    bat = status["battery"]
    soc = "n/a" if bat["soc"] is None else f"{bat['soc'] * 100:.1f} %"
    power = _w(None if bat["power_w"] is None else abs(bat["power_w"]))
    direction = f" {bat['direction']}" if bat["direction"] else ""
    if bat["bat_status"] is None:
        condition = ""
    elif bat["normal"]:
        condition = ", normal operation"
    else:
        condition = f", NOT in normal operation (bat_status {bat['bat_status']}: calibration, balancing...)"
    lines.append(f"{'Battery':<12}{power:>9}{direction}   SOC {soc}{condition}")
    lines.append(f"{'Household':<12}{_w(status['household']['power_w']):>9}")
    grid = status["grid"]
    gpower = _w(None if grid["power_w"] is None else abs(grid["power_w"]))
    gdirection = {"import": " from the grid", "export": " to the grid (feed-in)", "idle": ""}.get(
        grid["direction"] or "", ""
    )
    frequency = "" if grid["frequency_hz"] is None else f"   {grid['frequency_hz']:.2f} Hz"
    lines.append(f"{'Grid':<12}{gpower:>9}{gdirection}{frequency}")
    faults = status["faults"]
    if faults is None:
        lines.append(f"{'Faults':<12}n/a")
    elif not faults:
        lines.append(f"{'Faults':<12}none")
    else:
        for i, f in enumerate(faults):
            lines.append(f"{'Faults' if i == 0 else '':<12}bit {f['bit']:3}  {f['description']}")
    return "\n".join(lines) + "\n"


def _fail_listing(errors: dict[str, Any], total: int, label: str) -> None:
    for name, error in errors.items():
        click.echo(f"Error: {name}: {error}", err=True)
    raise CliError(
        f"{len(errors)} of {total} values could not be read from {label}: {', '.join(errors)}",
        worst_exit_code(errors.values()),
    )


@click.command()
@device_options
@click.option("--json", "as_json", is_flag=True, help="Output the status as a JSON object.")
def status(device: DeviceSpec, as_json: bool) -> None:
    """Show the inverter at a glance: solar, battery, household, grid, state and faults.

    Battery power is shown with its direction (charging / discharging), grid power as import or
    export (feed-in). Values that cannot be read are shown as n/a and listed on stderr, and the
    exit code is then not 0.

    \b
    Examples:
      rctclient status --simulate
      rctclient status -h 192.168.0.10
      rctclient status -h inverter --json | jq .battery.soc
    """
    names = status_oids()
    with open_client(device) as client:
        result = client.read_many(names)
    data = build_status(result.values)
    taken = datetime.now().astimezone()
    if as_json:
        out = {"taken_at": taken.isoformat(timespec="seconds"), "device": device.label, **data}
        out["errors"] = {name: str(error) for name, error in result.errors.items()}
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        where = "simulated inverter (--simulate)" if device.simulate else f"inverter at {device.host}:{device.port}"
        click.echo(render_status(data, f"RCT Power {where}, {taken:%Y-%m-%d %H:%M:%S %Z}"), nl=False)
    if result.errors:
        _fail_listing(result.errors, len(names), device.label)


@click.command()
@device_options
@output_format_options("table", "json", "csv")
def faults(device: DeviceSpec, fmt: str) -> None:
    """List the faults the inverter reports now, with their descriptions.

    Reads the four fault words (fault[0].flt .. fault[3].flt) and names every set bit. Prints
    "no active faults" (on stderr, for the table) when there are none.

    \b
    Examples:
      rctclient faults --simulate
      rctclient faults -h 192.168.0.10 --json
    """
    from ...faults import FAULT_OIDS, active_faults  # noqa: PLC0415

    with open_client(device) as client:
        result = client.read_many(FAULT_OIDS)
    if result.errors:
        _fail_listing(result.errors, len(FAULT_OIDS), device.label)
    found = active_faults([int(result.values[name]) for name in FAULT_OIDS])
    rows = [
        {"bit": f.bit, "word": f.oid_name, "word_bit": f.word_bit, "description": f.description, "known": f.known}
        for f in found
    ]
    if fmt == "table" and not rows:
        click.echo("no active faults", err=True)
        return
    emit(rows, ["bit", "word", "word_bit", "description"] + (["known"] if fmt != "table" else []), fmt)


COMMANDS = [status, faults]

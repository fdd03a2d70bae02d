"""``rctclient status`` (what an owner wants on one screen) and ``rctclient faults`` (the active faults)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click

from .._common import CliError, emit, output_format_options
from .._device import DeviceSpec, device_options, failed_values, open_client
from .._format import duration, energy, number, percent
from .._watch import Refresh, watch, watch_option

if TYPE_CHECKING:
    from ...client import Client
    from ...protocol import ReadManyResult

SOLAR = {
    "a": ("dc_conv.dc_conv_struct[0].p_dc", "dc_conv.dc_conv_struct[0].u_sg_lp"),
    "b": ("dc_conv.dc_conv_struct[1].p_dc", "dc_conv.dc_conv_struct[1].u_sg_lp"),
}
SOC = "battery.soc"
SOC_TARGET = "battery.soc_target"
BATTERY_TEMPERATURE = "battery.temperature"
BATTERY_POWER = "g_sync.p_acc_lp"  # positive: the battery discharges
BATTERY_STATUS = "battery.bat_status"  # 0: normal operation
LOAD = "g_sync.p_ac_load_sum_lp"
GRID_POWER = "g_sync.p_ac_grid_sum_lp"  # positive: power comes from the grid
GRID_FREQUENCY = "grid_pll[0].f"
STATE = "prim_sm.state"
NAME = "android_description"
SERIAL = "inverter_sn"
CLOCK = "flash_rtc.time_stamp"  # the device's clock (UNIX time, like its logs); 0 when not set

#: The energy counters (Wh) of today and of the device's life, by what they count. Devices report
#: some of them (feed-in, household) as negative numbers: the direction is in the name, so the
#: magnitude is shown.
TODAY = {
    "solar": ("energy.e_dc_day[0]", "energy.e_dc_day[1]"),
    "feed_in": ("energy.e_grid_feed_day",),
    "purchase": ("energy.e_grid_load_day",),
    "household": ("energy.e_load_day",),
}
LIFETIME = {
    "solar": ("energy.e_dc_total[0]", "energy.e_dc_total[1]"),
    "feed_in": ("energy.e_grid_feed_total",),
    "purchase": ("energy.e_grid_load_total",),
    "household": ("energy.e_load_total",),
}
ENERGY_LABELS = {"solar": "Solar yield", "feed_in": "Feed-in", "purchase": "Purchase", "household": "Household"}

#: Values shown where the device reports them: their absence is no failure of ``status``.
OPTIONAL = frozenset({NAME, SERIAL, CLOCK, *(name for names in LIFETIME.values() for name in names)})

#: Below this many watts a flow counts as none.
IDLE_W = 1.0
#: A device clock this many seconds off this computer's is shown as off.
CLOCK_SLACK = 60.0
LABEL = 14  # width of the first column of the screen


def _fault_oids() -> list[str]:
    from ...faults import FAULT_OIDS  # noqa: PLC0415

    return list(FAULT_OIDS)


def status_oids() -> list[str]:
    """Every OID that ``status`` reads."""
    solar = [name for pair in SOLAR.values() for name in pair]
    energies = [name for table in (TODAY, LIFETIME) for names in table.values() for name in names]
    now = [SOC, SOC_TARGET, BATTERY_TEMPERATURE, BATTERY_POWER, BATTERY_STATUS, LOAD, GRID_POWER, GRID_FREQUENCY]
    return [NAME, SERIAL, CLOCK, STATE, *solar, *now, *energies, *_fault_oids()]


def _direction(power: float | None, positive: str, negative: str) -> str | None:
    if power is None:
        return None
    if abs(power) < IDLE_W:
        return "idle"
    return positive if power > 0 else negative


def _energy_sums(values: Mapping[str, Any], table: Mapping[str, tuple[str, ...]]) -> dict[str, float | None]:
    sums: dict[str, float | None] = {}
    for key, names in table.items():
        parts = [values.get(name) for name in names]
        ok = all(isinstance(p, float) and math.isfinite(p) for p in parts)
        sums[key] = sum(abs(p) for p in parts if isinstance(p, float)) if ok else None
    return sums


def _clock(values: Mapping[str, Any]) -> datetime | None:
    stamp = values.get(CLOCK)
    if not isinstance(stamp, int) or stamp <= 0:
        return None
    return datetime.fromtimestamp(stamp, UTC)


def build_status(values: Mapping[str, Any], taken: datetime | None = None) -> dict[str, Any]:
    """The status as a JSON-able structure (None where a value could not be read); powers in W, energy in Wh."""
    from ...faults import FAULT_OIDS, active_faults  # noqa: PLC0415
    from ...registry import REGISTRY  # noqa: PLC0415

    def get(name: str) -> Any:
        return values.get(name)

    taken = taken or datetime.now(UTC)
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
    clock = _clock(values)
    target = get(SOC_TARGET)
    return {
        "inverter": {
            "name": get(NAME),
            "serial": get(SERIAL),
            "state": state,
            "label": None if state is None else (REGISTRY.resolve(STATE).enum_map or {}).get(state),
            "clock": None if clock is None else clock.isoformat(),
            "clock_set": None if get(CLOCK) is None else clock is not None,
            "clock_offset_s": None if clock is None else round((clock - taken).total_seconds()),
        },
        "solar": {**solar, "total_w": solar_total},
        "battery": {
            "soc": soc,
            "soc_percent": None if soc is None else round(soc * 100.0, 1),
            "soc_target": target,
            "temperature_c": get(BATTERY_TEMPERATURE),
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
        "energy_wh": {"today": _energy_sums(values, TODAY), "lifetime": _energy_sums(values, LIFETIME)},
        "faults": faults,
    }


def _w(power: float | None) -> str:
    return "n/a" if power is None else f"{number(power, 0)} W"


def _kwh(wh: float | None) -> str:
    return "n/a" if wh is None else energy(wh)


def _offset(seconds: float) -> str:
    return f"{duration(seconds)} {'ahead' if seconds > 0 else 'behind'}"


def _time_line(status: dict[str, Any], taken: datetime) -> str:
    local = taken.astimezone()
    inverter = status["inverter"]
    if inverter["clock_set"] is None:
        device = "device clock n/a"
    elif inverter["clock"] is None:
        device = "the device's clock is not set"
    elif abs(inverter["clock_offset_s"]) < CLOCK_SLACK:
        device = "the device's clock agrees"
    else:
        clock = datetime.fromisoformat(inverter["clock"]).astimezone()
        shown = f"{clock:%H:%M:%S}" if clock.date() == local.date() else f"{clock:%Y-%m-%d %H:%M:%S}"
        device = f"device clock {shown} ({_offset(inverter['clock_offset_s'])})"
    return f"{'Time':<{LABEL}}{local:%Y-%m-%d %H:%M:%S %Z}, {device}"


def _battery(bat: dict[str, Any]) -> str:
    parts = []
    if bat["direction"] not in (None, "idle"):
        parts.append(bat["direction"])
    soc = "n/a" if bat["soc"] is None else percent(bat["soc"])
    target = "" if bat["soc_target"] is None else f" (target {percent(bat['soc_target'])})"
    parts.append(f"SOC {soc}{target}")
    if bat["temperature_c"] is not None:
        parts.append(f"{number(bat['temperature_c'], 1)} °C")
    if bat["bat_status"] is not None:
        parts.append(
            "normal operation"
            if bat["normal"]
            else f"NOT in normal operation (bat_status {bat['bat_status']}: calibration, balancing...)"
        )
    return ", ".join(parts)


def render_status(status: dict[str, Any], title: str, taken: datetime) -> list[str]:
    """The status as one screen of text (lines)."""
    inverter = status["inverter"]
    lines = [title, _time_line(status, taken)]
    state = "n/a" if inverter["state"] is None else inverter["label"] or f"state {inverter['state']}"
    lines += [f"{'Inverter':<{LABEL}}{state}", "", "Now"]
    solar = status["solar"]
    strings = ", ".join(
        f"{key.upper()} {_w(solar[key]['power_w'])}"
        + ("" if solar[key]["voltage_v"] is None else f" at {number(solar[key]['voltage_v'], 1)} V")
        for key in SOLAR
    )
    lines.append(f"  {'Solar':<{LABEL - 2}}{_w(solar['total_w']):>8}   {strings}")
    bat = status["battery"]
    lines.append(
        f"  {'Battery':<{LABEL - 2}}{_w(None if bat['power_w'] is None else abs(bat['power_w'])):>8}   {_battery(bat)}"
    )
    lines.append(f"  {'Household':<{LABEL - 2}}{_w(status['household']['power_w']):>8}")
    grid = status["grid"]
    gpower = _w(None if grid["power_w"] is None else abs(grid["power_w"]))
    gdirection = {"import": "from the grid", "export": "to the grid (feed-in)"}.get(grid["direction"] or "")
    frequency = None if grid["frequency_hz"] is None else f"{number(grid['frequency_hz'], 2)} Hz"
    details = ", ".join(part for part in (gdirection, frequency) if part)
    lines.append(f"  {'Grid':<{LABEL - 2}}{gpower:>8}   {details}".rstrip())
    today, lifetime = status["energy_wh"]["today"], status["energy_wh"]["lifetime"]
    with_lifetime = any(v is not None for v in lifetime.values())
    lines += ["", f"{'Energy':<{LABEL}}{'today':>12}" + (f"{'lifetime':>16}" if with_lifetime else "")]
    for key, label in ENERGY_LABELS.items():
        total = f"{_kwh(lifetime[key]):>16}" if with_lifetime and lifetime[key] is not None else ""
        lines.append(f"  {label:<{LABEL - 2}}{_kwh(today[key]):>12}{total}")
    lines.append("")
    faults = status["faults"]
    if faults is None:
        lines.append(f"{'Faults':<{LABEL}}n/a")
    elif not faults:
        lines.append(f"{'Faults':<{LABEL}}none")
    else:
        for i, f in enumerate(faults):
            lines.append(f"{'Faults' if i == 0 else '':<{LABEL}}bit {f['bit']:3}  {f['description']}")
    return lines


def status_line(status: dict[str, Any], taken: datetime) -> str:
    """The status as one line (``--watch`` into a pipe or a file)."""
    bat, grid, today = status["battery"], status["grid"], status["energy_wh"]["today"]
    battery = _w(None if bat["power_w"] is None else abs(bat["power_w"]))
    if bat["direction"] not in (None, "idle"):
        battery += f" {bat['direction']}"
    gpower = _w(None if grid["power_w"] is None else abs(grid["power_w"]))
    if grid["direction"] in ("import", "export"):
        gpower += f" {grid['direction']}"
    soc = "n/a" if bat["soc"] is None else percent(bat["soc"])
    return (
        f"{taken.astimezone():%Y-%m-%d %H:%M:%S}  solar {_w(status['solar']['total_w'])}  battery {battery}"
        f" SOC {soc}  household {_w(status['household']['power_w'])}  grid {gpower}"
        f"  today: yield {_kwh(today['solar'])}, feed-in {_kwh(today['feed_in'])}, purchase {_kwh(today['purchase'])}"
    )


def _title(status: dict[str, Any], device: DeviceSpec) -> str:
    inverter = status["inverter"]
    name = f' "{inverter["name"]}"' if inverter["name"] else ""
    serial = f", serial {inverter['serial']}" if inverter["serial"] else ""
    where = "simulated (--simulate)" if device.simulate else f"at {device.label}"
    return f"RCT Power{name}{serial}, {where}"


def _failure(result: ReadManyResult, names: list[str], device: DeviceSpec, client: Client) -> CliError | None:
    """One line for the values that did not come (those shown only where reported do not count)."""
    errors = {name: exc for name, exc in result.errors.items() if name not in OPTIONAL}
    if not errors:
        return None
    if not result.values:  # nothing at all: the device is not there, or silent
        return failed_values(result.errors, len(names), device, client.stats)
    return failed_values(errors, len([n for n in names if n not in OPTIONAL]), device, client.stats)


@click.command()
@device_options
@watch_option("the status")
@output_format_options("json", texts={"json": "Output the status as a JSON object (powers in W, energy in Wh)."})
def status(device: DeviceSpec, interval: float | None, count: int | None, fmt: str) -> None:
    """Show the inverter at a glance: what it makes, stores, uses and sells, now and today.

    The device's name, serial number and clock; solar, battery, household and grid power now
    (battery with its direction and state of charge, target and temperature; grid as purchase or
    feed-in); the energy of today and, where the device reports it, of its lifetime; the state and
    the active faults. Values that cannot be read are shown as n/a, one line on stderr says which,
    and the exit code is then not 0. With --watch the screen refreshes in place; into a pipe or a
    file it writes one line per refresh (one JSON object per line with --json).

    \b
    Examples:
      rctclient status --simulate
      rctclient status -h 192.168.0.10
      rctclient status -h inverter --watch 10
      rctclient status -h inverter --json | jq .battery.soc
    """
    names = status_oids()
    with open_client(device) as client:

        def take() -> _Reading:
            result = client.read_many(names)
            taken = datetime.now(UTC)
            data = build_status(result.values, taken) if result.values else {}
            return _Reading(data, taken, _failure(result, names, device, client), result)

        if interval is None:
            reading = take()
            _print_once(reading, device, fmt)
            if reading.error is not None:
                raise reading.error
            return

        def refresh() -> Refresh:
            reading = take()
            data, taken, error = reading.data, reading.taken, reading.error
            if fmt == "json":
                obj = _json(reading, device) if data else (error.as_json() if error else {})
                text = json.dumps(obj, ensure_ascii=False)
                return Refresh([text], text, error)
            if not data:
                stamp = f"{taken.astimezone():%Y-%m-%d %H:%M:%S}"
                return Refresh([stamp], f"{stamp}  n/a", error)
            return Refresh(render_status(data, _title(data, device), taken), status_line(data, taken), error)

        last = watch(interval, count, refresh)
    if last is not None:
        last.shown = True  # at its refresh already
        raise last


@dataclass(frozen=True, slots=True)
class _Reading:
    """One reading of the status: the structure, when, what failed."""

    data: dict[str, Any]
    taken: datetime
    error: CliError | None
    result: ReadManyResult


def _json(reading: _Reading, device: DeviceSpec) -> dict[str, Any]:
    from .._device import describe_error  # noqa: PLC0415

    out: dict[str, Any] = {"taken_at": reading.taken.astimezone().isoformat(timespec="seconds")}
    out["device"] = device.label
    out.update(reading.data)
    out["error"] = None if reading.error is None else reading.error.format_message()
    out["errors"] = {name: describe_error(exc, device) for name, exc in reading.result.errors.items()}
    return out


def _print_once(reading: _Reading, device: DeviceSpec, fmt: str) -> None:
    if not reading.data:  # nothing came: the error alone says it
        return
    if fmt == "json":
        click.echo(json.dumps(_json(reading, device), indent=2, ensure_ascii=False))
        if reading.error is not None:
            reading.error.reported = True
        return
    for line in render_status(reading.data, _title(reading.data, device), reading.taken):
        click.echo(line)


@click.command()
@device_options
@output_format_options("json", "csv")
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
        raise failed_values(result.errors, len(FAULT_OIDS), device, client.stats)
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

"""``rctclient read-value`` (one value, the original tool's output) and ``rctclient read`` (many values)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from .._common import EXIT_BAD_INPUT, EXIT_NOT_FOUND, CliError, complete_oid_name, emit, output_format_options
from .._device import DeviceSpec, device_options, open_client, worst_exit_code
from .._parse import parse_tz

if TYPE_CHECKING:
    from ...client import Client
    from ...registry import ObjectInfo

#: How far back ``read-value`` shows the event table.
EVENTS_SPAN = timedelta(days=30)
#: How many points (at the series' resolution) ``read-value`` shows of a time series.
SERIES_POINTS = 24


def _parse_id(text: str) -> int:
    try:
        return int(text, 16) if text.lower().startswith("0x") else int(text, 0)
    except ValueError:
        try:
            return int(text, 16)
        except ValueError:
            raise CliError(f"--id: not an object ID: {text!r} (use hex such as 0x959930BF)", EXIT_BAD_INPUT) from None


def _resolve_id(object_id: int) -> ObjectInfo:
    from ...registry import REGISTRY  # noqa: PLC0415

    try:
        return REGISTRY.resolve(object_id)
    except KeyError:
        raise CliError(f"unknown object ID 0x{object_id:08X}", EXIT_NOT_FOUND) from None


def plain_text(value: Any) -> str:
    """A value as the original tool printed it: the bare decoded value, bytes as hex, structures as JSON."""
    from dataclasses import is_dataclass  # noqa: PLC0415

    from ...describe import jsonable  # noqa: PLC0415

    if isinstance(value, bytes):
        return "0x" + value.hex()
    if is_dataclass(value) and not isinstance(value, type):
        return json.dumps(jsonable(value), separators=(",", ":"))
    return str(value)


def value_text(value: Any, info: ObjectInfo) -> str:
    """A value for people: with unit, enum label, SOC fractions as %, structures as compact JSON."""
    from dataclasses import is_dataclass  # noqa: PLC0415

    from ...describe import format_value  # noqa: PLC0415

    if is_dataclass(value) and not isinstance(value, type):
        return plain_text(value)
    return format_value(value, info)


def _query(client: Client, info: ObjectInfo, kind: str) -> Any:
    """Time series and the event table are queried with the current time (the last points / entries)."""
    from ...protocol import resolution_of  # noqa: PLC0415

    now = datetime.now().astimezone()
    if kind == "timeseries":
        step = resolution_of(info) or timedelta(minutes=5)
        return client.history(info, now - step * SERIES_POINTS, now)
    return client.events(now - EVENTS_SPAN, now)


def _series_lines(value: Any, kind: str, info: ObjectInfo) -> list[str]:
    tz = parse_tz(None)
    if kind == "timeseries":
        return [f"{p.timestamp.astimezone(tz).isoformat()} {value_text(p.value, info)}" for p in value]
    lines = []
    for e in value:
        kind_char = chr(e.entry_type) if 32 < e.entry_type < 127 else f"0x{e.entry_type:02x}"
        elements = " ".join("-" if x is None else f"0x{x:x}" for x in (e.element2, e.element3, e.element4))
        faults = "; ".join(f.description for f in e.faults)
        lines.append(
            f"{e.timestamp.astimezone(tz).isoformat()} {kind_char} {elements}{'  ' + faults if faults else ''}"
        )
    return lines


@click.command(name="read-value")
@device_options
@click.option("-i", "--id", "oid_id", help="Object ID to read, in hex (0x959930BF).")
@click.option("-n", "--name", "oid_name", shell_complete=complete_oid_name, help="OID name to read (battery.soc).")
@click.option(
    "-v", "--verbose", is_flag=True, help="One line: index, id, name, description, value, unit (else the bare value)."
)
@click.option("--json", "as_json", is_flag=True, help="Output a JSON object with the value and what it is.")
def read_value(device: DeviceSpec, oid_id: str | None, oid_name: str | None, verbose: bool, as_json: bool) -> None:
    """Read one value from the inverter and print it.

    Without --verbose only the value is printed, for scripts. Time series show their last points
    and the event table its entries of the last 30 days (queried with the current time).

    \b
    Examples:
      rctclient read-value --simulate -n battery.soc -v
      rctclient read-value --host 192.168.0.10 --id 0x959930BF
      rctclient read-value -h inverter -n logger.minutes_soc_log_ts
    """
    from ...describe import jsonable  # noqa: PLC0415
    from ...registry import REGISTRY  # noqa: PLC0415

    if (oid_id is None) == (oid_name is None):
        raise click.UsageError("give exactly one of --id and --name")
    if oid_name is not None:
        from .._common import resolve_oid  # noqa: PLC0415

        info: ObjectInfo = resolve_oid(oid_name)
    else:
        assert oid_id is not None
        info = _resolve_id(_parse_id(oid_id))
    kind = info.kind
    with open_client(device) as client:
        value = _query(client, info, kind) if kind in ("timeseries", "events") else client.read(info)
    series = kind in ("timeseries", "events")
    if as_json:
        out = {
            "index": info.index,
            "id": f"0x{info.object_id:08X}",
            "name": info.name,
            "description": info.description,
            "unit": info.unit,
            "value": jsonable(value),
        }
        if not series:
            out["text"] = value_text(value, info)
        click.echo(json.dumps(out, ensure_ascii=False, indent=None if not series else 2))
        return
    lines = _series_lines(value, kind, info) if series else []
    if verbose:
        description = info.description or ""
        unit = info.unit or ""
        if series:
            shown, unit = f"{len(value)} {'points' if kind == 'timeseries' else 'entries'}", ""
        elif unit == "%" and isinstance(value, float):
            shown, unit = value_text(value, info), ""  # SOC-like fractions: 0.53 (53.0 %)
        else:
            shown = plain_text(value)
        name = f"{info.name:{REGISTRY.name_max_length()}}"
        click.echo(f"#{info.index:3} 0x{info.object_id:08X} {name} {description:75} {shown} {unit}".rstrip())
    if series:
        for line in lines:
            click.echo(line)
    elif not verbose:
        click.echo(plain_text(value))


def _expand(patterns: tuple[str, ...]) -> tuple[list[ObjectInfo], int]:
    """The OIDs named by names, ids, globs and group names (in the order given); and how many were skipped."""
    from ...registry import REGISTRY  # noqa: PLC0415
    from ...types import ObjectGroup  # noqa: PLC0415
    from .._common import resolve_oid  # noqa: PLC0415

    groups = {g.name.lower() for g in ObjectGroup}
    chosen: list[ObjectInfo] = []
    skipped = 0
    for pattern in patterns:
        if pattern in REGISTRY or pattern.lower().startswith("0x"):
            info: ObjectInfo = resolve_oid(pattern)
            kind = info.kind
            if kind in ("timeseries", "events"):
                command = "history" if kind == "timeseries" else "events"
                raise CliError(
                    f"{info.name} is a {'time series' if kind == 'timeseries' else 'event table'}:"
                    f" use 'rctclient {command}'",
                    EXIT_BAD_INPUT,
                )
            chosen.append(info)
            continue
        if "*" in pattern or "?" in pattern:
            matches = REGISTRY.glob(pattern)
            if not matches:
                raise CliError(f"no OID name matches {pattern!r}", EXIT_NOT_FOUND)
        elif pattern.lower() in groups:
            matches = REGISTRY.by_group(pattern)
        else:
            resolve_oid(pattern)  # raises with suggestions
            continue  # pragma: no cover - resolve_oid found it after all
        for info in matches:
            if info.kind in ("timeseries", "events"):
                skipped += 1
            else:
                chosen.append(info)
    return list(dict.fromkeys(chosen)), skipped


@click.command()
@device_options
@click.argument("oids", nargs=-1, required=True, shell_complete=complete_oid_name)
@output_format_options("table", "json", "csv")
def read(device: DeviceSpec, oids: tuple[str, ...], fmt: str) -> None:
    """Read many values at once: OID names, ids, globs (* and ?) or group names.

    The values are requested together (pipelined), which is much faster than one by one. Time
    series and the event table are left out of globs and groups (see 'history' and 'events').
    If any value cannot be read, those are listed on stderr and the exit code is not 0.

    \b
    Examples:
      rctclient read --simulate battery.soc g_sync.p_ac_load_sum_lp
      rctclient read -h 192.168.0.10 'battery.*' --json
      rctclient read -h inverter power_mng --csv > power_mng.csv
      rctclient read -h inverter 'fault[*].flt'
    """
    from ...describe import jsonable  # noqa: PLC0415

    infos, skipped = _expand(oids)
    if skipped:
        click.echo(f"note: left out {skipped} time series / event table OIDs (see 'rctclient history')", err=True)
    if not infos:
        raise CliError("nothing to read", EXIT_NOT_FOUND)
    with open_client(device) as client:
        result = client.read_many(infos)
    rows = []
    for info in infos:
        row: dict[str, Any] = {
            "name": info.name,
            "id": f"0x{info.object_id:08X}",
            "description": info.description,
            "unit": info.unit,
        }
        if info.name in result.values:
            value = result.values[info.name]
            row["value"] = jsonable(value) if fmt != "table" else value_text(value, info)
            row["text"] = value_text(value, info)
            row["error"] = None
        else:
            error = result.errors[info.name]
            row["value"] = None if fmt != "table" else "(failed)"
            row["text"] = None
            row["error"] = str(error)
        rows.append(row)
    if fmt == "table":
        emit(rows, ["name", "value", "description"], fmt)
    else:
        emit(rows, ["name", "id", "value", "unit", "text", "description", "error"], fmt)
    if result.errors:
        for name, error in result.errors.items():
            click.echo(f"Error: {name}: {error}", err=True)
        failed = list(result.errors)
        shown = ", ".join(failed[:10]) + (f" and {len(failed) - 10} more" if len(failed) > 10 else "")
        raise CliError(
            f"{len(failed)} of {len(infos)} values could not be read from {device.label}: {shown}",
            worst_exit_code(result.errors.values()),
        )


COMMANDS = [read_value, read]

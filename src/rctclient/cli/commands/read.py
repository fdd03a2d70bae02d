"""``rctclient read-value`` (one value, the original tool's output) and ``rctclient read`` (many values)."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import click

from .._common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_FOUND,
    EXIT_USAGE,
    CliError,
    complete_oid_name,
    emit,
    output_format_options,
)
from .._device import DeviceSpec, describe_error, device_options, failed_values, open_client
from .._events import entry_elements, entry_end, entry_type
from .._format import detail_lines, display, is_fraction
from .._parse import parse_tz
from .._table import clip, terminal_width
from .._watch import Refresh, watch, watch_option

if TYPE_CHECKING:
    from ...client import Client
    from ...protocol import ReadManyResult
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
        raise CliError(
            f"unknown object ID 0x{object_id:08X} (see 'rctclient registry search' for the known ones)", EXIT_NOT_FOUND
        ) from None


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
    """A value at full precision, for people: with unit, enum label, fractions with their percentage."""
    return display(value, info, raw=True)


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
        end = entry_end(e)
        until = f" until {end.astimezone(tz).isoformat()}" if end is not None else ""
        elements = entry_elements(e, end)
        faults = "; ".join(f.description for f in e.faults)
        extra = "  ".join(part for part in (elements, faults) if part)
        lines.append(f"{e.timestamp.astimezone(tz).isoformat()} {entry_type(e.entry_type)}{until}  {extra}".rstrip())
    return lines


@click.command(name="read-value")
@device_options
@click.option("-i", "--id", "oid_id", help="Object ID to read, in hex (0x959930BF).")
@click.option("-n", "--name", "oid_name", shell_complete=complete_oid_name, help="OID name to read (battery.soc).")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="One line: index, id, name, description, value (enum label, %), unit (else the bare value).",
)
@output_format_options("json", texts={"json": "Output a JSON object with the value and what it is."})
def read_value(device: DeviceSpec, oid_id: str | None, oid_name: str | None, verbose: bool, fmt: str) -> None:
    """Read one value from the inverter and print it.

    Without --verbose only the value is printed, at full precision, as the original tool did (for
    scripts). Time series show their last points and the event table its entries of the last 30
    days (queried with the current time). With --debug (-d) the bytes received and the frame are
    logged on stderr, in hex.

    \b
    Examples:
      rctclient read-value --simulate -n battery.soc -v
      rctclient read-value --host 192.168.0.10 --id 0x959930BF
      rctclient read-value -h inverter -n logger.minutes_soc_log_ts
      rctclient read-value -h inverter -n battery.soc --debug 2>&1 | grep 'Got frame'
    """
    from ...describe import jsonable  # noqa: PLC0415
    from ...registry import REGISTRY  # noqa: PLC0415

    if (oid_id is None) == (oid_name is None):
        raise CliError("give exactly one of --id and --name", EXIT_USAGE)
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
    if fmt == "json":
        out = {
            "index": info.index,
            "id": f"0x{info.object_id:08X}",
            "name": info.name,
            "description": info.description,
            "unit": info.unit,
            "value": jsonable(value),
        }
        if not series:
            out["text"] = display(value, info)
        click.echo(json.dumps(out, ensure_ascii=False, indent=None if not series else 2))
        return
    lines = _series_lines(value, kind, info) if series else []
    if verbose:
        description = info.description or ""
        unit = info.unit or ""
        details: list[str] = []
        if series:
            shown, unit = f"{len(value)} {'points' if kind == 'timeseries' else 'entries'}", ""
        elif kind == "composite":
            shown, unit = display(value, info), ""
            details = ["  " + line for line in detail_lines(value, info)]
        elif info.enum_map or (isinstance(value, float) and is_fraction(info)):
            shown, unit = value_text(value, info), ""  # 4 (Internal); SOC-like fractions: 0.53 (53.0 %)
        else:
            shown = plain_text(value)
        # the original tool's columns; the description gives way when the line would not fit
        base = f"#{info.index:3} 0x{info.object_id:08X} {info.name:{REGISTRY.name_max_length()}} "
        tail = f" {shown} {unit}".rstrip()
        room = max(10, terminal_width() - len(base) - len(tail))
        click.echo(f"{base}{clip(description, room):{min(75, room)}}{tail}")
        for line in details:
            click.echo(line)
    if series:
        for line in lines:
            click.echo(line)
    elif not verbose:
        click.echo(plain_text(value))


def _expand(patterns: tuple[str, ...]) -> tuple[list[ObjectInfo], int]:
    """The OIDs named by names, ids, globs and group names; and how many were skipped."""
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
                close = REGISTRY.suggest(pattern.replace("*", "").replace("?", ""))
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise CliError(f"no OID name matches {pattern!r}{hint}", EXIT_NOT_FOUND)
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


def _rows(
    infos: list[ObjectInfo], result: ReadManyResult, fmt: str, raw: bool, device: DeviceSpec
) -> list[dict[str, Any]]:
    from ...describe import jsonable  # noqa: PLC0415

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
            row["text"] = display(value, info, raw=raw)
            row["value"] = row["text"] if fmt == "table" else jsonable(value)
            row["error"] = None
        else:
            row["value"] = "n/a" if fmt == "table" else None
            row["text"] = None
            row["error"] = describe_error(result.errors[info.name], device)
        rows.append(row)
    return rows


@click.command()
@device_options
@click.argument("oids", nargs=-1, required=True, shell_complete=complete_oid_name)
@click.option("--raw", is_flag=True, help="Values at full precision in the table (as in --json and --csv).")
@click.option("-v", "--verbose", is_flag=True, help="Also the id of each OID, and composite values in full.")
@watch_option("the values")
@output_format_options("json", "csv")
def read(
    device: DeviceSpec,
    oids: tuple[str, ...],
    raw: bool,
    verbose: bool,
    interval: float | None,
    count: int | None,
    fmt: str,
) -> None:
    """Read many values at once: OID names, ids, globs (* and ?) or group names.

    The values are requested together (pipelined), which is much faster than one by one, and
    listed by name (fault[2] before fault[10]). The table rounds them for people (W to 1, V to
    0.1, energy in kWh, fractions such as SOC in %) and summarises battery module structures
    (in full with -v and --json); --raw, --json and --csv keep full precision.
    Time series and the event table are left out of globs and groups (see 'history' and
    'events'). Values that cannot be read are shown as n/a, one line on stderr says which, and
    the exit code is then not 0.

    \b
    Examples:
      rctclient read --simulate battery.soc g_sync.p_ac_load_sum_lp
      rctclient read -h 192.168.0.10 'battery.*' --json
      rctclient read -h inverter power_mng --csv > power_mng.csv
      rctclient read -h inverter 'fault[*].flt'
      rctclient read -h inverter battery.soc g_sync.p_acc_lp --watch 2
    """
    from ...registry import natural_key  # noqa: PLC0415

    infos, skipped = _expand(oids)
    if skipped:
        click.echo(f"note: left out {skipped} time series / event table OIDs (see 'rctclient history')", err=True)
    if not infos:
        raise CliError("nothing to read", EXIT_NOT_FOUND)
    infos.sort(key=lambda info: natural_key(info.name))
    with open_client(device) as client:
        if interval is not None:
            last = watch(interval, count, _watcher(client, infos, device, fmt, raw))
            if last is not None:
                last.shown = True  # at its refresh already
                raise last
            return
        result = client.read_many(infos)
        error = failed_values(result.errors, len(infos), device, client.stats) if result.errors else None
    if error is not None and not result.values:
        raise error  # nothing came: one line says it
    rows = _rows(infos, result, fmt, raw, device)
    if fmt == "table":
        columns = ["name", "id", "value", "description"] if verbose else ["name", "value", "description"]
        emit(rows, columns, fmt, flexible=("description", "value"))
        if verbose:
            _details(infos, result)
    else:
        emit(rows, ["name", "id", "value", "unit", "text", "description", "error"], fmt)
    if error is not None:
        error.reported = True  # the rows say which failed
        raise error


def _details(infos: list[ObjectInfo], result: ReadManyResult) -> None:
    """Composite values in full, after the table (-v)."""
    for info in infos:
        if info.kind == "composite" and info.name in result.values:
            click.echo(f"\n{info.name}:")
            for line in detail_lines(result.values[info.name], info):
                click.echo(f"  {line}")


def _watcher(client: Client, infos: list[ObjectInfo], device: DeviceSpec, fmt: str, raw: bool) -> Any:
    """The refresh of ``read --watch``: the table on a terminal; a line, a JSON object or a CSV row per refresh."""
    from ...describe import jsonable  # noqa: PLC0415
    from .._table import render  # noqa: PLC0415

    header_done = False
    width = terminal_width()

    def refresh() -> Refresh:
        nonlocal header_done
        result = client.read_many(infos)
        taken = datetime.now(UTC).astimezone()
        error = failed_values(result.errors, len(infos), device, client.stats) if result.errors else None
        stamp = f"{taken:%Y-%m-%d %H:%M:%S}"
        if fmt == "json":
            obj = {
                "taken_at": taken.isoformat(timespec="seconds"),
                "values": {i.name: jsonable(result.values[i.name]) for i in infos if i.name in result.values},
                "errors": {name: describe_error(exc, device) for name, exc in result.errors.items()},
            }
            text = json.dumps(obj, ensure_ascii=False)
            return Refresh([text], text, error)
        texts = [display(result.values[i.name], i, raw=raw) if i.name in result.values else "n/a" for i in infos]
        if fmt == "csv":
            buf = io.StringIO()
            writer = csv.writer(buf, lineterminator="")
            if not header_done:
                writer.writerow(["time", *(i.name for i in infos)])
                buf.write("\n")
                header_done = True
            values = [str(jsonable(result.values[i.name])) if i.name in result.values else "" for i in infos]
            writer.writerow([taken.isoformat(timespec="seconds"), *values])
            return Refresh(buf.getvalue().splitlines(), buf.getvalue(), error)
        rows = [[i.name, text, i.description or ""] for i, text in zip(infos, texts, strict=True)]
        screen = [f"{stamp}  {device.label}", "", *render(["name", "value", "description"], rows, width, [2, 1])]
        line = clip(f"{stamp}  " + "  ".join(f"{i.name} {text}" for i, text in zip(infos, texts, strict=True)), width)
        return Refresh(screen, line, error)

    return refresh


COMMANDS = [read_value, read]

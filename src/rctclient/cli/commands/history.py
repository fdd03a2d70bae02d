"""``rctclient history`` (a time series between two instants) and ``rctclient events`` (the event table)."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import io
import json
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

import click

from .._common import EXIT_BAD_INPUT, EXIT_ERROR, EXIT_NOT_FOUND, CliError, emit
from .._common import output_format_options as _formats
from .._device import DeviceSpec, check_output, device_options, open_client, progress, write_output
from .._parse import parse_time, parse_tz

if TYPE_CHECKING:
    from ...registry import ObjectInfo
    from ...types import TimeseriesPoint

#: Points of a time series asked for per step of the progress bar (one day of 5-minute points).
POINTS_PER_STEP = 288
TZ_HELP = "Time zone of naive times and of the output (Europe/Berlin); default: this computer's."
#: The extra that --plot needs (not part of rctclient's dependencies).
PLOT_EXTRA = "plot"
#: The last second a device's log can hold (its queries carry an INT32).
MAX_STAMP = 2**31 - 1


def _series_names() -> list[str]:
    from ...registry import REGISTRY  # noqa: PLC0415

    return [info.name for info in REGISTRY.all() if info.kind == "timeseries"]


def _short(name: str) -> str:
    """``logger.minutes_soc_log_ts`` -> ``minutes_soc`` (what may be typed instead)."""
    return name.removeprefix("logger.").removesuffix("_log_ts")


def complete_series(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of time series names, long (``logger.minutes_soc_log_ts``) and short (``minutes_soc``)."""
    names = _series_names()
    return sorted({n for n in names + [_short(n) for n in names] if n.startswith(incomplete)})


def _series(name: str) -> ObjectInfo:
    """A time series OID by name; ``minutes_soc`` and ``minutes_soc_log_ts`` mean ``logger.minutes_soc_log_ts``."""
    from ...registry import REGISTRY  # noqa: PLC0415
    from .._common import resolve_oid  # noqa: PLC0415

    for candidate in (f"logger.{name}", f"logger.{name}_log_ts", f"{name}_log_ts"):
        if name not in REGISTRY and candidate in REGISTRY:
            name = candidate
            break
    if name not in REGISTRY and not name.lower().startswith("0x"):
        close = REGISTRY.suggest(name, names=_series_names())
        hint = f"; did you mean {', '.join(_short(n) for n in close)}?" if close else ""
        raise CliError(f"unknown time series {name!r}{hint} (see 'rctclient registry search _log_ts')", EXIT_NOT_FOUND)
    info: ObjectInfo = resolve_oid(name)
    if info.kind != "timeseries":
        raise CliError(
            f"{info.name} is not a time series (see 'rctclient registry search _log_ts' for those)", EXIT_BAD_INPUT
        )
    return info


def _range(from_: str, to: str, tz_name: str | None) -> tuple[datetime, datetime, tzinfo]:
    tz = parse_tz(tz_name)
    now = datetime.now(tz)
    start = parse_time(from_, tz, "--from", now)
    end = parse_time(to, tz, "--to", now)
    if end < start:
        raise CliError(f"--to ({end.isoformat()}) is before --from ({start.isoformat()})", EXIT_BAD_INPUT)
    return start, end, tz


def _escape_tag(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")


def _escape_measurement(text: str) -> str:
    return text.replace("\\", "\\\\").replace(",", "\\,").replace(" ", "\\ ")


def _float(value: float) -> str:
    return repr(float(value))


def render_csv(points: list[TimeseriesPoint], info: ObjectInfo, tz: tzinfo, header: str, measurement: str) -> str:
    """CSV: ``timestamp,value`` (simple header or none) or InfluxDB 2 annotated CSV (influx2)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header == "influx2":
        buf.write("#datatype measurement,tag,double,dateTime:RFC3339\n")
        writer.writerow(["m", "oid", "value", "time"])
        for p in points:
            stamp = p.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow([measurement, info.name, _float(p.value), stamp])
        return buf.getvalue()
    if header == "simple":
        writer.writerow(["timestamp", info.name])
    for p in points:
        writer.writerow([p.timestamp.astimezone(tz).isoformat(), _float(p.value)])
    return buf.getvalue()


def render_influx(points: list[TimeseriesPoint], info: ObjectInfo, measurement: str, host: str) -> str:
    """InfluxDB line protocol, one line per point, timestamps in nanoseconds."""
    tags = f"{_escape_measurement(measurement)},oid={_escape_tag(info.name)},host={_escape_tag(host)}"
    return "".join(f"{tags} value={_float(p.value)} {int(p.timestamp.timestamp()) * 1_000_000_000}\n" for p in points)


def render_json(points: list[TimeseriesPoint], info: ObjectInfo, start: datetime, end: datetime, tz: tzinfo) -> str:
    out = {
        "name": info.name,
        "id": f"0x{info.object_id:08X}",
        "description": info.description,
        "unit": info.unit,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "points": [{"timestamp": p.timestamp.astimezone(tz).isoformat(), "value": p.value} for p in points],
    }
    return json.dumps(out, indent=1, ensure_ascii=False) + "\n"


def plot_axis(info: ObjectInfo) -> tuple[float, str]:
    """The factor and the label of the y axis: fractions (SOC values, 0..1 on the wire) in %, the rest in their unit."""
    from .._format import is_fraction  # noqa: PLC0415

    if is_fraction(info):
        return 100.0, "%"
    if info.unit == "Wh":
        return 0.001, "kWh"
    return 1.0, info.unit or ""


def _plot(points: list[TimeseriesPoint], info: ObjectInfo, tz: tzinfo, path: str) -> None:
    matplotlib: Any = importlib.import_module("matplotlib")
    matplotlib.use("Agg")
    pyplot: Any = importlib.import_module("matplotlib.pyplot")
    factor, label = plot_axis(info)
    figure, axes = pyplot.subplots(figsize=(10, 4))
    axes.plot([p.timestamp.astimezone(tz) for p in points], [p.value * factor for p in points])
    axes.set_title(f"{info.name}" + (f" ({info.description})" if info.description else ""))
    axes.set_ylabel(label)
    axes.grid(True)
    figure.autofmt_xdate()
    try:
        figure.savefig(path)
    except (OSError, ValueError) as exc:
        raise CliError(f"--plot: cannot write {path}: {exc}", EXIT_ERROR) from None
    finally:
        pyplot.close(figure)


def fetch_history(
    device: DeviceSpec, info: ObjectInfo, start: datetime, end: datetime, tz: tzinfo
) -> list[TimeseriesPoint]:
    """The points between ``start`` and ``end``, asked for a day's worth of points at a time (the progress bar).

    Stretches without points are not walked through a day at a time: an end in the future, a gap in
    the log and the time before the log began each cost one query (that of the newest point before them).
    """
    from ...protocol import resolution_of, to_unix  # noqa: PLC0415
    from ...types import Timeseries  # noqa: PLC0415

    step = int(((resolution_of(info) or timedelta(minutes=5)) * POINTS_PER_STEP).total_seconds())
    low, top = max(to_unix(start), 0), min(to_unix(end), MAX_STAMP)
    points: dict[datetime, TimeseriesPoint] = {}
    if top < low:
        return []
    total = (top - low) // step + 1
    with open_client(device) as client, progress(total, f"{info.name}") as advance:
        probe = True
        while top >= low:
            if probe:  # where the next point at or before ``top`` is, if any
                page = client.query(info, top)
                assert isinstance(page, Timeseries)
                stamps = [stamp for stamp in (to_unix(p.timestamp) for p in page.points) if stamp <= top]
                if not stamps or max(stamps) < low:
                    break
                top = max(stamps)
            bottom = max(low, top - step + 1)
            chunk = client.history(info, bottom, top)
            for point in chunk:
                points.setdefault(point.timestamp, point)
            probe = not chunk
            left = (bottom - low) // step + (1 if bottom > low else 0)
            advance(max(0, total - left))
            total = left
            top = bottom - 1
    return [points[stamp] for stamp in sorted(points)]


@click.command()
@device_options
@click.argument("name", shell_complete=complete_series)
@click.option("--from", "from_", default="24h", show_default=True, help="Start: ISO 8601, 'now' or a span ago (7d).")
@click.option("--to", default="now", show_default=True, help="End (inclusive): ISO 8601, 'now' or a span ago.")
@click.option(
    "--tz", "tz_name", help="Time zone of naive times and of the output (Europe/Berlin); default: this computer's."
)
@_formats(
    "csv",
    "json",
    "influx",
    default="csv",
    texts={
        "csv": "Output CSV (default).",
        "json": "Output a JSON object with the points (on failure: an error object).",
        "influx": "Output InfluxDB line protocol (nanosecond timestamps).",
    },
)
@click.option(
    "--header",
    type=click.Choice(["simple", "influx2", "none"]),
    default="simple",
    show_default=True,
    help="CSV header: a column line, InfluxDB 2 annotated CSV, or no header.",
)
@click.option("--measurement", default="rctclient", show_default=True, help="Measurement name for the Influx formats.")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="Write to this file (atomically) instead of stdout."
)
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), help="Also draw the points into this PNG file.")
def history(
    device: DeviceSpec,
    name: str,
    from_: str,
    to: str,
    tz_name: str | None,
    fmt: str,
    header: str,
    measurement: str,
    output: str | None,
    plot_path: str | None,
) -> None:
    """Fetch the logged points of time series NAME between --from and --to (default: the last 24 h).

    NAME is a logger.*_log_ts OID; the 'logger.' prefix and '_log_ts' suffix may be left out.
    Points come at the series' resolution (5 minutes, a day, a month, a year), oldest first,
    once each, at full precision. Timestamps are printed in --tz. A progress bar runs on stderr
    when it is a terminal. --plot needs matplotlib (the 'plot' extra); fractions such as SOC are
    drawn in %, energy in kWh.

    \b
    Examples:
      rctclient history --simulate minutes_soc
      rctclient history -h 192.168.0.10 logger.day_ea_log_ts --from 2024-06-01 --to 2024-06-30 --tz Europe/Berlin
      rctclient history -h inverter minutes_ubat --header influx2 -o ubat.csv
      rctclient history -h inverter minutes_ea --influx --from 7d | influx write -b solar
    """
    info = _series(name)
    if plot_path is not None and importlib.util.find_spec("matplotlib") is None:
        raise CliError(
            f"--plot needs matplotlib, which is not installed: pip install 'rctclient[{PLOT_EXTRA}]'"
            " (or pip install matplotlib)",
            EXIT_ERROR,
        )
    start, end, tz = _range(from_, to, tz_name)
    check_output(output)
    check_output(plot_path)
    points = fetch_history(device, info, start, end, tz)
    if fmt == "json":
        text = render_json(points, info, start, end, tz)
    elif fmt == "influx":
        text = render_influx(points, info, measurement, device.label)
    else:
        text = render_csv(points, info, tz, header, measurement)
    write_output(output, text)
    if plot_path is not None:
        _plot(points, info, tz, plot_path)
    if not points:
        click.echo(f"no points of {info.name} between {start.isoformat()} and {end.isoformat()}", err=True)


@click.command()
@device_options
@click.option("--from", "from_", default="30d", show_default=True, help="Start: ISO 8601, 'now' or a span ago (7d).")
@click.option("--to", default="now", show_default=True, help="End (inclusive): ISO 8601, 'now' or a span ago.")
@click.option(
    "--tz", "tz_name", help="Time zone of naive times and of the output (Europe/Berlin); default: this computer's."
)
@_formats("json", "csv")
def events(device: DeviceSpec, from_: str, to: str, tz_name: str | None, fmt: str) -> None:
    """List the entries of the inverter's event table between --from and --to (default: the last 30 days).

    Each entry has a type, a time and three raw elements. The types: F a fault, W a warning, S a
    status change (other types are shown as their letter). The vendor does not document the
    elements: one that holds a time after the entry's is shown as the time the event ended (with
    how long it lasted), a fault bit with the fault's description, the rest in hex. --json and
    --csv have the raw elements too.

    \b
    Examples:
      rctclient events --simulate
      rctclient events -h 192.168.0.10 --from 2024-06-01 --to 2024-07-01 --csv
    """
    from .._events import ENTRY_TYPES, entry_elements, entry_end, entry_type  # noqa: PLC0415
    from .._format import duration  # noqa: PLC0415

    start, end, tz = _range(from_, to, tz_name)
    with open_client(device) as client:
        entries = client.events(start, end, tz=tz)
    rows: list[dict[str, Any]] = []
    for e in entries:
        ended = entry_end(e)
        char = chr(e.entry_type) if 32 < e.entry_type < 127 else None
        seconds = None if ended is None else round((ended - e.timestamp).total_seconds())
        if fmt == "table":  # for people: times to the second in --tz, the type named, elements explained
            rows.append(
                {
                    "time": f"{e.timestamp.astimezone(tz):%Y-%m-%d %H:%M:%S}",
                    "type": entry_type(e.entry_type),
                    "ended": None if ended is None else f"{ended.astimezone(tz):%Y-%m-%d %H:%M:%S}",
                    "lasted": None if seconds is None else duration(seconds),
                    "elements": entry_elements(e, ended),
                    "faults": "; ".join(f.description for f in e.faults),
                }
            )
            continue
        faults: Any = [{"bit": f.bit, "description": f.description} for f in e.faults]
        rows.append(
            {
                "time": e.timestamp.astimezone(tz).isoformat(),
                "type": char or e.entry_type,
                "type_name": ENTRY_TYPES.get(char or ""),
                "ended": None if ended is None else ended.astimezone(tz).isoformat(),
                "duration_s": seconds,
                "element2": e.element2,
                "element3": e.element3,
                "element4": e.element4,
                "faults": faults if fmt == "json" else "; ".join(f["description"] for f in faults),
            }
        )
    if fmt == "table" and not rows:
        click.echo(f"no events between {start.isoformat()} and {end.isoformat()}", err=True)
        return
    if fmt == "table":
        emit(rows, ["time", "type", "ended", "lasted", "elements", "faults"], fmt, flexible=("faults",))
    else:
        columns = ["time", "type", "type_name", "ended", "duration_s", "element2", "element3", "element4", "faults"]
        emit(rows, columns, fmt)


COMMANDS = [history, events]

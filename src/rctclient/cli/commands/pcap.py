"""``rctclient read-pcap``: decode the conversations in a pcap/pcapng capture."""

from __future__ import annotations

import json
import sys
from typing import IO, TYPE_CHECKING, Any

import click

from .._common import EXIT_BAD_INPUT, EXIT_NOT_FOUND, CliError, emit, output_format_options, people_text
from .._table import GAP, clip, header, terminal_width, wrap_items

if TYPE_CHECKING:
    from ...pcap import CaptureEvent, CaptureReader

_COLUMNS = ("time", "flow", "direction", "command", "id", "name", "value", "flags")
#: Widths of the timeline's columns; NAME and VALUE (None) share what the terminal leaves, FLAGS take the rest.
_FIXED = (15, 33, 11, 13, 10, None, None, 0)
#: What NAME and VALUE get at least, and what FLAGS keep before those shrink.
_NAME, _VALUE, _FLAGS = 28, 22, 14
#: What a value keeps when long flags need its room (else the flags go on a line of their own).
_MIN_VALUE = 12
_INDENT = " " * 17  # under the FLOW column


def _oids(patterns: tuple[str, ...]) -> set[int] | None:
    if not patterns:
        return None
    from ...registry import REGISTRY  # noqa: PLC0415
    from .._common import resolve_oid  # noqa: PLC0415

    oids: set[int] = set()
    for pattern in patterns:
        infos = REGISTRY.glob(pattern)
        if not infos and not any(c in pattern for c in "*?"):
            infos = [resolve_oid(pattern)]  # an id such as 0x959930BF, or an error with suggestions
        if not infos:
            raise CliError(f"no OID name matches {pattern!r}", EXIT_NOT_FOUND)
        oids.update(i.object_id for i in infos)
    return oids


def _time(t: float) -> str:
    from ...pcap.model import utc_datetime  # noqa: PLC0415

    when = utc_datetime(t)
    return f"{t:.6f}" if when is None else when.strftime("%H:%M:%S.%f")  # a corrupt time stamp: as it is


def _widths(width: int) -> tuple[int, ...]:
    """The widths of the timeline's columns on a line of ``width`` (streamed: chosen once, before the rows)."""
    fixed = sum(w for w in _FIXED if w) + len(GAP) * (len(_FIXED) - 1)
    room = max(_NAME + _VALUE, width - fixed - _FLAGS)
    name = max(_NAME, min(32, room // 2))
    value = max(_VALUE, min(40, room - name))
    return tuple(name if i == 5 else value if i == 6 else w or 0 for i, w in enumerate(_FIXED))


def _table_line(values: tuple[str, ...], widths: tuple[int, ...], width: int) -> str:
    """One event of the timeline: the columns up to NAME as they are; the value gives way to the flags, and
    flags that still do not fit go on a line of their own below (indented), so nothing is cut but values."""
    *head, value, flags = values
    line = GAP.join(clip(v, w).ljust(w) for v, w in zip(head, widths, strict=False))
    column = widths[len(head)]
    room = width - len(line) - len(GAP) - (len(GAP) + len(flags) if flags else 0)
    if flags and room < _MIN_VALUE:  # the flags on the next line; the value has its column
        main = (line + GAP + clip(value, column)).rstrip()
        return clip(main, width) + "\n" + clip(_INDENT + "↳ " + flags, width)
    cell = clip(value, room).ljust(min(column, room)) if len(value) <= column else clip(value, max(column, room))
    return clip((line + GAP + cell + (GAP + flags if flags else "")).rstrip(), width)


def _table_row(ev: CaptureEvent) -> tuple[str, ...]:
    d = ev.description
    flags = [people_text(str(f)) for f in ev.flags]
    if ev.latency is not None:
        flags.append(f"after {ev.latency * 1000:.1f} ms")
    text = d.text if d.kind in ("frame", "crc-mismatch") else f"[{d.kind}] {d.text}"
    return (
        _time(ev.time),
        str(ev.flow),
        ev.direction.value,
        d.command or "",
        "" if d.object_id is None else f"0x{d.object_id:08X}",
        d.name or "",
        text,
        ", ".join(flags),
    )


def _print_timeline(reader: CaptureReader, oids: set[int] | None, fmt: str, out: IO[str]) -> int:
    """Write the events as they come (streaming: nothing is collected). Returns how many were written."""
    count = 0
    width = terminal_width(out)
    widths = _widths(width)
    for ev in reader:
        if oids is not None and ev.object_id not in oids:
            continue
        if fmt == "json":
            out.write(("[\n" if not count else ",\n") + json.dumps(ev.as_dict(), ensure_ascii=False, default=str))
        else:
            if not count:
                titles = tuple(header(c) if c != "time" else "TIME (UTC)" for c in _COLUMNS)
                out.write(_table_line(titles, widths, width) + "\n")
            out.write(_table_line(_table_row(ev), widths, width) + "\n")
        count += 1
    if fmt == "json":
        out.write("\n]\n" if count else "[]\n")
    return count


def _print_summary(reader: CaptureReader, oids: set[int] | None, fmt: str, out: IO[str]) -> int:
    from ...pcap import summarize  # noqa: PLC0415

    objects = summarize(reader, reader.stats, oids)
    stats = reader.stats
    totals: dict[str, Any] = {
        "packets": stats.packets,
        "segments": stats.segments,
        "flows": stats.flows,
        "payload_bytes": stats.payload_bytes,
        "frames": stats.frames,
        "crc_errors": stats.crc_errors,
        "garbage_bytes": stats.garbage_bytes,
        "keepalives": stats.keepalives,
        "extensions": stats.extensions,
        "unsolicited": stats.unsolicited,
        "unanswered": sum(stats.unanswered.values()) + stats.unanswered_other,
        "retransmitted_bytes": stats.retransmitted_bytes,
        "out_of_order": stats.out_of_order,
        "gaps": stats.gaps,
        "gap_bytes": stats.gap_bytes,
        "evicted_flows": stats.evicted_flows,
    }
    obj_rows = [o.as_dict() for o in objects]
    flow_rows = [f.as_dict() for f in reader.flows]
    if fmt == "json":
        json.dump({"totals": totals, "flows": flow_rows, "objects": obj_rows}, out, indent=2, ensure_ascii=False)
        out.write("\n")
        return len(obj_rows)
    for row in flow_rows:  # shorter headers for the table: the bytes of each direction
        row["first"] = _time(row["first_time"])
        row["last"] = _time(row["last_time"])
        row["to_device"], row["from_device"] = row["bytes_to_device"], row["bytes_from_device"]
        row["retransmitted"] = row["retransmitted_bytes"]
    flow_cols = ["index", "flow", "first", "last", "packets", "to_device", "from_device", "frames"]
    flow_cols += ["errors", "gaps", "retransmitted"]
    if stats.evicted_flows:
        flow_cols.append("evicted")
    if flow_rows:
        emit(flow_rows, flow_cols, "table", out)
        out.write("\n")
    obj_cols = ["id", "name", "requests", "answers", "unsolicited", "unanswered", "errors"]
    obj_cols += ["latency_min_ms", "latency_avg_ms", "latency_max_ms"]
    if obj_rows:
        emit(obj_rows, obj_cols, "table", out)
        out.write("\n")
    items = [f"{k.replace('_', ' ')}: {v}" for k, v in totals.items()]
    out.write("\n".join(wrap_items(items, terminal_width(out))) + "\n")
    return len(obj_rows)


@click.command(name="read-pcap")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option("--port", type=click.IntRange(1, 65535), default=8899, show_default=True, help="The device's TCP port.")
@output_format_options("json", texts={"json": "Output JSON: a list of events, or the summary as an object."})
@click.option(
    "--name",
    "names",
    multiple=True,
    metavar="GLOB",
    help="Only these OIDs: a name, a pattern with * and ? (brackets are literal) or an id; repeatable.",
)
@click.option("--summary", is_flag=True, help="Per OID counts, errors and request→answer latency, and per connection.")
@click.option("--noise", is_flag=True, help="Also list the bytes between frames.")
@click.option(
    "--max-flows",
    type=click.IntRange(1),
    default=1024,
    show_default=True,
    help="Connections kept open at once; beyond, the least recently active is closed (flagged 'flow evicted').",
)
def read_pcap(
    file: str, port: int, fmt: str, names: tuple[str, ...], summary: bool, noise: bool, max_flows: int
) -> None:
    """Decode the conversations with a device in a capture (pcap or pcapng; '-' reads stdin).

    Every TCP connection with the port is put back together per direction (in order, without
    retransmissions; holes are shown as gaps) and decoded. Each frame is shown with its time (UTC),
    connection, direction, command, OID, name, decoded value and flags: crc mismatch, bad payload,
    unknown oid, unsolicited answer (no earlier request for it), wrong direction, keep-alive,
    extension, gap, flow evicted (closed early to bound memory). Answers show how long after their
    request they came.

    Reads what tcpdump, Wireshark and tshark write: Ethernet, Linux cooked (-i any), loopback and
    raw IP captures, IPv4 and IPv6. A file that ends inside a packet (a capture still being
    written) is decoded up to there, with a warning.

    \b
    Examples:
      tcpdump -i any -w inverter.pcap 'tcp port 8899'
      rctclient read-pcap inverter.pcap
      rctclient read-pcap inverter.pcapng --name 'battery.*' --summary
      rctclient read-pcap --json --name battery.soc inverter.pcap | jq '.[].value'
      tcpdump -i eth0 -U -w - 'tcp port 8899' | rctclient read-pcap -
    """
    try:
        from ...pcap import CaptureError, CaptureLimits, read_capture  # noqa: PLC0415

        oids = _oids(names)
        source: Any = sys.stdin.buffer if file == "-" else file
        limits = CaptureLimits(max_flows=max_flows)
        reader = read_capture(source, port, report_noise=noise, flow_stats=summary, limits=limits)
    except CaptureError as exc:
        raise CliError(f"{file}: {exc}", EXIT_BAD_INPUT) from None
    except OSError as exc:
        raise CliError(f"{file}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    out = sys.stdout
    try:
        with reader:
            if summary:
                _print_summary(reader, oids, fmt, out)
            else:
                _print_timeline(reader, oids, fmt, out)
            out.flush()
    except CaptureError as exc:
        raise CliError(f"{file}: {exc}", EXIT_BAD_INPUT) from None
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):  # `| head`: stop quietly
            sys.stderr.close()
            sys.exit(0)
        raise CliError(f"{file}: {exc.strerror or exc}", EXIT_BAD_INPUT) from None
    stats = reader.stats
    for warning in stats.warnings():
        click.echo(f"warning: {warning}", err=True)
    if not stats.flows:
        hint = ""
        if stats.other_ports:
            ports = ", ".join(str(p) for p, _ in stats.other_ports.most_common(5))
            hint = f"; TCP ports seen: {ports} (use --port)"
        click.echo(f"no TCP traffic on port {port} in {stats.packets} packets{hint}", err=True)
    if stats.error:
        sys.exit(EXIT_BAD_INPUT)


COMMANDS = [read_pcap]

"""``rctclient dump``: every readable value to a JSON snapshot that the simulator can replay."""

from __future__ import annotations

import json
import math
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from .._common import CliError
from .._device import (
    DeviceSpec,
    check_output,
    device_options,
    listed,
    open_client,
    progress,
    sent_summary,
    worst_exit_code,
    write_output,
)

if TYPE_CHECKING:
    from ...registry import ObjectInfo

#: OIDs read per batch (the progress advances after each).
BATCH = 50


def dump_oids(include_other: bool) -> tuple[list[ObjectInfo], list[ObjectInfo]]:
    """The OIDs whose values go into a snapshot, and (with ``include_other``) the structured ones besides."""
    from ...registry import REGISTRY  # noqa: PLC0415
    from ...types import DataType  # noqa: PLC0415

    plain, other = [], []
    for info in REGISTRY.all():
        kind = info.kind
        if kind == "value" and info.response_data_type is not DataType.UNKNOWN:
            plain.append(info)
        elif include_other and kind in ("composite", "value"):
            other.append(info)  # battery module structures and raw (UNKNOWN) payloads
    return plain, other


def _finite(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


@click.command()
@device_options
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, writable=True),
    help="Write the snapshot to this file (atomically: complete or not at all) instead of stdout.",
)
@click.option(
    "--all",
    "include_other",
    is_flag=True,
    help="Also read the battery module structures and raw values, kept apart under 'other' (not replayed).",
)
def dump(device: DeviceSpec, output: str | None, include_other: bool) -> None:
    """Read every readable value into a JSON snapshot that the simulator can serve again.

    The snapshot is {"rctclient_snapshot": 1, "taken_at": ..., "values": {name: value}}; time
    series, the event table and structured values are left out (see --all). Values the device does
    not answer are listed under "missing" (and named on stderr). Progress goes to stderr.

    \b
    Examples:
      rctclient dump -h 192.168.0.10 -o inverter.json
      rctclient simulator --snapshot inverter.json
      rctclient dump --simulate | jq '.values["battery.soc"]'
    """
    from ...describe import jsonable  # noqa: PLC0415
    from ...exceptions import RctConnectionError, RctTimeout  # noqa: PLC0415
    from ...registry import natural_key  # noqa: PLC0415

    check_output(output)
    plain, other = dump_oids(include_other)
    wanted = plain + other
    values: dict[str, Any] = {}
    missing: list[str] = []
    started = time.monotonic()
    with open_client(device) as client:
        taken_at = datetime.now().astimezone()
        with progress(len(wanted), f"reading {len(wanted)} values") as advance:
            for start in range(0, len(wanted), BATCH):
                batch = wanted[start : start + BATCH]
                result = client.read_many(batch)
                if not result.values and all(
                    isinstance(e, RctTimeout | RctConnectionError) for e in result.errors.values()
                ):
                    # not one of BATCH values: the device is gone (or silent); the rest would only wait too
                    raise CliError(
                        f"{device.label} stopped answering after {len(values)} of {len(wanted)} values"
                        f"{sent_summary(client.stats)}; nothing written",
                        worst_exit_code(result.errors.values()),
                    )
                values.update(result.values)
                missing.extend(result.errors)
                advance(len(batch))
    plain_names = {info.name for info in plain}
    snapshot: dict[str, Any] = {
        "rctclient_snapshot": 1,
        "taken_at": taken_at.isoformat(timespec="seconds"),
        "device": device.label,
        "values": {name: v for name, v in sorted(values.items()) if name in plain_names and _finite(v)},
    }
    if include_other:
        snapshot["other"] = {name: jsonable(v) for name, v in sorted(values.items()) if name not in plain_names}
    not_finite = sorted(n for n, v in values.items() if n in plain_names and not _finite(v))
    if not_finite:  # NaN and infinities are no JSON numbers: named, not stored
        snapshot["not_finite"] = not_finite
    names = sorted(missing, key=natural_key)
    if missing:
        snapshot["missing"] = names
    write_output(output, json.dumps(snapshot, indent=1, ensure_ascii=False, sort_keys=False) + "\n")
    elapsed = time.monotonic() - started
    where = f" to {output}" if output and output != "-" else ""
    click.echo(
        f"dumped {len(values)} of {len(wanted)} values{where} in {elapsed:.1f} s"
        + (f"; {len(missing)} did not answer (listed under 'missing'): {listed(names)}" if missing else ""),
        err=True,
    )


COMMANDS = [dump]

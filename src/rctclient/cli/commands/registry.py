"""``rctclient registry``: browse the object IDs the package knows."""

from __future__ import annotations

import json
from typing import Any

import click

from .._common import EXIT_NOT_FOUND, CliError, complete_oid_name, emit, output_format_options, resolve_oid

_COLUMNS = ["id", "name", "request_type", "response_type", "unit", "description"]


def _row(info: Any) -> dict[str, Any]:
    return {
        "id": f"0x{info.object_id:08X}",
        "name": info.name,
        "group": info.group.name.lower(),
        "request_type": info.request_data_type.name,
        "response_type": info.response_data_type.name,
        "unit": info.unit,
        "description": info.description,
    }


@click.group()
def registry() -> None:
    """Browse the known object IDs (OIDs): names, data types, units, descriptions."""


@registry.command(name="list")
@click.option("-g", "--group", help="Only this group (e.g. battery, energy, power_mng).")
@output_format_options("json", "csv")
def list_(group: str | None, fmt: str) -> None:
    """List every known OID, sorted by name (fault[2] before fault[10]).

    \b
    Examples:
      rctclient registry list --group battery
      rctclient registry list --csv > oids.csv
    """
    from ...registry import REGISTRY, natural_key  # noqa: PLC0415

    if group:
        try:
            infos = REGISTRY.by_group(group)
        except KeyError:
            from ...types import ObjectGroup  # noqa: PLC0415

            known = ", ".join(g.name.lower() for g in ObjectGroup)
            raise CliError(f"unknown group {group!r}; known groups: {known}", EXIT_NOT_FOUND) from None
    else:
        infos = REGISTRY.all()
    infos.sort(key=lambda info: natural_key(info.name))
    emit([_row(i) for i in infos], _COLUMNS, fmt)


@registry.command()
@click.argument("text")
@output_format_options("json", "csv")
def search(text: str, fmt: str) -> None:
    """Find OIDs by a part of their name or description, or by a name pattern with * and ?.

    The best matches come first: the name itself, a part of a name (soc: battery.soc), the start
    of a name or part, a name containing TEXT, then descriptions. Patterns list by name.

    \b
    Examples:
      rctclient registry search soc
      rctclient registry search 'battery.module_*'
    """
    from ...registry import REGISTRY, natural_key  # noqa: PLC0415

    if any(c in text for c in "*?"):
        infos = sorted(REGISTRY.glob(text), key=lambda info: natural_key(info.name))
    else:
        infos = REGISTRY.search(text, by_relevance=True)
    if not infos:
        close = REGISTRY.suggest(text.replace("*", "").replace("?", ""))
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise CliError(f"nothing matches {text!r}{hint}", EXIT_NOT_FOUND)
    emit([_row(i) for i in infos], _COLUMNS, fmt)


@registry.command()
@click.argument("oid", shell_complete=complete_oid_name)
@output_format_options("json")
def show(oid: str, fmt: str) -> None:
    """Show everything known about one OID (by name or by id such as 0x959930BF).

    \b
    Examples:
      rctclient registry show battery.soc
      rctclient registry show 0x959930BF --json
    """
    info = resolve_oid(oid)
    row = _row(info)
    row["index"] = info.index
    if info.enum_map:
        row["enum"] = {str(k): v for k, v in sorted(info.enum_map.items())}
    if fmt == "json":
        click.echo(json.dumps(row, indent=2, ensure_ascii=False))
        return
    for key, value in row.items():
        if key == "enum":
            click.echo("enum:")
            for k, v in value.items():
                click.echo(f"  {k:>5}  {v}")
        elif value is not None:
            click.echo(f"{key + ':':<15}{value}")


COMMANDS = [registry]

"""What the CLI's commands share: exit codes, errors, output formats, OID completion."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from ..registry import ObjectInfo

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_DEVICE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NOT_FOUND",
    "EXIT_NOT_VERIFIED",
    "EXIT_TIMEOUT",
    "EXIT_UNREACHABLE",
    "EXIT_USAGE",
    "CliError",
    "complete_oid_name",
    "emit",
    "output_format_options",
    "resolve_oid",
]

#: Exit codes. 0 is success; click uses 2 for usage errors.
EXIT_ERROR = 1  # anything else that went wrong
EXIT_USAGE = 2  # bad command line (click's own code)
EXIT_NOT_FOUND = 3  # unknown OID name or id
EXIT_BAD_INPUT = 4  # input that cannot be decoded: hex, files, captures
EXIT_UNREACHABLE = 5  # the device cannot be reached
EXIT_TIMEOUT = 6  # the device did not answer in time
EXIT_DEVICE = 7  # the device answered, but not what was asked (refused write, bad payload)
EXIT_NOT_VERIFIED = 8  # a write could not be read back: it may or may not have been applied
EXIT_INTERRUPTED = 130


class CliError(click.ClickException):
    """A user-facing error: one line on stderr and a distinct exit code, never a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it a class variable

    def show(self, file: Any = None) -> None:
        click.echo(f"Error: {self.format_message()}", err=True)


F = TypeVar("F", bound=Callable[..., Any])


def output_format_options(*formats: str, default: str = "table") -> Callable[[F], F]:
    """Add mutually exclusive ``--table``/``--json``/``--csv`` flags setting the parameter ``fmt``."""

    def decorate(func: F) -> F:
        for name in reversed(formats):
            extra: dict[str, Any] = {"default": True} if name == default else {}
            func = click.option(
                f"--{name}",
                "fmt",
                flag_value=name,
                help=f"Output as {name.upper() if name != 'table' else 'a table'}"
                + (" (default)." if name == default else "."),
                **extra,
            )(func)
        return func

    return decorate


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def emit(rows: Sequence[dict[str, Any]], columns: Sequence[str], fmt: str, file: Any = None) -> None:
    """Print ``rows`` as a table, JSON (a list of objects) or CSV (with a header line)."""
    out = file or sys.stdout
    if fmt == "json":
        json.dump(list(rows), out, indent=2, ensure_ascii=False, default=str)
        out.write("\n")
        return
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_cell(row.get(c)) for c in columns])
        out.write(buf.getvalue())
        return
    table = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in table]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in table]
    out.write("\n".join(lines) + "\n")


def complete_oid_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of OID names."""
    from ..registry import REGISTRY  # noqa: PLC0415 - completion only

    return REGISTRY.prefix_complete_name(incomplete)


def resolve_oid(text: str) -> ObjectInfo:
    """Look up an OID by name or id (``0x...``), turning an unknown one into a CliError with suggestions."""
    from ..registry import REGISTRY  # noqa: PLC0415

    try:
        return REGISTRY.resolve(text)
    except KeyError as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise CliError(str(message), EXIT_NOT_FOUND) from None

"""What the CLI's commands share: exit codes, errors, output formats, OID names typed by people."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
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
    "people_text",
    "resolve_oid",
]

#: Exit codes. 0 is success; click uses 2 for usage errors.
EXIT_ERROR = 1  # anything else that went wrong
EXIT_USAGE = 2  # bad command line, environment variable or config file
EXIT_NOT_FOUND = 3  # unknown OID name or id
EXIT_BAD_INPUT = 4  # input that cannot be decoded: hex, files, captures
EXIT_UNREACHABLE = 5  # the device cannot be reached
EXIT_TIMEOUT = 6  # the device did not answer in time
EXIT_DEVICE = 7  # the device answered, but not what was asked (refused write, bad payload)
EXIT_NOT_VERIFIED = 8  # a write could not be read back: it may or may not have been applied
EXIT_INTERRUPTED = 130

#: The kind of failure of each exit code, in the JSON error object.
ERROR_KINDS = {
    EXIT_ERROR: "error",
    EXIT_USAGE: "usage",
    EXIT_NOT_FOUND: "not-found",
    EXIT_BAD_INPUT: "bad-input",
    EXIT_UNREACHABLE: "unreachable",
    EXIT_TIMEOUT: "timeout",
    EXIT_DEVICE: "device",
    EXIT_NOT_VERIFIED: "not-verified",
    EXIT_INTERRUPTED: "interrupted",
}

# "1 attempts", "1 bytes": the library counts in its own words; a person reads the singular
_ONE_OF = re.compile(r"\b1 (attempt|byte|answer|request|value|point|entr)(s|ies)\b")


def people_text(message: str) -> str:
    """A message for people: ``1 attempts`` -> ``1 attempt``."""
    return _ONE_OF.sub(lambda m: f"1 {m.group(1)}{'y' if m.group(1) == 'entr' else ''}", message)


class CliError(click.ClickException):
    """A user-facing error: one line on stderr and a distinct exit code, never a traceback.

    When the command was asked for JSON (``json`` set by :func:`output_format_options`), the error is
    also printed on stdout as a JSON object ``{"error": {"message", "kind", "exit_code"}}``, unless
    ``reported``: the JSON output already says what failed (partial answers). ``shown``: the error was
    printed already (by a refresh of ``--watch``); only the exit code is left to give.
    """

    def __init__(self, message: str, exit_code: int = EXIT_ERROR, *, reported: bool = False) -> None:
        super().__init__(people_text(message))
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it a class variable
        self.reported = reported
        self.shown = False
        self.json = False

    def as_json(self) -> dict[str, Any]:
        kind = ERROR_KINDS.get(self.exit_code, "error")
        return {"error": {"message": self.format_message(), "kind": kind, "exit_code": self.exit_code}}

    def show(self, file: Any = None) -> None:
        if self.shown:
            return
        if self.json and not self.reported:
            click.echo(json.dumps(self.as_json(), ensure_ascii=False))
        click.echo(f"Error: {self.format_message()}", err=True)


F = TypeVar("F", bound=Callable[..., Any])

_FORMAT_HELP = {
    "table": "Output a table for people (default).",
    "json": "Output JSON (on failure: an error object).",
    "csv": "Output CSV with a header line.",
}


def output_format_options(
    *formats: str, default: str = "table", texts: dict[str, str] | None = None
) -> Callable[[F], F]:
    """Add one flag per output format (``--json``, ``--csv``...); the command gets the one chosen as ``fmt``.

    Two formats at once are rejected. The default format has a flag of its own unless it is the
    table. With ``fmt == "json"``, a failure is also printed as a JSON error object on stdout.
    """
    texts = {**_FORMAT_HELP, **(texts or {})}

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            chosen = [name for name in formats if kwargs.pop(f"fmt_{name}", False)]
            if len(chosen) > 1:
                given = " and ".join(f"--{name}" for name in chosen)
                raise CliError(f"{given} cannot be used together: choose one output format", EXIT_USAGE)
            fmt = chosen[0] if chosen else default
            try:
                return func(*args, fmt=fmt, **kwargs)
            except CliError as exc:
                exc.json = fmt == "json"
                raise

        for name in reversed(formats):
            if name == default == "table":
                continue
            text = texts.get(name, f"Output {name.upper()}.")
            if name == default and "(default)" not in text:
                text = text.rstrip(".") + " (default)."
            wrapper = click.option(f"--{name}", f"fmt_{name}", is_flag=True, help=text)(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return str(value)


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    fmt: str,
    file: Any = None,
    *,
    flexible: Sequence[str] = ("description",),
) -> None:
    """Print ``rows`` as a table that fits the terminal, JSON (a list of objects) or CSV (with a header line).

    Table columns named in ``flexible`` are cut first when the table is too wide.
    """
    from ._table import render, terminal_width  # noqa: PLC0415

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
    cut = [columns.index(name) for name in flexible if name in columns]
    out.write("\n".join(render(columns, table, terminal_width(out), cut)) + "\n")


def complete_oid_name(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion of OID names (the start of a name, in any case)."""
    from ..registry import REGISTRY  # noqa: PLC0415 - completion only

    found = REGISTRY.prefix_complete_name(incomplete)
    if not found and incomplete:
        folded = incomplete.casefold()
        found = [name for name in REGISTRY.prefix_complete_name("") if name.casefold().startswith(folded)]
    return found


def resolve_oid(text: str) -> ObjectInfo:
    """Look up an OID by name or id (``0x...``), turning an unknown one into a CliError with suggestions."""
    from ..registry import REGISTRY  # noqa: PLC0415

    try:
        return REGISTRY.resolve(text)
    except KeyError as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise CliError(str(message), EXIT_NOT_FOUND) from None

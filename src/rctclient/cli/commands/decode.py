"""``rctclient decode``: decode captured bytes into frames."""

from __future__ import annotations

import re
import sys

import click

from .._common import EXIT_BAD_INPUT, CliError, emit, output_format_options, people_text

_SEPARATORS = re.compile(r"[\s:,]|0x", re.IGNORECASE)


def _parse_hex(parts: tuple[str, ...]) -> bytes:
    text = "".join(sys.stdin.read() if p == "-" else p for p in parts)
    text = _SEPARATORS.sub("", text)
    try:
        return bytes.fromhex(text)
    except ValueError:
        bad = next((i for i, ch in enumerate(text) if ch not in "0123456789abcdefABCDEF"), None)
        where = f"'{text[bad]}' at position {bad}" if bad is not None else "an odd number of digits"
        raise CliError(f"not hexadecimal: {where}", EXIT_BAD_INPUT) from None


@click.command()
@click.argument("hexdata", nargs=-1, required=True)
@click.option("--noise", is_flag=True, help="Also list the bytes between frames.")
@output_format_options("json")
def decode(hexdata: tuple[str, ...], noise: bool, fmt: str) -> None:
    """Decode bytes captured from the wire (hex; '-' reads it from stdin) into frames.

    Shows for every frame its command, object ID, name, decoded value and whether its checksum
    matched; garbage, keep-alives and EXTENSION frames are listed too. Spaces, colons and 0x
    prefixes in the input are ignored.

    \b
    Examples:
      rctclient decode 002b0508959930bf3f590f868810
      rctclient decode --json 2b0104959930bf0d65
      tshark ... | rctclient decode -
    """
    from ...describe import describe_event  # noqa: PLC0415
    from ...frame import decode_frames  # noqa: PLC0415

    data = _parse_hex(hexdata)
    rows = []
    for event in decode_frames(data, report_noise=noise):
        d = describe_event(event)
        row = d.as_dict()
        row["value"] = d.text if fmt == "table" else row["value"]
        flags = [people_text(flag) for flag in d.flags]
        row["flags"] = ", ".join(flags) if fmt == "table" else flags
        rows.append(row)
    if fmt == "table" and not rows:
        click.echo("no frames", err=True)
        return
    emit(rows, ["offset", "kind", "command", "id", "name", "value", "flags"], fmt, flexible=("flags", "value"))


COMMANDS = [decode]

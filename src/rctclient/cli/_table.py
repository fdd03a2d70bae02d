"""Tables for people: one header style, columns that fit the width of the terminal.

The width is the terminal's (``shutil.get_terminal_size``, which respects ``COLUMNS``); output that
goes to a pipe or a file is cut at :data:`PIPE_WIDTH` columns unless ``COLUMNS`` says otherwise.
Cells cut short end in ``…``; ``--json`` and ``--csv`` have everything.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from typing import IO

__all__ = ["ELLIPSIS", "PIPE_WIDTH", "clip", "header", "render", "terminal_width", "wrap_items"]

#: The width of output that goes to a pipe or a file (no terminal to ask).
PIPE_WIDTH = 160
#: The narrowest width a table is squeezed to.
MIN_WIDTH = 40
#: The narrowest a flexible column is cut to.
MIN_COLUMN = 12
ELLIPSIS = "…"
GAP = "  "


def terminal_width(stream: IO[str] | None = None) -> int:
    """How many columns a line may take on ``stream`` (stdout by default)."""
    columns = os.environ.get("COLUMNS", "")
    if columns.isdigit() and int(columns) > 0:
        return max(MIN_WIDTH, int(columns))
    stream = stream if stream is not None else sys.stdout
    try:
        is_terminal = stream.isatty()
    except (AttributeError, ValueError):  # a closed or odd stream
        is_terminal = False
    if not is_terminal:
        return PIPE_WIDTH
    return max(MIN_WIDTH, shutil.get_terminal_size((PIPE_WIDTH, 24)).columns)


def clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, ending in ``…`` when cut."""
    if len(text) <= width:
        return text
    if width <= 0:
        return ""
    return text[: width - 1] + ELLIPSIS


def header(name: str) -> str:
    """The one header style of the tables: upper case, words apart (``WORD_BIT`` -> ``WORD BIT``)."""
    return name.replace("_", " ").upper()


def render(
    headers: Sequence[str], rows: Sequence[Sequence[str]], width: int | None = None, flexible: Sequence[int] = ()
) -> list[str]:
    """The lines of a table whose lines fit ``width`` (the terminal's by default).

    Columns listed in ``flexible`` (indices, the first given is cut first) give up width, down to
    :data:`MIN_COLUMN` each, when the table is too wide; what is still too wide is cut at the end.
    """
    width = terminal_width() if width is None else width
    cells = [[header(h) for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    excess = sum(widths) + len(GAP) * (len(widths) - 1) - width
    for index in flexible:
        if excess <= 0:
            break
        give = min(excess, max(0, widths[index] - max(MIN_COLUMN, len(cells[0][index]))))
        widths[index] -= give
        excess -= give
    lines = []
    for row in cells:
        line = GAP.join(clip(cell, w).ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        lines.append(clip(line, width))
    return lines


def wrap_items(items: Sequence[str], width: int, separator: str = ", ") -> list[str]:
    """``items`` joined by ``separator`` into lines of at most ``width`` (an item longer than that is cut)."""
    lines: list[str] = []
    current = ""
    for item in items:
        candidate = f"{current}{separator}{item}" if current else item
        if current and len(candidate) > width:
            lines.append(current)
            candidate = item
        current = candidate
    if current:
        lines.append(current)
    return [clip(line, width) for line in lines]

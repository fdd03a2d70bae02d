"""``--watch``: read again every few seconds; in place on a terminal, one plain line per refresh elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import IO

import click

from ._common import CliError
from ._table import clip, terminal_width

__all__ = ["DEFAULT_INTERVAL", "Refresh", "watch", "watch_option"]

#: Seconds between refreshes when --watch is given without a number.
DEFAULT_INTERVAL = 5.0
#: The shortest interval (a device answers a few dozen requests a second).
MIN_INTERVAL = 0.1
# Cursor home, then each line clears the rest of itself and the end clears below: no flicker.
_HOME = "\x1b[H"
_CLEAR_SCREEN = "\x1b[2J"
_CLEAR_LINE = "\x1b[K"
_CLEAR_BELOW = "\x1b[J"


@dataclass(frozen=True, slots=True)
class Refresh:
    """One refresh: the screen for a terminal, the line for a pipe, and what failed (if anything)."""

    screen: Sequence[str]
    line: str
    error: CliError | None = None


def watch_option(what: str) -> Callable[[Callable[..., object]], Callable[..., object]]:
    """``--watch [SECONDS]`` and ``--count N``."""

    def decorate(func: Callable[..., object]) -> Callable[..., object]:
        func = click.option(
            "--count",
            type=click.IntRange(1),
            help="With --watch: stop after this many refreshes (else Ctrl-C stops).",
        )(func)
        return click.option(
            "--watch",
            "interval",
            type=click.FloatRange(MIN_INTERVAL),
            is_flag=False,
            flag_value=DEFAULT_INTERVAL,
            metavar="[SECONDS]",
            help=f"Read {what} again every SECONDS ({DEFAULT_INTERVAL:g} if not given): in place on a terminal,"
            " one line per refresh when the output goes to a pipe or a file.",
        )(func)

    return decorate


def watch(
    interval: float,
    count: int | None,
    take: Callable[[], Refresh],
    out: IO[str] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CliError | None:
    """Refresh every ``interval`` seconds, ``count`` times (or until Ctrl-C); returns the last refresh's error.

    A refresh that fails does not end the watch: its error is shown (on the screen, or on stderr
    beside the plain line) and the next refresh tries again.
    """
    out = out if out is not None else sys.stdout
    terminal = out.isatty()
    done = 0
    due = clock()
    last: CliError | None = None
    while count is None or done < count:
        refresh = take()
        done += 1
        last = refresh.error
        if terminal:
            lines = list(refresh.screen)
            if refresh.error is not None:
                lines.append(f"Error: {refresh.error.format_message()}")
            # a line the terminal wraps would push the screen down at every refresh
            width = terminal_width(out)
            lines = [clip(line, width) for line in lines]
            first = _CLEAR_SCREEN if done == 1 else ""
            out.write(first + _HOME + "".join(line + _CLEAR_LINE + "\n" for line in lines) + _CLEAR_BELOW)
        else:
            out.write(refresh.line + "\n")
            if refresh.error is not None:
                click.echo(f"Error: {refresh.error.format_message()}", err=True)
        out.flush()
        if count is not None and done >= count:
            break
        due += interval
        now = clock()
        due = max(due, now)  # a refresh took longer than the interval: go on from now, no burst to catch up
        sleep(due - now)
    return last

"""The ``rctclient`` console script: a clear message when the ``cli`` extra (click) is missing."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        import click  # noqa: F401, PLC0415
    except ImportError:
        print("Error: the rctclient command line tool needs click: pip install 'rctclient[cli]'", file=sys.stderr)
        raise SystemExit(1) from None
    from .cli import main as cli_main  # noqa: PLC0415

    cli_main()

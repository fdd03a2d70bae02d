"""The ``rctclient`` command line tool: a thin layer over the library.

Each module in :mod:`rctclient.cli.commands` contributes its commands through a module-level
``COMMANDS`` list; this module collects them into one click group. Commands import what they need
(asyncio, the clients, a capture library) inside their functions, so that ``rctclient --help``
stays quick.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import sys

import click

from .. import __version__
from . import commands as _commands_pkg
from ._common import EXIT_ERROR, EXIT_INTERRUPTED

__all__ = ["cli", "main"]

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="rctclient")
@click.option("-d", "--debug", is_flag=True, help="Log debug messages to stderr (stdout stays clean for scripts).")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Talk to RCT Power inverters over their Serial Communication Protocol (TCP port 8899).

    Every device command takes --host/--port, or --simulate to talk to a built-in simulated
    inverter instead. The protocol has no authentication or encryption: whoever reaches the
    device's port controls it.

    \b
    Examples:
      rctclient status --simulate
      rctclient read-value --host 192.168.0.10 -n battery.soc
      rctclient history --host inverter minutes_soc --from 1d --csv
      rctclient registry search soc
      rctclient decode 002b0508959930bf3f590f868810
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _load_commands() -> None:
    for module_info in sorted(pkgutil.iter_modules(_commands_pkg.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{_commands_pkg.__name__}.{module_info.name}")
        for command in module.COMMANDS:
            cli.add_command(command)


_load_commands()


def main() -> None:
    """Entry point of the ``rctclient`` script."""
    try:
        code = cli.main(prog_name="rctclient", standalone_mode=False)
    except click.exceptions.Abort as exc:
        if isinstance(exc.__cause__ or exc.__context__, KeyboardInterrupt):
            click.echo("Error: interrupted", err=True)
            sys.exit(EXIT_INTERRUPTED)
        click.echo("Error: aborted", err=True)  # end of input at a prompt
        sys.exit(EXIT_ERROR)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # the reader went away (``rctclient ... | head``): stop quietly
        sys.stderr.close()
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else 0)

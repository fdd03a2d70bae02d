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
from typing import Any

import click

from .. import __version__
from . import commands as _commands_pkg
from ._common import EXIT_ERROR, EXIT_INTERRUPTED

__all__ = ["cli", "main"]

CONTEXT_SETTINGS = {"help_option_names": ["--help"], "max_content_width": 100}
DEBUG_HELP = "Log debug messages to stderr: every byte sent and received, every frame (stdout stays clean)."


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Logs to whatever ``sys.stderr`` is when a record comes (the test runner swaps it)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # set by StreamHandler.__init__; sys.stderr is used instead
        pass


def _setup_logging(debug: bool) -> None:
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.WARNING)


def _debug_option(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """``-d`` after the command: the same as before it."""
    if value:
        root = ctx.find_root()
        root.ensure_object(dict)
        root.obj["debug"] = True
        _setup_logging(True)


class _OneLineUsageError(click.UsageError):
    """A usage error on one line, with where to find the help (click prints the usage and a hint on three)."""

    def show(self, file: Any = None) -> None:
        where = f" (see '{self.ctx.command_path} --help')" if self.ctx is not None else ""
        click.echo(f"Error: {self.format_message()}{where}", err=True)


def _one_line(exc: click.UsageError) -> _OneLineUsageError:
    message = exc.format_message()
    if "'-h'" in message and "requires an argument" in message:
        message += " (-h is the host, as in the original tool; --help shows the help)"
    elif "No such option" in message and "-h" in message.replace("--help", ""):
        message += " (--help shows the help)"
    return _OneLineUsageError(message, exc.ctx)


class _Group(click.Group):
    """The command group: usage errors on one line, ``-d/--debug`` accepted after every command too."""

    def make_context(
        self, info_name: str | None, args: list[str], parent: click.Context | None = None, **extra: Any
    ) -> click.Context:
        try:
            return super().make_context(info_name, args, parent, **extra)
        except click.UsageError as exc:
            if isinstance(exc, _OneLineUsageError):
                raise
            raise _one_line(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if isinstance(exc, _OneLineUsageError):
                raise
            raise _one_line(exc) from None

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        _add_debug(cmd)
        super().add_command(cmd, name)


def _add_debug(command: click.Command) -> None:
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _add_debug(sub)
        return
    if any("--debug" in getattr(p, "opts", ()) for p in command.params):
        return
    command.params.append(
        click.Option(["-d", "--debug"], is_flag=True, expose_value=False, callback=_debug_option, help=DEBUG_HELP)
    )


@click.group(cls=_Group, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, "--version", prog_name="rctclient")
@click.option("-d", "--debug", is_flag=True, help=DEBUG_HELP)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Talk to RCT Power inverters over their Serial Communication Protocol (TCP port 8899).

    Every device command takes -h/--host (-h is the host, as in the original tool; --help is the
    help), -p/--port and --address, or --simulate to talk to a built-in simulated inverter. Where
    no host is given it comes from the environment (RCTCLIENT_HOST, RCTCLIENT_PORT) or the config
    file rctclient/config.toml in your config directory ($XDG_CONFIG_HOME or ~/.config), e.g.
    host = "192.168.0.10". The protocol has no authentication or encryption: whoever reaches the
    device's port controls it.

    \b
    Examples:
      rctclient status --simulate
      rctclient read-value --host 192.168.0.10 -n battery.soc
      rctclient history --host inverter minutes_soc --from 1d --csv
      rctclient registry search soc
      rctclient decode 002b0508959930bf3f590f868810

    \b
    Shell completion (commands, options and OID names):
      eval "$(_RCTCLIENT_COMPLETE=bash_source rctclient)"   # in ~/.bashrc
      eval "$(_RCTCLIENT_COMPLETE=zsh_source rctclient)"    # in ~/.zshrc
      _RCTCLIENT_COMPLETE=fish_source rctclient | source    # in ~/.config/fish/completions/rctclient.fish
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug or bool(ctx.obj.get("debug"))
    _setup_logging(ctx.obj["debug"])


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

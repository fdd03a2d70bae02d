"""Where the device is, when the command line does not say: environment variables and a config file.

In order, the first that gives a setting wins: the command line (``--host``), the environment
(``RCTCLIENT_HOST``, ``RCTCLIENT_PORT``), the config file, the built-in default (localhost:8899).
The config file is ``rctclient/config.toml`` in the user's config directory (``$XDG_CONFIG_HOME``,
else ``~/.config``)::

    host = "192.168.0.10"
    port = 8899          # optional, as are the rest
    timeout = 3.0
    retries = 3
    address = 0x20000101 # a device of a plant

It is read only by the commands that talk to a device; a broken one is one line naming the file and
the key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._common import EXIT_USAGE, CliError

__all__ = [
    "DEFAULTS",
    "ENV_HOST",
    "ENV_PORT",
    "Setting",
    "config_path",
    "display_path",
    "load_config",
    "resolve",
]

ENV_HOST = "RCTCLIENT_HOST"
ENV_PORT = "RCTCLIENT_PORT"
#: The built-in defaults of the device settings.
DEFAULTS: Mapping[str, Any] = {"host": "localhost", "port": 8899, "timeout": 3.0, "retries": 3, "address": None}
#: The largest config file read (it holds a few lines).
MAX_CONFIG_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class Setting:
    """A device setting and where it came from: ``--host``, ``RCTCLIENT_HOST``, the config file, ``default``."""

    value: Any
    source: str


def config_path() -> Path:
    """The config file: ``$XDG_CONFIG_HOME/rctclient/config.toml``, else ``~/.config/rctclient/config.toml``."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    # the XDG spec: a relative path is invalid and is to be ignored
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "rctclient" / "config.toml"


def display_path(path: Path) -> str:
    """``path`` with the home directory as ``~`` (shorter in one-line messages)."""
    try:
        return "~/" + str(path.relative_to(Path.home()))
    except ValueError:
        return str(path)


def _port(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= 65535:
        return value
    if isinstance(value, str) and value.strip().isdigit() and 1 <= int(value) <= 65535:
        return int(value)
    return None


def _address(value: object) -> int | None:
    if isinstance(value, str):
        try:
            value = int(value.strip(), 0)
        except ValueError:
            return None
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 0xFFFFFFFF:
        return value
    return None


def _host(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _timeout(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and 0.05 <= value <= 600:
        return float(value)
    return None


def _retries(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 20:
        return value
    return None


#: The keys of the config file: how each is checked, and what it must be.
_KEYS: dict[str, tuple[Callable[[object], Any], str]] = {
    "host": (_host, "a host name or IP address in quotes"),
    "port": (_port, "a port number, 1..65535"),
    "timeout": (_timeout, "seconds, 0.05..600"),
    "retries": (_retries, "a whole number, 0..20"),
    "address": (_address, "a plant address such as 0x20000101"),
}


def load_config(path: Path) -> dict[str, Any]:
    """The settings in the config file at ``path`` (empty if there is none); CliError if it is broken."""
    import tomllib  # noqa: PLC0415 - only the device commands read it

    shown = display_path(path)
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise CliError(f"config file {shown}: cannot read it: {exc.strerror or exc}", EXIT_USAGE) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise CliError(f"config file {shown}: larger than {MAX_CONFIG_BYTES // 1024} KiB", EXIT_USAGE)
    try:
        table = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CliError(f"config file {shown}: not UTF-8 text", EXIT_USAGE) from None
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"config file {shown}: not valid TOML: {exc}", EXIT_USAGE) from None
    settings: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in _KEYS:
            known = ", ".join(_KEYS)
            raise CliError(f"config file {shown}: unknown key {key!r} (known: {known})", EXIT_USAGE)
        check, meaning = _KEYS[key]
        value = check(raw)
        if value is None:
            raise CliError(f"config file {shown}: {key} must be {meaning}, not {raw!r}", EXIT_USAGE)
        settings[key] = value
    return settings


def resolve(given: Mapping[str, Any], flags: Mapping[str, str]) -> dict[str, Setting]:
    """Each device setting from the command line (``given``, None where not given), the environment, the
    config file or the defaults; ``flags`` names the option of each setting (``host`` -> ``--host``)."""
    settings = {name: Setting(value, flags[name]) for name, value in given.items() if value is not None}
    missing = [name for name in DEFAULTS if name not in settings]
    if not missing:
        return settings
    env_host = _host(os.environ.get(ENV_HOST, ""))
    if "host" in missing and env_host is not None:
        settings["host"] = Setting(env_host, ENV_HOST)
    env_port = os.environ.get(ENV_PORT, "").strip()
    if "port" in missing and env_port:
        port = _port(env_port)
        if port is None:
            raise CliError(f"{ENV_PORT}: not a port number (1..65535): {env_port!r}", EXIT_USAGE)
        settings["port"] = Setting(port, ENV_PORT)
    missing = [name for name in DEFAULTS if name not in settings]
    if missing:
        path = config_path()
        config = load_config(path)
        for name in missing:
            if name in config:
                settings[name] = Setting(config[name], display_path(path))
            else:
                settings[name] = Setting(DEFAULTS[name], "default")
    return settings

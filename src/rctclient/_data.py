"""Reading the package's own data files (``rctclient/data/*.tsv``), shared by registry and faults."""

from __future__ import annotations

import os
import re

__all__ = ["read_package_data", "unescape"]

_DATA_DIR = os.path.join(os.path.dirname(__file__), "data")
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_UNESCAPED = {"t": "\t", "n": "\n", "r": "\r"}


def read_package_data(filename: str) -> str:
    """The text of ``rctclient/data/<filename>``.

    Uses the package loader directly (``get_data``, what :mod:`importlib.resources` does under the
    hood for files and zip archives) because importing :mod:`importlib.resources` costs more than
    loading the whole registry; falls back to it for other loaders.
    """
    loader = __spec__.loader if __spec__ is not None else None
    get_data = getattr(loader, "get_data", None)
    if get_data is not None:
        try:
            data: bytes = get_data(os.path.join(_DATA_DIR, filename))
            return data.decode("utf-8")
        except OSError:
            pass
    from importlib.resources import files  # noqa: PLC0415 - slow import, only for unusual loaders

    return files("rctclient").joinpath("data", filename).read_text(encoding="utf-8")


def _unescape_match(match: re.Match[str]) -> str:
    char = match.group(1)
    return _UNESCAPED.get(char, char)


def unescape(field: str) -> str:
    """Undo the backslash escapes of the data format (``\\t``, ``\\n``, ``\\r``, ``\\\\``, ``\\|``)."""
    if "\\" not in field:
        return field
    return _ESCAPE.sub(_unescape_match, field)

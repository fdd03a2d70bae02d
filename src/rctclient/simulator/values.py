"""The settings of a healthy device, by registry group, read from ``rctclient/data/simulator_values.toml``.

Each group has its source (where its values come from), its values (literals, or a device
parameter: ``{param = "inverter_power", scale = 0.3}``) and the reasons why some of its OIDs are
zero or empty on a healthy device. :func:`settings` resolves the values for one installation;
:func:`zero_reasons` gives the reasons (the plausibility tests require one for every zero value).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from .._data import read_package_data
from ..registry import REGISTRY

__all__ = ["GROUP_SOURCES", "ValueTable", "settings", "table", "zero_reasons"]


@dataclass(frozen=True)
class _Param:
    """A value that is a device parameter (times ``scale``)."""

    name: str
    scale: float = 1.0


@dataclass(frozen=True)
class ValueTable:
    sources: Mapping[str, str]  # registry group (lower case) -> where its values come from
    values: Mapping[str, Any]  # OID name -> literal or _Param
    zero: Mapping[str, str]  # OID name -> why it is zero or empty


@cache
def table() -> ValueTable:
    data = tomllib.loads(read_package_data("simulator_values.toml"))
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    zero: dict[str, str] = {}
    for group, entry in data["groups"].items():
        sources[group] = entry["source"]
        for name, value in entry.get("values", {}).items():
            if isinstance(value, dict):
                value = _Param(value["param"], float(value.get("scale", 1.0)))
            values[name] = value
        zero.update(entry.get("zero", {}))
    unknown = sorted(n for n in (*values, *zero) if n not in REGISTRY)
    if unknown:  # a broken data file is a bug of the package, caught by its tests
        raise RuntimeError(f"simulator_values.toml: unknown OID name(s): {', '.join(unknown)}")
    return ValueTable(sources, values, zero)


#: Registry group (lower case) -> where the simulator's values of that group come from.
GROUP_SOURCES: Mapping[str, str] = table().sources


def settings(params: Any) -> dict[str, Any]:
    """The values of the data file for an installation (``params``: a ModelParams)."""
    out: dict[str, Any] = {}
    for name, value in table().values.items():
        if isinstance(value, _Param):
            peak = float(params.peak_power_a + params.peak_power_b)
            if value.name == "peak_power":
                base = peak
            elif value.name == "feed_in_share":
                base = params.feed_in_limit / peak if peak else 1.0
            else:
                base = float(getattr(params, value.name))
            value = round(base * value.scale, 3)
        out[name] = value
    return out


def zero_reasons() -> Mapping[str, str]:
    """OID name -> why it may be zero or empty on a healthy device (from the data file)."""
    return table().zero

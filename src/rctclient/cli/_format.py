"""Values for people: rounded by unit, with enum labels, composite values summarised.

Display only: ``--json``, ``--csv`` and ``--raw`` show the values at full precision (see
:func:`rctclient.describe.jsonable` and :func:`rctclient.describe.format_value`).

Rounding by unit: W, VA and var to 1, V and °C to 0.1, A and Hz to 0.01, energy (Wh) in kWh with
2 decimals, fractions (SOC values and the like, 0..1 on the wire although the registry's unit
says %) as percentages to 0.1; other numbers to about four significant digits.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields, is_dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..registry import ObjectInfo

__all__ = [
    "detail_lines",
    "display",
    "duration",
    "energy",
    "is_fraction",
    "number",
    "percent",
    "plural",
]

#: Decimals shown per unit (Wh is shown in kWh, fractions as percentages: see display()).
DECIMALS: dict[str, int] = {
    "W": 0,
    "Wp": 0,
    "VA": 0,
    "var": 0,
    "V": 1,
    "°C": 1,
    "Ah": 1,
    "A": 2,
    "Hz": 2,
}


def plural(count: int, word: str, plural_form: str | None = None) -> str:
    """``1 request``, ``3 requests``."""
    return f"{count} {word if count == 1 else (plural_form or word + 's')}"


def _strip_minus_zero(text: str) -> str:
    # -0.04 W rounds to "-0": a person reads that as a direction that is not there
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        return text[1:]
    return text


def duration(seconds: float) -> str:
    """A span of time in minutes (``42 min``) or hours and minutes (``3 h 5 min``)."""
    minutes = round(abs(seconds) / 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def number(value: float, decimals: int | None = None) -> str:
    """A number rounded for display: to ``decimals``, or to about four significant digits (never 1e+04)."""
    if not math.isfinite(value):
        return str(value)
    if decimals is None:
        if value == 0:
            return "0"
        decimals = min(6, max(0, 3 - math.floor(math.log10(abs(value)))))
        text = f"{value:.{decimals}f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return _strip_minus_zero(text)
    return _strip_minus_zero(f"{value:.{decimals}f}")


def percent(fraction: float) -> str:
    """A fraction (0..1) as a percentage to 0.1: ``53.2 %``."""
    return f"{number(fraction * 100.0, 1)} %"


def energy(wh: float) -> str:
    """Energy in kWh with 2 decimals (the device counts Wh)."""
    return f"{number(wh / 1000.0, 2)} kWh"


def is_fraction(info: ObjectInfo) -> bool:
    """A value from 0 to 1 shown as a percentage: unit % in the registry, or a fraction on the list of writable OIDs."""
    if info.unit == "%":
        return True
    from ..protocol import writable  # noqa: PLC0415 - the CLI imports the library when it needs it

    spec = writable().get(info.name)
    return spec is not None and spec.kind == "fraction"


def _text(value: str) -> str:
    if not value:
        return '""'
    return value if value.isprintable() else repr(value)


def _span(low: float, high: float, unit: str, decimals: int) -> str:
    if number(low, decimals) == number(high, decimals):
        return f"{number(low, decimals)} {unit}"
    return f"{number(low, decimals)}..{number(high, decimals)} {unit}"


def _summary(value: Any) -> str | None:
    """A one-line summary of a composite value (battery module structures), or None if it is none of them."""
    from ..types import BatteryModuleResistance, BatteryModuleStatistics, BatteryModuleStatus  # noqa: PLC0415

    if isinstance(value, BatteryModuleStatus):
        cells = list(value)
        if not cells:
            return "no cells"
        volts = [c.voltage_v for c in cells]
        temps = [float(c.temperature_c) for c in cells]
        statuses = sorted({c.status for c in cells})
        status = "" if statuses == [0] else ", status " + ", ".join(map(str, statuses[:3]))
        status += "..." if len(statuses) > 3 else ""
        return (
            f"{plural(len(cells), 'cell')}: {_span(min(volts), max(volts), 'V', 3)},"
            f" {_span(min(temps), max(temps), '°C', 0)}{status}"
        )
    if isinstance(value, BatteryModuleStatistics):
        # the cells and times of the extremes: in full with -v (detail_lines)
        return (
            f"U {_span(value.u_min.value, value.u_max.value, 'V', 3)},"
            f" T {_span(value.t_min.value, value.t_max.value, '°C', 1)}"
        )
    if isinstance(value, BatteryModuleResistance):
        if not value.cells:
            return "no cells"
        ohms = [c.resistance_mohm for c in value]
        return f"{plural(len(ohms), 'cell')}: {_span(min(ohms), max(ohms), 'mΩ', 2)}"
    return None


def display(value: Any, info: ObjectInfo, *, raw: bool = False) -> str:
    """A value for a person: rounded by unit, enum label, fractions as %, composites summarised.

    ``raw`` keeps full precision (the library's :func:`~rctclient.describe.format_value`), and shows
    composite values whole, as compact JSON.
    """
    from ..describe import format_value, jsonable  # noqa: PLC0415

    if is_dataclass(value) and not isinstance(value, type):
        summary = None if raw else _summary(value)
        return summary if summary is not None else json.dumps(jsonable(value), separators=(",", ":"))
    if raw:
        return format_value(value, info)
    if isinstance(value, bool):
        return "true" if value else "false"
    unit = info.unit or ""
    if isinstance(value, int):
        label = info.enum_map.get(value) if info.enum_map else None
        if label is not None:
            return f"{value} ({label})"
        return f"{value} {unit}".rstrip()
    if isinstance(value, float):
        if not math.isfinite(value):
            return f"{value} {unit}".rstrip()
        if is_fraction(info):
            return percent(value)
        if unit == "Wh":
            return energy(value)
        return f"{number(value, DECIMALS.get(unit))} {unit}".rstrip()
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, bytes):
        shown = value[:16].hex()
        return f"0x{shown}" + (f"… ({len(value)} bytes)" if len(value) > 16 else "")
    return format_value(value, info)


def detail_lines(value: Any, info: ObjectInfo) -> list[str]:
    """A composite value in full, as lines for a person (a table of cells, or one line per field)."""
    from ..describe import jsonable  # noqa: PLC0415
    from ..types import BatteryModuleResistance, BatteryModuleStatistics, BatteryModuleStatus  # noqa: PLC0415

    if isinstance(value, BatteryModuleStatus):
        lines = ["cell  voltage    temperature  status"]
        lines += [
            f"{cell:>4}  {number(c.voltage_v, 3):>7} V  {c.temperature_c:>8} °C  {c.status}"
            for cell, c in sorted(value.cells.items())
        ]
        return lines
    if isinstance(value, BatteryModuleResistance):
        lines = ["cell  resistance"]
        lines += [f"{cell:>4}  {number(c.resistance_mohm, 3):>7} mΩ" for cell, c in sorted(value.cells.items())]
        return lines
    if isinstance(value, BatteryModuleStatistics):
        out = []
        for field in fields(value):
            entry = getattr(value, field.name)
            unit = "V" if field.name.startswith("u_") else "°C"
            when = "no time recorded" if entry.timestamp is None else entry.timestamp.isoformat()
            out.append(f"{field.name}  {number(entry.value, 3)} {unit}  cell {entry.cell}  {when}")
        return out
    return json.dumps(jsonable(value), indent=2, ensure_ascii=False).splitlines()

"""InfluxDB line protocol, built by pure functions (no I/O; golden tests in tests/monitor).

``measurement,tag=value field=1.5,count=3i,ok=true,name="x" 1700000000``

* Field types follow the OID's data type, never the value: a FLOAT OID is always written as a float
  (``20.0``, not ``20``; InfluxDB refuses a field whose type changes), integer types get the ``i``
  suffix, booleans are ``true``/``false``, strings are quoted.
* Escaping: measurement ``,`` and space; tag keys, tag values and field keys ``,``, ``=`` and space;
  string field values ``"`` and ``\\``. Line breaks cannot be escaped in line protocol: they become
  spaces. Empty tag values are left out; non-finite floats are left out (line protocol has no NaN).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping

from ..types import INTEGER_TYPES, DataType

__all__ = ["escape_key", "escape_measurement", "field_value", "float32_text", "line"]

_F32 = struct.Struct(">f")

_MEASUREMENT = str.maketrans({",": "\\,", " ": "\\ ", "\n": " ", "\r": " ", "\\": "\\\\"})
_KEY = str.maketrans({",": "\\,", "=": "\\=", " ": "\\ ", "\n": " ", "\r": " ", "\\": "\\\\"})
_STRING = str.maketrans({'"': '\\"', "\\": "\\\\", "\n": " ", "\r": " "})


def escape_measurement(name: str) -> str:
    return name.translate(_MEASUREMENT)


def escape_key(text: str) -> str:
    """A tag key, tag value or field key."""
    return text.translate(_KEY)


def float32_text(value: float) -> str:
    """The shortest text that reads back as the same single-precision float (``272.26337``, not
    ``272.26336669921875``: the device's FLOAT values have 24 bits of precision); plain repr when the value
    does not fit single precision."""
    try:
        target = _F32.pack(value)
    except OverflowError:
        return repr(value)
    if _F32.unpack(target)[0] != value:
        return repr(value)
    for digits in range(6, 10):
        text = f"{value:.{digits}g}"
        if _F32.pack(float(text)) == target:
            return repr(float(text))
    return repr(value)


def field_value(value: object, data_type: DataType | None = None) -> str | None:
    """``value`` as a line protocol field value, typed by ``data_type`` (None: by the value); None if it has none."""
    if isinstance(value, bool) or data_type is DataType.BOOL:
        return "true" if value else "false"
    if data_type is DataType.FLOAT or (data_type is None and isinstance(value, float)):
        if not isinstance(value, int | float):
            return None
        number = float(value)
        return float32_text(number) if math.isfinite(number) else None
    if isinstance(value, int) and (data_type is None or data_type in INTEGER_TYPES or data_type is DataType.ENUM):
        return f"{value}i"
    if isinstance(value, str):
        return f'"{value.translate(_STRING)}"'
    if isinstance(value, bytes):
        return f'"{value.hex()}"'
    return None


def line(
    measurement: str,
    tags: Mapping[str, str],
    fields: Iterable[tuple[str, str]],
    timestamp: int | None = None,
) -> str | None:
    """One line (without the newline); ``fields`` are (key, formatted value) pairs; None if there are none.

    Tags are sorted by key (what InfluxDB recommends for write performance).
    """
    field_text = ",".join(f"{escape_key(key)}={value}" for key, value in fields)
    if not field_text:
        return None
    tag_text = "".join(f",{escape_key(k)}={escape_key(v)}" for k, v in sorted(tags.items()) if v)
    stamp = "" if timestamp is None else f" {timestamp}"
    return f"{escape_measurement(measurement)}{tag_text} {field_text}{stamp}"

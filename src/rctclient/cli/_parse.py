"""Text typed by a person, read for the library: values to write, times and time zones.

The library takes typed values (numbers, booleans, aware datetimes); turning ``50%``, ``on``,
``external``, ``24h`` or ``Europe/Berlin`` into them is the command line's business, and lives here.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, TypeAlias

from ._common import EXIT_BAD_INPUT, CliError

if TYPE_CHECKING:
    from ..registry import ObjectInfo

__all__ = ["LocalZone", "ParsedValue", "parse_time", "parse_tz", "parse_value"]

#: What :func:`parse_value` makes of a text, by the OID's data type.
ParsedValue: TypeAlias = bool | int | float | str | bytes


# -- values -----------------------------------------------------------------------------------------


def _parse_bool(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a boolean: {text!r} (use true/false, 1/0, on/off)")


def _labels(info: ObjectInfo) -> str:
    labels = info.enum_map or {}
    return ", ".join(f"{label!r} ({number})" for number, label in sorted(labels.items()))


def _parse_int(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise ValueError("not a whole number (decimal, or hex such as 0x1F)") from None


def _parse_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError("not a number") from None


def parse_value(info: ObjectInfo, text: str) -> ParsedValue:
    """Turn a value typed by a person into the value to write to ``info``.

    Booleans: true/false, 1/0, yes/no, on/off. Integers and enums: decimal or ``0x`` hex, or an enum
    label (case-insensitive). Floats: a number; for fractions (SOC values and the like, which the
    registry gives the unit %), ``50%`` means 0.5. Raises :class:`WriteOutOfBounds` (a ValueError)
    when the text cannot be read; its message says what would be read (the labels of an enum).
    """
    from ..exceptions import WriteOutOfBounds  # noqa: PLC0415 - the CLI imports the library when it needs it
    from ..types import DataType  # noqa: PLC0415
    from ._format import is_fraction  # noqa: PLC0415

    data_type = info.request_data_type
    value_text = text.strip()
    try:
        if data_type is DataType.BOOL:
            return _parse_bool(value_text)
        if data_type is DataType.FLOAT:
            if value_text.endswith("%"):
                if not is_fraction(info):
                    raise ValueError("a percentage is only accepted for fractions such as SOC values")
                return _parse_float(value_text[:-1]) / 100.0
            return _parse_float(value_text)
        if data_type is DataType.STRING:
            return text
        if data_type in (DataType.UNKNOWN,):
            try:
                return bytes.fromhex(value_text.removeprefix("0x"))
            except ValueError:
                raise ValueError("not hexadecimal bytes (such as 0x0a1b)") from None
        if info.enum_map:
            for number, label in info.enum_map.items():
                if label.lower() == value_text.lower():
                    return number
            try:
                return int(value_text, 0)
            except ValueError:
                raise ValueError(f"not one of its labels: {_labels(info)}") from None
        return _parse_int(value_text)
    except ValueError as exc:
        raise WriteOutOfBounds(f"cannot read {text!r} as a value of {info.name}: {exc}") from None


# -- times ------------------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^-?\s*(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


class LocalZone(tzinfo):
    """This computer's time zone, daylight saving time included (the C library's rules).

    ``datetime.now().astimezone().tzinfo`` is a fixed offset, today's: in summer it would put
    winter midnights an hour off.
    """

    def _local(self, dt: datetime) -> time.struct_time:
        try:
            stamp = time.mktime((dt.year, dt.month, dt.day, dt.hour, dt.minute, dt.second, dt.weekday(), 0, -1))
            return time.localtime(stamp)
        except (OverflowError, ValueError, OSError):  # pragma: no cover - outside the C library's range
            return time.localtime()

    def utcoffset(self, dt: datetime | None) -> timedelta:
        local = time.localtime() if dt is None else self._local(dt)
        return timedelta(seconds=local.tm_gmtoff)

    def dst(self, dt: datetime | None) -> timedelta:
        local = time.localtime() if dt is None else self._local(dt)
        return timedelta(hours=1) if local.tm_isdst > 0 else timedelta(0)

    def tzname(self, dt: datetime | None) -> str:
        return (time.localtime() if dt is None else self._local(dt)).tm_zone

    def fromutc(self, dt: datetime) -> datetime:
        stamp = (dt.replace(tzinfo=None) - _EPOCH) // timedelta(seconds=1)
        try:
            offset = time.localtime(stamp).tm_gmtoff
        except (OverflowError, ValueError, OSError):  # pragma: no cover
            offset = time.localtime().tm_gmtoff
        return dt + timedelta(seconds=offset)

    def __repr__(self) -> str:
        return "LocalZone()"


_EPOCH = datetime(1970, 1, 1)


def parse_tz(text: str | None) -> tzinfo:
    """A time zone from an IANA name (``Europe/Berlin``), ``UTC``, or None for this computer's zone."""
    if text is None:
        return LocalZone()
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # noqa: PLC0415

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(
            f"--tz: unknown time zone {text!r} (use a name such as Europe/Berlin or UTC)", EXIT_BAD_INPUT
        ) from None
    except OSError as exc:  # pragma: no cover - a broken tz database
        raise CliError(f"--tz: cannot load {text!r}: {exc}", EXIT_BAD_INPUT) from None


def parse_time(text: str, tz: tzinfo, option: str, now: datetime | None = None) -> datetime:
    """An aware datetime from ``now``, a span ago (``24h``, ``-7d``, ``90m``) or ISO 8601 (naive = in ``tz``)."""
    now = now or datetime.now(tz)
    value = text.strip()
    if value.lower() == "now":
        return now
    match = _RELATIVE.match(value)
    if match:
        try:
            span = timedelta(**{_UNITS[match.group(2)]: float(match.group(1))})
            # in UTC: aware arithmetic in one zone is wall-clock arithmetic, so '24h' ago across a change
            # of daylight saving time would be 23 or 25 hours ago
            return (now.astimezone(UTC) - span).astimezone(tz)
        except OverflowError:
            raise CliError(f"{option}: {text!r} is too long ago", EXIT_BAD_INPUT) from None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise CliError(
            f"{option}: not a time: {text!r} (ISO 8601 such as 2024-06-01 or 2024-06-01T12:00, 'now', or '24h' ago)",
            EXIT_BAD_INPUT,
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=tz)

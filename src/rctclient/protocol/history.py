"""Time series and the event table: one query, and paging through a range."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, TypeAlias

from ..exceptions import RctTimeout
from ..faults import Fault
from ..registry import REGISTRY, ObjectInfo, Registry
from ..types import DataType, EventEntry, EventTable, Timeseries, TimeseriesPoint
from ..utils import encode_value
from .core import Call, Op, Value

__all__ = ["EventRecord", "TimeArg", "events_op", "history_op", "query_op", "resolution_of", "to_unix"]

EVENT_LOG_OID: Final = "logger.error_log_time_stamp"

_RESOLUTIONS: Final = {
    "minutes": timedelta(minutes=5),
    "day": timedelta(days=1),
    "month": timedelta(days=28),
    "year": timedelta(days=365),
}


def resolution_of(info: ObjectInfo) -> timedelta | None:
    """The nominal spacing of the points of a time series OID (``logger.<resolution>_..._log_ts``).

    5 minutes for ``minutes_*`` (the device default ``logger.log_rate``), a day, a month (given as
    28 days, the shortest) or a year. None if ``info`` is no time series OID.
    """
    if info.response_data_type is not DataType.TIMESERIES:
        return None
    head = info.name.removeprefix("logger.").split("_", 1)[0]
    return _RESOLUTIONS.get(head, timedelta(minutes=5))


#: What the clients take as a time: an aware datetime, a naive one with ``tz``, a date or a UNIX time.
TimeArg: TypeAlias = datetime | date | int | float


def to_unix(when: TimeArg, tz: tzinfo | None = None) -> int:
    """A UNIX time from a datetime, a date or a number.

    An aware datetime is taken as it is. A naive datetime is local time of ``tz`` (the device's
    time zone) and needs it: without ``tz`` it raises ValueError rather than guess. A date means
    its midnight in ``tz`` (UTC if None). Numbers are UNIX times.
    """
    if isinstance(when, datetime):
        if when.tzinfo is None:
            if tz is None:
                raise ValueError(f"naive datetime {when.isoformat()}: pass an aware datetime or tz=")
            when = when.replace(tzinfo=tz)
        return math.floor(when.timestamp())
    if isinstance(when, date):
        return math.floor(datetime(when.year, when.month, when.day, tzinfo=tz or UTC).timestamp())
    if isinstance(when, bool) or not isinstance(when, int | float):
        raise TypeError(f"a time is a datetime, a date or a UNIX time, not {type(when).__name__}")
    return math.floor(when)


#: What identifies a point or an entry (an event table may hold several entries per second).
_ItemKey: TypeAlias = tuple[datetime] | tuple[int, datetime, int | None, int | None, int | None]


def _page(info: ObjectInfo, value: Value) -> Timeseries | EventTable:
    """A query's answer, which the request core decoded with the OID's data type."""
    if not isinstance(value, Timeseries | EventTable):  # pragma: no cover - the data type says so
        raise TypeError(f"{info.name}: the answer to a query is no time series or event table")
    return value


def _pages(
    info: ObjectInfo, start: int, end: int, max_pages: int, timeout: float | None
) -> Op[list[Timeseries | EventTable]]:
    """Query ``info`` with timestamps from ``end`` backwards until ``start`` is covered; the answers.

    The device's timestamps are unsigned 32-bit seconds (its request is a signed one): a range
    reaching before 1970 or after 2038 is cut to what the device can hold.
    """
    pages: list[Timeseries | EventTable] = []
    seen: set[_ItemKey] = set()
    start = max(start, 0)
    stamp = min(end, _MAX_STAMP)
    if stamp < start:
        return pages
    for _ in range(max_pages):
        payload = encode_value(DataType.INT32, stamp)
        reqs = yield [Call(info, payload=payload, stamp=stamp, timeout=timeout)]
        assert reqs is not None
        page = _page(info, reqs[0].result())
        pages.append(page)
        items = page.points if isinstance(page, Timeseries) else page.entries
        if not items:
            return pages
        keys = {_item_key(item) for item in items}
        new = keys - seen
        seen |= keys
        oldest = min(to_unix(item.timestamp) for item in items)
        if oldest < start:
            return pages
        if oldest == start and (isinstance(page, Timeseries) or not new or oldest >= stamp):
            # Time series have one point per timestamp; event table entries at ``start`` may have been
            # cut off by the end of the page, so those are asked for once more below.
            return pages
        # Ask again at the oldest timestamp (another entry may share it); when that brings nothing
        # new, go one second before it.
        nxt = oldest if new and oldest < stamp else oldest - 1
        if nxt >= stamp:
            nxt = stamp - 1
        if nxt < 0:
            return pages
        stamp = nxt
    raise RctTimeout(f"{info.name}: the device's answers did not cover the range after {max_pages} queries")


#: The last timestamp a query can carry (its payload is an INT32).
_MAX_STAMP: Final = 2**31 - 1


def _item_key(item: TimeseriesPoint | EventEntry) -> _ItemKey:
    if isinstance(item, TimeseriesPoint):
        return (item.timestamp,)
    return (item.entry_type, item.timestamp, item.element2, item.element3, item.element4)


def query_op(info: ObjectInfo, at: int, *, timeout: float | None = None) -> Op[Timeseries | EventTable]:
    """One answer of time series or event table ``info`` to the timestamp ``at``, as the device gives it."""
    if info.response_data_type not in (DataType.TIMESERIES, DataType.EVENT_TABLE):
        raise ValueError(f"{info.name} is neither a time series nor the event table")
    reqs = yield [Call(info, payload=encode_value(DataType.INT32, at), stamp=at, timeout=timeout)]
    assert reqs is not None
    return _page(info, reqs[0].result())


def history_op(
    info: ObjectInfo, start: int, end: int, *, max_pages: int | None = None, timeout: float | None = None
) -> Op[list[TimeseriesPoint]]:
    """The points of time series ``info`` with start <= timestamp <= end, oldest first, one per timestamp."""
    if info.response_data_type is not DataType.TIMESERIES:
        raise ValueError(f"{info.name} is not a time series (its answer is {info.response_data_type.name})")
    if end < start:
        raise ValueError("the end of the range is before its start")
    if max_pages is None:
        step = resolution_of(info) or timedelta(minutes=5)
        span = min(end, _MAX_STAMP) - max(start, 0)
        max_pages = max(0, span) // max(1, int(step.total_seconds())) + 16
    pages = yield from _pages(info, start, end, max_pages, timeout)
    points: dict[datetime, float] = {}
    for page in pages:
        assert isinstance(page, Timeseries)
        for point in page.points:
            if start <= to_unix(point.timestamp) <= end:
                points.setdefault(point.timestamp, point.value)  # newest query first: keep its value
    return [TimeseriesPoint(stamp, points[stamp]) for stamp in sorted(points)]


@dataclass(frozen=True, slots=True)
class EventRecord(EventEntry):
    """An event table entry with the faults it refers to, where that can be told (else empty)."""

    faults: tuple[Fault, ...] = ()


#: Entry types whose ``element3`` is taken as a fault bit number (0..127): ``F`` (fault). This follows
#: the simulator's model of the table; the meaning of the elements on real devices is not documented,
#: so other entries stay raw.
FAULT_ENTRY_TYPES: Final = frozenset({ord("F")})


def _event_faults(entry: EventEntry) -> tuple[Fault, ...]:
    bit = entry.element3
    if entry.entry_type in FAULT_ENTRY_TYPES and bit is not None and 0 <= bit < 128:
        return (Fault.for_bit(bit),)
    return ()


def events_op(
    start: int, end: int, *, registry: Registry = REGISTRY, max_pages: int = 1000, timeout: float | None = None
) -> Op[list[EventRecord]]:
    """The event table entries with start <= timestamp <= end, oldest first, without duplicates."""
    if end < start:
        raise ValueError("the end of the range is before its start")
    info = registry.resolve(EVENT_LOG_OID)
    pages = yield from _pages(info, start, end, max_pages, timeout)
    entries: dict[_ItemKey, EventEntry] = {}
    for page in pages:
        assert isinstance(page, EventTable)
        for entry in page.entries:
            if start <= to_unix(entry.timestamp) <= end:
                entries.setdefault(_item_key(entry), entry)
    ordered = sorted(entries.values(), key=lambda e: (e.timestamp, e.entry_type))
    return [
        EventRecord(e.entry_type, e.timestamp, e.element2, e.element3, e.element4, faults=_event_faults(e))
        for e in ordered
    ]

"""The event table for people: entry types by name, element times as times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..protocol import EventRecord

__all__ = ["ENTRY_TYPES", "entry_elements", "entry_end", "entry_type"]

#: The entry types of the event table as the devices (and the simulator) use them. What the elements
#: mean is not documented by the vendor: an element that holds a time after the entry's is shown as
#: the end of the event, a fault bit as its description.
ENTRY_TYPES = {"F": "fault", "W": "warning", "S": "status"}
#: An element between the entry's time and this long after it is taken as a time (the event's end).
EVENT_SPAN = timedelta(days=366)


def entry_type(code: int) -> str:
    """``F fault``, ``W warning``, ``S status``; other types as their letter or number."""
    char = chr(code) if 32 < code < 127 else f"0x{code:02x}"
    meaning = ENTRY_TYPES.get(char)
    return f"{char} {meaning}" if meaning else char


def entry_end(entry: EventRecord) -> datetime | None:
    """The end of an event: an element that holds a time after the entry's own (None if none does)."""
    start = entry.timestamp.timestamp()
    for element in (entry.element2, entry.element3, entry.element4):
        if element is not None and start <= element <= start + EVENT_SPAN.total_seconds():
            return datetime.fromtimestamp(element, UTC)
    return None


def entry_elements(entry: EventRecord, end: datetime | None) -> str:
    """The elements other than the end time: a fault bit as ``bit N``, the rest in hex (zeros left out)."""
    skip = {int(end.timestamp())} if end is not None else set()
    bits = {f.bit for f in entry.faults}
    shown = []
    for element in (entry.element2, entry.element3, entry.element4):
        if element is None or element in skip:
            continue
        if element in bits:
            shown.append(f"bit {element}")
            bits.discard(element)
        elif element:
            shown.append(f"0x{element:x}")
    return " ".join(shown)

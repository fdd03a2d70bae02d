"""Turn decoder events into something a person (or a JSON consumer) can read.

Shared by the CLI's ``decode`` command, the capture reader and the clients' debug output. Like
the rest of the core it does no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import Any

from .exceptions import PayloadDecodeError
from .frame import CRCMismatch, Event, Extension, Frame, Garbage, KeepAlive
from .registry import REGISTRY, ObjectInfo, Registry
from .types import Command, EventTable, Timeseries
from .utils import decode_lossless

__all__ = ["EventDescription", "decode_payload", "describe_event", "format_value", "jsonable"]


def decode_payload(info: ObjectInfo, command: int, data: bytes) -> Any:
    """Decode the payload of a frame for ``info``: with the response type for answers, else the request type.

    Time series and event tables come out lossless (:class:`~rctclient.types.Timeseries`,
    :class:`~rctclient.types.EventTable`). Raises :class:`PayloadDecodeError` when the payload does
    not fit the type (devices cut payloads short).
    """
    data_type = info.response_data_type if Command.is_response(command) else info.request_data_type
    return decode_lossless(data_type, data)


def format_value(value: Any, info: ObjectInfo | None = None) -> str:
    """A short human-readable text for a decoded value (with the enum label and unit where known)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    unit = f" {info.unit}" if info is not None and info.unit else ""
    if isinstance(value, int):
        if info is not None and info.enum_map:
            label = info.enum_map.get(value)
            if label is not None:
                return f"{value} ({label})"
        return f"{value}{unit}"
    if isinstance(value, float):
        if unit == " %" and math.isfinite(value):
            # SOC-like values are fractions on the wire although their unit is %
            return f"{value!r} ({value * 100:.1f} %)"
        return f"{value!r}{unit}"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, Timeseries):
        if not value.points:
            return f"time series before {value.request_timestamp:%Y-%m-%d %H:%M:%S}Z: no points"
        first, last = min(p.timestamp for p in value), max(p.timestamp for p in value)
        return f"time series: {len(value)} points {first:%Y-%m-%d %H:%M}..{last:%Y-%m-%d %H:%M}Z"
    if isinstance(value, EventTable):
        return f"event table: {len(value)} entries before {value.request_timestamp:%Y-%m-%d %H:%M:%S}Z"
    if is_dataclass(value):
        return type(value).__name__
    return repr(value)


def jsonable(value: Any) -> Any:
    """A JSON-serialisable form of a decoded value (datetimes as ISO 8601, NaN and infinities as strings)."""
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(jsonable(k)): jsonable(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [jsonable(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in fields(value)}
    return repr(value)


@dataclass(frozen=True, slots=True)
class EventDescription:
    """One decoder event, explained."""

    offset: int
    kind: str  # frame, crc-mismatch, garbage, keep-alive, extension
    command: str | None = None
    object_id: int | None = None
    address: int | None = None
    name: str | None = None
    value: Any = None
    text: str = ""
    unit: str | None = None
    #: Problems and remarks: "crc mismatch", "truncated payload", "unknown oid", ...
    flags: tuple[str, ...] = ()
    raw: bytes = b""

    def as_dict(self) -> dict[str, Any]:
        return {
            "offset": self.offset,
            "kind": self.kind,
            "command": self.command,
            "id": None if self.object_id is None else f"0x{self.object_id:08X}",
            "address": self.address,
            "name": self.name,
            "value": jsonable(self.value),
            "text": self.text,
            "unit": self.unit,
            "flags": list(self.flags),
        }


def describe_event(event: Event, registry: Registry = REGISTRY) -> EventDescription:
    """Explain a :class:`~rctclient.frame.FrameDecoder` event: OID name, decoded value, problems."""
    if isinstance(event, Frame | CRCMismatch):
        flags: list[str] = []
        kind = "frame"
        if isinstance(event, CRCMismatch):
            kind = "crc-mismatch"
            flags.append(f"crc mismatch (received 0x{event.received_crc:04X}, calculated 0x{event.calculated_crc:04X})")
        address = event.address if Command.is_plant(event.command) else None
        info = registry.get_by_id(event.id) if event.id in registry else None
        value: Any = None
        text = ""
        if info is None:
            flags.append("unknown oid")
            if event.data:
                text = "0x" + event.data.hex()
        elif Command.is_read(event.command) and not event.data:
            text = ""
        else:
            try:
                value = decode_payload(info, event.command, event.data)
            except PayloadDecodeError as exc:
                flags.append(f"bad payload: {exc}")
                text = "0x" + event.data.hex()
            else:
                text = format_value(value, info)
        return EventDescription(
            offset=event.offset,
            kind=kind,
            command=event.command.name,
            object_id=event.id,
            address=address,
            name=info.name if info else None,
            value=value,
            text=text,
            unit=info.unit if info else None,
            flags=tuple(flags),
            raw=event.data,
        )
    if isinstance(event, Garbage):
        return EventDescription(
            offset=event.offset,
            kind="garbage",
            text=f"{len(event.data)} byte{'' if len(event.data) == 1 else 's'}: 0x{event.data[:32].hex()}"
            f"{'...' if len(event.data) > 32 else ''}",
            flags=(event.reason.value,),
            raw=event.data,
        )
    if isinstance(event, KeepAlive):
        return EventDescription(offset=event.offset, kind="keep-alive", text="AT+\\r", flags=("keep-alive",))
    if isinstance(event, Extension):
        return EventDescription(
            offset=event.offset,
            kind="extension",
            text="0x" + event.data.hex(),
            flags=("extension",),
            raw=event.data,
        )
    raise TypeError(f"not a decoder event: {event!r}")

"""Per object ID: what a capture's conversation says (requests, answers, errors, latency); see :func:`summarize`."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any, Final

from ..frame import CRCMismatch, Frame
from ..types import Command
from .model import MAX_OBJECT_IDS, CaptureEvent, CaptureStats, FlagKind

__all__ = ["OTHER_OBJECTS", "ObjectSummary", "summarize"]

#: The ``object_id`` of the summary of the object IDs beyond :data:`MAX_OBJECT_IDS` outside the registry.
OTHER_OBJECTS: Final = -1


@dataclass(slots=True)
class ObjectSummary:
    """What a capture says about one object ID (see :func:`summarize`)."""

    object_id: int
    name: str | None
    requests: int = 0
    answers: int = 0
    unsolicited: int = 0
    unanswered: int = 0
    #: Frames with a CRC mismatch and payloads that do not fit the OID's data type.
    errors: int = 0
    latencies: int = 0
    latency_min: float | None = None
    latency_max: float | None = None
    latency_sum: float = 0.0

    @property
    def latency_avg(self) -> float | None:
        return self.latency_sum / self.latencies if self.latencies else None

    def as_dict(self) -> dict[str, Any]:
        def ms(v: float | None) -> float | None:
            return None if v is None else round(v * 1000, 3)

        return {
            "id": "other" if self.object_id == OTHER_OBJECTS else f"0x{self.object_id:08X}",
            "name": self.name,
            "requests": self.requests,
            "answers": self.answers,
            "unsolicited": self.unsolicited,
            "unanswered": self.unanswered,
            "errors": self.errors,
            "latency_min_ms": ms(self.latency_min),
            "latency_avg_ms": ms(self.latency_avg),
            "latency_max_ms": ms(self.latency_max),
        }


def summarize(
    events: Iterable[CaptureEvent], stats: CaptureStats | None = None, oids: Collection[int] | None = None
) -> list[ObjectSummary]:
    """Per object ID: requests, answers, errors and request→answer latency, sorted by object ID.

    ``events`` is typically a :class:`~rctclient.pcap.CaptureReader`; pass its ``stats`` (after
    the iteration, which this function does) to count the unanswered requests too. ``oids`` keeps
    only those object IDs.

    Object IDs outside the registry are summarized one by one until :data:`MAX_OBJECT_IDS` are;
    further ones together, in one summary of ``object_id`` :data:`OTHER_OBJECTS` (sorted last).
    """
    found: dict[int, ObjectSummary] = {}

    def get(oid: int, name: str | None) -> ObjectSummary:
        s = found.get(oid)
        if s is None:
            if name is None and len(found) >= MAX_OBJECT_IDS:  # not in the registry (it would have a name)
                oid, name = OTHER_OBJECTS, "(other object IDs)"
                s = found.get(oid)
            if s is None:
                s = found[oid] = ObjectSummary(oid, name)
        return s

    for ev in events:
        oid = ev.description.object_id
        if oid is None or (oids is not None and oid not in oids):
            continue
        s = get(oid, ev.description.name)
        inner = ev.event
        if isinstance(inner, CRCMismatch):
            s.errors += 1
            continue
        if not isinstance(inner, Frame):
            continue
        if ev.has(FlagKind.BAD_PAYLOAD):
            s.errors += 1
        if Command.is_response(inner.command):
            s.answers += 1
            if ev.has(FlagKind.UNSOLICITED_ANSWER):
                s.unsolicited += 1
        else:
            s.requests += 1
        if ev.latency is not None:
            s.latencies += 1
            s.latency_sum += ev.latency
            s.latency_min = ev.latency if s.latency_min is None else min(s.latency_min, ev.latency)
            s.latency_max = ev.latency if s.latency_max is None else max(s.latency_max, ev.latency)
    if stats is not None:
        for oid, n in stats.unanswered.items():
            if oids is None or oid in oids:
                get(oid, None).unanswered += n
        if stats.unanswered_other and oids is None:
            get(OTHER_OBJECTS, "(other object IDs)").unanswered += stats.unanswered_other
    return [found[k] for k in sorted(found, key=lambda k: (k == OTHER_OBJECTS, k))]

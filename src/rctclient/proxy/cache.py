"""The proxy's cache of answers: key -> (the answer frame's exact bytes, when it arrived).

A key is an object ID, or an object ID and a plant address for the PLANT commands (see
:func:`request_key`). Only answers that can be checked are kept: OIDs of the registry whose payload
has the size of its data type (the inverter cuts payloads short under a good CRC; such an answer
still goes to whoever asked, but it is never kept). Time series and the event table are queries,
not values: never kept.
"""

from __future__ import annotations

from typing import Final, NamedTuple

from ..registry import REGISTRY, Registry
from ..types import DataType
from ..utils import max_payload_size

__all__ = ["AnswerCache", "OidFacts", "oid_facts", "request_key"]

_PLANT_KEY: Final = 1 << 64


def request_key(object_id: int, address: int | None) -> int:
    """One int per (object ID, plant address or None): cheap to hash, never ambiguous."""
    if address is None:
        return object_id
    return _PLANT_KEY | (address << 32) | object_id


class OidFacts(NamedTuple):
    """What the proxy needs to know about an OID's answers."""

    #: The payload size of its response data type; -1 when any size fits (STRING, UNKNOWN).
    size: int
    #: Its value never changes at run time (``ObjectInfo.static``).
    static: bool
    #: A time series or the event table: a WRITE of a timestamp asks for a page (a query).
    query: bool


_QUERY_TYPES: Final = (DataType.TIMESERIES, DataType.EVENT_TABLE)
_facts_of: dict[int, tuple[Registry, dict[int, OidFacts]]] = {}


def oid_facts(registry: Registry = REGISTRY) -> dict[int, OidFacts]:
    """The facts of every OID of ``registry`` (computed once per registry)."""
    known = _facts_of.get(id(registry))
    if known is not None and known[0] is registry:
        return known[1]
    table: dict[int, OidFacts] = {}
    for info in registry.all():
        data_type = info.response_data_type
        size = max_payload_size(data_type)
        table[info.object_id] = OidFacts(-1 if size is None else size, info.static, data_type in _QUERY_TYPES)
    _facts_of[id(registry)] = (registry, table)
    return table


class AnswerCache:
    """Answer frames by key, each with the time it arrived; bounded by a number of entries.

    :param max_age: how old a value may be when it is served (0: nothing is served).
    :param static_max_age: the same for static values.
    :param max_entries: when full, the entry stored longest ago goes first.
    """

    __slots__ = ("_ages", "_entries", "_facts", "max_entries")

    def __init__(
        self, max_age: float, static_max_age: float, max_entries: int = 4096, registry: Registry = REGISTRY
    ) -> None:
        self.max_entries = max_entries
        self._facts = oid_facts(registry)
        # per OID: the age limit; OIDs that are not kept are absent
        self._ages: dict[int, float] = {}
        for oid, facts in self._facts.items():
            limit = static_max_age if facts.static else max_age
            if limit > 0 and not facts.query:
                self._ages[oid] = limit
        self._entries: dict[int, tuple[bytes, float]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: int, object_id: int, now: float) -> tuple[bytes, float] | None:
        """The stored answer for ``key`` and its age, if it is young enough to serve."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = now - entry[1]
        limit = self._ages.get(object_id)
        if limit is None or age > limit:
            return None
        return entry[0], age

    def fits(self, object_id: int, payload: bytes) -> bool:
        """Whether an answer's payload has the size of its OID's data type (unknown OIDs: True)."""
        facts = self._facts.get(object_id)
        return facts is None or facts.size < 0 or len(payload) == facts.size

    def store(self, key: int, object_id: int, raw: bytes, payload: bytes, now: float) -> bool:
        """Keep the answer ``raw`` if its OID is kept and its payload fits; returns whether it was kept."""
        if object_id not in self._ages or not self.fits(object_id, payload):
            return False
        entries = self._entries
        if entries.pop(key, None) is None and len(entries) >= self.max_entries:
            del entries[next(iter(entries))]  # the one stored longest ago (dicts keep insertion order)
        entries[key] = (raw, now)
        return True

    def drop(self, key: int) -> None:
        self._entries.pop(key, None)

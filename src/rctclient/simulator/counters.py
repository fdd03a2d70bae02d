"""What the simulator saw and did, counted (tests assert on these instead of on timings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["Counters"]


@dataclass
class Counters:
    """What the simulator saw and did. ``faults`` counts injected faults by kind.

    :ivar connections: connections accepted.
    :ivar refused: connections refused because ``max_clients`` were open.
    :ivar idle_dropped: connections closed because they sent nothing for ``idle_timeout`` seconds.
    :ivar slow_clients_dropped: connections closed because they did not read their answers (their
        output stalled for ``idle_timeout`` seconds, or passed the hard cap of buffered bytes).
    :ivar requests: client requests handled (the portal's are counted in ``portal_requests``).
    :ivar answers: answers sent (each once, however many connections heard it).
    :ivar fanout_sent: answers delivered to connections that did not ask for them (shared bus).
    :ivar fanout_dropped: such deliveries left out: the connection did not read, had too many
        waiting, or the asking connection was over its share of the fan-out budget.
    :ivar portal_requests: requests of the simulated vendor portal on the Wi-Fi module.
    :ivar portal_answers: the device's answers to them.
    """

    connections: int = 0
    refused: int = 0
    idle_dropped: int = 0
    requests: int = 0
    answers: int = 0
    periodic_answers: int = 0
    portal_requests: int = 0
    portal_answers: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    unknown_oid: int = 0
    unknown_address: int = 0
    bad_frames: int = 0
    bad_writes: int = 0
    silenced: int = 0
    ignored: int = 0
    slow_clients_dropped: int = 0
    fanout_sent: int = 0
    fanout_dropped: int = 0
    faults: dict[str, int] = field(default_factory=dict)

    def fault(self, kind: str) -> None:
        self.faults[kind] = self.faults.get(kind, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, dict) else v) for k, v in self.__dict__.items()}

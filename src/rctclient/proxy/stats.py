"""The proxy's counters and its upstream latency histogram: plain numbers, read by the metrics exporter."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field, fields
from typing import Final

__all__ = ["LATENCY_BUCKETS", "LatencyHistogram", "ProxyStats"]

#: Upper bounds (seconds) of the latency histogram's buckets; the device answers in 5..300 ms.
LATENCY_BUCKETS: Final = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class LatencyHistogram:
    """Counts of observations per bucket (not cumulative), their sum and number."""

    __slots__ = ("count", "counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.counts[bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.count += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, observations at most that long) per bucket, +Inf last: the Prometheus form."""
        out: list[tuple[float, int]] = []
        total = 0
        for bound, n in zip((*LATENCY_BUCKETS, float("inf")), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out


@dataclass(slots=True)
class ProxyStats:
    """What the proxy did, counted since it started (mutable: the core adds to it)."""

    #: Requests from clients: READs, WRITEs (settings) and queries (time series, event table pages).
    reads: int = 0
    writes: int = 0
    queries: int = 0
    #: READs answered from the cache.
    cache_hits: int = 0
    #: Requests that joined one already waiting for the same answer.
    coalesced: int = 0
    #: Request frames sent to the inverter (re-sends included) and the re-sends alone.
    upstream_requests: int = 0
    resends: int = 0
    #: Answers handed to clients (one per client request answered).
    answers: int = 0
    #: Client requests given up without an answer.
    timeouts: int = 0
    #: Answers nobody was waiting for (another app's on the shared bus, late ones): kept, not sent.
    unrequested: int = 0
    #: Answers whose payload does not fit the OID's data type: sent to the askers, never kept.
    truncated: int = 0
    #: READ/WRITE frames coming from the inverter's side (other apps' requests echoed on the bus).
    foreign_frames: int = 0
    upstream_crc_errors: int = 0
    upstream_garbage_bytes: int = 0
    keepalives: int = 0
    client_crc_errors: int = 0
    client_garbage_bytes: int = 0
    #: Frames from clients that are not forwarded: READ_PERIODICALLY, RESPONSE, EXTENSION.
    client_dropped: int = 0
    writes_forwarded: int = 0
    writes_denied: int = 0
    #: Connections to the inverter made after the first one, and failed attempts or losses.
    reconnects: int = 0
    upstream_failures: int = 0
    #: Clients closed for exceeding a limit (outstanding requests, unread output, too many clients).
    clients_closed: int = 0
    clients_rejected: int = 0
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)

    def as_dict(self) -> dict[str, int]:
        """The counters by name (the histogram is left out)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "latency"}

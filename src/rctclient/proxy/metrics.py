"""The proxy's metrics in the Prometheus text format (``rctclient proxy --metrics ADDR``).

A collector of our own reads the core's counters when scraped (nothing on the proxy's hot path) into
a :class:`~prometheus_client.CollectorRegistry` of its own (no process-wide default registry). The
page is served by a minimal asyncio handler on the proxy's own event loop rather than by
``prometheus_client.start_http_server``: that one runs in a thread, which would read the core's
dictionaries while the loop changes them, and it answers any request size and any number of
connections; this one reads one bounded request line per connection, a few connections at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .core import ProxyCore

__all__ = ["METRICS", "ProxyCollector", "metrics_registry", "serve_metrics"]

_PREFIX: Final = "rctclient_proxy_"
#: name (without the prefix), help, label and {label value: ProxyStats field}, or the field alone
_COUNTERS: Final[tuple[tuple[str, str, str, dict[str, str] | str], ...]] = (
    ("requests", "Requests from clients.", "kind", {"read": "reads", "write": "writes", "query": "queries"}),
    ("cache_hits", "READs answered from the cache.", "", "cache_hits"),
    ("coalesced", "Requests that joined one already waiting for the same answer.", "", "coalesced"),
    ("upstream_requests", "Request frames sent to the inverter, re-sends included.", "", "upstream_requests"),
    ("resends", "Requests sent to the inverter once more (lost answer, or the client's retry).", "", "resends"),
    ("answers", "Answers handed to clients (one per request answered).", "", "answers"),
    ("timeouts", "Client requests given up without an answer.", "", "timeouts"),
    ("unrequested_answers", "Answers nobody was waiting for (kept in the cache).", "", "unrequested"),
    ("truncated_answers", "Answers whose payload does not fit the OID's data type (never kept).", "", "truncated"),
    ("foreign_frames", "Requests of other apps seen on the inverter's connection.", "", "foreign_frames"),
    (
        "crc_errors",
        "Frames whose checksum does not match.",
        "side",
        {"upstream": "upstream_crc_errors", "client": "client_crc_errors"},
    ),
    (
        "garbage_bytes",
        "Bytes that are no part of any frame.",
        "side",
        {"upstream": "upstream_garbage_bytes", "client": "client_garbage_bytes"},
    ),
    ("keepalives", "AT+ keep-alives seen (skipped).", "", "keepalives"),
    ("dropped_client_frames", "READ_PERIODICALLY, RESPONSE and EXTENSION frames of clients.", "", "client_dropped"),
    ("writes", "WRITEs of settings.", "outcome", {"forwarded": "writes_forwarded", "denied": "writes_denied"}),
    ("reconnects", "Connections to the inverter made after the first one.", "", "reconnects"),
    ("upstream_failures", "Failed connection attempts and lost connections to the inverter.", "", "upstream_failures"),
    ("clients_closed", "Clients closed for exceeding a limit.", "", "clients_closed"),
    ("clients_rejected", "Connections refused: too many clients.", "", "clients_rejected"),
)
#: Every metric's full name, for the documentation and its test.
METRICS: Final = (
    *(_PREFIX + name + "_total" for name, *_ in _COUNTERS),
    *(
        _PREFIX + name
        for name in ("clients", "inflight", "queued", "upstream_up", "cache_entries", "upstream_latency_seconds")
    ),
)


class ProxyCollector(Collector):
    """Reads a :class:`~rctclient.proxy.core.ProxyCore`'s counters and state when scraped."""

    def __init__(self, core: ProxyCore) -> None:
        self.core = core

    def collect(self) -> Iterator[Metric]:
        core = self.core
        stats = core.stats
        for name, text, label, source in _COUNTERS:
            if isinstance(source, str):
                yield CounterMetricFamily(_PREFIX + name, text, value=getattr(stats, source))
                continue
            family = CounterMetricFamily(_PREFIX + name, text, labels=[label])
            for value, field in source.items():
                family.add_metric([value], getattr(stats, field))
            yield family
        sched = core.scheduler
        yield GaugeMetricFamily(_PREFIX + "clients", "Connected clients.", value=core.clients)
        yield GaugeMetricFamily(_PREFIX + "inflight", "Requests on the wire to the inverter.", value=sched.inflight)
        yield GaugeMetricFamily(_PREFIX + "queued", "Requests waiting for their turn.", value=sched.queued)
        yield GaugeMetricFamily(
            _PREFIX + "upstream_up", "1 while connected to the inverter.", value=int(core.upstream_up)
        )
        yield GaugeMetricFamily(_PREFIX + "cache_entries", "Answers kept in the cache.", value=len(core.cache))
        histogram = stats.latency
        yield HistogramMetricFamily(
            _PREFIX + "upstream_latency_seconds",
            "Time from sending a request to the inverter to its answer.",
            buckets=[("+Inf" if b == float("inf") else repr(b), n) for b, n in histogram.cumulative()],
            sum_value=histogram.sum,
        )


def metrics_registry(core: ProxyCore) -> CollectorRegistry:
    """A registry of its own holding the proxy's collector."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ProxyCollector(core))
    return registry


#: The longest request head read (anything longer is not a scrape).
_MAX_REQUEST: Final = 8192
#: Seconds a scraper has to send its request and take the answer.
_IO_TIMEOUT: Final = 10.0
#: Scrapes served at once; more connections are closed at once.
_MAX_CONNECTIONS: Final = 8


async def serve_metrics(registry: CollectorRegistry, host: str, port: int) -> asyncio.Server:
    """Serve ``registry`` at ``http://host:port/metrics`` (and ``/``) until the returned server is closed.

    :raises OSError: the address cannot be bound.
    """
    active = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal active
        active += 1
        try:
            if active <= _MAX_CONNECTIONS:
                await asyncio.wait_for(_answer(registry, reader, writer), _IO_TIMEOUT)
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            active -= 1
            writer.close()
            with contextlib.suppress(ConnectionError, TimeoutError):
                await asyncio.wait_for(writer.wait_closed(), _IO_TIMEOUT)

    return await asyncio.start_server(handle, host, port, limit=_MAX_REQUEST, reuse_address=True)


async def _answer(registry: CollectorRegistry, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    head = await reader.readuntil(b"\r\n\r\n")
    method, _, rest = head.partition(b" ")
    path = rest.split(b" ", 1)[0].split(b"?", 1)[0]
    if method not in (b"GET", b"HEAD"):
        status, body = b"405 Method Not Allowed", b"only GET\n"
    elif path in (b"/metrics", b"/"):
        status, body = b"200 OK", generate_latest(registry)
    else:
        status, body = b"404 Not Found", b"the metrics are at /metrics\n"
    headers = (
        b"HTTP/1.1 " + status + b"\r\n"
        b"Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: close\r\n\r\n"
    )
    writer.write(headers if method == b"HEAD" else headers + body)
    await writer.drain()

"""The Prometheus exporter: a custom collector over the latest snapshot of each device, in its own registry.

Names and units follow the Prometheus conventions: base units in the name (``_watts``, ``_volts``,
``_hertz``, ``_celsius``, ``_ohms``, ``_ratio`` for fractions such as the SOC), energy counters in
joules (the device's Wh x 3600) as ``..._energy_joules_total``, identity as ``rct_inverter_info``,
the inverter state as a state set (one series per state, 1 for the current one). Every device series
has the label ``inverter`` (the serial number), so that many sites can share one Prometheus.
Values are polled on the monitor's schedule, not read at scrape time (HELP says so); a value that is
unavailable is absent, never 0. ``/metrics`` is served by aiohttp on the event loop: no thread and no
timer while nobody scrapes (prometheus_client's own server polls every 0.5 s in a thread of its own,
which was a fifth of the daemon's CPU); a slow scraper is written to asynchronously and never blocks
polling.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.registry import Collector

from ...registry import REGISTRY
from ..catalog import Quantity
from ..config import PrometheusConfig
from ..lineprotocol import float32_text
from ..state import DURATION_BUCKETS, Snapshot
from . import Exporter, faults_of

__all__ = ["PrometheusExporter", "collect"]

log = logging.getLogger("rctclient.monitor.prometheus")

#: (metric suffix, Stats field, HELP) of the client's counters.
_CLIENT_COUNTERS = (
    ("requests", "requests", "Requests made to the device"),
    ("request_failures", "failed", "Requests that failed for good (after their retries)"),
    ("frames_sent", "frames_sent", "Frames sent to the device (each attempt)"),
    ("frames_received", "frames", "Frames received with a good CRC"),
    ("crc_errors", "crc_errors", "Frames received with a bad CRC"),
    ("garbage", "garbage", "Bytes or cut-off frames that were not a frame"),
    (
        "foreign_frames",
        "foreign_frames",
        "Good frames that answered none of our requests (other clients, late answers)",
    ),
    ("truncated_payloads", "truncated", "Answers whose payload did not fit the data type (asked again)"),
    ("timeouts", "timeouts", "Request attempts without a valid answer in time"),
    ("retries", "retries", "Requests sent again"),
    ("connects", "connects", "Connections made to the device"),
    ("connect_failures", "connect_failures", "Connection attempts that failed"),
    ("connection_losses", "connection_losses", "Connections lost"),
    ("sent_bytes", "bytes_sent", "Bytes sent to the device"),
    ("received_bytes", "bytes_received", "Bytes received from the device"),
)


class _Families:
    """Metric families made on first use, in first-use order."""

    def __init__(self) -> None:
        self._families: dict[str, Metric] = {}

    def get(self, kind: Callable[..., Metric], name: str, documentation: str, labels: Sequence[str]) -> Any:
        """The family ``name`` (made with ``kind(name, documentation, labels=labels)`` on first use)."""
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = kind(name, documentation, labels=list(labels))
        return family

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._families.values())


def _family_title(q: Quantity) -> str:
    """The title without the words that the labels say ("Grid power L1" -> "Grid power")."""
    label_words = {value.lower() for _, value in q.labels}
    return " ".join(word for word in q.title.split() if word.lower() not in label_words)


def _polled(q: Quantity, snapshot: Snapshot) -> str:
    interval = snapshot.plan.intervals.get(q.tier, 0.0)
    return f"polled every {interval:g} s, not read at scrape time"


def _value_metrics(snapshot: Snapshot, families: _Families) -> None:
    serial = snapshot.serial
    values = snapshot.values
    for q in snapshot.plan.quantities():
        reading = values.get(q.oid)
        if reading is None or q.metric is None or q.kind in ("static", "faults"):
            continue
        value = reading.value
        label_names = ["inverter", *(k for k, _ in q.labels)]
        label_values = [serial, *(v for _, v in q.labels)]
        if q.kind == "enum":
            _enum_metric(q, value, label_names, label_values, snapshot, families)
            continue
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float):
            continue
        help_text = f"{_family_title(q)} ({_polled(q, snapshot)})"
        if q.kind == "counter":
            family = families.get(CounterMetricFamily, q.metric, help_text, label_names)
        else:
            if q.metric == "rct_value":
                help_text = "Values added to the poll plan in the config, in the device's units (label oid)"
            family = families.get(GaugeMetricFamily, q.metric, help_text, label_names)
        number = q.export_value(float(value))
        if isinstance(reading.value, float):  # the device's single precision, without the float64 noise
            number = float(float32_text(number))
        family.add_metric(label_values, number)


def _enum_metric(
    q: Quantity, value: Any, names: list[str], values: list[str], snapshot: Snapshot, families: _Families
) -> None:
    if not isinstance(value, int) or q.metric is None:
        return
    labels = REGISTRY.resolve(q.oid).enum_map or {}
    current = labels.get(value, str(value))
    help_text = f"{q.title}: 1 for the current state ({_polled(q, snapshot)})"
    family = families.get(GaugeMetricFamily, q.metric, help_text, [*names, "state"])
    for label in dict.fromkeys([*labels.values(), current]):
        family.add_metric([*values, label], 1.0 if label == current else 0.0)
    code = families.get(GaugeMetricFamily, f"{q.metric}_code", f"{q.title}, as the device's number", names)
    code.add_metric(values, float(value))


def _identity_metrics(snapshot: Snapshot, families: _Families) -> None:
    serial = snapshot.serial
    ident = snapshot.identity
    up = families.get(GaugeMetricFamily, "rct_up", "1 if the device answers", ["inverter"])
    up.add_metric([serial], 1.0 if snapshot.up else 0.0)
    info = families.get(InfoMetricFamily, "rct_inverter", "The inverter's identity", ["inverter"])
    info.add_metric(
        [serial],
        {
            "serial": serial,
            "name": str(ident.get("android_description") or ""),
            "sw_version": str(ident.get("svnversion") or ""),
            "parameter_file": str(ident.get("parameter_file") or ""),
        },
    )
    presence = snapshot.plan.tiers
    if any(q.device == "battery" for q in presence["fast"]):
        battery_type = ident.get("power_mng.battery_type")
        type_label = ""
        if isinstance(battery_type, int):
            type_label = (REGISTRY.resolve("power_mng.battery_type").enum_map or {}).get(
                battery_type, str(battery_type)
            )
        battery = families.get(InfoMetricFamily, "rct_battery", "The battery's identity", ["inverter"])
        battery.add_metric(
            [serial],
            {
                "type": type_label,
                "serial": str(ident.get("battery.bms_sn") or ""),
                "sw_version": str(ident.get("battery.bms_software_version") or ""),
            },
        )
    stamps = families.get(
        GaugeMetricFamily,
        "rct_last_update_timestamp_seconds",
        "When a tier was last polled successfully",
        ["inverter", "tier"],
    )
    for tier, times in snapshot.polls.items():
        if times.last_success is not None:
            stamps.add_metric([serial, tier], times.last_success)
    faults = faults_of(snapshot)
    if faults is not None:
        count = families.get(GaugeMetricFamily, "rct_active_faults", "Active fault bits", ["inverter"])
        count.add_metric([serial], float(len(faults)))
        active = families.get(
            GaugeMetricFamily, "rct_fault_active", "1 for each active fault bit", ["inverter", "bit", "description"]
        )
        for fault in faults:
            active.add_metric([serial, str(fault.bit), fault.description], 1.0)


def _daemon_metrics(snapshot: Snapshot, families: _Families) -> None:
    device = snapshot.device
    stats = snapshot.client
    for suffix, field, help_text in _CLIENT_COUNTERS:
        name = f"rctclient_{suffix}"
        family = families.get(CounterMetricFamily, name, help_text, ["device"])
        family.add_metric([device], float(stats.get(field, 0)))
    latency = families.get(
        SummaryMetricFamily,
        "rctclient_request_latency_seconds",
        "Time from a request's first send to its answer",
        ["device"],
    )
    latency.add_metric(
        [device], count_value=float(stats.get("latency_count", 0)), sum_value=float(stats.get("latency_total", 0.0))
    )
    durations = families.get(
        HistogramMetricFamily,
        "rctclient_poll_duration_seconds",
        "Time to poll a tier (one pipelined read)",
        ["device", "tier"],
    )
    failures = families.get(
        CounterMetricFamily, "rctclient_poll_failures", "Polls of a tier that got no value", ["device", "tier"]
    )
    for tier, times in snapshot.polls.items():
        buckets = [(f"{bound:g}", float(n)) for bound, n in zip(DURATION_BUCKETS, times.buckets, strict=True)]
        buckets.append(("+Inf", float(times.count)))
        durations.add_metric([device, tier], buckets, times.total)
        failures.add_metric([device, tier], float(times.failures))
    resets = families.get(
        CounterMetricFamily,
        "rctclient_energy_resets",
        "Energy totals that went down twice in a row (taken as resets)",
        ["device"],
    )
    resets.add_metric([device], float(snapshot.counter_resets))


def _exporter_metrics(exporters: Sequence[Exporter], families: _Families) -> None:
    up = families.get(
        GaugeMetricFamily, "rctclient_exporter_connected", "1 if the exporter reaches its sink", ["exporter"]
    )
    dropped = families.get(
        CounterMetricFamily,
        "rctclient_exporter_dropped",
        "Items dropped because the exporter's queue was full",
        ["exporter"],
    )
    queued = families.get(
        GaugeMetricFamily, "rctclient_exporter_queued", "Items waiting in the exporter's queue", ["exporter"]
    )
    for exporter in exporters:
        up.add_metric([exporter.name], 1.0 if exporter.connected else 0.0)
        dropped.add_metric([exporter.name], float(exporter.dropped))
        queued.add_metric([exporter.name], float(exporter.queued))


def collect(snapshots: Iterable[Snapshot], exporters: Sequence[Exporter] = ()) -> list[Metric]:
    """The metric families of ``snapshots`` (a pure function of its input)."""
    families = _Families()
    for snapshot in snapshots:
        if snapshot.serial:
            _identity_metrics(snapshot, families)
            _value_metrics(snapshot, families)
        _daemon_metrics(snapshot, families)
    _exporter_metrics(exporters, families)
    return list(families)


class _Collector(Collector):
    def __init__(self, exporter: PrometheusExporter) -> None:
        self.exporter = exporter

    def collect(self) -> Iterable[Metric]:
        # a copy: offer() may replace entries from the event loop while this runs in the HTTP thread
        return collect(list(self.exporter.latest.values()), self.exporter.others())


class PrometheusExporter(Exporter):
    """Serves ``/metrics`` from the latest snapshots; ``offer`` only replaces a reference."""

    name = "prometheus"

    def __init__(self, config: PrometheusConfig, others: Callable[[], Sequence[Exporter]] = tuple) -> None:
        self.config = config
        self.others = others
        self.latest: dict[str, Snapshot] = {}
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        if config.process_metrics:
            from prometheus_client.gc_collector import GCCollector  # noqa: PLC0415
            from prometheus_client.platform_collector import PlatformCollector  # noqa: PLC0415
            from prometheus_client.process_collector import ProcessCollector  # noqa: PLC0415

            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
            GCCollector(registry=self.registry)
        self._server: Any = None
        self.port = config.port

    async def start(self) -> None:
        """Listen now (raises OSError if the address cannot be used)."""
        from aiohttp import web  # noqa: PLC0415 - only with the exporter on

        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/", self._index)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.config.host, self.config.port, shutdown_timeout=1.0).start()
        except OSError:
            await runner.cleanup()
            raise
        self._server = runner
        self.port = int(runner.addresses[0][1])
        log.info("serving metrics on http://%s:%d/metrics", self.config.host, self.port)

    async def _metrics(self, request: Any) -> Any:
        from aiohttp import web  # noqa: PLC0415

        return web.Response(body=self.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def _index(self, request: Any) -> Any:
        from aiohttp import web  # noqa: PLC0415

        return web.Response(text="rctclient monitor: see /metrics\n")

    def offer(self, snapshot: Snapshot) -> None:
        self.latest[snapshot.device] = snapshot

    def render(self) -> bytes:
        return generate_latest(self.registry)

    async def close(self) -> None:
        runner, self._server = self._server, None
        if runner is not None:
            await runner.cleanup()

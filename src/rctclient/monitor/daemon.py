"""The asyncio adapter: one task and one :class:`~rctclient.aio.AsyncClient` per device driving its
:class:`~rctclient.monitor.core.PollCore`, the exporters' tasks, logging, and a bounded shutdown.

Snapshots go to every exporter through :meth:`~rctclient.monitor.exporters.Exporter.offer`, which never
blocks; an exporter whose task fails is logged and started again, and never stops the polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from ..aio import AsyncClient
from ..exceptions import RctClientException
from ..protocol import WriteResult
from .config import DeviceConfig, MonitorConfig, PollConfig
from .core import DeviceBack, DeviceLost, Identified, Notice, PlanChanged, PollCore, SerialChanged, Wait
from .exporters import Exporter
from .state import CounterReset, Snapshot

__all__ = ["DevicePoller", "Monitor", "MonitorError", "setup_logging"]

log = logging.getLogger("rctclient.monitor")

#: The time shutdown may take before the exporters are left behind (the whole exit stays within 5 s).
SHUTDOWN_TIMEOUT = 3.5
_RESTART_DELAY = 5.0


class MonitorError(RctClientException):
    """The monitor cannot start (an address in use, a missing library): one line for the user."""


class DevicePoller:
    """Polls one device: asks the core what to do, does it, logs the core's notices, hands out snapshots."""

    def __init__(
        self,
        device: DeviceConfig,
        poll: PollConfig,
        sink: Callable[[Snapshot], None],
        *,
        control: bool = False,
        client: AsyncClient | None = None,
    ) -> None:
        self.device = device
        self.label = device.label
        self.core = PollCore(self.label, poll, control=control)
        self.sink = sink
        self.client = client or AsyncClient(
            device.host, device.port, timeout=device.timeout, retries=device.retries, address=device.address
        )

    async def run(self) -> None:
        core = self.core
        while True:
            action = core.next_action(time.monotonic())
            if isinstance(action, Wait):
                await asyncio.sleep(action.seconds)
                continue
            start = time.monotonic()
            try:
                result = await self.client.read_many(action.names)
                _raise_if_cancelled()
            except (RctClientException, OSError) as exc:
                now = time.monotonic()
                notices = core.read_failed(action.tier, str(exc) or type(exc).__name__, now, now - start)
            else:
                now = time.monotonic()
                notices = core.read_done(action.tier, result.values, result.errors, now, time.time(), now - start)
            self._log(notices)
            tier = action.tier if core.up else None
            self.sink(core.snapshot(time.monotonic(), time.time(), tier, self.client.stats.as_dict()))

    def _log(self, notices: list[Notice]) -> None:
        where = f"{self.label} ({self.device.host}:{self.device.port})"
        for notice in notices:
            if isinstance(notice, Identified):
                log.info("%s: inverter %s", where, notice.serial)
            elif isinstance(notice, PlanChanged):
                p = notice.presence
                flags = ("yes" if x else "no" for x in (p.battery, p.generator_a, p.generator_b, p.power_switch))
                log.info(
                    "%s: polling %d values (battery: %s, generator A: %s, generator B: %s, Power Switch: %s)",
                    where, notice.values, *flags,
                )  # fmt: skip
            elif isinstance(notice, DeviceLost):
                what = "does not answer" if notice.identified else "cannot be identified"
                log.warning(
                    "%s %s: %s; everything is unavailable until it answers (retrying, at most every %.0f s)",
                    where, what, notice.reason, self.core.max_backoff,
                )  # fmt: skip
            elif isinstance(notice, DeviceBack):
                log.info("%s answers again after %.0f s", where, notice.after)
            elif isinstance(notice, SerialChanged):
                log.warning(
                    "%s: now answers with serial %s, not %s; keeping %s until restart",
                    where,
                    notice.new,
                    notice.old,
                    notice.old,
                )
            elif isinstance(notice, CounterReset):
                level = logging.WARNING if notice.lifetime else logging.INFO
                log.log(
                    level, "%s: %s went from %g to %g: taken as a reset", where, notice.name, notice.old, notice.new
                )

    async def write(self, oid: str, value: Any) -> WriteResult:
        """A verified write on the safe-write allow-list (never forced)."""
        return await self.client.write(oid, value)


class Monitor:
    """The daemon: pollers and exporters, started by :meth:`run` and stopped when ``stop`` is set."""

    def __init__(self, config: MonitorConfig, exporters: list[Exporter] | None = None) -> None:
        self.config = config
        self.exporters: list[Exporter] = exporters if exporters is not None else build_exporters(config, self._write)
        self.pollers = [
            DevicePoller(device, config.poll, self._offer, control=config.mqtt.enabled and config.mqtt.control)
            for device in config.devices
        ]
        self._by_label = {p.label: p for p in self.pollers}
        self.offer_errors = 0

    def _offer(self, snapshot: Snapshot) -> None:
        for exporter in self.exporters:
            try:
                exporter.offer(snapshot)
            except Exception:  # an exporter's bug must not stop the polling
                self.offer_errors += 1
                if self.offer_errors <= 3:
                    log.exception("exporter %s failed to take a snapshot", exporter.name)

    async def _write(self, device: str, oid: str, value: Any) -> WriteResult:
        return await self._by_label[device].write(oid, value)

    async def _supervise(self, exporter: Exporter) -> None:
        while True:
            try:
                await exporter.run()
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("exporter %s failed; starting it again in %.0f s", exporter.name, _RESTART_DELAY)
                await asyncio.sleep(_RESTART_DELAY)

    async def run(self, stop: asyncio.Event) -> None:
        from .exporters.prometheus import PrometheusExporter  # noqa: PLC0415

        for exporter in self.exporters:
            if isinstance(exporter, PrometheusExporter):
                try:
                    await exporter.start()
                except OSError as exc:
                    where = f"{exporter.config.host}:{exporter.config.port}"
                    raise MonitorError(f"prometheus: cannot listen on {where}: {exc.strerror or exc}") from None
        loop = asyncio.get_running_loop()
        tasks = [loop.create_task(self._supervise(e), name=f"exporter {e.name}") for e in self.exporters]
        pollers = [loop.create_task(p.run(), name=f"poll {p.label}") for p in self.pollers]
        log.info(
            "monitoring %d device(s); exporters: %s",
            len(self.pollers),
            ", ".join(e.name for e in self.exporters) or "none",
        )
        try:
            stopped = loop.create_task(stop.wait())
            done, _ = await asyncio.wait([stopped, *pollers], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                if task is not stopped:
                    task.result()  # a poller that ended: its exception (a bug) goes up
        finally:
            await self._shutdown(pollers, tasks)
            log.info("stopped")

    async def _shutdown(self, pollers: list[asyncio.Task[None]], tasks: list[asyncio.Task[None]]) -> None:
        await _cancel(pollers)
        try:
            async with asyncio.timeout(SHUTDOWN_TIMEOUT):
                await asyncio.gather(*(e.close() for e in self.exporters), return_exceptions=True)
        except TimeoutError:
            log.warning("exporters did not finish within %.1f s; exiting anyway", SHUTDOWN_TIMEOUT)
        await _cancel(tasks)
        for poller in self.pollers:
            with contextlib.suppress(Exception):
                await poller.client.close()


def _raise_if_cancelled() -> None:
    """Deliver a cancellation that an inner ``asyncio.wait_for`` swallowed (Python 3.11 loses a cancel that
    arrives while the awaited future completes; the client's loop uses ``wait_for``)."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again any that swallowed the cancellation."""
    pending = [t for t in tasks if not t.done()]
    while pending:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.1)
        pending = [t for t in pending if not t.done()]
    for task in tasks:
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s had failed", task.get_name(), exc_info=task.exception())


def build_exporters(config: MonitorConfig, writer: Any = None, stdout: TextIO | None = None) -> list[Exporter]:
    """The exporters that the config switches on (their libraries are imported only then)."""
    exporters: list[Exporter] = []
    try:
        if config.prometheus.enabled:
            from .exporters.prometheus import PrometheusExporter  # noqa: PLC0415

            prometheus = PrometheusExporter(config.prometheus, lambda: exporters)
            exporters.append(prometheus)
        if config.mqtt.enabled:
            from .exporters.mqtt import MqttExporter  # noqa: PLC0415

            exporters.append(MqttExporter(config.mqtt, writer if config.mqtt.control else None))
        if config.influx.enabled:
            import aiohttp  # noqa: F401, PLC0415 - fail at start, not at the first flush

            from .exporters.influx import InfluxExporter  # noqa: PLC0415

            exporters.append(InfluxExporter(config.influx))
    except ImportError as exc:
        raise MonitorError(f"{exc.name} is not installed: pip install 'rctclient[monitor]'") from None
    if config.stdout.format:
        from .exporters.stdout import StdoutExporter  # noqa: PLC0415

        exporters.append(StdoutExporter(config.stdout.format, config.influx.measurement, stdout))
    return exporters


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: str = "info", stream: TextIO | None = None) -> None:
    """One line per event on stderr (``json``: one object per line, for journald or Loki)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    if fmt == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(getattr(logging, level.upper()))
    if level != "debug":
        # the clients' own connection warnings would repeat what the poller says once per outage
        for name in ("rctclient.aio", "mqtt", "aiohttp"):
            logging.getLogger(name).setLevel(logging.ERROR)

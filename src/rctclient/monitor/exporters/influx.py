"""The InfluxDB exporter: line protocol POSTed to InfluxDB 1.x ``/write`` or 2.x ``/api/v2/write``.

Each poll of a tier becomes one line per device (measurement ``rct``, tag ``inverter`` = serial, one
field per available value of the tier, named by its catalog key, at the time of the poll). Lines wait
in a bounded queue and are sent in batches every ``flush_interval`` or when a batch is full. A
database that is away is logged once per outage and retried with backoff (1 s doubling to 60 s); the
queue keeps at most ``queue_max`` lines, dropping (and counting) the oldest.

aiohttp is the HTTP client: it is asyncio-native (a request never blocks the poller, and is
cancelled cleanly at shutdown), which the standard library's urllib is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from ...registry import REGISTRY
from ..catalog import Quantity
from ..config import InfluxConfig
from ..lineprotocol import field_value, line
from ..state import Snapshot
from . import LineExporter, Mailbox

__all__ = ["InfluxExporter", "snapshot_lines"]

log = logging.getLogger("rctclient.monitor.influx")

_BACKOFF_MAX = 60.0


def _fields(quantities: Iterable[Quantity], snapshot: Snapshot) -> list[tuple[str, str]]:
    fields: list[tuple[str, str]] = []
    values = snapshot.values
    for q in quantities:
        reading = values.get(q.oid)
        if reading is None:
            continue
        value = reading.value
        if q.absolute and isinstance(value, int | float) and not isinstance(value, bool):
            value = abs(value)
        text = field_value(value, REGISTRY.resolve(q.oid).response_data_type)
        if text is not None:
            fields.append((q.key, text))
    return fields


def snapshot_lines(snapshot: Snapshot, measurement: str = "rct") -> list[str]:
    """The line of the tier that ``snapshot`` follows (none for availability changes), in seconds."""
    if snapshot.tier is None or not snapshot.serial or not snapshot.up:
        return []
    quantities = snapshot.plan.tiers.get(snapshot.tier, ())
    text = line(measurement, {"inverter": snapshot.serial}, _fields(quantities, snapshot), int(snapshot.time))
    return [] if text is None else [text]


class InfluxExporter(LineExporter):
    name = "influx"

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self.lines: Mailbox[str] = Mailbox(config.queue_max)
        self._connected = True
        self._outage_since: float | None = None
        self.sent = 0
        self._full = asyncio.Event()

    @property
    def connected(self) -> bool:
        return self._connected

    def offer(self, snapshot: Snapshot) -> None:
        for text in snapshot_lines(snapshot, self.config.measurement):
            self.lines.put(text)
        if len(self.lines) >= self.config.batch_size:
            self._full.set()

    def _request(self) -> tuple[str, dict[str, str], dict[str, str]]:
        c = self.config
        headers = {"Content-Type": "text/plain; charset=utf-8"}
        if c.v2:
            params = {"org": c.org or "", "bucket": c.bucket or "", "precision": "s"}
            if c.token:
                headers["Authorization"] = f"Token {c.token}"
            return f"{c.url}/api/v2/write", params, headers
        params = {"db": c.database, "precision": "s"}
        if c.username is not None:
            params["u"] = c.username
            params["p"] = c.password or ""
        return f"{c.url}/write", params, headers

    async def run(self) -> None:
        import aiohttp  # noqa: PLC0415 - only with the exporter on

        url, params, headers = self._request()
        timeout = aiohttp.ClientTimeout(total=self.config.timeout)
        backoff = 1.0
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while True:
                await self.lines.wait(None)
                # gather a batch: until it is full or flush_interval has passed (one timer, no polling)
                if len(self.lines) < self.config.batch_size:
                    self._full.clear()
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.config.flush_interval):
                            await self._full.wait()
                if await self._send_batches(session, url, params, headers):
                    backoff = 1.0
                else:
                    await asyncio.sleep(backoff)
                    backoff = min(_BACKOFF_MAX, backoff * 2)

    async def _send_batches(self, session: object, url: str, params: dict[str, str], headers: dict[str, str]) -> bool:
        while len(self.lines):
            batch = self.lines.take(self.config.batch_size)
            error = await self._post(session, url, params, headers, batch)
            if error is not None:
                self.lines.extend_left(batch)
                self._outage(error)
                return False
            self.sent += len(batch)
            self._recovered()
        return True

    async def _post(
        self, session: object, url: str, params: dict[str, str], headers: dict[str, str], batch: list[str]
    ) -> str | None:
        import aiohttp  # noqa: PLC0415

        assert isinstance(session, aiohttp.ClientSession)
        body = ("\n".join(batch) + "\n").encode()
        try:
            async with session.post(url, params=params, headers=headers, data=body) as response:
                if response.status in (200, 204):
                    return None
                text = (await response.text())[:200].strip()
                if response.status == 400:
                    # the database refused the data itself (a type conflict, a bad line): retrying cannot help
                    log.error("InfluxDB refused %d lines: %s", len(batch), text)
                    self.lines.dropped += len(batch)
                    return None
                return f"HTTP {response.status}: {text}"
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            return str(exc) or type(exc).__name__

    def _outage(self, error: str) -> None:
        self._connected = False
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "InfluxDB at %s is not reachable: %s (keeping up to %d lines, retrying)",
                self.config.url,
                error,
                self.config.queue_max,
            )

    def _recovered(self) -> None:
        self._connected = True
        if self._outage_since is not None:
            log.info(
                "InfluxDB at %s is back after %.0f s (%d lines queued, %d dropped so far)",
                self.config.url,
                time.monotonic() - self._outage_since,
                len(self.lines),
                self.lines.dropped,
            )
            self._outage_since = None

    async def close(self) -> None:
        """Send what is queued, once (the caller bounds the time)."""
        if not len(self.lines):
            return
        import aiohttp  # noqa: PLC0415

        url, params, headers = self._request()
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=min(3.0, self.config.timeout))) as session:
            if not await self._send_batches(session, url, params, headers):
                log.warning("InfluxDB: %d lines could not be sent before exit", len(self.lines))

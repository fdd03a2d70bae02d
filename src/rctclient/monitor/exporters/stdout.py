"""``--stdout influx|json``: every poll as line protocol (for Telegraf's execd or stdin input) or as JSON.

Lines are written by a thread of the default executor, so that a slow reader of the pipe never
blocks polling; the queue is bounded (the oldest lines are dropped and counted).
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TextIO

from ..state import Snapshot
from . import LineExporter, Mailbox, state_text
from .influx import snapshot_lines

__all__ = ["StdoutExporter", "snapshot_json"]


def snapshot_json(snapshot: Snapshot) -> str | None:
    """One JSON object: the device, the time, the tier and its values by key (None while down)."""
    if not snapshot.serial:
        return None
    if snapshot.tier is None:
        return json.dumps({"inverter": snapshot.serial, "time": snapshot.time, "up": snapshot.up}, ensure_ascii=False)
    values: dict[str, object] = {}
    for q in snapshot.plan.tiers.get(snapshot.tier, ()):
        reading = snapshot.values.get(q.oid)
        if reading is not None:
            value = reading.value
            if q.kind == "enum" or isinstance(value, bytes):
                value = state_text(q, value)
            elif q.absolute and isinstance(value, int | float) and not isinstance(value, bool):
                value = abs(value)
            values[q.key] = value
    record = {
        "inverter": snapshot.serial,
        "time": snapshot.time,
        "tier": snapshot.tier,
        "up": snapshot.up,
        "values": values,
    }
    return json.dumps(record, ensure_ascii=False, allow_nan=False, default=str)


class StdoutExporter(LineExporter):
    def __init__(self, fmt: str, measurement: str = "rct", stream: TextIO | None = None, maxlen: int = 10_000) -> None:
        self.name = f"stdout-{fmt}"
        self.fmt = fmt
        self.measurement = measurement
        self.stream = stream or sys.stdout
        self.lines: Mailbox[str] = Mailbox(maxlen)

    def offer(self, snapshot: Snapshot) -> None:
        if self.fmt == "influx":
            for text in snapshot_lines(snapshot, self.measurement):
                self.lines.put(text)
        else:
            record = snapshot_json(snapshot)
            if record is not None:
                self.lines.put(record)

    def _write(self, lines: list[str]) -> None:
        self.stream.write("".join(f"{text}\n" for text in lines))
        self.stream.flush()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self.lines.wait(None)
            await loop.run_in_executor(None, self._write, self.lines.take())

    async def close(self) -> None:
        if len(self.lines):
            await asyncio.get_running_loop().run_in_executor(None, self._write, self.lines.take())

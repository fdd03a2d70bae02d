"""The monitor's exporters. Each is isolated: it gets snapshots through :meth:`Exporter.offer`, which never
blocks and never waits for the sink (a bounded mailbox; the oldest entries are dropped and counted when
it is full), and does its I/O in its own task. A slow or dead sink delays nothing else.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import Iterator
from typing import Generic, TypeVar

from ...faults import FAULT_OIDS, Fault, active_faults
from ..catalog import Quantity
from ..lineprotocol import float32_text
from ..state import Snapshot

__all__ = ["Exporter", "LineExporter", "Mailbox", "command_value", "faults_of", "state_text"]

T = TypeVar("T")


class Mailbox(Generic[T]):
    """A bounded FIFO that drops its oldest item when full (counted in ``dropped``) and wakes one reader."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[T] = deque()
        self.maxlen = maxlen
        self.dropped = 0
        self._event = asyncio.Event()

    def put(self, item: T) -> None:
        if len(self._items) >= self.maxlen:
            self._items.popleft()
            self.dropped += 1
        self._items.append(item)
        self._event.set()

    def extend_left(self, items: list[T]) -> None:
        """Put ``items`` back in front (a failed send), keeping the newest within the bound."""
        self._items.extendleft(reversed(items))
        while len(self._items) > self.maxlen:
            self._items.popleft()
            self.dropped += 1

    def take(self, limit: int | None = None) -> list[T]:
        count = len(self._items) if limit is None else min(limit, len(self._items))
        taken = [self._items.popleft() for _ in range(count)]
        if not self._items:
            self._event.clear()
        return taken

    async def wait(self, timeout: float | None = None) -> bool:
        """Until something is in the box (True) or ``timeout`` passed (False)."""
        if self._items:
            return True
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
        except TimeoutError:
            return False
        return True

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items)


class Exporter:
    """What the daemon needs of an exporter."""

    name = "exporter"

    def offer(self, snapshot: Snapshot) -> None:
        """A new snapshot of a device (called by the poller; must not block)."""
        raise NotImplementedError

    async def run(self) -> None:
        """The exporter's task (until cancelled)."""

    async def close(self) -> None:
        """Publish unavailability and flush what is queued (bounded by the caller's timeout)."""

    @property
    def connected(self) -> bool:
        return True

    @property
    def dropped(self) -> int:
        return 0

    @property
    def queued(self) -> int:
        return 0


class LineExporter(Exporter):
    """An exporter that queues text lines in a bounded mailbox (``lines``) for its task to send."""

    lines: Mailbox[str]

    @property
    def dropped(self) -> int:
        return self.lines.dropped

    @property
    def queued(self) -> int:
        return len(self.lines)


def faults_of(snapshot: Snapshot) -> list[Fault] | None:
    """The active faults, if all four fault words are available."""
    words = [snapshot.value(name) for name in FAULT_OIDS]
    if not all(isinstance(w, int) and not isinstance(w, bool) for w in words):
        return None
    return active_faults([int(w) for w in words if w is not None])


def command_value(q: Quantity, text: str) -> bool | int | float:
    """The value an MQTT command payload asks for: the inverse of :func:`state_text`.

    Home Assistant sends commands in the units of the states (its ``command_template`` undoes any
    display scaling), so this reads ``true``/``false`` (and ``on``/``off``, ``1``/``0``), enum labels
    (or their numbers) and plain numbers. Raises :class:`~rctclient.exceptions.WriteOutOfBounds` for
    anything else; bounds are checked later, by the write itself.
    """
    from ...exceptions import WriteOutOfBounds  # noqa: PLC0415 - control only
    from ...registry import REGISTRY  # noqa: PLC0415
    from ...types import INTEGER_TYPES, DataType  # noqa: PLC0415

    info = REGISTRY.resolve(q.oid)
    data_type = info.request_data_type
    word = text.strip()
    if data_type is DataType.BOOL:
        lowered = word.lower()
        if lowered in ("true", "on", "1"):
            return True
        if lowered in ("false", "off", "0"):
            return False
        raise WriteOutOfBounds(f"{q.key} takes true or false, not {word!r}")
    if info.enum_map:
        for value, label in info.enum_map.items():
            if label.lower() == word.lower():
                return value
    known = f" (one of: {', '.join(info.enum_map.values())})" if info.enum_map else ""
    problem = WriteOutOfBounds(f"{q.key}: {word!r} is not a value of {info.name}{known}")
    if data_type is DataType.FLOAT:
        try:
            number = float(word)
        except ValueError:
            raise problem from None
        if not math.isfinite(number):
            raise problem
        return number
    if data_type in INTEGER_TYPES:
        try:
            return int(word)
        except ValueError:
            raise problem from None
    raise WriteOutOfBounds(f"{q.key} cannot be written from MQTT")


def state_text(q: Quantity, value: object) -> str:
    """A value as an MQTT state payload: numbers in plain notation, enums by label, booleans true/false."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if q.kind == "enum" and isinstance(value, int):
        from ...registry import REGISTRY  # noqa: PLC0415 - enum labels only

        labels = REGISTRY.resolve(q.oid).enum_map or {}
        return labels.get(value, str(value))
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        if q.absolute:
            value = abs(value)
        text = float32_text(value).removesuffix(".0")
        return "0" if text == "-0" else text
    if isinstance(value, int):
        return str(abs(value) if q.absolute else value)
    if isinstance(value, bytes):
        return value.hex()
    return str(value)

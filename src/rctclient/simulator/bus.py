"""Who hears an answer, and when: the answers being prepared (in order) and the shared bus's fan-out.

A real device's Wi-Fi module sends every answer to all connected clients. Writing each answer to
every connection at once costs a write per connection per answer: 1,000 connections turned 110
requests a second into 110,000 writes and starved everyone. So on a bus with several connections:

* the connections that asked (or registered the OID for READ_PERIODICALLY) get the answer at once;
* every other connection gets it as a *foreign* frame, collected per connection and written
  together a few times a second (less often with more connections: at most FANOUT_WRITES such
  writes a second in all);
* the answers of one connection are heard by the others within a budget: FANOUT_RATE deliveries a
  second, shared out evenly by the connections (what is over it goes only to the one that asked);
* a connection that does not read (its transport paused writing) or already has FOREIGN_BACKLOG
  bytes of foreign frames waiting gets no more of them until it catches up.

Each frame left out for one of these reasons is counted (``Counters.fanout_dropped``). A connection
never gets a frame cut or out of the bus's order: its foreign frames go out before its own answers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import TYPE_CHECKING

from .counters import Counters

if TYPE_CHECKING:
    from .connection import Connection

__all__ = ["FANOUT_RATE", "FANOUT_WRITES", "FOREIGN_BACKLOG", "Bus", "Pending", "fanout_share"]

#: Foreign-frame deliveries per second on a bus, shared out evenly by its connections.
FANOUT_RATE = 100_000
#: Writes of collected foreign frames per second on a bus (sets how often they are written).
FANOUT_WRITES = 5_000
#: Bytes of foreign frames that may wait for one connection; more are dropped (counted).
FOREIGN_BACKLOG = 16 * 1024
#: Foreign frames are written at most this often (seconds).
_FANOUT_INTERVAL = 0.02


class Pending:
    """An answer being prepared: sent once it is ready and every answer queued before it was sent.

    :ivar direct: the connections that get it at once (the one that asked, the READ_PERIODICALLY
        registrants); everyone else on the bus hears it as a foreign frame.
    :ivar source: the connection whose fan-out budget pays for the others hearing it (the one that
        asked), or None for the device's own traffic (READ_PERIODICALLY, the portal, unsolicited).
    """

    __slots__ = ("counted", "cut", "data", "direct", "exposed", "source", "timer")

    def __init__(
        self,
        data: bytes,
        direct: Collection[Connection] = (),
        source: Connection | None = None,
        exposed: bool = False,
        counted: bool = True,
    ) -> None:
        self.data = data
        self.counted = counted  # an answer of the device's (Counters.answers), not the portal's traffic
        self.direct = direct
        self.source = source
        self.timer: asyncio.TimerHandle | None = None  # its latency; None: ready
        self.exposed = exposed  # already at risk of an interrupt (each answer is, once)
        self.cut = False  # cut off by an interrupt: only its first bytes go out


class Bus:
    """The connections that hear the same answers: all of them (shared bus) or just one."""

    __slots__ = ("_fanout_handle", "conns", "counters", "pending", "pending_bytes")

    def __init__(self, counters: Counters) -> None:
        self.counters = counters
        self.conns: set[Connection] = set()
        self.pending: list[Pending] = []  # in the order of the requests, like the device answers them
        self.pending_bytes = 0
        self._fanout_handle: asyncio.TimerHandle | None = None

    def queue(self, entry: Pending) -> None:
        self.pending.append(entry)
        self.pending_bytes += len(entry.data)

    def clear(self) -> None:
        """Forget the answers being prepared and the foreign frames waiting (their connections are gone)."""
        for entry in self.pending:
            if entry.timer is not None:
                entry.timer.cancel()
        self.pending.clear()
        self.pending_bytes = 0
        if self._fanout_handle is not None:
            self._fanout_handle.cancel()
            self._fanout_handle = None
        for conn in self.conns:
            conn.take_outbox()

    def ready(self, entry: Pending) -> None:
        """The latency of ``entry`` has passed."""
        entry.timer = None
        self.flush()

    def flush(self) -> None:
        """Send the ready answers at the head of the queue (an answer waits for those queued before it)."""
        pending = self.pending
        if not pending or pending[0].timer is not None:
            return
        if len(pending) == 1 and len(self.conns) == 1:  # the usual case: one answer, one listener
            entry = pending.pop()
            self.pending_bytes = 0
            if entry.counted and not entry.cut:
                self.counters.answers += 1
            for conn in self.conns:
                if conn.outbox:
                    conn.write_all([*conn.take_outbox(), entry.data])
                else:
                    conn.write(entry.data)
            return
        n = 1
        while n < len(pending) and pending[n].timer is None:
            n += 1
        ready = pending[:n]
        del pending[:n]
        self.pending_bytes = sum(len(e.data) for e in pending) if pending else 0
        self.counters.answers += sum(e.counted and not e.cut for e in ready)
        self._deliver(ready)

    def _deliver(self, entries: list[Pending]) -> None:
        conns = self.conns
        if len(conns) == 1:  # a bus of its own (or a lone client on the shared one): everything is its own
            (conn,) = conns
            conn.write_all([*conn.take_outbox(), *(e.data for e in entries)])
            return
        if not conns:
            return
        # What each connection gets at once, in the bus's order: its foreign frames collected so far,
        # then the answers of this batch (its own, and the others' answers that come between them).
        batch: dict[Connection, list[bytes]] = {}
        for entry in entries:
            for conn in entry.direct:
                if conn in conns:
                    if conn not in batch:
                        batch[conn] = conn.take_outbox()
                    batch[conn].append(entry.data)
            if len(conns) > len(entry.direct):
                self._fan_out(entry, batch)
        for conn, parts in batch.items():
            conn.write_all(parts)

    def _fan_out(self, entry: Pending, batch: dict[Connection, list[bytes]]) -> None:
        """Let the connections that did not ask hear ``entry``, within the budget (see the module docstring)."""
        conns = self.conns
        counters = self.counters
        others = len(conns) - sum(c in conns for c in entry.direct)
        source = entry.source
        if source is not None and not source.spend_fanout(len(conns)):
            counters.fanout_dropped += others
            return
        data = entry.data
        size = len(data)
        direct = entry.direct
        waiting = False
        for conn in conns:
            if conn in direct:
                continue
            parts = batch.get(conn)
            if parts is not None:
                parts.append(data)
            elif conn.paused or conn.outbox_len + size > FOREIGN_BACKLOG:
                counters.fanout_dropped += 1
                continue
            else:
                conn.outbox.append(data)
                conn.outbox_len += size
                waiting = True
            counters.fanout_sent += 1
        if waiting and self._fanout_handle is None:
            interval = max(_FANOUT_INTERVAL, len(conns) / FANOUT_WRITES)
            self._fanout_handle = asyncio.get_running_loop().call_later(interval, self._write_outboxes)

    def _write_outboxes(self) -> None:
        self._fanout_handle = None
        for conn in list(self.conns):
            if conn.outbox:
                conn.write_all(conn.take_outbox())


def fanout_share(conns: int) -> float:
    """Answers per second of one connection that the others may hear, on a bus of ``conns`` connections."""
    return FANOUT_RATE / (conns * (conns - 1)) if conns > 1 else float("inf")

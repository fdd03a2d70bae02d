"""Who waits for which answer, and what goes to the inverter next.

An :class:`Entry` is one request to the inverter and the client requests waiting for its answer
(``waiters``, one item per client request, so a client that asked twice is there twice). There is at
most one pending READ entry per key (later READs of the key join it: coalescing) and WRITEs and
queries go through one FIFO lane, one at a time on the wire. READs wait in per-client queues that
are drained round-robin, so a client that pipelines a thousand READs does not starve another's one.

The scheduler only keeps the books; :class:`~rctclient.proxy.core.ProxyCore` decides (and counts,
and logs). No I/O, no clock of its own: every time is passed in.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Final

from ..frame import FrameDecoder

__all__ = ["QUERY", "READ", "WRITE", "Client", "Entry", "Scheduler"]

# Entry kinds
READ: Final = 0
#: A WRITE that changes a setting.
WRITE: Final = 1
#: A time series or event table request (a WRITE of a timestamp, or a READ): changes nothing, but its
#: answers are told apart by the timestamp only, so it goes through the lane like a WRITE.
QUERY: Final = 2

# Entry states
QUEUED: Final = 0  # waiting for its turn (in a client's queue, or in the lane)
INFLIGHT: Final = 1  # on the wire
#: A READ to send before the queues' READs: it was on the wire when the connection was lost, or the
#: WRITE it waited for went unanswered.
PARKED: Final = 2
DONE: Final = 3

_KIND_NAMES: Final = ("READ", "WRITE", "QUERY")
_STATE_NAMES: Final = ("queued", "in flight", "parked", "done")


class Entry:
    """One request to the inverter and the client requests that wait for its answer."""

    __slots__ = (
        "address",
        "created",
        "due",
        "followers",
        "frame",
        "key",
        "kind",
        "note",
        "object_id",
        "owner",
        "sends",
        "sent_at",
        "stamp",
        "state",
        "waiters",
    )

    def __init__(
        self, kind: int, key: int, object_id: int, address: int | None, frame: bytes, now: float, stamp: bytes | None
    ) -> None:
        self.kind = kind
        self.key = key
        self.object_id = object_id
        self.address = address
        #: The request's bytes, as sent to the inverter (built with make_frame).
        self.frame = frame
        #: A query's timestamp (the first 4 payload bytes): its answer's header repeats it.
        self.stamp = stamp
        self.waiters: list[int] = []
        #: READs of the key that wait for this WRITE's answer.
        self.followers: list[int] = []
        self.state = QUEUED
        self.sends = 0
        self.created = now
        self.sent_at = 0.0
        #: When its timer fires (-1: no timer).
        self.due = -1.0
        #: The client whose queue holds it (queued READs only).
        self.owner: int | None = None
        #: What a WRITE writes, for its log line.
        self.note = ""

    def __repr__(self) -> str:
        return (
            f"<Entry {_KIND_NAMES[self.kind]} key=0x{self.key:X} {_STATE_NAMES[self.state]} "
            f"sends={self.sends} waiters={self.waiters} followers={self.followers}>"
        )


class Client:
    """A connected client: its decoder, its queue of READs and what it waits for."""

    __slots__ = ("decoder", "entries", "garbage_seen", "id", "outstanding", "peer", "queue")

    def __init__(self, client_id: int, peer: str, decoder: FrameDecoder) -> None:
        self.id = client_id
        self.peer = peer
        self.decoder = decoder
        self.garbage_seen = 0
        #: READ entries this client created that wait for their turn, oldest first.
        self.queue: deque[Entry] = deque()
        #: entry -> how many of this client's requests wait for it
        self.entries: dict[Entry, int] = {}
        #: requests of this client that wait for an answer
        self.outstanding = 0


class Scheduler:
    """The books of the waiting requests. ``request_timeout`` is the core's per-send timeout."""

    def __init__(self, max_inflight: int, request_timeout: float) -> None:
        self.max_inflight = max_inflight
        self.request_timeout = request_timeout
        self.clients: dict[int, Client] = {}
        #: the pending READ per key (queued, parked or in flight)
        self.reads: dict[int, Entry] = {}
        #: WRITEs and queries waiting for their turn, oldest first
        self.lane: deque[Entry] = deque()
        #: the lane entry on the wire
        self.lane_inflight: Entry | None = None
        #: per key, the last pending (queued or in flight) WRITE or query: READs of the key wait for it
        self.lane_last: dict[int, Entry] = {}
        #: per key, how many lane entries are pending
        self.lane_pending: dict[int, int] = {}
        #: READs to send before the queues' (they were on the wire when the connection was lost, or
        #: their WRITE was not answered)
        self.resume: deque[Entry] = deque()
        #: clients with queued READs, in turn order
        self.ring: deque[Client] = deque()
        self.inflight_reads = 0
        self._timers: list[tuple[float, int, Entry]] = []
        self._seq = 0

    # -- state ------------------------------------------------------------------------------------

    @property
    def inflight(self) -> int:
        """Requests on the wire."""
        return self.inflight_reads + (self.lane_inflight is not None)

    @property
    def queued(self) -> int:
        """Requests waiting for their turn."""
        return sum(len(c.queue) for c in self.ring) + len(self.lane) + len(self.resume)

    def sizes(self) -> dict[str, int]:
        """The size of every map and queue (all 0 when idle): for tests and debugging."""
        self._prune_timers()
        return {
            "clients": len(self.clients),
            "reads": len(self.reads),
            "lane": len(self.lane),
            "lane_inflight": int(self.lane_inflight is not None),
            "lane_last": len(self.lane_last),
            "lane_pending": len(self.lane_pending),
            "resume": len(self.resume),
            "ring": len(self.ring),
            "inflight_reads": self.inflight_reads,
            "timers": len(self._timers),
        }

    # -- clients ----------------------------------------------------------------------------------

    def add_client(self, client_id: int, peer: str, decoder: FrameDecoder) -> Client:
        client = Client(client_id, peer, decoder)
        self.clients[client_id] = client
        return client

    def join(self, entry: Entry, client: Client) -> None:
        """``client`` waits for ``entry``'s answer (once more)."""
        entry.waiters.append(client.id)
        self._count(client, entry)

    def follow(self, write: Entry, client: Client) -> None:
        """``client``'s READ of the key takes the answer of ``write``."""
        write.followers.append(client.id)
        self._count(client, write)

    @staticmethod
    def _count(client: Client, entry: Entry) -> None:
        entries = client.entries
        entries[entry] = entries.get(entry, 0) + 1
        client.outstanding += 1

    def remove_client(self, client_id: int) -> list[Entry]:
        """Forget a client at once.

        READs that nobody else waits for and that were not sent are dropped. Returns the lane
        entries of this client that were not sent yet and that nobody else asked for: a WRITE is
        not forwarded once its client has left (their followers, if any, still need a READ).
        Entries on the wire stay until their answer or their timeout: they hold a slot of the
        inverter's.
        """
        client = self.clients.pop(client_id, None)
        if client is None:
            return []
        in_ring = bool(client.queue)
        orphans: list[Entry] = []
        for entry in client.entries:
            entry.waiters = [c for c in entry.waiters if c != client_id]
            if entry.followers:
                entry.followers = [c for c in entry.followers if c != client_id]
            if entry.state in (INFLIGHT, DONE):
                continue
            if entry.kind != READ:
                if not entry.waiters:
                    orphans.append(entry)
            elif not entry.waiters:
                self.finish(entry)
            elif entry.owner == client_id:
                self._rehome(entry, client)
        client.entries = {}
        client.outstanding = 0
        if in_ring:
            self.ring.remove(client)
        client.queue.clear()
        return orphans

    def _rehome(self, entry: Entry, old: Client) -> None:
        """Move a queued READ out of a leaving client's queue, to the queue of one that still waits for it."""
        old.queue.remove(entry)
        heir = self.clients[entry.waiters[0]]
        entry.owner = heir.id
        if not heir.queue:
            self.ring.append(heir)
        heir.queue.append(entry)

    # -- new entries ------------------------------------------------------------------------------

    def submit_read(
        self, key: int, object_id: int, address: int | None, frame: bytes, client: Client, now: float
    ) -> Entry:
        entry = Entry(READ, key, object_id, address, frame, now, None)
        entry.owner = client.id
        self.reads[key] = entry
        if not client.queue:
            self.ring.append(client)
        client.queue.append(entry)
        self.join(entry, client)
        self._arm(entry, now + 2 * self.request_timeout)
        return entry

    def submit_lane(
        self,
        kind: int,
        key: int,
        object_id: int,
        address: int | None,
        frame: bytes,
        client: Client,
        now: float,
        stamp: bytes | None = None,
    ) -> Entry:
        entry = Entry(kind, key, object_id, address, frame, now, stamp)
        self.lane.append(entry)
        self.lane_last[key] = entry
        self.lane_pending[key] = self.lane_pending.get(key, 0) + 1
        self.join(entry, client)
        self._arm(entry, now + 2 * self.request_timeout)
        return entry

    def park(self, key: int, object_id: int, address: int | None, frame: bytes, now: float) -> Entry:
        """A READ to send first (for the followers of an unanswered WRITE); the caller adds its waiters."""
        entry = self.reads.get(key)
        if entry is not None:
            return entry
        entry = Entry(READ, key, object_id, address, frame, now, None)
        entry.state = PARKED
        self.reads[key] = entry
        self.resume.append(entry)
        self._arm(entry, now + self.request_timeout)
        return entry

    # -- sending ----------------------------------------------------------------------------------

    def take(self, now: float) -> list[Entry]:
        """The entries to send now (marked as sent): the lane first, then parked READs, then the queues in turn.

        A WRITE is not sent while a READ of its key is on the wire, nor a READ while a WRITE of its
        key is (their answers could not be told apart); such a READ takes the WRITE's answer instead.
        """
        out: list[Entry] = []
        lane = self.lane
        resume = self.resume
        ring = self.ring
        while self.inflight_reads + (self.lane_inflight is not None) < self.max_inflight:
            if lane and self.lane_inflight is None:
                head = lane[0]
                read = self.reads.get(head.key)
                if read is None or read.state != INFLIGHT:
                    lane.popleft()
                    self.lane_inflight = head
                    self._sent(head, now)
                    out.append(head)
                    continue
            if resume:
                entry = resume.popleft()
                entry.state = QUEUED  # taken: in no list any more (owner None)
            elif ring:
                client = ring.popleft()
                entry = client.queue.popleft()
                if client.queue:
                    ring.append(client)
                entry.owner = None
            else:
                break
            write = self.lane_inflight
            if write is not None and write.key == entry.key and write.kind == WRITE:
                self._absorb(entry, write)
                continue
            self.inflight_reads += 1
            self._sent(entry, now)
            out.append(entry)
        return out

    def _sent(self, entry: Entry, now: float) -> None:
        entry.state = INFLIGHT
        entry.sends += 1
        entry.sent_at = now
        self._arm(entry, now + self.request_timeout)

    def resend(self, entry: Entry, now: float) -> None:
        """The entry is sent once more (it stays on the wire)."""
        self._sent(entry, now)

    def _absorb(self, read: Entry, write: Entry) -> None:
        """A READ whose key is being written takes the WRITE's answer."""
        for client_id in read.waiters:
            client = self.clients[client_id]
            count = client.entries.pop(read, 0)
            if count > 1:
                client.entries[read] = count - 1
            client.outstanding -= 1
            self.follow(write, client)
        read.waiters = []
        self.finish(read)

    # -- completion -------------------------------------------------------------------------------

    def finish(self, entry: Entry) -> list[int]:
        """Take ``entry`` off the books; returns the clients to answer (waiters, then followers)."""
        state = entry.state
        if state == DONE:
            return []
        key = entry.key
        if entry.kind == READ:
            if self.reads.get(key) is entry:
                del self.reads[key]
            if state == INFLIGHT:
                self.inflight_reads -= 1
            elif state == PARKED:
                self.resume.remove(entry)
            elif entry.owner is not None:
                owner = self.clients.get(entry.owner)
                if owner is not None:
                    owner.queue.remove(entry)
                    if not owner.queue:
                        self.ring.remove(owner)
                entry.owner = None
        else:
            if self.lane_inflight is entry:
                self.lane_inflight = None
            else:
                self.lane.remove(entry)
            left = self.lane_pending[key] - 1
            if left:
                self.lane_pending[key] = left
            else:
                del self.lane_pending[key]
            if self.lane_last.get(key) is entry:
                del self.lane_last[key]
        entry.state = DONE
        entry.due = -1.0
        answered = entry.waiters + entry.followers if entry.followers else entry.waiters
        clients = self.clients
        for client_id in answered:
            client = clients.get(client_id)
            if client is not None:
                client.outstanding -= 1
                count = client.entries.pop(entry, 0)
                if count > 1:
                    client.entries[entry] = count - 1
        return answered

    def park_inflight(self) -> Entry | None:
        """The connection is lost: READs on the wire are to be sent again first.

        Returns the lane entry that was on the wire (never sent again; the caller gives it up).
        """
        for entry in self.reads.values():
            if entry.state == INFLIGHT:
                entry.state = PARKED
                self.resume.append(entry)
        self.inflight_reads = 0
        return self.lane_inflight

    # -- timers -----------------------------------------------------------------------------------

    def _arm(self, entry: Entry, due: float) -> None:
        entry.due = due
        self._seq += 1
        heapq.heappush(self._timers, (due, self._seq, entry))

    def _prune_timers(self) -> None:
        timers = self._timers
        while timers and timers[0][2].due != timers[0][0]:
            heapq.heappop(timers)

    def next_due(self) -> float | None:
        """When the next entry's timer fires."""
        self._prune_timers()
        return self._timers[0][0] if self._timers else None

    def due(self, now: float) -> list[Entry]:
        """The entries whose timer has fired (each once; its timer is cleared)."""
        timers = self._timers
        out: list[Entry] = []
        while timers and timers[0][0] <= now:
            due, _, entry = heapq.heappop(timers)
            if entry.due == due:
                entry.due = -1.0
                out.append(entry)
        return out

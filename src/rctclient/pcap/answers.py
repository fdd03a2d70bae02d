"""Requests → answers on one connection: the latency of each answer, and the answers nobody asked for.

Devices answer every client's requests to all clients (the shared bus), lose answers and send
READ_PERIODICALLY answers on their own, so a request is matched by object ID and plant address
only, to the oldest request of that key still waiting. What waits is bounded (see
:class:`~rctclient.pcap.CaptureLimits`): a client that asks and asks without ever being answered
cannot make the reader grow.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Final

from .model import CaptureLimits

__all__ = ["MAX_PER_KEY", "Key", "PendingRequests"]

#: (object ID, plant address or None)
Key = tuple[int, int | None]

#: Requests of one key that wait at most; a further one gives up the oldest.
MAX_PER_KEY: Final = 16


class PendingRequests:
    """The requests of one connection that wait for their answer.

    ``give_up(object_id, n)`` is called for requests that stop waiting unanswered: too old
    (``answer_timeout``), one too many of their key (:data:`MAX_PER_KEY`) or of the connection
    (``max_pending_requests``: the key that has waited longest goes), or the connection closed.
    """

    __slots__ = ("_count", "_give_up", "_max", "_periodic", "_timeout", "_waiting")

    def __init__(self, limits: CaptureLimits, give_up: Callable[[int, int], None]) -> None:
        # Insertion order is waiting order: a key is deleted once nothing of it waits, so the first
        # key is the one whose oldest request has waited longest (unless times go backwards). An
        # OrderedDict: taking the first of a dict whose first keys were deleted scans past them.
        self._waiting: OrderedDict[Key, deque[float]] = OrderedDict()
        self._count = 0
        # keys asked for with READ_PERIODICALLY: their answers keep coming without requests
        self._periodic: OrderedDict[Key, None] = OrderedDict()
        self._max = limits.max_pending_requests
        self._timeout = limits.answer_timeout
        self._give_up = give_up

    def __len__(self) -> int:
        """Requests waiting."""
        return self._count

    def request(self, key: Key, time: float, *, periodic: bool = False) -> None:
        if periodic:
            self._periodic[key] = None
            if len(self._periodic) > self._max:
                self._periodic.popitem(last=False)
        waiting = self._waiting.get(key)
        if waiting is not None:
            self._expire(key, waiting, time)
            if len(waiting) >= MAX_PER_KEY:
                waiting.popleft()
                self._count -= 1
                self._give_up(key[0], 1)
        if self._count >= self._max:
            old_key, old = self._waiting.popitem(last=False)
            self._drop(old_key, old)
            if old_key == key:
                waiting = None
        if waiting is None:
            waiting = self._waiting[key] = deque()
        waiting.append(time)
        self._count += 1

    def answer(self, key: Key, time: float) -> float | None:
        """The latency of an answer of ``key`` at ``time`` (seconds, never negative), or None when no request waits."""
        waiting = self._waiting.get(key)
        if waiting is None:
            return None
        self._expire(key, waiting, time)
        if not waiting:
            del self._waiting[key]
            return None
        latency = time - waiting.popleft()
        self._count -= 1
        if not waiting:
            del self._waiting[key]
        return max(latency, 0.0)

    def is_periodic(self, key: Key) -> bool:
        """Whether answers of ``key`` may come unasked (READ_PERIODICALLY)."""
        return key in self._periodic

    def close(self) -> None:
        """Give up every request still waiting."""
        for key, waiting in self._waiting.items():
            self._give_up(key[0], len(waiting))
        self._waiting.clear()
        self._count = 0

    def _expire(self, key: Key, waiting: deque[float], time: float) -> None:
        n = 0
        while waiting and time - waiting[0] > self._timeout:
            waiting.popleft()
            n += 1
        if n:
            self._count -= n
            self._give_up(key[0], n)

    def _drop(self, key: Key, waiting: deque[float]) -> None:
        self._count -= len(waiting)
        self._give_up(key[0], len(waiting))

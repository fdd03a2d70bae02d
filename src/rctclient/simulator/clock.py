"""The simulator's clock: real time, accelerated time or frozen time.

The device model asks the clock for the current UNIX time. Tests freeze it (and move it on with
:meth:`Clock.advance`) or run it faster than real time so that a day passes in seconds. Fault
injection (latency, silence periods) always uses real time: it is about the network, not the device.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

__all__ = ["Clock"]


class Clock:
    """A clock that may run at ``speed`` times real time or stand still.

    :param start: the UNIX time the clock shows at creation (default: now).
    :param speed: how many simulated seconds pass per real second (1.0 = real time).
    :param frozen: stand still at ``start`` until :meth:`advance` or :meth:`set` moves it.

    It is thread-safe: a test thread may advance it while the simulator runs in another thread. The
    clock's reading (the simulated time at a real instant) is one tuple, replaced as a whole, so that
    :meth:`now` never combines a new base with an old real instant.
    """

    __slots__ = ("_lock", "_origin", "_speed")

    def __init__(self, start: float | None = None, *, speed: float = 1.0, frozen: bool = False) -> None:
        if speed <= 0:
            raise ValueError(f"clock speed must be positive, got {speed!r}")
        self._lock = threading.Lock()
        # (simulated time, time.monotonic() at that moment, frozen)
        self._origin = (time.time() if start is None else float(start), time.monotonic(), frozen)
        self._speed = float(speed)

    @classmethod
    def frozen_at(cls, start: float) -> Clock:
        """A clock that stands still at ``start``."""
        return cls(start, frozen=True)

    @property
    def speed(self) -> float:
        return self._speed

    @property
    def frozen(self) -> bool:
        return self._origin[2]

    def now(self) -> float:
        """The simulated UNIX time."""
        return self._at(time.monotonic())

    def _at(self, real: float) -> float:
        base, real0, frozen = self._origin
        if frozen:
            return base
        return base + (real - real0) * self._speed

    def _move(self, to: Callable[[float], float]) -> None:
        """Rebase on one real instant: the new time is ``to(the time at that instant)``."""
        with self._lock:
            real = time.monotonic()
            self._origin = (to(self._at(real)), real, self._origin[2])

    def advance(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (frozen or not)."""
        if seconds < 0:
            raise ValueError("a clock only moves forward")
        self._move(lambda now: now + seconds)

    def set(self, value: float) -> None:
        """Jump to the UNIX time ``value`` (forward only: the device's counters never run backwards)."""

        def to(now: float) -> float:
            if value < now:
                raise ValueError("a clock only moves forward")
            return float(value)

        self._move(to)

    def freeze(self, frozen: bool = True) -> None:
        """Stop (or restart) the clock where it is."""
        with self._lock:
            real = time.monotonic()
            self._origin = (self._at(real), real, frozen)

    def real_delay(self, seconds: float) -> float | None:
        """How many real seconds ``seconds`` of clock time take; None while the clock is frozen."""
        if self._origin[2]:
            return None
        return max(0.0, seconds / self._speed)

    async def sleep_until(self, when: float, poll: float = 0.01) -> None:
        """Sleep until the clock shows ``when`` (checked again after ``advance()`` on a frozen clock)."""
        while True:
            remaining = when - self.now()
            if remaining <= 0:
                return
            delay = self.real_delay(remaining)
            await asyncio.sleep(poll if delay is None else min(delay, 1.0))

    def __repr__(self) -> str:
        state = "frozen" if self.frozen else f"speed={self._speed:g}"
        return f"<Clock {self.now():.3f} {state}>"

"""When to connect again after a failure, and when to log about it."""

from __future__ import annotations

import math
import random

__all__ = ["ReconnectPolicy"]


class ReconnectPolicy:
    """Exponential backoff between connection attempts, and rate-limited logging of failures.

    After a failure the next attempt is due ``initial * factor**(failures-1)`` seconds later (at most
    ``maximum``, jittered by ±10 %); a success resets it. :meth:`should_log` says whether a failure
    deserves a log line: the first one, then at most one per ``log_interval`` seconds.
    """

    def __init__(
        self,
        *,
        initial: float = 0.1,
        factor: float = 2.0,
        maximum: float = 60.0,
        log_interval: float = 300.0,
        rng: random.Random | None = None,
    ) -> None:
        self.initial = initial
        self.factor = factor
        self.maximum = maximum
        self.log_interval = log_interval
        self.rng = rng if rng is not None else random.Random()
        self.failures = 0
        self.next_attempt = 0.0
        self.suppressed = 0
        self._last_log = -math.inf

    def failed(self, now: float) -> float:
        """Record a failed attempt (or a lost connection); returns the delay until the next attempt."""
        self.failures += 1
        delay = min(self.maximum, self.initial * self.factor ** (self.failures - 1))
        delay *= 1.0 + 0.1 * (2.0 * self.rng.random() - 1.0)
        self.next_attempt = now + delay
        return delay

    def succeeded(self) -> int:
        """Record a connection; returns how many failures came before it.

        The backoff is not reset yet: only a connection that carried a valid frame resets it (see
        :meth:`lost`), so that a device (or a proxy) that accepts connections and drops them at once
        does not cause a storm of reconnects.
        """
        self.next_attempt = 0.0
        return self.failures

    def lost(self, now: float, *, useful: bool) -> float:
        """Record the end of a connection; returns the delay until the next attempt.

        ``useful``: a valid frame arrived on it. Then the backoff starts over; otherwise the
        connection counts as a failed attempt.
        """
        if useful:
            self.failures = 0
            self.next_attempt = 0.0
            return 0.0
        return self.failed(now)

    def wait(self, now: float) -> float:
        """Seconds until the next attempt is allowed (0 if now)."""
        return max(0.0, self.next_attempt - now)

    def should_log(self, now: float) -> bool:
        """Whether to log this failure; if not, it is counted in ``suppressed``."""
        if now - self._last_log >= self.log_interval:
            self._last_log = now
            return True
        self.suppressed += 1
        return False

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count

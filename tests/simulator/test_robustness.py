"""Robustness of the simulator: threads, restarts, floods, resources; each test failed before its fix."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest

from rctclient.simulator import Clock


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Switch threads as often as possible, so that races show within a fraction of a second."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(old)


@pytest.mark.usefixtures("fast_switching")
def test_clock_never_runs_backwards_while_another_thread_advances_it() -> None:
    # The reading was two attributes set one after the other; a reader could combine the new base with
    # the old real instant (a jump ahead, then back), and advance() lost the time between its two reads.
    clock = Clock(0, speed=1e6)
    stop = threading.Event()
    backwards: list[tuple[float, float]] = []

    def advance() -> None:
        while not stop.is_set():
            clock.advance(0.001)

    def read() -> None:
        last = clock.now()
        while not stop.is_set():
            now = clock.now()
            if now < last:
                backwards.append((last, now))
            last = max(last, now)

    threads = [threading.Thread(target=advance), threading.Thread(target=read)]
    for t in threads:
        t.start()
    time.sleep(0.3)
    stop.set()
    for t in threads:
        t.join()
    assert backwards == []

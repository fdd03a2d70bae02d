from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rctclient.simulator import Clock, SimulatorThread

#: 2024-06-10 10:00:00 UTC: the sun is up.
NOON = 1718013600


def quiet(**kwargs: Any) -> SimulatorThread:
    """A simulator for a test about something else than the bus: port 0, no portal traffic, frozen at NOON."""
    kwargs.setdefault("clock", Clock(NOON, frozen=True))
    return SimulatorThread(port=0, portal=False, **kwargs)


@pytest.fixture
def frozen() -> Clock:
    return Clock(NOON, frozen=True)


@pytest.fixture
def sim(frozen: Clock) -> Iterator[SimulatorThread]:
    with SimulatorThread(port=0, portal=False, seed=1, clock=frozen) as s:
        yield s

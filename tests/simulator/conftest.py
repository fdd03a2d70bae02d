from __future__ import annotations

from collections.abc import Iterator

import pytest

from rctclient.simulator import Clock, SimulatorThread

#: 2024-06-10 10:00:00 UTC: the sun is up.
NOON = 1718013600


@pytest.fixture
def frozen() -> Clock:
    return Clock(NOON, frozen=True)


@pytest.fixture
def sim(frozen: Clock) -> Iterator[SimulatorThread]:
    with SimulatorThread(port=0, seed=1, clock=frozen) as s:
        yield s

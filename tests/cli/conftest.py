"""Fixtures of the device commands' tests: simulators on 127.0.0.1 (port 0)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rctclient.simulator import SimulatorThread


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    """A simulator shared by the tests of a module that only read."""
    with SimulatorThread(port=0, seed=3, faults="ideal") as s:
        yield s


@pytest.fixture
def fresh_sim() -> Iterator[SimulatorThread]:
    """A simulator of its own, for tests that write or silence it."""
    with SimulatorThread(port=0, seed=5, faults="ideal") as s:
        yield s


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])

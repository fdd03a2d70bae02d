"""Fixtures of the client tests: every client test runs with the blocking and the asyncio client."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _fake import DRIVERS, AsyncDriver, SyncDriver


@pytest.fixture(params=sorted(DRIVERS))
def driver_cls(request: pytest.FixtureRequest) -> type[SyncDriver] | type[AsyncDriver]:
    cls: type[SyncDriver] | type[AsyncDriver] = DRIVERS[request.param]
    return cls

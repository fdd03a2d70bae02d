"""A device (or a proxy) that accepts connections and drops them at once must not cause a reconnect storm."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest

from rctclient.aio import AsyncClient
from rctclient.client import Client
from rctclient.exceptions import RctConnectionError
from rctclient.protocol import ReconnectPolicy


@pytest.fixture
def dropping_server() -> Iterator[tuple[int, list[int]]]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(64)
    accepted = [0]

    def serve() -> None:
        while True:
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            accepted[0] += 1
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield srv.getsockname()[1], accepted
    with contextlib.suppress(OSError):
        srv.shutdown(socket.SHUT_RDWR)  # wakes accept() (close alone does not): no 5 s teardown
    srv.close()
    thread.join(timeout=5)


def test_sync_client_backs_off(dropping_server: tuple[int, list[int]]) -> None:
    port, accepted = dropping_server
    client = Client("127.0.0.1", port, timeout=0.5, retries=3)
    for _ in range(4):
        with pytest.raises(RctConnectionError):
            client.read("battery.soc")
    client.close()
    assert accepted[0] <= 8  # before the fix: thousands within the same time


def test_async_client_backs_off(dropping_server: tuple[int, list[int]]) -> None:
    port, accepted = dropping_server

    async def main() -> None:
        client = AsyncClient("127.0.0.1", port, timeout=0.5, retries=3)
        for _ in range(4):
            with pytest.raises(RctConnectionError):
                await client.read("battery.soc")
        await client.close()

    asyncio.run(main())
    assert accepted[0] <= 8


def test_policy_resets_only_after_a_useful_connection() -> None:
    policy = ReconnectPolicy(initial=1.0, factor=2.0, maximum=60.0)
    policy.failed(0.0)
    assert policy.succeeded() == 1
    assert 1.8 <= policy.lost(0.0, useful=False) <= 2.2  # a connection that carried nothing is a failure
    policy.succeeded()
    assert policy.lost(10.0, useful=True) == 0.0
    assert policy.failures == 0 and policy.wait(10.0) == 0.0

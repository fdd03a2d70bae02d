"""The proxy on real sockets: the asyncio adapter, our clients through it, hostile clients, a vanishing inverter."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import pytest

from rctclient.aio import AsyncClient
from rctclient.client import Client
from rctclient.exceptions import RctTimeout
from rctclient.frame import make_frame
from rctclient.proxy import ProxyConfig, ProxyServer
from rctclient.simulator import Simulator, SimulatorThread
from rctclient.types import Command

from ._helpers import ProxyThread, RawClient
from ._playbook import oid, req

NAMES = [
    "battery.soc",
    "g_sync.p_ac_grid_sum_lp",
    "g_sync.p_ac_load_sum_lp",
    "db.temp1",
    "battery.voltage",
    "inverter_sn",
]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorThread]:
    with SimulatorThread(port=0, seed=4, faults="ideal") as s:
        yield s


@pytest.fixture
def proxy(sim: SimulatorThread) -> Iterator[ProxyThread]:
    with ProxyThread(sim.port, config=ProxyConfig(request_timeout=0.5)) as p:
        yield p


def test_blocking_and_async_clients_through_the_proxy(proxy: ProxyThread, sim: SimulatorThread) -> None:
    with Client("127.0.0.1", proxy.port, timeout=5) as client:
        values = client.read_many(NAMES).values
        assert values["inverter_sn"] == sim.model.get("inverter_sn")
        result = client.write("power_mng.soc_min", 0.25)
        assert result.verified
        assert client.read("power_mng.soc_min") == pytest.approx(0.25)
        end = time.time()
        points = client.history("logger.minutes_soc_log_ts", end - 6 * 3600, end)
        assert len(points) > 40  # several pages

    async def use_async() -> list[object]:
        async with AsyncClient("127.0.0.1", proxy.port, timeout=5) as aclient:
            return list(await asyncio.gather(*(aclient.read(name) for name in NAMES)))

    assert asyncio.run(use_async())[-1] == values["inverter_sn"]
    stats = proxy.call(proxy.server.core.stats.as_dict)
    assert stats["writes_forwarded"] == 1 and stats["queries"] >= 2 and stats["cache_hits"] >= 5
    proxy.wait_until(lambda server: server.core.clients == 0)


def test_a_client_that_pipelines_and_never_reads_is_closed_alone(sim: SimulatorThread) -> None:
    big = "battery.cells[4]"  # a 96-byte battery module payload: each 9-byte READ brings 106 bytes back
    with ProxyThread(sim.port, output_limit=8192) as proxy, RawClient(proxy.port) as good:
        good.send(req(big))
        assert len(good.frames(1)) == 1  # now cached: the flood below is answered from the cache
        with RawClient(proxy.port, rcvbuf=4096) as hog:
            served = 0
            for _ in range(300):  # up to 300 000 READs (32 MB of answers): more than the kernel buffers hold
                try:
                    hog.send(req(big) * 1000)
                except ConnectionError:
                    break
                good.send(req("db.temp1"))  # the other client is served all along
                served += len(good.frames(1))
                if proxy.call(lambda: proxy.server.core.stats.clients_closed):
                    break
            proxy.wait_until(lambda server: server.core.stats.clients_closed == 1)
        assert served >= 1
        proxy.wait_until(lambda server: server.core.clients == 1)
        good.send(req(big))
        assert len(good.frames(1)) == 1


def test_a_client_past_its_request_cap_is_closed_and_the_others_are_served(sim: SimulatorThread) -> None:
    with ProxyThread(sim.port) as proxy, RawClient(proxy.port) as good, RawClient(proxy.port) as greedy:
        # a thousand READs of OIDs the inverter does not know: none is ever answered
        greedy.send(b"".join(make_frame(Command.READ, 0x7F000000 + i) for i in range(1000)))
        assert greedy.closed_by_peer()
        good.send(req("battery.soc"))
        assert len(good.frames(1)) == 1
        sizes = proxy.call(proxy.server.core.scheduler.sizes)
        assert sizes["reads"] <= 8  # what was on the wire when it was closed


def test_garbage_never_reaches_the_inverter(sim: SimulatorThread) -> None:
    with ProxyThread(sim.port) as proxy, RawClient(proxy.port) as noisy, RawClient(proxy.port) as good:
        good.send(req("db.temp2"))
        assert len(good.frames(1)) == 1
        before = sim.counters.bytes_in
        junk = (b"+x" * 500 + b"\x00-+-" * 200 + b"AT+\r" + b"+<\xe1") * 10
        for _ in range(10):
            noisy.send(junk)
        proxy.wait_until(lambda server: server.core.stats.client_garbage_bytes >= 10 * 10 * 1800)
        assert sim.counters.bytes_in == before
        good.send(req("db.temp2"))
        assert len(good.frames(1)) == 1


def test_connect_burst_close_churn_leaves_nothing_behind(sim: SimulatorThread) -> None:
    burst = b"".join(req(name) for name in NAMES) + make_frame(Command.READ, 0x7F000001) + b"+garbage"
    with ProxyThread(sim.port, config=ProxyConfig(request_timeout=0.2)) as proxy:
        for _ in range(100):
            with socket.create_connection(("127.0.0.1", proxy.port)) as s:
                s.sendall(burst)
        proxy.wait_until(lambda server: server.core.clients == 0)
        proxy.wait_until(lambda server: not any(server.core.scheduler.sizes().values()), timeout=5)


def test_too_many_clients(sim: SimulatorThread) -> None:
    with ProxyThread(sim.port, max_clients=2) as proxy, RawClient(proxy.port), RawClient(proxy.port):
        proxy.wait_until(lambda server: server.core.clients == 2)
        with RawClient(proxy.port) as third:
            assert third.closed_by_peer()
        assert proxy.call(lambda: proxy.server.core.stats.clients_rejected) == 1


def test_upstream_killed_and_restarted_under_load() -> None:
    """The apps' sockets stay open, the cache is served, misses time out; the same sockets work again."""

    async def poller(port: int, stop: asyncio.Event, sockets_lost: list[int]) -> None:
        """An app polling three values (one the inverter does not know) every 20 ms."""
        reader, writer = await asyncio.open_connection("127.0.0.1", port)

        async def drain() -> None:
            if not await reader.read(65536):
                sockets_lost.append(1)

        try:
            while not stop.is_set():
                writer.write(req("battery.soc") + req("g_sync.p_ac_load_sum_lp") + make_frame(Command.READ, 0x7F000000))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(drain(), 0.02)
                await asyncio.sleep(0.02)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def scenario() -> None:
        config = ProxyConfig(request_timeout=0.2, reconnect_initial=0.05, reconnect_max=0.2)
        sim = Simulator(port=0, seed=2, faults="ideal")
        await sim.start()
        proxy = ProxyServer("127.0.0.1", sim.port, listen=[("127.0.0.1", 0)], config=config)
        await proxy.start()
        port = proxy.addresses[0][1]
        stop = asyncio.Event()
        lost: list[int] = []
        load = [asyncio.create_task(poller(port, stop, lost)) for _ in range(10)]
        try:
            async with AsyncClient("127.0.0.1", port, timeout=1.0, retries=1) as client:
                assert await client.read("battery.soc") >= 0
                await sim.stop()
                while proxy.core.upstream_up:
                    await asyncio.sleep(0.01)
                assert await client.read("battery.soc") >= 0  # cached
                with pytest.raises(RctTimeout):
                    await client.read("db.temp1")
                assert client.connected
                await sim.start()  # the same port
                assert await client.read("db.temp1") > -50
                assert proxy.core.stats.reconnects >= 1
        finally:
            stop.set()
            await asyncio.gather(*load)
            assert lost == []  # no app lost its connection
            await proxy.stop()
            await sim.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_the_proxy_starts_while_the_inverter_is_off_and_serves_once_it_is_on() -> None:
    async def scenario() -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            dead_port = probe.getsockname()[1]
        config = ProxyConfig(request_timeout=0.2, reconnect_initial=0.05, reconnect_max=0.1)
        async with ProxyServer("127.0.0.1", dead_port, listen=[("127.0.0.1", 0)], config=config) as proxy:
            await asyncio.sleep(0.2)
            assert not proxy.core.upstream_up
            async with (
                Simulator(port=dead_port, seed=2) as sim,
                AsyncClient("127.0.0.1", proxy.addresses[0][1], timeout=2.0) as client,
            ):
                assert await client.read("inverter_sn") == sim.model.get("inverter_sn")

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_metrics_endpoint(sim: SimulatorThread) -> None:
    from rctclient.proxy.metrics import METRICS

    with ProxyThread(sim.port, metrics=("127.0.0.1", 0)) as proxy, RawClient(proxy.port) as client:
        client.send(req("battery.soc") * 2)
        assert len(client.frames(2)) == 2
        address = proxy.server.metrics_address
        assert address is not None

        def get(request: bytes) -> bytes:
            with socket.create_connection(address, timeout=5) as s:
                s.sendall(request)
                chunks = []
                while chunk := s.recv(65536):
                    chunks.append(chunk)
                return b"".join(chunks)

        page = get(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert page.startswith(b"HTTP/1.1 200 OK\r\n")
        text = page.decode()
        for name in METRICS:
            assert f"\n{name}" in text, name
        assert 'rctclient_proxy_requests_total{kind="read"} 2.0' in text
        assert "rctclient_proxy_upstream_up 1.0" in text
        assert get(b"GET /nothing HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 404")
        assert get(b"POST /metrics HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 405")
        assert get(b"GET /" + b"x" * 20000 + b" HTTP/1.0\r\n\r\n") == b""  # too long: closed
        assert oid("battery.soc")  # the proxy is still serving
        client.send(req("battery.soc"))
        assert len(client.frames(1)) == 1

"""The crossed-answer detector: many apps through the proxy, and not one answer meant for another.

The simulated device's values are a known function of (OID, time): OID number k answers
``k * 100000 + tick``, where the tick changes every 20 ms. Apps pipeline random READs over 50 OIDs
through the proxy, split their requests at random byte boundaries and drop their connections now and
then; a "vendor portal" polls the simulator directly, so its answers appear on the proxy's connection
(the shared bus). Every frame an app receives must be a RESPONSE for an OID it has a request
outstanding for (at most one frame per request) with a value of that OID from within the cache window.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import struct
import time
from dataclasses import dataclass, field

from rctclient.frame import Frame, FrameDecoder, make_frame
from rctclient.proxy import ProxyConfig, ProxyServer
from rctclient.registry import REGISTRY, ObjectInfo
from rctclient.simulator import PROFILES, DeviceModel, FaultProfile, Simulator
from rctclient.types import Command, DataType

TICK = 0.02
SPAN = 100_000
OIDS = [
    info
    for info in REGISTRY.all()
    if info.response_data_type is DataType.FLOAT
    and not info.static
    and info.name.startswith(("g_sync", "db", "dc_conv"))
][:50]
INDEX = {info.object_id: k for k, info in enumerate(OIDS, start=1)}


def tick_at(t: float) -> int:
    return int(t / TICK) % SPAN


class TickModel(DeviceModel):
    """A device whose 50 test OIDs answer ``k * 100000 + tick``: which OID, and when."""

    def encode(self, info: ObjectInfo) -> bytes:
        k = INDEX.get(info.object_id)
        if k is None:
            return super().encode(info)
        return struct.pack(">f", float(k * SPAN + tick_at(time.monotonic())))


@dataclass
class Tally:
    answered: int = 0
    truncated: int = 0
    given_up: int = 0
    crossed: list[str] = field(default_factory=list)


@dataclass
class Scenario:
    clients: int
    reads: int
    faults: FaultProfile
    cache_max_age: float
    request_timeout: float
    #: how old a value may be, beyond the cache's max age (loop delays, answers the device sends late)
    slack: float


async def app(port: int, scenario: Scenario, seed: int, tally: Tally) -> None:
    rng = random.Random(seed)
    # the proxy gives a request up at most this long after it was asked (queued, sent, sent again)
    give_up = 4 * scenario.request_timeout + 1.0
    window = max(scenario.cache_max_age, give_up if scenario.faults != PROFILES["ideal"] else 0.0) + scenario.slack
    sent = 0
    while sent < scenario.reads:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = FrameDecoder()
        pending: list[tuple[int, float]] = []  # (object id, asked at)
        try:
            while sent < scenario.reads:
                depth = rng.randint(1, 10)
                batch = [rng.choice(OIDS).object_id for _ in range(min(depth, scenario.reads - sent))]
                data = b"".join(make_frame(Command.READ, oid) for oid in batch)
                now = time.monotonic()
                pending += [(oid, now) for oid in batch]
                sent += len(batch)
                cuts = sorted(rng.sample(range(1, len(data)), min(3, len(data) - 1)))
                for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True):
                    writer.write(data[a:b])
                    await writer.drain()
                    await asyncio.sleep(0)
                if rng.random() < 0.03:
                    tally.given_up += len(pending)
                    break  # drop the connection with requests outstanding
                while pending:
                    try:
                        chunk = await asyncio.wait_for(reader.read(65536), 0.05)
                    except TimeoutError:
                        chunk = b""
                    if chunk:
                        decoder.feed(chunk)
                    for event in decoder.events():
                        check(event, pending, window, tally)
                    now = time.monotonic()
                    old = [p for p in pending if now - p[1] > give_up]
                    if old:
                        tally.given_up += len(old)
                        pending = [p for p in pending if now - p[1] <= give_up]
                    if sum(now - p[1] < 2 * scenario.request_timeout for p in pending) <= depth // 2:
                        break  # send the next batch while these are on their way (or lost)
                # a pause now and then: a run spans seconds, more than a value may be old
                await asyncio.sleep(rng.uniform(0, 0.15))
        finally:
            writer.transport.abort()


def check(event: object, pending: list[tuple[int, float]], window: float, tally: Tally) -> None:
    if not isinstance(event, Frame):
        tally.crossed.append(f"not a frame: {event!r}")
        return
    if not Command.is_response(event.command):
        tally.crossed.append(f"not an answer: {event!r}")
        return
    for i, (oid, at) in enumerate(pending):
        if oid == event.id:
            del pending[i]
            asked = at
            break
    else:
        tally.crossed.append(f"nothing outstanding for {event!r}")
        return
    if len(event.data) != 4:
        tally.truncated += 1  # the device cut it short; the proxy passes it on to the asker
        return
    value = int(struct.unpack(">f", event.data)[0])
    k, tick = divmod(value, SPAN)
    if k != INDEX[event.id]:
        tally.crossed.append(f"another OID's value in {event!r}")
        return
    age = (tick_at(time.monotonic()) - tick) % SPAN  # in ticks, from now back to the value's time
    if age * TICK > time.monotonic() - asked + window:
        tally.crossed.append(f"a value {age * TICK:.2f} s old for a request {time.monotonic() - asked:.2f} s old")
    tally.answered += 1


async def portal(port: int, stop: asyncio.Event) -> None:
    """The vendor portal polling the device directly: its answers reach every connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def drain() -> None:
        while await reader.read(65536):
            pass

    draining = asyncio.create_task(drain())
    rng = random.Random(99)
    try:
        while not stop.is_set():
            writer.write(make_frame(Command.READ, rng.choice(OIDS).object_id))
            await asyncio.sleep(0.01)
    finally:
        writer.transport.abort()
        draining.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await draining


async def run(scenario: Scenario) -> tuple[Tally, dict[str, int]]:
    sim = Simulator(port=0, seed=3, faults=scenario.faults, shared_bus=True)
    sim.devices[0] = TickModel(seed=3, clock=sim.clock, address=sim.devices[0].address)
    await sim.start()
    config = ProxyConfig(cache_max_age=scenario.cache_max_age, request_timeout=scenario.request_timeout)
    proxy = ProxyServer("127.0.0.1", sim.port, listen=[("127.0.0.1", 0)], config=config, max_clients=100)
    await proxy.start()
    tally = Tally()
    stop = asyncio.Event()
    try:
        polling = asyncio.create_task(portal(sim.port, stop))
        port = proxy.addresses[0][1]
        await asyncio.gather(*(app(port, scenario, seed, tally) for seed in range(scenario.clients)))
        stop.set()
        await polling
        return tally, proxy.core.stats.as_dict()
    finally:
        await proxy.stop()
        await sim.stop()


def test_twenty_apps_two_hundred_reads_each_not_one_crossed() -> None:
    scenario = Scenario(
        clients=20,
        reads=200,
        faults=PROFILES["ideal"],
        cache_max_age=0.05,
        request_timeout=0.25,
        slack=0.5,
    )
    tally, stats = asyncio.run(asyncio.wait_for(run(scenario), 120))
    assert tally.crossed == []
    assert tally.answered + tally.given_up >= 20 * 200 * 0.99
    assert tally.answered >= 20 * 200 * 0.8
    assert stats["cache_hits"] > 0 and stats["coalesced"] > 0 and stats["unrequested"] > 0


def test_hostile_device_not_one_crossed() -> None:
    faults = PROFILES["hostile"].with_rates({"silence_duration": (0.1, 0.3)})
    scenario = Scenario(clients=4, reads=100, faults=faults, cache_max_age=0.3, request_timeout=0.15, slack=0.5)
    tally, stats = asyncio.run(asyncio.wait_for(run(scenario), 120))
    assert tally.crossed == []
    assert tally.answered >= 4 * 100 * 0.3
    assert stats["upstream_crc_errors"] > 0 and stats["resends"] > 0

"""Benchmark of the clients against the simulator (ideal fault profile), on 127.0.0.1.

    python bench/bench_client.py [--rounds N]

1. ``read_many`` of 50 OIDs vs 50 sequential ``read`` calls (target: read_many >= 5x faster).
2. Overhead of ``Client.read`` per request vs a bare socket loop (make_frame + sendall + recv until
   the answer frame is complete), both sequential against the same simulator: wall time, and the
   CPU time of this process (the simulator runs in another), which a busy machine disturbs less.
3. The request core alone, without I/O (``ClientProtocol`` on a fake clock): one request and its
   answer, and a pipelined batch of 50, per request.

``--deadlines`` adds how calls keep their deadlines (issue 9's measurements, ~1 minute): 100
concurrent ``AsyncClient.read(timeout=1)`` against a device that answers one request at a time,
0.2 s each; 440 async calls and read_many against the simulator's hostile profile; ``read`` while
the device floods crafted LONG_RESPONSE headers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

from rctclient.aio import AsyncClient
from rctclient.client import Client
from rctclient.exceptions import RctClientException
from rctclient.frame import Frame, FrameDecoder, make_frame
from rctclient.protocol import Call, ClientProtocol
from rctclient.registry import REGISTRY
from rctclient.types import Command, DataType
from rctclient.utils import encode_value

NAMES = [o.name for o in REGISTRY.all() if o.response_data_type is DataType.FLOAT][:50]


def best(samples: list[float]) -> float:
    return min(samples)


def bench_read_many(port: int, rounds: int, max_in_flight: int = 16) -> tuple[float, float]:
    with Client("127.0.0.1", port, max_in_flight=max_in_flight) as client:
        sequential, pipelined = [], []
        for _ in range(rounds):
            t = time.perf_counter()
            for name in NAMES:
                client.read(name)
            sequential.append(time.perf_counter() - t)
            t = time.perf_counter()
            result = client.read_many(NAMES)
            pipelined.append(time.perf_counter() - t)
            assert result.ok, result.errors
    return best(sequential), best(pipelined)


def bench_async_read_many(port: int, rounds: int) -> float:
    async def main() -> float:
        samples = []
        async with AsyncClient("127.0.0.1", port) as client:
            for _ in range(rounds):
                t = time.perf_counter()
                result = await client.read_many(NAMES)
                samples.append(time.perf_counter() - t)
                assert result.ok
        return best(samples)

    return asyncio.run(main())


def bare_loop(port: int, count: int) -> tuple[float, float]:
    """Sequential reads with nothing but a socket, make_frame and FrameDecoder: (wall, CPU) per read."""
    ids = [REGISTRY.resolve(name).object_id for name in NAMES]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        decoder = FrameDecoder()
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            oid = ids[i % len(ids)]
            sock.sendall(make_frame(Command.READ, oid))
            done = False
            while not done:
                decoder.feed(sock.recv(65536))
                for event in decoder.events():
                    if isinstance(event, Frame) and event.id == oid:
                        done = True
        return (time.perf_counter() - t) / count, (time.process_time() - cpu) / count


def client_loop(port: int, count: int) -> tuple[float, float]:
    """Sequential ``Client.read`` calls: (wall, CPU) per read."""
    with Client("127.0.0.1", port) as client:
        t, cpu = time.perf_counter(), time.process_time()
        for i in range(count):
            client.read(NAMES[i % len(NAMES)])
        return (time.perf_counter() - t) / count, (time.process_time() - cpu) / count


def core_loop(count: int, batch: int) -> float:
    """The request core on a fake clock, no I/O: seconds per request, in batches of ``batch`` requests."""
    infos = [REGISTRY.resolve(name) for name in NAMES]
    answers = [make_frame(Command.RESPONSE, i.object_id, encode_value(DataType.FLOAT, 1.5)) for i in infos]
    core = ClientProtocol(timeout=3.0, max_in_flight=max(batch, 1), burst_pause=0.0)
    core.connection_made(0.0)
    now = 0.0
    t = time.perf_counter()
    for start in range(0, count, batch):
        chosen = [(infos[k % len(infos)], answers[k % len(infos)]) for k in range(start, start + batch)]
        reqs = [core.submit(Call(info), now) for info, _ in chosen]
        core.data_to_send(now)
        now += 0.001
        core.receive_data(b"".join(answer for _, answer in chosen), now)
        assert all(req.ok for req in reqs)
    return (time.perf_counter() - t) / count


_CHILD = """
import sys
from rctclient.simulator import Clock, FaultProfile, SimulatorThread
named = sys.argv[1] in ("ideal", "hostile")
faults = sys.argv[1] if named else FaultProfile(latency=(float(sys.argv[1]), float(sys.argv[1])))
with SimulatorThread(port=0, seed=4 if named else 1, faults=faults, clock=Clock.frozen_at(1_717_243_200)) as sim:
    print(sim.port, flush=True)
    sys.stdin.read()  # until the parent closes it
"""


@contextlib.contextmanager
def simulator_process(latency: float | None = None, profile: str = "ideal") -> Iterator[int]:
    """The simulator in a process of its own (so that it does not share the client's GIL); yields its port."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, profile if latency is None else str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdin is not None
        yield int(child.stdout.readline())
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=10)


# -- deadlines (--deadlines) ------------------------------------------------------------------------

#: A LONG_RESPONSE header promising 0xFFFF bytes, then escaped '+': crafted to cost a decoder the most.
FLOOD_UNIT = b"\x2b\x06\xff\xff" + b"-+" * 60


@contextlib.contextmanager
def device_thread(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    """A device on 127.0.0.1 in a thread, ``handle`` serving each connection; yields the port."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def run(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(0.1)
            with contextlib.suppress(OSError):
                handle(conn)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=run, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        with contextlib.suppress(OSError):
            listener.shutdown(socket.SHUT_RDWR)
        listener.close()
        thread.join(5)


def one_at_a_time(answer_time: float) -> Callable[[socket.socket], None]:
    """A device that answers every READ correctly, one request at a time, ``answer_time`` each."""

    def handle(conn: socket.socket) -> None:
        decoder = FrameDecoder()
        while True:
            try:
                data = conn.recv(65536)
            except TimeoutError:
                continue
            if not data:
                return
            decoder.feed(data)
            for event in decoder.events():
                if isinstance(event, Frame) and event.command == Command.READ:
                    time.sleep(answer_time)
                    conn.sendall(make_frame(Command.RESPONSE, event.id, encode_value(DataType.FLOAT, 1.0)))

    return handle


def flooding(conn: socket.socket) -> None:
    """A device that answers a request with 160 KB of crafted LONG_RESPONSE headers, 4 KiB at a time."""
    flood = FLOOD_UNIT * (160_000 // len(FLOOD_UNIT))
    with contextlib.suppress(TimeoutError):
        conn.recv(64)
    for i in range(0, len(flood), 4096):
        with contextlib.suppress(TimeoutError):
            conn.sendall(flood[i : i + 4096])
    with contextlib.suppress(TimeoutError):
        while conn.recv(65536):
            pass


async def timed_reads(client: AsyncClient, names: list[str], timeout: float) -> list[float]:
    """Every name read at once; how long each call took."""

    async def one(name: str) -> float:
        started = time.monotonic()
        with contextlib.suppress(RctClientException):
            await client.read(name, timeout=timeout)
        return time.monotonic() - started

    return list(await asyncio.gather(*(one(name) for name in names)))


def bench_deadlines() -> None:
    names = [o.name for o in REGISTRY.all() if o.response_data_type is DataType.FLOAT][:100]

    async def queued(port: int) -> list[float]:
        async with AsyncClient("127.0.0.1", port, timeout=1.0) as client:
            return await timed_reads(client, names, 1.0)

    with device_thread(one_at_a_time(0.2)) as port:
        took = asyncio.run(queued(port))
    late = sum(t > 1.3 for t in took)
    print(f"100 concurrent reads (timeout 1 s), device 0.2 s per answer: longest {max(took):.2f} s, {late} over 1.3 s")

    hostile = [o.name for o in REGISTRY.all() if o.response_data_type is DataType.FLOAT and "[" not in o.name][:40]

    async def calls(port: int) -> tuple[list[float], list[float]]:
        took: list[float] = []
        ratios = []
        async with AsyncClient("127.0.0.1", port, timeout=3.0, rng=random.Random(1)) as client:
            for r in range(22):
                took += await timed_reads(client, [hostile[(r + i) % 40] for i in range(20)], 3.0)
            for _ in range(8):
                started = time.monotonic()
                await client.read_many(hostile)
                ratios.append((time.monotonic() - started) / 3.0)
        return took, ratios

    with simulator_process(profile="hostile") as port:
        took, async_ratios = asyncio.run(calls(port))
        sync_ratios = []
        with Client("127.0.0.1", port, timeout=3.0, rng=random.Random(1)) as client:
            for _ in range(8):
                started = time.monotonic()
                client.read_many(hostile)
                sync_ratios.append((time.monotonic() - started) / 3.0)
    late = sum(t > 3.1 for t in took)
    print(f"hostile profile, {len(took)} async reads (timeout 3 s): {late} over 3.1 s, longest {max(took):.2f} s")
    print(
        f"hostile profile, read_many of 40 (timeout 3 s): longest {max(async_ratios):.2f}x the deadline (async),"
        f" {max(sync_ratios):.2f}x (blocking)"
    )

    async def flooded(port: int) -> float:
        async with AsyncClient("127.0.0.1", port, timeout=3.0) as client:
            return (await timed_reads(client, ["battery.soc"], 3.0))[0]

    with device_thread(flooding) as port:
        with Client("127.0.0.1", port, timeout=3.0) as client:
            started = time.monotonic()
            with contextlib.suppress(RctClientException):
                client.read("battery.soc")
            blocking = time.monotonic() - started
        async_took = asyncio.run(flooded(port))
    print(f"crafted flood, read (timeout 3 s): ended after {blocking:.2f} s (blocking), {async_took:.2f} s (async)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--deadlines", action="store_true", help="also measure how calls keep their deadlines")
    args = parser.parse_args()
    with simulator_process() as port:
        sequential, pipelined = bench_read_many(port, args.rounds, max_in_flight=16)
        aio = bench_async_read_many(port, args.rounds)
        _, narrow = bench_read_many(port, args.rounds, max_in_flight=8)
        print(f"50 sequential reads (Client):  {sequential * 1000:8.2f} ms")
        print(f"read_many of 50 (Client):      {pipelined * 1000:8.2f} ms  -> {sequential / pipelined:5.1f}x faster")
        print(f"  same, max_in_flight=8:       {narrow * 1000:8.2f} ms  -> {sequential / narrow:5.1f}x faster")
        print(f"read_many of 50 (AsyncClient): {aio * 1000:8.2f} ms  -> {sequential / aio:5.1f}x faster")
        bare_runs = [bare_loop(port, args.reads) for _ in range(3)]
        ours_runs = [client_loop(port, args.reads) for _ in range(3)]
        bare, ours = statistics.median(r[0] for r in bare_runs), statistics.median(r[0] for r in ours_runs)
        bare_cpu, ours_cpu = min(r[1] for r in bare_runs), min(r[1] for r in ours_runs)
        print(f"bare socket loop, per read:    {bare * 1e6:8.1f} us  (CPU {bare_cpu * 1e6:6.1f} us)")
        print(
            f"Client.read, per read:         {ours * 1e6:8.1f} us  (CPU {ours_cpu * 1e6:6.1f} us)"
            f"  -> overhead {(ours - bare) * 1e6:6.1f} us (CPU {(ours_cpu - bare_cpu) * 1e6:6.1f} us)"
        )
    single = min(core_loop(2000, 1) for _ in range(5))
    batched = min(core_loop(5000, 50) for _ in range(5))
    print(f"request core alone, per request: {single * 1e6:6.1f} us one at a time, {batched * 1e6:6.1f} us in 50s")
    # The same with a device-like answer latency (10 ms; no other fault).
    with simulator_process(latency=0.01) as port:
        sequential, pipelined = bench_read_many(port, max(1, args.rounds // 2), max_in_flight=16)
        print(
            f"with 10 ms answer latency: 50 sequential reads {sequential * 1000:.1f} ms, read_many "
            f"{pipelined * 1000:.1f} ms -> {sequential / pipelined:.1f}x faster"
        )
    if args.deadlines:
        bench_deadlines()


if __name__ == "__main__":
    main()

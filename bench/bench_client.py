"""Benchmark of the clients against the simulator (ideal fault profile), on 127.0.0.1.

    python bench/bench_client.py [--rounds N]

1. ``read_many`` of 50 OIDs vs 50 sequential ``read`` calls (target: read_many >= 5x faster).
2. Overhead of ``Client.read`` per request vs a bare socket loop (make_frame + sendall + recv until
   the answer frame is complete), both sequential against the same simulator: wall time, and the
   CPU time of this process (the simulator runs in another), which a busy machine disturbs less.
3. The request core alone, without I/O (``ClientProtocol`` on a fake clock): one request and its
   answer, and a pipelined batch of 50, per request.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator

from rctclient.aio import AsyncClient
from rctclient.client import Client
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
faults = "ideal" if sys.argv[1] == "ideal" else FaultProfile(latency=(float(sys.argv[1]), float(sys.argv[1])))
with SimulatorThread(port=0, seed=1, faults=faults, clock=Clock.frozen_at(1_717_243_200)) as sim:
    print(sim.port, flush=True)
    sys.stdin.read()  # until the parent closes it
"""


@contextlib.contextmanager
def simulator_process(latency: float | None = None) -> Iterator[int]:
    """The simulator in a process of its own (so that it does not share the client's GIL); yields its port."""
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, "ideal" if latency is None else str(latency)],
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--reads", type=int, default=1000)
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


if __name__ == "__main__":
    main()

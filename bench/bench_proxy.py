"""Benchmark of ``rctclient proxy``: added latency, upstream load, and what 200 apps cost.

Three measurements, each against a reference taken in the same run:

1. **Added latency.** The simulator (``--no-shared-bus``, so that direct clients are not slowed down by
   each other's answers) and the proxy (``--cache-max-age 0``: every READ goes to the simulator) run
   as processes of their own. 1, 10 and 50 clients each send a READ of an OID of their own and wait
   for its answer, over and over, first directly to the simulator, then through the proxy. p50 and
   p99 of the round trips; the added latency is the difference. A READ answered from the cache (the
   default ``--cache-max-age 10``) is measured too.
2. **Upstream load.** The sans-I/O core with a simulated clock: 20 apps poll the same 30 OIDs every
   second (each at its own phase) for a simulated minute; the inverter answers after 30 ms. Counted:
   READs sent to the inverter per cache max age (target: at most 30).
3. **200 apps.** 200 connections to the proxy (default settings, ``--max-clients 250``), each polling
   5 of 30 OIDs every 0.5 s for a while; the proxy process's RSS and its CPU time per app request,
   against the simulator's CPU time per request it answers directly (same apps, same polling).

Usage::

    python bench/bench_proxy.py [--seconds 3] [--markdown]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _proc import cpu_seconds, free_port, start_listening, stop  # noqa: E402 - bench/_proc.py

from rctclient.frame import Frame, FrameDecoder, make_frame  # noqa: E402
from rctclient.proxy import (  # noqa: E402
    ClientConnected,
    ClientData,
    ProxyConfig,
    ProxyCore,
    SendUpstream,
    Timer,
    UpstreamData,
    UpstreamUp,
    Wakeup,
)
from rctclient.registry import REGISTRY  # noqa: E402
from rctclient.types import Command, DataType  # noqa: E402

OIDS = [
    info.object_id
    for info in REGISTRY.all()
    if info.response_data_type is DataType.FLOAT and not info.static and info.name.startswith(("g_sync", "db."))
][:60]


# -- processes ---------------------------------------------------------------------------------------


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start(args: list[str], port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return start_listening([sys.executable, "-m", "rctclient", *args], port, env)


# -- clients -----------------------------------------------------------------------------------------


class _App(asyncio.Protocol):
    """One app: sends READs and resolves a future per answer of the OID it waits for."""

    def __init__(self) -> None:
        self.decoder = FrameDecoder()
        self.transport: asyncio.Transport | None = None
        self.waiting: dict[int, list[asyncio.Future[None]]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.decoder.feed(data)
        for event in self.decoder.events():
            if isinstance(event, Frame):
                futures = self.waiting.get(event.id)
                if futures:
                    future = futures.pop(0)
                    if not future.done():
                        future.set_result(None)

    def ask(self, oid: int) -> asyncio.Future[None]:
        assert self.transport is not None
        future = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(oid, []).append(future)
        self.transport.write(make_frame(Command.READ, oid))
        return future


async def _connect(port: int) -> _App:
    _, app = await asyncio.get_running_loop().create_connection(_App, "127.0.0.1", port)
    return app


async def _round_trips(port: int, clients: int, seconds: float) -> list[float]:
    apps = [await _connect(port) for _ in range(clients)]
    samples: list[float] = []
    stop_at = time.perf_counter() + seconds

    async def run(app: _App, oid: int) -> None:
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            try:
                await asyncio.wait_for(app.ask(oid), 2)
            except TimeoutError:
                continue
            samples.append(time.perf_counter() - t0)

    await asyncio.gather(*(run(app, OIDS[i % len(OIDS)]) for i, app in enumerate(apps)))
    for app in apps:
        assert app.transport is not None
        app.transport.close()
    return samples


def latency(port: int, clients: int, seconds: float) -> tuple[float, float, int]:
    samples = asyncio.run(_round_trips(port, clients, seconds))
    samples.sort()
    p50 = statistics.median(samples)
    p99 = samples[min(len(samples) - 1, int(len(samples) * 0.99))]
    return p50 * 1e6, p99 * 1e6, len(samples)


async def _poll(port: int, clients: int, seconds: float, period: float) -> int:
    rng = random.Random(1)
    apps = [await _connect(port) for _ in range(clients)]
    done = 0
    stop_at = time.monotonic() + seconds

    async def run(app: _App) -> None:
        nonlocal done
        oids = rng.sample(OIDS[:30], 5)
        await asyncio.sleep(rng.uniform(0, period))
        while time.monotonic() < stop_at:
            t0 = time.monotonic()
            results = await asyncio.gather(*(asyncio.wait_for(app.ask(oid), 5) for oid in oids), return_exceptions=True)
            done += sum(r is None for r in results)
            await asyncio.sleep(max(0.0, period - (time.monotonic() - t0)))

    await asyncio.gather(*(run(app) for app in apps))
    for app in apps:
        assert app.transport is not None
        app.transport.close()
    return done


# -- 2. upstream load on the core with a simulated clock --------------------------------------------


def upstream_load(apps: int = 20, oids: int = 30, minutes: float = 1.0, max_age: float = 10.0) -> dict[str, float]:
    core = ProxyCore(ProxyConfig(cache_max_age=max_age), max_clients=apps + 1, rng=random.Random(1))
    now = 0.0
    core.start(now)
    core.handle(UpstreamUp(), now)
    for app in range(apps):
        core.handle(ClientConnected(app, f"app{app}"), now)
    wanted = OIDS[:oids]
    polls = b"".join(make_frame(Command.READ, oid) for oid in wanted)
    rng = random.Random(2)
    phases = [rng.uniform(0, 1) for _ in range(apps)]
    # the apps' polls on the simulated clock: (time, app)
    agenda: list[tuple[float, int]] = []
    for second in range(int(minutes * 60)):
        agenda += [(second + phases[app], app) for app in range(apps)]
    agenda.sort()
    sent_at: list[float] = []
    wakeup: float | None = None
    answer_delay = 0.03
    pending_answers: list[tuple[float, bytes]] = []

    def run(actions: Sequence[object], at: float) -> None:
        nonlocal wakeup
        for action in actions:
            if isinstance(action, SendUpstream):
                decoder = FrameDecoder()
                decoder.feed(action.data)
                for frame in decoder.events():
                    if isinstance(frame, Frame):
                        sent_at.append(at)
                        answer = make_frame(Command.RESPONSE, frame.id, b"\x3f\x00\x00\x00")
                        pending_answers.append((at + answer_delay, answer))
            elif isinstance(action, Wakeup):
                wakeup = action.at

    i = 0
    requests = 0
    while i < len(agenda) or pending_answers:
        next_poll = agenda[i][0] if i < len(agenda) else float("inf")
        next_answer = min((t for t, _ in pending_answers), default=float("inf"))
        next_timer = wakeup if wakeup is not None else float("inf")
        now = min(next_poll, next_answer, next_timer)
        if now == next_timer:
            wakeup = None
            run(core.handle(Timer(), now), now)
        elif now == next_answer:
            ready = [a for t, a in pending_answers if t <= now]
            pending_answers = [(t, a) for t, a in pending_answers if t > now]
            run(core.handle(UpstreamData(b"".join(ready)), now), now)
        else:
            app = agenda[i][1]
            i += 1
            requests += oids
            run(core.handle(ClientData(app, polls), now), now)
    windows = [0] * int(minutes * 60 / max_age + 1)
    for t in sent_at:
        windows[int(t / max_age)] += 1
    return {
        "requests": requests,
        "upstream": len(sent_at),
        "max_per_window": max(windows),
        "cache_hits": core.stats.cache_hits,
        "coalesced": core.stats.coalesced,
    }


# -- main --------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=3.0, help="per latency measurement")
    parser.add_argument("--poll-seconds", type=float, default=20.0, help="of the 200 polling apps")
    parser.add_argument("--markdown", action="store_true", help="print the tables for bench/README.md")
    args = parser.parse_args()
    rows: list[tuple[str, str, str, str]] = []

    # 1. latency
    sim_port, proxy_port, cached_port = free_port(), free_port(), free_port()
    sim = start(["simulator", "-h", "127.0.0.1", "-p", str(sim_port), "--no-shared-bus", "--loop", "asyncio"], sim_port)
    target = ["--host", "127.0.0.1", "--port", str(sim_port), "--max-clients", "250"]
    proxy = start(["proxy", *target, "--listen", str(proxy_port), "--cache-max-age", "0"], proxy_port)
    cached = start(["proxy", *target, "--listen", str(cached_port)], cached_port)
    print(f"{'clients':>7} {'direct p50':>11} {'p99':>9} {'proxy p50':>10} {'p99':>9} {'added p50':>10} {'ratio':>6}")
    try:
        latency(proxy_port, 1, 0.5)  # warm up
        for clients in (1, 10, 50):
            d50, d99, _ = latency(sim_port, clients, args.seconds)
            p50, p99, _ = latency(proxy_port, clients, args.seconds)
            print(
                f"{clients:>7} {d50:>9.0f}µs {d99:>7.0f}µs {p50:>8.0f}µs {p99:>7.0f}µs {p50 - d50:>8.0f}µs "
                f"{p50 / d50:>5.2f}x"
            )
            rows.append(
                (
                    f"READ round trip, {clients} client{'s' * (clients > 1)}: p50 / p99",
                    f"{p50:,.0f} / {p99:,.0f} µs",
                    f"{d50:,.0f} / {d99:,.0f} µs",
                    f"+{p50 - d50:,.0f} µs ({p50 / d50:.2f}x)",
                )
            )
        latency(cached_port, 1, 0.3)  # fills the cache
        c50, c99, _ = latency(cached_port, 1, args.seconds)
        d50, d99, _ = latency(sim_port, 1, args.seconds)
        print(f"cache hit, 1 client: p50 {c50:.0f}µs p99 {c99:.0f}µs (direct {d50:.0f}µs)")
        rows.append(
            (
                "READ from the cache, 1 client: p50 / p99",
                f"{c50:,.0f} / {c99:,.0f} µs",
                f"{d50:,.0f} / {d99:,.0f} µs",
                f"{c50 / d50:.2f}x",
            )
        )
    finally:
        for proc in (proxy, cached):
            stop(proc)

    # 3. 200 apps: through the proxy, then directly (the simulator's CPU per request as the reference)
    try:
        proxy = start(["proxy", *target, "--listen", str(proxy_port)], proxy_port)
        rss0 = rss_mb(proxy.pid)
        cpu0 = cpu_seconds(proxy.pid)
        done = asyncio.run(_poll(proxy_port, 200, args.poll_seconds, 0.5))
        proxy_cpu = cpu_seconds(proxy.pid) - cpu0
        rss = rss_mb(proxy.pid)
        stop(proxy)
        cpu0 = cpu_seconds(sim.pid)
        done_direct = asyncio.run(_poll(sim_port, 200, args.poll_seconds, 0.5))
        sim_cpu = cpu_seconds(sim.pid) - cpu0
    finally:
        stop(sim)
    per_request = proxy_cpu / done * 1e6
    sim_per_request = sim_cpu / done_direct * 1e6
    print(
        f"200 apps: {done} requests answered, proxy RSS {rss:.1f} MB (idle {rss0:.1f} MB), "
        f"CPU {per_request:.1f} µs per request; simulator directly: {sim_per_request:.1f} µs per request"
    )
    rows.append(("200 apps polling: proxy RSS", f"{rss:.1f} MB", f"{rss0:.1f} MB idle", "target <= 60 MB"))
    rows.append(
        (
            "200 apps polling: CPU per app request",
            f"{per_request:.1f} µs",
            f"{sim_per_request:.1f} µs (simulator, direct)",
            f"{per_request / sim_per_request:.2f}x",
        )
    )

    # 2. upstream load
    load = upstream_load()
    print(
        f"20 apps x 30 OIDs every second for a minute: {load['requests']} requests, {load['upstream']} READs to the "
        f"inverter, at most {load['max_per_window']} per 10 s"
    )
    rows.append(
        (
            "20 apps x 30 OIDs / s, 1 min: READs to the inverter",
            f"{load['upstream']} ({load['max_per_window']} per 10 s at most)",
            f"{load['requests']} app requests",
            f"{load['requests'] / load['upstream']:.0f}x fewer",
        )
    )
    if args.markdown:
        print("\n| measurement | through the proxy | reference | ratio |\n|---|---:|---:|---:|")
        for row in rows:
            print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()

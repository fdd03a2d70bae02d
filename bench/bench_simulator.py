"""Benchmark of ``rctclient simulator``: round trips, CPU per round trip, and what abusive clients cost.

Runs the simulator in a subprocess (``python -m rctclient simulator``; the peer package's
``rctclient simulator`` with ``--peer-venv``; another source tree of this package, e.g. a checkout
of main, with ``--base-src``) and reads the child's CPU time (user + system) from
``/proc/<pid>/stat`` and its memory from ``/proc/<pid>/status``.

Round trips: 1 and 4 clients that each send one READ and wait for its answer (best of ``--runs``;
ours and the base are measured alternately, so that both see the same load of the machine).

``--abuse`` adds two scenarios (ours, and the base with ``--base-src``), each bounded in time:

* *non-reading clients*: 200 connections on the shared bus send READs and never read; the
  simulator's peak RSS over ``--abuse-seconds`` and how many of them it dropped;
* *slow fan-out*: 1,000 connections on the shared bus that read nothing send 1 KB/s of READs in
  total, while one more client reads every 10 ms; the simulator's CPU share and that client's
  reads and slowest read.

Usage::

    python bench/bench_simulator.py [--peer-venv /tmp/peer] [--base-src DIR] [--abuse] [--seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from _proc import cpu_seconds, free_port, start_listening, stop  # noqa: E402 - bench/_proc.py

from rctclient.frame import Frame, FrameDecoder, make_frame  # noqa: E402
from rctclient.types import Command  # noqa: E402

# One OID per client: on a shared bus every client hears every answer and must count only its own.
OIDS = (0x959930BF, 0x400F015B, 0x91617C58, 0x1AC87AA0)  # battery.soc, g_sync.p_acc_lp, grid, load

Target = tuple[str, list[str], dict[str, str]]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def start(target: Target, port: int) -> subprocess.Popen[bytes]:
    _, template, env = target
    return start_listening([part.replace("{port}", str(port)) for part in template], port, {**os.environ, **env})


def lockstep(port: int, oid: int, stop_at: float, pause: float = 0.0) -> tuple[int, float]:
    """Read ``oid`` in a loop (``pause`` s between reads) until ``stop_at``: (round trips, slowest one in s)."""
    request = make_frame(Command.READ, oid)
    done, worst = 0, 0.0
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(2.0)
        decoder = FrameDecoder()
        while time.monotonic() < stop_at:
            sent = time.monotonic()
            sock.sendall(request)
            got = False
            while not got:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break  # an answer got lost: ask again
                if not data:
                    return done, worst
                decoder.feed(data)
                for event in decoder.events():
                    if isinstance(event, Frame) and event.id == oid and Command.is_response(event.command):
                        got = True
            if got:
                done += 1
                worst = max(worst, time.monotonic() - sent)
            if pause:
                time.sleep(pause)
    return done, worst


def measure(target: Target, clients: int, seconds: float) -> tuple[float, float]:
    port = free_port()
    proc = start(target, port)
    try:
        counts = [0] * clients
        time.sleep(0.2)
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()

        def client(index: int) -> None:
            counts[index] = lockstep(port, OIDS[index % len(OIDS)], t0 + seconds)[0]

        threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        stop(proc)
    total = sum(counts)
    return total / elapsed, (cpu / total * 1e6) if total else float("nan")


def silent_connections(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        sock.setblocking(False)
        socks.append(sock)
    return socks


def non_reading(target: Target, seconds: float, count: int = 200) -> tuple[float, float, int]:
    """Peak RSS (MB) of the simulator while ``count`` connections send READs (small answers, many
    writes) and never read; the RSS at the start; how many connections the simulator dropped."""
    port = free_port()
    proc = start(target, port)
    socks: list[socket.socket] = []
    try:
        time.sleep(0.3)
        base = rss_mb(proc.pid)
        socks = silent_connections(port, count)
        burst = make_frame(Command.READ, OIDS[0]) * 20
        peak, t0, dropped = base, time.monotonic(), set()
        while time.monotonic() - t0 < seconds and peak < 2048:  # bounded: stop at 2 GB
            for sock in socks:
                try:
                    sock.send(burst)
                except BlockingIOError:
                    pass
                except OSError:
                    dropped.add(sock)
            peak = max(peak, rss_mb(proc.pid))
            time.sleep(0.005)
        return peak, base, len(dropped)
    finally:
        for sock in socks:
            sock.close()
        stop(proc)


def slow_fanout(target: Target, seconds: float, count: int = 1000) -> tuple[float, int, float]:
    """CPU share of the simulator, and the lockstep client's round trips and slowest read, while
    ``count`` connections that read nothing send 1 KB/s of READs in total."""
    port = free_port()
    proc = start(target, port)
    socks: list[socket.socket] = []
    try:
        socks = silent_connections(port, count)
        request = make_frame(Command.READ, OIDS[1])
        stop_at = time.monotonic() + seconds
        result: list[tuple[int, float]] = []
        reader = threading.Thread(target=lambda: result.append(lockstep(port, OIDS[0], stop_at, pause=0.01)))
        cpu0, t0 = cpu_seconds(proc.pid), time.monotonic()
        reader.start()
        rng = random.Random(1)
        interval = len(request) / 1024  # 1 KB/s in total
        due = time.monotonic()
        while time.monotonic() < stop_at:
            with contextlib.suppress(BlockingIOError, OSError):
                rng.choice(socks).send(request)
            due += interval
            time.sleep(max(0.0, due - time.monotonic()))
        reader.join()
        cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
        done, worst = result[0] if result else (0, float("nan"))
        return cpu, done, worst
    finally:
        for sock in socks:
            sock.close()
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-venv", type=Path, help="venv with the peer package (its bin/rctclient)")
    parser.add_argument("--base-src", type=Path, help="another source tree of this package to compare with")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3, help="runs per row; the one with the least CPU counts")
    parser.add_argument("--abuse", action="store_true", help="also the abusive clients' scenarios")
    parser.add_argument("--abuse-seconds", type=float, default=15.0)
    args = parser.parse_args()
    trees = [("ours", ROOT / "src")]
    if args.base_src:
        if not (args.base_src / "rctclient").is_dir():
            raise SystemExit(f"{args.base_src}/rctclient not found")
        trees.append(("base", args.base_src))
    loops = ["asyncio"] + (["uvloop"] if importlib.util.find_spec("uvloop") is not None else [])
    rows: list[tuple[str, list[Target]]] = []  # a row: the same setting of each tree, measured alternately
    for flags, what in ((["--no-shared-bus"], "--no-shared-bus"), ([], "shared bus")):
        for loop in loops if flags else loops[:1]:
            row = []
            for tree, src in trees:
                cmd = [sys.executable, "-m", "rctclient", "simulator", "-h", "127.0.0.1", "-p", "{port}"]
                env = {"PYTHONPATH": str(src) + os.pathsep + os.environ.get("PYTHONPATH", "")}
                row.append((f"{tree}, {loop}, {what}", [*cmd, *flags, "--loop", loop], env))
            rows.append((f"{loop}, {what}", row))
    if args.peer_venv:
        peer = args.peer_venv / "bin" / "rctclient"
        if not peer.exists():
            raise SystemExit(f"{peer} not found")
        rows.append(("peer", [("peer", [str(peer), "simulator", "-h", "127.0.0.1", "-p", "{port}"], {})]))
    results: dict[tuple[str, int], tuple[float, float]] = {}
    print(f"{'simulator':36} {'clients':>7} {'round trips/s':>14} {'CPU us/round trip':>18}")
    for _, targets in rows:
        for clients in (1, 4):
            runs: dict[str, list[tuple[float, float]]] = {t[0]: [] for t in targets}
            for _ in range(max(1, args.runs)):
                for target in targets:
                    runs[target[0]].append(measure(target, clients, args.seconds))
            for label, measured in runs.items():
                rate, cpu = min(measured, key=lambda r: r[1])
                results[(label, clients)] = (rate, cpu)
                print(f"{label:36} {clients:>7} {rate:>14.0f} {cpu:>18.1f}")
    for clients in (1, 4):
        for label, _ in rows:
            ours, base = results.get((f"ours, {label}", clients)), results.get((f"base, {label}", clients))
            peer = results.get(("peer", clients))
            if ours and base:
                print(f"ours/base, {label}, {clients} client(s): CPU per round trip {ours[1] / base[1]:.2f}x")
            if ours and peer and "no-shared" in label:
                print(f"ours/peer, {label}, {clients} client(s): CPU per round trip {ours[1] / peer[1]:.2f}x")
    if not args.abuse:
        return
    print()
    print(f"{'non-reading clients (200, shared bus)':44} {'RSS at start':>12} {'peak RSS':>9} {'dropped':>8}")
    for tree, src in trees:
        for loop in loops:
            env = {"PYTHONPATH": str(src) + os.pathsep + os.environ.get("PYTHONPATH", "")}
            cmd = [sys.executable, "-m", "rctclient", "simulator", "-h", "127.0.0.1", "-p", "{port}", "--loop", loop]
            peak, base_rss, dropped = non_reading((tree, cmd, env), args.abuse_seconds)
            print(f"{tree + ', ' + loop:44} {base_rss:>9.0f} MB {peak:>6.0f} MB {dropped:>8}")
    print()
    header = f"{'slow fan-out (1,000 silent senders)':44} {'CPU':>6} {'other reads/s':>13} {'slowest':>8}"
    print(header + "  (the other client asks ~100/s)")
    for tree, src in trees:
        env = {"PYTHONPATH": str(src) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        cmd = [sys.executable, "-m", "rctclient", "simulator", "-h", "127.0.0.1", "-p", "{port}", "--loop", "asyncio"]
        if tree == "ours":  # let all 1,000 in (the default limit of 256 would refuse most of them)
            cmd += ["--max-clients", "1100"]
        cpu, done, worst = slow_fanout((tree, cmd, env), args.abuse_seconds)
        print(f"{tree + ', asyncio':44} {cpu:>5.0%} {done / args.abuse_seconds:>13.0f} {worst * 1000:>6.0f} ms")


if __name__ == "__main__":
    main()

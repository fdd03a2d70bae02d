"""Benchmark of ``rctclient simulator``: round trips per second and simulator CPU time per round trip.

Runs the simulator in a subprocess (``python -m rctclient simulator``, or the peer package's
``rctclient simulator`` when ``--peer-venv`` is given), drives it with 1 and 4 clients that each
send one READ and wait for its answer, and reads the child's CPU time (user + system) from
``/proc/<pid>/stat`` before and after. Usage::

    python bench/bench_simulator.py [--peer-venv /tmp/peer] [--seconds 3]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from rctclient.frame import Frame, FrameDecoder, make_frame  # noqa: E402
from rctclient.types import Command  # noqa: E402

# One OID per client: on a shared bus every client hears every answer and must count only its own.
OIDS = (0x959930BF, 0x400F015B, 0x91617C58, 0x1AC87AA0)  # battery.soc, g_sync.p_acc_lp, grid, load
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(cmd: list[str], port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"simulator did not start: {' '.join(cmd)}")


def client(port: int, stop_at: float, counts: list[int], index: int) -> None:
    oid = OIDS[index % len(OIDS)]
    request = make_frame(Command.READ, oid)
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(2.0)
        decoder = FrameDecoder()
        done = 0
        while time.monotonic() < stop_at:
            sock.sendall(request)
            got = False
            while not got:
                try:
                    data = sock.recv(65536)
                except TimeoutError:
                    break  # an answer got lost: ask again
                if not data:
                    counts[index] = done
                    return
                decoder.feed(data)
                for event in decoder.events():
                    if isinstance(event, Frame) and event.id == oid:
                        got = True
            done += got
        counts[index] = done


def measure(cmd: list[str], port: int, clients: int, seconds: float) -> tuple[float, float]:
    proc = start(cmd, port)
    try:
        counts = [0] * clients
        time.sleep(0.2)
        cpu0 = cpu_seconds(proc.pid)
        t0 = time.monotonic()
        threads = [threading.Thread(target=client, args=(port, t0 + seconds, counts, i)) for i in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        cpu = cpu_seconds(proc.pid) - cpu0
    finally:
        proc.terminate()
        proc.wait(10)
    total = sum(counts)
    return total / elapsed, (cpu / total * 1e6) if total else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--peer-venv", type=Path, help="venv with the peer package (its bin/rctclient)")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--runs", type=int, default=3, help="runs per row; the one with the least CPU counts")
    args = parser.parse_args()
    targets: list[tuple[str, list[str]]] = []
    ours = [sys.executable, "-m", "rctclient", "simulator", "-h", "127.0.0.1", "-p", "{port}"]
    compared = ["ours, asyncio, --no-shared-bus"]
    targets.append((compared[0], [*ours, "--no-shared-bus", "--loop", "asyncio"]))
    if importlib.util.find_spec("uvloop") is not None:
        compared.append("ours, uvloop, --no-shared-bus")
        targets.append((compared[1], [*ours, "--no-shared-bus", "--loop", "uvloop"]))
    targets.append(("ours, asyncio, shared bus", [*ours, "--loop", "asyncio"]))
    if args.peer_venv:
        peer = args.peer_venv / "bin" / "rctclient"
        if not peer.exists():
            raise SystemExit(f"{peer} not found")
        targets.append(("peer", [str(peer), "simulator", "-h", "127.0.0.1", "-p", "{port}"]))
    env_path = str(ROOT / "src")
    os.environ["PYTHONPATH"] = env_path + os.pathsep + os.environ.get("PYTHONPATH", "")
    results: dict[tuple[str, int], tuple[float, float]] = {}
    print(f"{'simulator':36} {'clients':>7} {'round trips/s':>14} {'CPU us/round trip':>18}")
    for label, template in targets:
        for clients in (1, 4):
            runs = []
            for _ in range(max(1, args.runs)):
                port = free_port()
                cmd = [part.replace("{port}", str(port)) for part in template]
                runs.append(measure(cmd, port, clients, args.seconds))
            rate, cpu = min(runs, key=lambda r: r[1])
            results[(label, clients)] = (rate, cpu)
            print(f"{label:36} {clients:>7} {rate:>14.0f} {cpu:>18.1f}")
    if args.peer_venv:
        for label in compared:
            for clients in (1, 4):
                ours_cpu = results[(label, clients)][1]
                peer_cpu = results[("peer", clients)][1]
                ratio = ours_cpu / peer_cpu
                print(f"{label}, {clients} client(s): CPU per round trip {ratio:.2f} x the peer's (target <= 0.33)")


if __name__ == "__main__":
    main()

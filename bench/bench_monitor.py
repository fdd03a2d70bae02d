"""Benchmark of ``rctclient monitor``: CPU and memory with all three exporters on, polling the simulator.

    python bench/bench_monitor.py [--minutes 10] [--scale-seconds 120] [--devices 1,5,20]

Starts mosquitto and InfluxDB 1.x (the Debian packages, on free loopback ports, stopped by PID), a
simulator process (``rctclient simulator --plant 20``, ideal profile) and the monitor as a process of
its own, with the default plan and its default intervals (10/60/300 s and hourly). Its /metrics is
scraped every 15 s, as a Prometheus would. Measured from /proc after a warm-up (``--warmup``, 30 s:
imports and the first read of every tier): CPU time of the monitor process as % of one core, RSS
(VmRSS at the end, VmHWM peak).

1. The main run: one inverter, all three exporters, ``--minutes``.
2. The reference in the same session: one inverter, no exporter (polling only), ``--scale-seconds``.
3. Scaling: N devices of the simulated plant (PLANT commands), all three exporters, ``--scale-seconds``
   each; CPU per device should stay roughly constant.

Prints a Markdown table. It asserts nothing: benchmarks are not tests.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # tests/ is not a package: its folders are top-level for pytest and mypy

from _proc import cpu_seconds  # noqa: E402 - bench/_proc.py

from monitor import servers  # noqa: E402 - tests/monitor/servers.py: the integration tests' server fixtures

PLANT = 20


def memory_kb(pid: int) -> tuple[int, int]:
    status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(status["VmRSS"].split()[0]), int(status["VmHWM"].split()[0])


def config(sim_port: int, devices: int, *, exporters: bool, mqtt_port: int, influx_port: int, metrics_port: int) -> str:
    text = ""
    for i in range(devices):
        address = f"address = {0x2000_0100 + i + 1}\n" if devices > 1 else ""
        text += f'[[device]]\nhost = "127.0.0.1"\nport = {sim_port}\nname = "d{i}"\n{address}'
    text += '[log]\nlevel = "warning"\n'
    if not exporters:
        return text + "[prometheus]\nenabled = false\n"
    return text + (
        f"[prometheus]\nenabled = true\nport = {metrics_port}\n"
        f'[mqtt]\nenabled = true\nhost = "127.0.0.1"\nport = {mqtt_port}\n'
        f'[influx]\nenabled = true\nurl = "http://127.0.0.1:{influx_port}"\ndatabase = "rct"\n'
    )


def scrape(port: int, stop: threading.Event) -> None:
    while not stop.wait(15.0):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                response.read()
        except OSError:
            pass


def run(
    directory: Path, name: str, text: str, seconds: float, metrics_port: int | None, warmup: float
) -> dict[str, float]:
    path = directory / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    err = open(directory / f"{name}.err", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen([sys.executable, "-m", "rctclient", "monitor", "--config", str(path)], stderr=err)
    stop = threading.Event()
    scraper = None
    if metrics_port is not None:
        scraper = threading.Thread(target=scrape, args=(metrics_port, stop), daemon=True)
        scraper.start()
    try:
        time.sleep(warmup)
        cpu0, t0 = cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        cpu1, t1 = cpu_seconds(process.pid), time.monotonic()
        rss, peak = memory_kb(process.pid)
    finally:
        stop.set()
        process.terminate()
        process.wait(10)
        err.close()
    return {"cpu_percent": 100.0 * (cpu1 - cpu0) / (t1 - t0), "rss_mb": rss / 1024, "peak_mb": peak / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--scale-seconds", type=float, default=120.0)
    parser.add_argument("--devices", default="1,5,20")
    parser.add_argument("--warmup", type=float, default=30.0)
    args = parser.parse_args()
    counts = [int(n) for n in args.devices.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench_monitor_") as tmp:
        directory = Path(tmp)
        broker = servers.mosquitto(directory).start()
        influx, influx_port = servers.influxd(directory)
        influx.start()
        urllib.request.urlopen(
            urllib.request.Request(f"http://127.0.0.1:{influx_port}/query?q=CREATE%20DATABASE%20rct", method="POST")
        ).read()
        sim_port = servers.free_port()
        sim = subprocess.Popen(
            [sys.executable, "-m", "rctclient", "simulator", "-p", str(sim_port), "--plant", str(PLANT)],
            stderr=subprocess.DEVNULL,
        )
        servers.wait_for(lambda: servers.port_open(sim_port), 10, "the simulator")
        ports = {"mqtt_port": broker.port, "influx_port": influx_port}  # type: ignore[attr-defined]
        rows: list[tuple[str, dict[str, float], int]] = []
        try:
            metrics = servers.free_port()
            text = config(sim_port, 1, exporters=True, metrics_port=metrics, **ports)
            rows.append(
                (
                    "1 inverter, all three exporters",
                    run(directory, "main", text, args.minutes * 60, metrics, args.warmup),
                    1,
                )
            )
            text = config(sim_port, 1, exporters=False, metrics_port=0, **ports)
            rows.append(
                (
                    "1 inverter, no exporter (reference)",
                    run(directory, "ref", text, args.scale_seconds, None, args.warmup),
                    1,
                )
            )
            for n in counts:
                metrics = servers.free_port()
                text = config(sim_port, n, exporters=True, metrics_port=metrics, **ports)
                rows.append(
                    (
                        f"{n} device(s), all three",
                        run(directory, f"n{n}", text, args.scale_seconds, metrics, args.warmup),
                        n,
                    )
                )
        finally:
            sim.terminate()
            sim.wait(10)
            influx.stop()
            broker.stop()
    print("| run | CPU % of one core | CPU % per device | RSS MB (peak) |")
    print("|---|---:|---:|---:|")
    for label, r, n in rows:
        per_device = r["cpu_percent"] / n
        print(f"| {label} | {r['cpu_percent']:.3f} | {per_device:.3f} | {r['rss_mb']:.1f} ({r['peak_mb']:.1f}) |")
    main_cpu, ref_cpu = rows[0][1]["cpu_percent"], rows[1][1]["cpu_percent"]
    if ref_cpu > 0:
        print(f"\nall three exporters / polling only (CPU): {main_cpu / ref_cpu:.2f}x")


if __name__ == "__main__":
    main()

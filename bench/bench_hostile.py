"""Crafted input through the library: what the decoder's worst case costs a user, before and after.

Run it from the repository root::

    .venv/bin/python bench/bench_hostile.py --base-src /path/to/main/src [--seconds 5]

Two measurements of issue 9, each for this checkout and (with ``--base-src``) another source tree of
the package, in the same run, in child processes (their CPU time is read from ``/proc``):

* ``read-pcap`` of a capture of 0.17 MB in which the device sends LONG_RESPONSE headers promising
  0xFFFF bytes, each followed by 60 escaped ``+`` (``2b 06 ff ff`` + ``-+`` x 60): CPU seconds of the
  command, capped at ``--cap`` seconds;
* the simulator receiving that same stream from a client at 0.24 MB/s: its CPU share over the
  ``--seconds`` of the stream, and whether an ordinary client is still answered meanwhile.

``bench_worstcase.py`` measures the decoder alone, per byte, against ordinary traffic; this script
shows what that becomes through the command line and the simulator. It asserts nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _proc import cpu_seconds, free_port, start_listening, stop

HERE = Path(__file__).resolve().parent
OURS = HERE.parent / "src"
FLOOD_UNIT = b"\x2b\x06\xff\xff" + b"-+" * 60
DEVICE, CLIENT = ("10.0.0.2", 8899), ("10.0.0.9", 50000)


# -- a capture, written by hand: Ethernet, IPv4, TCP ----------------------------------------------


def _packet(src: tuple[str, int], dst: tuple[str, int], seq: int, flags: int, payload: bytes) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", src[1], dst[1], seq, 0, 5 << 4, flags, 65535, 0, 0)
    ip = struct.pack(
        ">BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(tcp) + len(payload),
        1,
        0x4000,
        64,
        6,
        0,
        socket.inet_aton(src[0]),
        socket.inet_aton(dst[0]),
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + tcp + payload


def crafted_capture(size: int) -> bytes:
    """A pcap file: a client connects to the device, which sends ``size`` bytes of the crafted flood."""
    flood = (FLOOD_UNIT * (size // len(FLOOD_UNIT) + 1))[:size]
    syn, ack, psh = 0x02, 0x10, 0x08
    packets = [
        _packet(CLIENT, DEVICE, 0, syn, b""),
        _packet(DEVICE, CLIENT, 0, syn | ack, b""),
        _packet(CLIENT, DEVICE, 1, ack, b""),
    ]
    seq = 1
    for i in range(0, len(flood), 1448):
        piece = flood[i : i + 1448]
        packets.append(_packet(DEVICE, CLIENT, seq, psh | ack, piece))
        seq += len(piece)
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)]
    for n, pkt in enumerate(packets):
        out.append(struct.pack("<IIII", 1_700_000_000, n, len(pkt), len(pkt)) + pkt)
    return b"".join(out)


def _children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def read_pcap_cpu(src: Path, capture: Path, cap: float) -> tuple[float, bool]:
    """CPU seconds of ``rctclient read-pcap`` on ``capture`` with the package from ``src`` (and whether it finished)."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "rctclient", "read-pcap", str(capture)]
    before = _children_cpu()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + cap * 3
    while proc.poll() is None:
        with contextlib.suppress(OSError):  # (the child may end between poll() and the read)
            if cpu_seconds(proc.pid) >= cap or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                return _children_cpu() - before, False
        time.sleep(0.05)
    # Once reaped, the child's whole CPU time is in this process's children's times.
    return _children_cpu() - before, proc.returncode == 0


# -- the simulator under the crafted stream -------------------------------------------------------


def simulator_under_flood(src: Path, seconds: float, rate: float) -> tuple[float, int]:
    from rctclient.frame import make_frame  # (this checkout's: only to build a request)
    from rctclient.types import Command

    """The simulator's CPU share while a client sends the flood at ``rate`` bytes/s, and the answers an
    ordinary client got meanwhile (one READ every 0.1 s)."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src)}
    cmd = [sys.executable, "-m", "rctclient", "simulator", "--port", str(port), "--no-portal"]
    proc = start_listening(cmd, port, env)
    try:
        read = make_frame(Command.READ, 0x959930BF)  # battery.soc
        answered = 0
        with (
            socket.create_connection(("127.0.0.1", port)) as flood,
            socket.create_connection(("127.0.0.1", port)) as probe,
        ):
            probe.settimeout(0.05)
            flood.setblocking(False)
            start_cpu = cpu_seconds(proc.pid)
            start = time.monotonic()
            sent = 0
            unit = FLOOD_UNIT * 64
            next_probe = start
            while (now := time.monotonic()) < start + seconds:
                due = int((now - start) * rate) - sent
                if due > 0:
                    with contextlib.suppress(BlockingIOError):  # (the simulator reads slower: try again)
                        sent += flood.send(unit[: min(due, len(unit))])
                if now >= next_probe:
                    next_probe += 0.1
                    probe.sendall(read)
                    try:
                        if probe.recv(4096):
                            answered += 1
                    except TimeoutError:
                        pass
                time.sleep(0.005)
            share = (cpu_seconds(proc.pid) - start_cpu) / (time.monotonic() - start)
        return share, answered
    finally:
        stop(proc)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-src", type=Path, help="another source tree of this package to compare with")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of the simulator's flood")
    ap.add_argument("--cap", type=float, default=120.0, help="CPU seconds after which read-pcap is stopped")
    args = ap.parse_args()
    trees = [("this checkout", OURS)] + ([("base", args.base_src.resolve())] if args.base_src else [])
    with tempfile.TemporaryDirectory() as tmp:
        capture = Path(tmp) / "crafted.pcap"
        capture.write_bytes(crafted_capture(170_000))
        print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores; capture {capture.stat().st_size:,} bytes")
        print("| measurement | " + " | ".join(name for name, _ in trees) + " |")
        print("|---|" + "---:|" * len(trees))
        cells = []
        for _, src in trees:
            used, finished = read_pcap_cpu(src, capture, args.cap)
            cells.append(f"{used:.2f} s" if finished else f"> {used:.0f} s (stopped)")
        print("| `read-pcap` of a 0.17 MB crafted capture, CPU | " + " | ".join(cells) + " |")
        cells = []
        for _, src in trees:
            share, answered = simulator_under_flood(src, args.seconds, 240_000)
            probes = int(args.seconds / 0.1)
            cells.append(f"{share:.0%} CPU, {answered}/{probes} probes answered")
        print(
            f"| simulator receiving the crafted stream at 0.24 MB/s for {args.seconds:g} s | "
            + " | ".join(cells)
            + " |"
        )


if __name__ == "__main__":
    main()

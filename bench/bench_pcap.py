"""Benchmark of the capture reader: decode rate of a large capture, and peak memory at two sizes.

Run: ``python bench/bench_pcap.py [--mb 40]``. It writes pcap files of made-up but realistic
traffic (four clients polling a device: READs, answers of several types, some split across
segments, a few retransmissions) to a temporary directory, then reads them with
:func:`rctclient.pcap.read_capture`. Streaming means the peak memory of the small and of the large
capture are about the same.
"""

from __future__ import annotations

import argparse
import gc
import struct
import tempfile
import time
import tracemalloc
from pathlib import Path

import dpkt

from rctclient.frame import make_frame
from rctclient.pcap import read_capture
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value

OIDS = [
    "battery.soc",
    "g_sync.p_ac_load_sum_lp",
    "android_description",
    "battery.voltage",
    "dc_conv.dc_conv_struct[0].p_dc",
]


def _packet(src: int, sport: int, dst: int, dport: int, seq: int, ack: int, payload: bytes) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, 0x18, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBHII", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + ip + tcp + payload


def write_capture(path: Path, megabytes: float) -> tuple[int, int]:
    """Write a pcap of about ``megabytes``; returns (packets, frames)."""
    pairs = []
    for name in OIDS:
        info = REGISTRY.get_by_name(name)
        value = "inverter" if name == "android_description" else 0.5
        pairs.append(
            (
                make_frame(Command.READ, info.object_id),
                make_frame(Command.RESPONSE, info.object_id, encode_value(info.response_data_type, value)),
            )
        )
    clients = [[0x0A000002 + i, 40000 + i, 1000 * i, 900000 * i] for i in range(4)]  # ip, port, seq, device seq
    device = 0x0A000001
    limit = int(megabytes * 1e6)
    packets = frames = 0
    t = 1_700_000_000.0
    with path.open("wb") as f:
        writer = dpkt.pcap.Writer(f, snaplen=65535)
        size = 24
        n = 0
        while size < limit:
            c = clients[n % 4]
            req, resp = pairs[n % len(pairs)]
            out = [(c[0], c[1], device, 8899, c[2], c[3], req)]
            if n % 7 == 0:  # an answer in two segments
                out.append((device, 8899, c[0], c[1], c[3], c[2] + len(req), resp[:5]))
                out.append((device, 8899, c[0], c[1], c[3] + 5, c[2] + len(req), resp[5:]))
            else:
                out.append((device, 8899, c[0], c[1], c[3], c[2] + len(req), resp))
            if n % 50 == 0:  # a retransmission
                out.append(out[-1])
            for src, sport, dst, dport, seq, ack, data in out:
                pkt = _packet(src, sport, dst, dport, seq, ack, data)
                t += 0.0005
                writer.writepkt(pkt, t)
                size += 16 + len(pkt)
                packets += 1
            c[2] += len(req)
            c[3] += len(resp)
            frames += 2
            n += 1
    return packets, frames


def decode(path: Path) -> tuple[int, int]:
    count = frames = 0
    with read_capture(path) as reader:
        for ev in reader:
            count += 1
            frames += ev.description.kind == "frame"
    return count, frames


def peak_memory(path: Path) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        decode(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=40.0, help="size of the large capture in MB (default 40)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.pcap"
        packets, frames = write_capture(big, args.mb)
        size = big.stat().st_size
        start = time.perf_counter()
        _, decoded = decode(big)
        elapsed = time.perf_counter() - start
        assert decoded == frames, f"decoded {decoded} frames of {frames}"
        print(f"decode: {size / 1e6:.1f} MB, {packets} packets, {frames} frames in {elapsed:.2f} s")
        rates = f"{size / 1e6 / elapsed:.2f} MB/s, {packets / elapsed:,.0f} packets/s, {frames / elapsed:,.0f} frames/s"
        print(f"        {rates}")
        small = Path(tmp) / "small.pcap"
        sizes = []
        for path, mb in ((small, args.mb / 8), (big, args.mb / 2)):
            write_capture(path, mb)
            sizes.append((path.stat().st_size, peak_memory(path)))
        for file_size, peak in sizes:
            print(f"peak memory (tracemalloc) reading {file_size / 1e6:6.1f} MB: {peak / 1e3:8.1f} kB")
        ratio = sizes[1][1] / sizes[0][1]
        print(f"capture {sizes[1][0] / sizes[0][0]:.1f}x larger -> peak memory {ratio:.2f}x")


if __name__ == "__main__":
    main()

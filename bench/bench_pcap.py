"""Benchmark of the capture reader: decode rate, peak memory at two sizes, and a hostile capture.

Run: ``python bench/bench_pcap.py [--mb 10] [--flows 50000]``. It writes pcap files to a temporary
directory and reads them with :func:`rctclient.pcap.read_capture`:

- made-up but realistic traffic (four clients polling a device: READs, answers of several types,
  some split across segments, a few retransmissions): the decode rate (best of ``--repeat``
  runs), against a reference measured in the same run: the same TCP payloads, segment by segment,
  fed to a bare :class:`~rctclient.frame.FrameDecoder` per direction with
  :func:`~rctclient.describe.describe_event` per event (what is left is the cost of the capture's
  own layers); and the peak memory (tracemalloc) of a capture and of one four times larger:
  streaming means they are about the same;
- a hostile capture: ``--flows`` connections from distinct clients, each a SYN and one segment
  with a READ and the first kilobyte of a LONG frame, so that each holds a pending request and a
  decoder buffer and none ever closes: the peak memory, which the reader's limits bound.

The capture files are written with :mod:`struct` only, so the same script measures an older
version of the package too (put it first on ``PYTHONPATH``): that is how the figures before a
change are taken.
"""

from __future__ import annotations

import argparse
import gc
import struct
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from rctclient.describe import describe_event
from rctclient.frame import FrameDecoder, make_frame
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
DEVICE = 0x0A000001
PCAP_HEADER = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)  # Ethernet, microseconds


def _packet(src: int, sport: int, dst: int, dport: int, seq: int, ack: int, payload: bytes, flags: int = 0x18) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 0x50, flags, 65535, 0, 0)
    ip = struct.pack(">BBHHHBBHII", 0x45, 0, 40 + len(payload), 0, 0x4000, 64, 6, 0, src, dst)
    return b"\x02\x00\x00\x00\x00\x01\x02\x00\x00\x00\x00\x02\x08\x00" + ip + tcp + payload


def _record(t: float, packet: bytes) -> bytes:
    usec = round(t * 1e6)
    return struct.pack("<IIII", usec // 1_000_000, usec % 1_000_000, len(packet), len(packet)) + packet


def write_capture(path: Path, megabytes: float) -> tuple[int, int, list[list[bytes]]]:
    """Write a pcap of about ``megabytes`` of polling traffic; returns (packets, frames, the segments of
    each direction of each connection, without the retransmissions)."""
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
    limit = int(megabytes * 1e6)
    streams: dict[tuple[int, int], list[bytes]] = {}
    packets = frames = 0
    t = 1_700_000_000.0
    with path.open("wb") as f:
        f.write(PCAP_HEADER)
        size = len(PCAP_HEADER)
        n = 0
        while size < limit:
            c = clients[n % 4]
            req, resp = pairs[n % len(pairs)]
            out = [(c[0], c[1], DEVICE, 8899, c[2], c[3], req)]
            if n % 7 == 0:  # an answer in two segments
                out.append((DEVICE, 8899, c[0], c[1], c[3], c[2] + len(req), resp[:5]))
                out.append((DEVICE, 8899, c[0], c[1], c[3] + 5, c[2] + len(req), resp[5:]))
            else:
                out.append((DEVICE, 8899, c[0], c[1], c[3], c[2] + len(req), resp))
            for src, sport, _, _, _, _, data in out:
                streams.setdefault((src, sport), []).append(data)
            if n % 50 == 0:  # a retransmission
                out.append(out[-1])
            for src, sport, dst, dport, seq, ack, data in out:
                t += 0.0005
                record = _record(t, _packet(src, sport, dst, dport, seq, ack, data))
                f.write(record)
                size += len(record)
                packets += 1
            c[2] += len(req)
            c[3] += len(resp)
            frames += 2
            n += 1
    return packets, frames, list(streams.values())


def decode_bare(streams: list[list[bytes]]) -> int:
    """The reference: each direction's segments to a FrameDecoder, each event described."""
    frames = 0
    for segments in streams:
        decoder = FrameDecoder()
        for data in segments:
            decoder.feed(data)
            for ev in decoder.events():
                frames += describe_event(ev).kind == "frame"
    return frames


def _hostile_records(flows: int) -> Iterator[bytes]:
    held = make_frame(Command.READ, 0x959930BF) + b"+\x06\x07\xd4\x12\x34\x56\x78" + bytes(1000)
    t = 1_700_000_000.0
    for i in range(flows):
        src, sport = 0x0B000000 + i, 1024 + i % 60000
        yield _record(t, _packet(src, sport, DEVICE, 8899, 1000, 0, b"", flags=0x02))  # SYN
        yield _record(t + 0.0001, _packet(src, sport, DEVICE, 8899, 1001, 0, held))
        t += 0.0002


def write_hostile(path: Path, flows: int) -> None:
    with path.open("wb") as f:
        f.write(PCAP_HEADER)
        f.writelines(_hostile_records(flows))


def decode(path: Path) -> tuple[int, int, object]:
    count = frames = 0
    with read_capture(path) as reader:
        for ev in reader:
            count += 1
            frames += ev.description.kind == "frame"
    return count, frames, reader.stats


def peak_memory(path: Path) -> tuple[int, object]:
    decode(path)  # once before: caches (describe, registry) are not what is measured
    gc.collect()
    tracemalloc.start()
    try:
        stats = decode(path)[2]
        return tracemalloc.get_traced_memory()[1], stats
    finally:
        tracemalloc.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=10.0, help="size of the polling capture in MB (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="decode runs, the best counts (default 3)")
    parser.add_argument("--flows", type=int, default=50_000, help="connections of the hostile capture (default 50000)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        big = Path(tmp) / "big.pcap"
        packets, frames, streams = write_capture(big, args.mb)
        size = big.stat().st_size
        elapsed, bare = [], []
        for _ in range(args.repeat):  # interleaved, so that both see the same machine
            gc.collect()
            start = time.perf_counter()
            assert decode_bare(streams) == frames
            bare.append(time.perf_counter() - start)
            gc.collect()
            start = time.perf_counter()
            _, decoded, _ = decode(big)
            elapsed.append(time.perf_counter() - start)
            assert decoded == frames, f"decoded {decoded} frames of {frames}"
        best, best_bare = min(elapsed), min(bare)
        print(f"decode: {size / 1e6:.1f} MB, {packets} packets, {frames} frames, best of {args.repeat}: {best:.2f} s")
        rates = f"{size / 1e6 / best:.2f} MB/s, {packets / best:,.0f} packets/s, {frames / best:,.0f} frames/s"
        print(f"        {rates}")
        print(
            f"reference (bare FrameDecoder + describe_event on the same payloads): {best_bare:.2f} s; "
            f"the capture reader takes {best / best_bare:.2f}x that"
        )
        small = Path(tmp) / "small.pcap"
        sizes = []
        for path, mb in ((small, args.mb / 8), (big, args.mb / 2)):
            write_capture(path, mb)
            sizes.append((path.stat().st_size, peak_memory(path)[0]))
        for file_size, peak in sizes:
            print(f"peak memory (tracemalloc) reading {file_size / 1e6:6.1f} MB: {peak / 1e3:8.1f} kB")
        ratio = sizes[1][1] / sizes[0][1]
        print(f"capture {sizes[1][0] / sizes[0][0]:.1f}x larger -> peak memory {ratio:.2f}x")
        hostile = Path(tmp) / "hostile.pcap"
        write_hostile(hostile, args.flows)
        start = time.perf_counter()
        peak, stats = peak_memory(hostile)
        took = time.perf_counter() - start
        evicted = getattr(stats, "evicted_flows", "-")
        print(
            f"hostile: {args.flows:,} connections never closed, {hostile.stat().st_size / 1e6:.1f} MB: "
            f"peak memory (tracemalloc) {peak / 1e6:.1f} MB, {evicted} evicted ({took:.1f} s, twice, traced)"
        )


if __name__ == "__main__":
    main()

"""Worst case of the frame decoder: crafted input against ordinary traffic, per byte, in the same run.

Run it from the repository root::

    .venv/bin/python bench/bench_worstcase.py [--quick] [--markdown] [--peer-free] [--only NAME]

Every input is decoded in 64 KiB feeds (what a client reads at most at once) and byte at a time;
the figure is the CPU time per input byte divided by that of ordinary READ/RESPONSE traffic fed the
same way, measured in the same run (best of several repetitions, garbage collector off while
timing). Each feed's events are taken before the next feed, as a client does. The target of issue 9:
no input costs more than 10 times ordinary traffic per byte.

It asserts nothing: tests/test_decoder_worstcase.py checks the same inputs by counted work.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import struct
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass

from rctclient.frame import FrameDecoder, make_bad_frame, make_frame
from rctclient.registry import REGISTRY
from rctclient.types import Command, DataType

FEED = 64 * 1024
SOC = REGISTRY.get_by_name("battery.soc").object_id

# --------------------------------------------------------------------------------------------------
# Inputs (each a function of the size wanted; repeated patterns are cut to that size)
# --------------------------------------------------------------------------------------------------


def repeat(pattern: bytes, size: int) -> bytes:
    return (pattern * (size // len(pattern) + 1))[:size]


def ordinary(size: int, seed: int = 1) -> bytes:
    """READ requests and their RESPONSE answers as a client's connection sees them, a 0x00 before some."""
    rng = random.Random(seed)
    floats = [o.object_id for o in REGISTRY.all() if o.response_data_type is DataType.FLOAT]
    parts: list[bytes] = []
    total = 0
    while total < size:
        oid = rng.choice(floats)
        piece = make_frame(Command.READ, oid)
        if rng.random() < 0.3:
            piece += b"\x00"
        piece += make_frame(Command.RESPONSE, oid, struct.pack(">f", rng.uniform(-5000, 5000)))
        parts.append(piece)
        total += len(piece)
    return b"".join(parts)[:size]


def valid_long_plus(size: int) -> bytes:
    """A valid LONG_RESPONSE whose payload is all '+' (escaped), as many as fit (16,000 bytes each)."""
    frame = make_frame(Command.LONG_RESPONSE, 0x12345678, b"+" * 16_000)
    return repeat(frame, size)


def cut_and_good(size: int) -> bytes:
    """Answers cut off inside (their length swallows what follows), each followed by good frames."""
    cut = make_frame(Command.LONG_RESPONSE, 0x12345678, bytes(range(256)) * 4)[:300]
    good = make_frame(Command.RESPONSE, SOC, struct.pack(">f", 50.0)) * 5
    return repeat(cut + good, size)


def alternating(size: int) -> bytes:
    """Good frames and broken ones (CRC errors, invalid commands, bad lengths) in turn."""
    good = make_frame(Command.RESPONSE, SOC, struct.pack(">f", 50.0))
    bad = make_bad_frame(Command.RESPONSE, SOC, struct.pack(">f", 50.0), crc_xor=1)
    return repeat(good + bad + good + b"+\x77" + good + b"+\x05\x02", size)


def long_promise_nested(size: int) -> bytes:
    """A LONG header promising 64 KiB, then short frame starts promising a little inside, overlapping."""
    return repeat(b"+\x06\xff\xff" + b"+\x05\x08" * 40, size)


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    make: Callable[[int], bytes]


CASES = [
    Case("ordinary", "READ/RESPONSE traffic (the reference)", ordinary),
    Case(
        "long_escaped_plus", "`2b 06 ff ff` + `-+` x 60, repeated", lambda n: repeat(b"+\x06\xff\xff" + b"-+" * 60, n)
    ),
    Case("long_zeros", "`2b 06 ff ff` + 92 zero bytes, repeated", lambda n: repeat(b"+\x06\xff\xff" + bytes(92), n)),
    Case("valid_long_plus", "valid LONG_RESPONSE, 16,000-byte payload all `+`", valid_long_plus),
    Case("plus_run", "a run of `+`", lambda n: b"+" * n),
    Case("dash_plus", "`-+` alternating", lambda n: repeat(b"-+", n)),
    Case("dash_run", "a run of `-`", lambda n: b"-" * n),
    Case("long_dense", "`+\\x06`: a LONG frame start (11 KB promised) every 2 bytes", lambda n: repeat(b"+\x06", n)),
    Case("long_dense_escaped", "`+\\x06-`: an escaped LONG start every 3 bytes", lambda n: repeat(b"+\x06-", n)),
    Case(
        "plant_long",
        "`+\\x46\\xff\\xff` PLANT_LONG header + `--` x 30, repeated",
        lambda n: repeat(b"+\x46\xff\xff" + b"--" * 30, n),
    ),
    Case("short_dense", "`+\\x05`: a short frame start every 2 bytes (CRC errors)", lambda n: repeat(b"+\x05", n)),
    Case("invalid_dense", "`+x`: an invalid command every 2 bytes", lambda n: repeat(b"+x", n)),
    Case("extension_dense", "`+<`: EXTENSION starts", lambda n: repeat(b"+<", n)),
    Case("at_runs", "`AT+` without `\\r`, repeated", lambda n: repeat(b"AT+", n)),
    Case(
        "over_limit",
        "RESPONSE of battery.soc promising 5 bytes (one over its type)",
        lambda n: repeat(b"+\x05\x09" + struct.pack(">I", SOC) + b"\x00" * 3, n),
    ),
    Case("nested", "LONG start promising 64 KiB with short starts inside", long_promise_nested),
    Case("alternating", "good and broken frames in turn", alternating),
    Case("cut_and_good", "cut-off answers, each followed by good frames", cut_and_good),
]

# --------------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------------


def decode(data: bytes, feed: int) -> int:
    dec = FrameDecoder()
    events = 0
    for i in range(0, len(data), feed):
        dec.feed(data[i : i + feed])
        for _ in dec.events():
            events += 1
    dec.feed(b"")
    for _ in dec.events():
        events += 1
    return events


def cpu_per_byte(data: bytes, feed: int, repeat_: int) -> float:
    best = float("inf")
    for _ in range(repeat_):
        gc.collect()
        gc.disable()
        try:
            t0 = time.thread_time()
            decode(data, feed)
            best = min(best, time.thread_time() - t0)
        finally:
            gc.enable()
    return best / len(data)


def peak_memory(data: bytes, feed: int) -> int:
    """Peak traced memory (bytes) while decoding in ``feed``-byte pieces, events dropped as they come."""
    decode(data[:FEED], feed)  # tables and registry limits are built once, outside the measurement
    tracemalloc.start()
    try:
        decode(data, feed)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="smaller inputs, fewer repetitions")
    ap.add_argument("--markdown", action="store_true", help="print the table as markdown")
    ap.add_argument("--only", action="append", help="measure only these cases (and ordinary)")
    args = ap.parse_args(argv)
    big = 4 * FEED if args.quick else 16 * FEED  # fed in 64 KiB pieces
    small = 6_000 if args.quick else 30_000  # fed byte at a time
    repeat_ = 2 if args.quick else 5
    cases = [c for c in CASES if not args.only or c.name in args.only or c.name == "ordinary"]
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} cores; {big:,} bytes in 64 KiB feeds, {small:,} bytes "
        f"a byte at a time; best of {repeat_} (CPU time)",
        file=sys.stderr,
    )
    rows = []
    ref_big = ref_small = 0.0
    for case in cases:
        data_big = case.make(big)
        data_small = case.make(small)
        per_big = cpu_per_byte(data_big, FEED, repeat_)
        per_small = cpu_per_byte(data_small, 1, max(1, repeat_ - 2))
        if case.name == "ordinary":
            ref_big, ref_small = per_big, per_small
        mem = peak_memory(data_big, FEED)
        rows.append((case, per_big, per_small, mem))
    head = ("input", "64 KiB feeds ns/byte", "x ordinary", "byte at a time ns/byte", "x ordinary", "peak memory")
    lines = [
        (
            f"{c.name}: {c.what}" if args.markdown else c.name,
            f"{pb * 1e9:,.0f}",
            f"{pb / ref_big:.1f}x",
            f"{ps * 1e9:,.0f}",
            f"{ps / ref_small:.1f}x",
            f"{mem / 1024:,.0f} KiB",
        )
        for c, pb, ps, mem in rows
    ]
    if args.markdown:
        print("| " + " | ".join(head) + " |")
        print("|---|---:|---:|---:|---:|---:|")
        for line in lines:
            print("| " + " | ".join(line) + " |")
    else:
        widths = [max(len(x[i]) for x in [head, *lines]) for i in range(len(head))]
        for line in [head, *lines]:
            print(
                "  ".join([line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:], strict=True)])
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

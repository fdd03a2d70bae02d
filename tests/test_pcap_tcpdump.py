"""A real capture: tcpdump on the loopback interface while a client talks to the simulator.

Skipped when tcpdump is not installed or may not capture (it needs root or CAP_NET_RAW); CI
installs it (``apt-get install -y tcpdump``).
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rctclient.frame import Frame, FrameDecoder, make_frame
from rctclient.pcap import Direction, read_capture
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value

NAMES = ["battery.soc", "android_description", "g_sync.p_ac_load_sum_lp", "battery.soc"]


@contextlib.contextmanager
def _tiny_server() -> Iterator[int]:
    """A stand-in device (used only when the simulator cannot be imported): answers READs."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                return
            with conn:
                dec = FrameDecoder()
                while data := conn.recv(4096):
                    dec.feed(data)
                    for ev in dec.events():
                        if isinstance(ev, Frame) and ev.command is Command.READ:
                            info = REGISTRY.get_by_id(ev.id)
                            value = "inverter" if info.name == "android_description" else 0.5
                            conn.sendall(
                                make_frame(Command.RESPONSE, ev.id, encode_value(info.response_data_type, value))
                            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield srv.getsockname()[1]
    finally:
        stop.set()
        srv.close()
        thread.join(5)


@contextlib.contextmanager
def _device() -> Iterator[int]:
    try:
        from rctclient.simulator import SimulatorThread
    except ImportError:
        with _tiny_server() as port:
            yield port
        return
    with SimulatorThread(port=0, seed=1, faults="ideal") as sim:
        yield sim.port


@contextlib.contextmanager
def _tcpdump(path: Path, port: int) -> Iterator[None]:
    tcpdump = shutil.which("tcpdump")
    if tcpdump is None:
        pytest.skip("tcpdump is not installed (apt-get install -y tcpdump)")
    # UDP probes to a port nobody listens on tell when the capture really runs ("listening on" comes
    # before the filter is in place); the reader skips them (not TCP).
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    probe_port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [
            tcpdump,
            "-i",
            "lo",
            "--immediate-mode",
            "-U",
            "-n",
            "-w",
            str(path),
            f"tcp port {port} or udp dst port {probe_port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # "listening on lo, ..." once it captures, or an error
        if "listening on" not in line:
            proc.wait(10)
            pytest.skip(f"tcpdump cannot capture here: {(line + proc.stderr.read()).strip()}")
        deadline = time.monotonic() + 10
        while not path.exists() or path.stat().st_size <= 24:  # the file header only
            assert time.monotonic() < deadline, "tcpdump captured none of the probes"
            probe.sendto(b"probe", ("127.0.0.1", probe_port))
            time.sleep(0.05)
        yield
        # one more probe: once it is in the file, so is everything before it
        size = path.stat().st_size
        probe.sendto(b"last", ("127.0.0.1", probe_port))
        while path.stat().st_size <= size:
            assert time.monotonic() < deadline + 30, "tcpdump stopped writing"
            time.sleep(0.02)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        if proc.stderr is not None:
            proc.stderr.close()
        probe.close()


def _talk(port: int) -> tuple[list[bytes], list[Frame]]:
    """Send READs (one at a time, then two in one segment) and collect the answers."""
    sent: list[bytes] = []
    answers: list[Frame] = []
    dec = FrameDecoder()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:

        def ask(*names: str) -> None:
            frames = [make_frame(Command.READ, REGISTRY.get_by_name(n).object_id) for n in names]
            sent.extend(frames)
            sock.sendall(b"".join(frames))
            want = len(answers) + len(frames)
            while len(answers) < want:
                data = sock.recv(4096)
                assert data, "the device closed the connection"
                dec.feed(data)
                answers.extend(ev for ev in dec.events() if isinstance(ev, Frame))

        for name in NAMES:
            ask(name)
        ask("battery.soc", "g_sync.p_ac_load_sum_lp")
    return sent, answers


def test_real_tcpdump_capture_decodes_to_exactly_what_was_exchanged(tmp_path: Path) -> None:
    path = tmp_path / "lo.pcap"
    with _device() as port, _tcpdump(path, port):
        sent, answers = _talk(port)
    with read_capture(path, port) as reader:
        events = list(reader)
    requests = [e for e in events if e.direction is Direction.TO_DEVICE]
    replies = [e for e in events if e.direction is Direction.FROM_DEVICE]
    assert [e.event for e in requests] == [
        Frame(Command.READ, REGISTRY.get_by_name(n).object_id, 0, b"", sum(map(len, sent[:i])), len(sent[i]))
        for i, n in enumerate([*NAMES, "battery.soc", "g_sync.p_ac_load_sum_lp"])
    ]
    assert [e.event for e in replies] == answers
    assert all(e.flags == () for e in events), [e.flags for e in events if e.flags]
    assert all(e.latency is not None and 0 <= e.latency < 5 for e in replies)
    assert len({e.flow for e in events}) == 1 and events[0].flow.device_port == port
    assert reader.stats.gaps == 0 and reader.stats.truncated is False and reader.stats.flows == 1

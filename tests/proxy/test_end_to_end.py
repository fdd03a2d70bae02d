"""The CLI's device commands through the proxy, and the proxy in front of a scripted inverter that chatters."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from rctclient.cli import cli
from rctclient.frame import Frame, FrameDecoder, make_bad_frame, make_frame
from rctclient.proxy import ProxyConfig, ProxyServer
from rctclient.simulator import PROFILES, SimulatorThread
from rctclient.types import Command

from ._helpers import ProxyThread, RawClient
from ._playbook import oid, req, resp, write_req


@pytest.fixture(scope="module")
def proxied() -> Iterator[ProxyThread]:
    with SimulatorThread(port=0, seed=7, faults="ideal") as sim, ProxyThread(sim.port) as proxy:
        yield proxy


def _run(proxy: ProxyThread, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [*args, "-h", "127.0.0.1", "-p", str(proxy.port), "--timeout", "5"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def test_read_value_dump_and_history_through_the_proxy(proxied: ProxyThread) -> None:
    code, out, _ = _run(proxied, "read-value", "-n", "battery.soc")
    assert code == 0 and 0 <= float(out) <= 1
    code, out, err = _run(proxied, "dump")
    assert code == 0, err
    snapshot = json.loads(out)
    assert "missing" not in snapshot and len(snapshot["values"]) > 800
    code, out, err = _run(proxied, "history", "logger.minutes_soc_log_ts", "--from", "12h")
    assert code == 0, err
    assert len(out.splitlines()) > 100  # 5-minute points of 12 hours: many pages
    stats = proxied.call(proxied.server.core.stats.as_dict)
    assert stats["queries"] > 3 and stats["timeouts"] == 0


def test_two_commands_at_once_with_a_hostile_device() -> None:
    faults = PROFILES["hostile"].with_rates({"silence_duration": (0.2, 0.5)})
    config = ProxyConfig(request_timeout=0.5)
    with SimulatorThread(port=0, seed=6, faults=faults) as sim, ProxyThread(sim.port, config=config) as proxy:
        common = ["-h", "127.0.0.1", "-p", str(proxy.port), "--timeout", "6", "--retries", "11"]
        commands = [["status", "--json"], ["history", "logger.minutes_soc_log_ts", "--from", "3h"]]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "rctclient", *command, *common],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for command in commands
        ]
        try:
            results = [p.communicate(timeout=120) for p in procs]
        finally:
            for p in procs:
                p.kill()
        assert [p.returncode for p in procs] == [0, 0], [err for _, err in results]
        assert json.loads(results[0][0])["battery"]["soc"] is not None
        assert len(results[1][0].splitlines()) > 30


async def chatty_inverter(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, injected: dict[str, int]) -> None:
    """Answers every READ, each time after another app's READ and WRITE, a keep-alive, noise and a bad frame."""
    decoder = FrameDecoder()
    try:
        while data := await reader.read(4096):
            decoder.feed(data)
            for event in decoder.events():
                if not isinstance(event, Frame):
                    continue
                foreign = (
                    req("db.temp2")
                    + write_req("power_mng.soc_max", 0.9)
                    + b"AT+\r"
                    + b"\x00\x00"
                    + make_bad_frame(Command.RESPONSE, event.id, b"\x3f\x00\x00\x00", crc_xor=0x0F0F)
                )
                injected["foreign"] += 2
                injected["keepalives"] += 1
                injected["zeros"] += 2
                injected["crc"] += 1
                writer.write(foreign + make_frame(Command.RESPONSE, event.id, b"\x3f\x00\x00\x00"))
    except ConnectionError:
        pass
    finally:
        writer.close()


def test_a_chatty_shared_bus_delivers_nothing_foreign_and_counts_it_all() -> None:
    injected = dict.fromkeys(("foreign", "keepalives", "zeros", "crc"), 0)

    async def scenario() -> dict[str, int]:
        inverter = await asyncio.start_server(
            lambda r, w: chatty_inverter(r, w, injected), "127.0.0.1", 0, reuse_address=True
        )
        port = inverter.sockets[0].getsockname()[1]
        config = ProxyConfig(cache_max_age=0)  # every READ goes to the inverter
        try:
            async with ProxyServer("127.0.0.1", port, listen=[("127.0.0.1", 0)], config=config) as proxy:
                loop = asyncio.get_running_loop()
                await loop.run_in_executor(None, clients_read, proxy.addresses[0][1])
                return proxy.core.stats.as_dict()
        finally:
            inverter.close()
            await inverter.wait_closed()

    stats = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert injected["crc"] >= 20  # one per READ on the wire: the two apps' READs may be coalesced
    assert stats["foreign_frames"] == injected["foreign"]
    assert stats["keepalives"] == injected["keepalives"]
    assert stats["upstream_crc_errors"] == injected["crc"]
    assert stats["upstream_garbage_bytes"] == injected["zeros"]
    assert stats["answers"] == 40 and stats["unrequested"] == 0


def clients_read(port: int) -> None:
    expected = resp("battery.soc", b"\x3f\x00\x00\x00")
    with RawClient(port) as a, RawClient(port) as b:
        for _ in range(20):
            a.send(req("battery.soc"))
            b.send(make_frame(Command.READ, oid("battery.soc")))
            for client in (a, b):
                frames = client.frames(1)
                assert len(frames) == 1 and frames[0].command is Command.RESPONSE
                assert make_frame(frames[0].command, frames[0].id, frames[0].data) == expected
        assert a.frames(1, timeout=0.2) == [] and b.frames(1, timeout=0.2) == []

"""The simulator served to a plain socket client built on the core decoder."""

from __future__ import annotations

import struct
import time
from binascii import crc_hqx

from rctclient.describe import decode_payload
from rctclient.frame import Extension, Frame, Garbage, make_frame
from rctclient.registry import REGISTRY
from rctclient.simulator import Clock, SimulatorThread
from rctclient.types import Command, DataType
from rctclient.utils import decode_timeseries, encode_value

from .client import Client, read_frame
from .conftest import NOON, quiet


def test_every_registry_oid_answers_with_its_response_type(sim: SimulatorThread) -> None:
    objects = REGISTRY.all()
    with Client(sim.port) as c:
        c.send(b"".join(make_frame(Command.READ, o.object_id) for o in objects))  # one burst
        frames = c.frames(len(objects), timeout=20)
    assert len(frames) == len(objects)
    assert [f.id for f in frames] == [o.object_id for o in objects]  # in order, none lost
    for frame in frames:
        info = REGISTRY.get_by_id(frame.id)
        decode_payload(info, frame.command, frame.data)  # raises if the payload does not fit the type
        expected = Command.LONG_RESPONSE if len(frame.data) + 4 > 255 else Command.RESPONSE
        assert frame.command == expected
    assert any(f.command == Command.LONG_RESPONSE for f in frames)  # the event table does not fit
    assert sim.counters.requests == sim.counters.answers == len(objects)


def test_garbage_invalid_commands_keepalive_and_extension_do_not_break_the_connection(sim: SimulatorThread) -> None:
    with Client(sim.port) as c:
        c.send(b"\x00\x01garbage+\x99+\xff" + b"AT+\r" + b"+<\xe1" + read_frame("battery.soc"))
        c.send(make_frame(Command.READ, 0xDEADBEEF))  # unknown OID: no answer
        c.send(b"+\x01\x04\x95\x99\x30\xbf\x00\x00")  # CRC mismatch: no answer
        c.send(read_frame("inverter_sn"))
        frames = [e for e in c.drain(sim, 3) if isinstance(e, Frame)]
    assert [REGISTRY.get_by_id(f.id).name for f in frames] == ["battery.soc", "inverter_sn"]
    assert sim.counters.unknown_oid == 1
    assert sim.counters.bad_frames >= 3


def _raw_unescaped(command: int, oid: int, payload: bytes) -> bytes:
    body = struct.pack(">BBI", command, len(payload) + 4, oid) + payload
    crc = crc_hqx(body + (b"\0" if len(body) & 1 else b""), 0xFFFF)
    return b"+" + body + struct.pack(">H", crc)


def test_client_that_does_not_escape_is_answered(sim: SimulatorThread) -> None:
    info = REGISTRY.get_by_name("battery.soc_target")
    payload = b"\x3e\x2b\x2d\x00"  # a float with '+' and '-' in it
    with Client(sim.port) as c:
        c.send(_raw_unescaped(Command.WRITE, info.object_id, payload))
        (answer,) = c.frames(1)
    assert answer.data == payload
    assert sim.model.get("battery.soc_target") == struct.unpack(">f", payload)[0]


def test_writes_change_later_reads_and_bad_writes_are_not_stored(sim: SimulatorThread) -> None:
    with Client(sim.port) as c:
        answer = c.write("battery.soc_target", 0.25)
        assert answer.command == Command.RESPONSE and struct.unpack(">f", answer.data)[0] == 0.25
        assert struct.unpack(">f", c.read("battery.soc_target").data)[0] == 0.25
        info = REGISTRY.get_by_name("android_description")
        c.send(make_frame(Command.LONG_WRITE, info.object_id, b"my house"))
        (answer,) = c.frames(1)
        assert answer.data == b"my house"
        # wrong payload length for a float: logged, not stored, not answered
        c.send(make_frame(Command.WRITE, REGISTRY.get_by_name("battery.soc_target").object_id, b"\x01\x02"))
        assert c.frames(1, timeout=0.3) == []
        assert struct.unpack(">f", c.read("battery.soc_target").data)[0] == 0.25
    assert sim.counters.bad_writes == 1
    assert sim.model.get("android_description") == "my house"


def test_model_values_set_through_the_api_are_served(sim: SimulatorThread) -> None:
    sim.model.set("battery.soc", 0.5)
    sim.model.set("dc_conv.dc_conv_struct[0].p_dc", 1234.0)
    with Client(sim.port) as c:
        assert struct.unpack(">f", c.read("battery.soc").data)[0] == 0.5
        assert struct.unpack(">f", c.read("dc_conv.dc_conv_struct[0].p_dc").data)[0] == 1234.0


def _page(c: Client, name: str, before: int) -> list[tuple[int, float]]:
    answer = c.write(name, before)
    assert answer.command in (Command.RESPONSE, Command.LONG_RESPONSE)
    ts = decode_timeseries(answer.data)
    assert int(ts.request_timestamp.timestamp()) == before
    return [(int(p.timestamp.timestamp()), p.value) for p in ts.points]


def test_time_series_pages_join_into_a_whole_day(sim: SimulatorThread) -> None:
    day_start = NOON - NOON % 86400 - 86400  # yesterday
    day_end = day_start + 86400 - 1
    points: dict[int, float] = {}
    pages = 0
    before = day_end
    with Client(sim.port) as c:
        while before >= day_start:
            page = _page(c, "logger.minutes_ea_log_ts", before)
            pages += 1
            assert page, "history ended early"
            stamps = [t for t, _ in page]
            assert stamps == sorted(stamps, reverse=True) and all(t <= before for t in stamps)
            points.update(page)
            before = stamps[-1] - 1
    day = {t: v for t, v in points.items() if t >= day_start}
    assert sorted(day) == list(range(day_start, day_start + 86400, 300))
    assert pages >= 4  # a day takes several queries
    assert day[day_start] == 0.0 and max(day.values()) > 100  # night and day
    # the day series agrees with the minutes series (energy ~ sum of 5 minute powers)
    with Client(sim.port) as c:
        days = dict(_page(c, "logger.day_ea_log_ts", day_end))
    assert abs(days[day_start] - sum(day.values()) / 12) < 0.02 * days[day_start] + 1


def test_time_series_answer_only_what_was_logged(sim: SimulatorThread) -> None:
    with Client(sim.port) as c:
        future = _page(c, "logger.minutes_soc_log_ts", NOON + 86400)
        assert future[0][0] <= NOON
        assert all(0.0 <= v <= 1.0 for _, v in future)
        assert _page(c, "logger.minutes_soc_log_ts", 1000) == []  # before the device existed


def test_event_table_entries_before_the_timestamp(sim: SimulatorThread) -> None:
    info = REGISTRY.get_by_name("logger.error_log_time_stamp")
    with Client(sim.port) as c:
        c.send(make_frame(Command.WRITE, info.object_id, encode_value(DataType.INT32, NOON)))
        (answer,) = c.frames(1)
    table = decode_payload(info, answer.command, answer.data)
    assert 0 < len(table) <= 16
    stamps = [e.timestamp.timestamp() for e in table]
    assert stamps == sorted(stamps, reverse=True) and max(stamps) <= NOON


def test_plant_addressing() -> None:
    with quiet(seed=5, plant=3) as sim:
        assert len(set(sim.addresses)) == 3
        serials = set()
        with Client(sim.port) as c:
            for address in sim.addresses:
                c.send(read_frame("inverter_sn", Command.PLANT_READ, address))
                (answer,) = c.frames(1)
                assert answer.command == Command.PLANT_RESPONSE and answer.address == address
                serials.add(answer.data)
            c.send(read_frame("inverter_sn", Command.PLANT_READ, 0x0BADF00D))
            assert c.frames(1, timeout=0.3) == []
            # a plain READ is answered by the first device, without address
            assert c.read("inverter_sn").command == Command.RESPONSE
        assert len(serials) == 3
        assert sim.counters.unknown_address == 1


def test_read_periodically_with_a_fast_clock() -> None:
    clock = Clock(NOON, speed=50.0)  # pas.period 5 s -> every 0.1 s
    with SimulatorThread(port=0, portal=False, seed=1, clock=clock) as sim, Client(sim.port) as c:
        c.send(read_frame("battery.soc", Command.READ_PERIODICALLY))
        c.send(read_frame("db.temp1", Command.READ_PERIODICALLY))
        first = c.frames(2, timeout=10)
        assert {REGISTRY.get_by_id(f.id).name for f in first} == {"battery.soc", "db.temp1"}
        start, periodic0 = clock.now(), sim.counters.periodic_answers
        later = c.frames(10, timeout=30)
        assert len(later) == 10
        # 5 rounds, pas.period (5 s) apart on the device's clock, however fast the machine runs it
        elapsed = clock.now() - start
        assert elapsed >= 4 * 5
        assert sim.counters.periodic_answers - periodic0 <= 2 * (elapsed / 5 + 1)
        c.write("pas.period", 0)  # clears the list
        time.sleep(0.3)
        c.frames(100, timeout=0.2)  # drain
        assert c.frames(1, timeout=0.4) == []
        assert sim.counters.periodic_answers >= 10


def test_shared_bus_delivers_to_every_client() -> None:
    for shared in (True, False):
        clock = Clock(NOON, frozen=True)
        with (
            SimulatorThread(port=0, portal=False, shared_bus=shared, clock=clock) as sim,
            Client(sim.port) as a,
            Client(sim.port) as b,
        ):
            time.sleep(0.1)
            a.read("battery.soc")
            got = b.frames(1, timeout=0.5)
            assert (len(got) == 1) is shared


def test_silence_and_restart_on_the_same_port(sim: SimulatorThread) -> None:
    port = sim.port
    sim.set_silent(True)
    with Client(port) as c:
        c.send(read_frame("battery.soc"))
        assert c.frames(1, timeout=0.3) == []
        sim.set_silent(False)
        c.send(read_frame("battery.soc"))
        assert len(c.frames(1)) == 1
    sim.model.set("battery.soc_target", 0.77)
    sim.restart()
    assert sim.port == port
    with Client(port) as c:
        assert abs(struct.unpack(">f", c.read("battery.soc_target").data)[0] - 0.77) < 1e-6


def test_restart_drops_connections(sim: SimulatorThread) -> None:
    with Client(sim.port) as c:
        c.read("battery.soc")
        sim.restart()
        c.sock.settimeout(2)
        assert c.sock.recv(10) == b""


def test_extension_frames_are_ignored_by_the_decoder_too() -> None:
    # sanity of the test client: EXTENSION frames come out as events, not frames
    from rctclient.frame import decode_frames

    events = decode_frames(b"+<\xe1" + read_frame("battery.soc"))
    assert isinstance(events[0], Extension) and isinstance(events[1], Frame)
    assert not any(isinstance(e, Garbage) for e in events)

"""A hypothesis state machine on the sans-I/O core: random clients, requests, answers, outages and time.

Checked after every step, from the actions alone (not from the core's own books):

* nothing is delivered to a client that did not ask for it: every frame a client gets is an answer
  for a key it has a request outstanding for, and each request is answered at most once;
* nothing goes to a client that is gone, and every delivered frame is one the inverter sent;
* never more than ``max_inflight`` requests on the wire, never two WRITEs (or queries) on the wire,
  and never a READ and a WRITE of the same key (their answers could not be told apart);
* when every client has left and the timeouts have passed, every map of the core is empty.
"""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from rctclient.frame import Frame, make_frame
from rctclient.proxy import (
    Action,
    ClientClosed,
    ClientConnected,
    ClientData,
    CloseClient,
    CloseUpstream,
    ConnectUpstream,
    ProxyConfig,
    SendToClient,
    SendUpstream,
    Timer,
    UpstreamData,
    UpstreamDown,
    UpstreamUp,
    request_key,
)
from rctclient.proxy.events import Event
from rctclient.types import Command, DataType
from rctclient.utils import encode_value

from ._playbook import Playbook, frames_of, oid

MAX_INFLIGHT = 3
TIMEOUT = 1.0
READS = ["battery.soc", "db.temp1", "g_sync.p_ac_grid_sum_lp", "battery.bms_sn", "power_mng.soc_min"]
WRITES = ["power_mng.soc_min", "power_mng.soc_max"]
QUERY = "logger.minutes_soc_log_ts"
ADDRESS = 0x20000101
QUERY_KEY = oid(QUERY)


def _key(frame: Frame) -> int:
    return request_key(frame.id, frame.address if Command.is_plant(frame.command) else None)


class ProxyMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        config = ProxyConfig(
            request_timeout=TIMEOUT, max_inflight=MAX_INFLIGHT, max_client_requests=6, max_queued_writes=4
        )
        self.pb = Playbook(config, max_clients=4)
        self.pb.start()
        self.up = True
        self.connecting = False
        self.next_client = 1
        self.clients: set[int] = set()
        self.outstanding: dict[int, Counter[int]] = {}
        self.sent_by_inverter: set[bytes] = set()
        self.reads_on_wire: dict[int, float] = {}  # key -> last send
        self.lane_on_wire: dict[bytes, float] = {}  # frame -> last send
        self.query_stamps: list[bytes] = []
        self.apply(self.pb(UpstreamUp()))

    # -- checking the actions ---------------------------------------------------------------------

    def apply(self, actions: list[Action]) -> None:
        now = self.pb.now
        # what the proxy no longer waits for: timed out (a READ is sent twice at most)
        self.reads_on_wire = {k: t for k, t in self.reads_on_wire.items() if now - t < TIMEOUT}
        self.lane_on_wire = {f: t for f, t in self.lane_on_wire.items() if now - t < TIMEOUT}
        for action in actions:
            if isinstance(action, SendToClient):
                assert action.client in self.clients, f"sent to a client that is gone: {action}"
                frames = frames_of(action.data)
                assert sum(f.size for f in frames) == len(action.data), "only whole frames"
                for frame in frames:
                    assert Command.is_response(frame.command), frame
                    assert action.data[frame.offset : frame.offset + frame.size] in self.sent_by_inverter
                    key = _key(frame)
                    pending = self.outstanding[action.client]
                    assert pending[key] > 0, f"client {action.client} did not ask for {frame}"
                    pending[key] -= 1
            elif isinstance(action, CloseClient):
                self.clients.discard(action.client)
                self.outstanding.pop(action.client, None)
            elif isinstance(action, SendUpstream):
                assert self.up
                for frame in frames_of(action.data):
                    self.sent_upstream(frame, now)
            elif isinstance(action, ConnectUpstream):
                assert not self.up
                self.connecting = True
            elif isinstance(action, CloseUpstream):
                self.up = False
                self.reads_on_wire.clear()
                self.lane_on_wire.clear()

    def sent_upstream(self, frame: Frame, now: float) -> None:
        key = _key(frame)
        raw = make_frame(frame.command, frame.id, frame.data, frame.address)
        lane_keys = {_key(f) for raw_frame in self.lane_on_wire for f in frames_of(raw_frame)}
        if Command.is_write(frame.command) or frame.id == QUERY_KEY:
            assert set(self.lane_on_wire) <= {raw}, "two WRITEs on the wire"
            assert key not in self.reads_on_wire, "a WRITE while a READ of its key is on the wire"
            self.lane_on_wire[raw] = now
        else:
            assert key not in lane_keys, "a READ while a WRITE of its key is on the wire"
            self.reads_on_wire[key] = now
        assert len(self.reads_on_wire) + len(self.lane_on_wire) <= MAX_INFLIGHT

    def do(self, event: Event) -> None:
        self.apply(self.pb(event))

    # -- clients ----------------------------------------------------------------------------------

    @precondition(lambda self: len(self.clients) < 5)
    @rule(dice=st.integers(0, 5))
    def connect(self, dice: int) -> None:
        if len(self.clients) == 4 and dice:
            return  # one more than --max-clients: now and then
        client = self.next_client
        self.next_client += 1
        self.clients.add(client)
        self.outstanding[client] = Counter()
        self.do(ClientConnected(client, f"client{client}"))

    @precondition(lambda self: self.clients)
    @rule(data=st.data())
    def close(self, data: st.DataObject) -> None:
        client = data.draw(st.sampled_from(sorted(self.clients)))
        self.clients.discard(client)
        self.outstanding.pop(client)
        self.do(ClientClosed(client))

    def request(self, client: int, frame: bytes, key: int) -> None:
        self.outstanding[client][key] += 1
        self.do(ClientData(client, frame))

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), name=st.sampled_from(READS), plant=st.booleans(), times=st.integers(1, 3))
    def read(self, data: st.DataObject, name: str, plant: bool, times: int) -> None:
        client = data.draw(st.sampled_from(sorted(self.clients)))
        address = ADDRESS if plant else None
        command = Command.PLANT_READ if plant else Command.READ
        for _ in range(times):
            if client in self.clients:
                self.request(client, make_frame(command, oid(name), b"", address or 0), request_key(oid(name), address))

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), name=st.sampled_from(WRITES), value=st.sampled_from([0.1, 0.5, 0.9]))
    def write(self, data: st.DataObject, name: str, value: float) -> None:
        client = data.draw(st.sampled_from(sorted(self.clients)))
        self.request(client, make_frame(Command.WRITE, oid(name), encode_value(DataType.FLOAT, value)), oid(name))

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), stamp=st.sampled_from([b"\x66\x00\x00\x00", b"\x65\x00\x00\x00"]))
    def query(self, data: st.DataObject, stamp: bytes) -> None:
        client = data.draw(st.sampled_from(sorted(self.clients)))
        self.query_stamps.append(stamp)
        self.request(client, make_frame(Command.WRITE, QUERY_KEY, stamp), QUERY_KEY)

    @precondition(lambda self: self.clients)
    @rule(data=st.data(), junk=st.sampled_from([b"+x+x", b"\x00AT+\r", b"+<\xe1", b"+\x05\x08\x00\x00"]))
    def garbage(self, data: st.DataObject, junk: bytes) -> None:
        client = data.draw(st.sampled_from(sorted(self.clients)))
        self.do(ClientData(client, junk))

    # -- the inverter -----------------------------------------------------------------------------

    def answer_bytes(self, key: int, truncated: bool) -> bytes:
        if key == QUERY_KEY:
            stamp = self.query_stamps[-1] if self.query_stamps else b"\x66\x00\x00\x00"
            return make_frame(Command.RESPONSE, QUERY_KEY, stamp[:2] if truncated else stamp)
        address = (key >> 32) & 0xFFFFFFFF if key >> 64 else None
        object_id = key & 0xFFFFFFFF
        payload = b"\x3e\x80\x00\x00"
        if object_id == oid("battery.bms_sn"):
            payload = b"BMS1"
        command = Command.RESPONSE if address is None else Command.PLANT_RESPONSE
        return make_frame(command, object_id, payload[:1] if truncated else payload, address or 0)

    @precondition(lambda self: self.up)
    @rule(
        data=st.data(),
        truncated=st.sampled_from([False, False, False, True]),
        noise=st.sampled_from([b"", b"", b"\x00", b"AT+\r"]),
        unrequested=st.sampled_from([None, None, None, oid("battery.soc"), request_key(oid("db.temp1"), ADDRESS)]),
    )
    def inverter_answers(self, data: st.DataObject, truncated: bool, noise: bytes, unrequested: int | None) -> None:
        keys = sorted(self.reads_on_wire) + [_key(f) for raw in self.lane_on_wire for f in frames_of(raw)]
        if unrequested is None and keys:
            key = data.draw(st.sampled_from(keys))
        else:
            key = unrequested if unrequested is not None else oid("battery.soc")
        raw = self.answer_bytes(key, truncated)
        self.sent_by_inverter.add(raw)
        self.reads_on_wire.pop(key, None)
        self.lane_on_wire = {f: t for f, t in self.lane_on_wire.items() if frames_of(f)[0].id != key}
        self.do(UpstreamData(noise + raw))

    @precondition(lambda self: self.up)
    @rule(name=st.sampled_from(READS))
    def foreign_request(self, name: str) -> None:
        self.do(UpstreamData(make_frame(Command.READ, oid(name))))

    @precondition(lambda self: self.up or self.connecting)
    @rule(dice=st.integers(0, 5))
    def inverter_goes_away(self, dice: int) -> None:
        if dice:
            return  # rarely
        self.up = False
        self.connecting = False
        self.reads_on_wire.clear()
        self.lane_on_wire.clear()
        self.do(UpstreamDown("gone"))

    @precondition(lambda self: self.connecting)
    @rule()
    def inverter_accepts(self) -> None:
        self.up = True
        self.connecting = False
        self.do(UpstreamUp())

    @rule(seconds=st.sampled_from([0.1, 0.3, 1.0, 2.5, 70.0]))
    def time_passes(self, seconds: float) -> None:
        pb = self.pb
        target = pb.now + seconds
        for _ in range(10_000):
            if pb.wakeup is None or pb.wakeup > target:
                break
            pb.now = max(pb.now, pb.wakeup)
            pb.wakeup = None
            self.apply(pb(Timer()))
        else:
            raise AssertionError("the core keeps asking for a wakeup at the same time")
        pb.now = target

    # -- invariants -------------------------------------------------------------------------------

    @invariant()
    def bounded(self) -> None:
        sched = self.pb.core.scheduler
        assert sched.inflight <= MAX_INFLIGHT
        assert all(c.outstanding <= 6 for c in sched.clients.values())
        assert set(sched.clients) == self.clients

    def teardown(self) -> None:
        for client in sorted(self.clients):
            self.do(ClientClosed(client))
        self.clients.clear()
        self.time_passes(10.0)
        sizes = self.pb.core.scheduler.sizes()
        assert not any(sizes.values()), sizes


ProxyMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestProxyMachine = ProxyMachine.TestCase

"""Driving the proxy's sans-I/O core by hand: a fake clock, scripted events, the actions it answers with.

    pb = Playbook()
    assert pb.start() == [ConnectUpstream()]
    assert pb(UpstreamUp()) == []
    assert pb.read(1, "battery.soc") == [SendUpstream(req("battery.soc"))]

``Wakeup`` actions are kept apart (``pb.wakeup``) so that the scripts show what matters;
``pb.advance(seconds)`` moves the clock and delivers the ``Timer`` event when one is due.
"""

from __future__ import annotations

import random
from typing import Any

from rctclient.frame import Frame, FrameDecoder, make_frame
from rctclient.proxy import (
    Action,
    ClientConnected,
    ClientData,
    ProxyConfig,
    ProxyCore,
    SendToClient,
    SendUpstream,
    Timer,
    UpstreamData,
    UpstreamUp,
    Wakeup,
)
from rctclient.proxy.events import Event
from rctclient.registry import REGISTRY
from rctclient.types import Command
from rctclient.utils import encode_value


def oid(name: str) -> int:
    return REGISTRY.get_by_name(name).object_id


def req(name: str, address: int | None = None) -> bytes:
    """The READ frame of ``name`` (PLANT_READ with an address)."""
    if address is None:
        return make_frame(Command.READ, oid(name))
    return make_frame(Command.PLANT_READ, oid(name), b"", address)


def write_req(name: str, value: Any, address: int | None = None) -> bytes:
    info = REGISTRY.get_by_name(name)
    payload = encode_value(info.request_data_type, value)
    command = Command.WRITE if address is None else Command.PLANT_WRITE
    return make_frame(command, info.object_id, payload, address or 0)


def resp(name: str, value: Any, address: int | None = None) -> bytes:
    """An answer frame for ``name`` with ``value`` (encoded with the response type)."""
    info = REGISTRY.get_by_name(name)
    payload = value if isinstance(value, bytes) else encode_value(info.response_data_type, value)
    command = Command.RESPONSE if address is None else Command.PLANT_RESPONSE
    if len(payload) + (4 if address is None else 8) > 0xFF:
        command = Command.LONG_RESPONSE if address is None else Command.PLANT_LONG_RESPONSE
    return make_frame(command, info.object_id, payload, address or 0)


def frames_of(data: bytes) -> list[Frame]:
    decoder = FrameDecoder()
    decoder.feed(data)
    return [e for e in decoder.events() if isinstance(e, Frame)]


class Playbook:
    """A :class:`ProxyCore` with a fake clock; calling it delivers an event at the current time."""

    def __init__(self, config: ProxyConfig | None = None, *, seed: int = 1, **kwargs: Any) -> None:
        self.core = ProxyCore(config or ProxyConfig(), rng=random.Random(seed), **kwargs)
        self.now = 1000.0
        self.wakeup: float | None = None
        self.log: list[tuple[float, Event | None, list[Action]]] = []

    def _keep(self, event: Event | None, actions: list[Action]) -> list[Action]:
        self.log.append((self.now, event, actions))
        shown: list[Action] = []
        for action in actions:
            if isinstance(action, Wakeup):
                assert action.at >= self.now - 1e-9, f"wakeup in the past: {action}"
                self.wakeup = action.at
            else:
                shown.append(action)
        return shown

    def start(self) -> list[Action]:
        return self._keep(None, self.core.start(self.now))

    def __call__(self, event: Event) -> list[Action]:
        return self._keep(event, self.core.handle(event, self.now))

    def up(self) -> list[Action]:
        """Start and connect."""
        self.start()
        return self(UpstreamUp())

    def connect(self, *clients: int) -> None:
        for client in clients:
            assert self(ClientConnected(client, f"client{client}")) == []

    def read(self, client: int, name: str, address: int | None = None) -> list[Action]:
        return self(ClientData(client, req(name, address)))

    def answer(self, name: str, value: Any, address: int | None = None) -> list[Action]:
        return self(UpstreamData(resp(name, value, address)))

    def advance(self, seconds: float) -> list[Action]:
        """Move the clock; deliver Timer events for every wakeup that comes due on the way."""
        target = self.now + seconds
        out: list[Action] = []
        for _ in range(100_000):
            if self.wakeup is None or self.wakeup > target:
                break
            self.now = max(self.now, self.wakeup)
            self.wakeup = None
            out += self(Timer())
        else:
            raise AssertionError("the core keeps asking for a wakeup at the same time")
        self.now = target
        return out


def sent_up(actions: list[Action]) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, SendUpstream))


def sent_to(actions: list[Action], client: int) -> bytes:
    return b"".join(a.data for a in actions if isinstance(a, SendToClient) and a.client == client)

"""What goes into the proxy's core (events) and what comes out of it (actions).

The core (:class:`~rctclient.proxy.core.ProxyCore`) does no I/O: its driver reports what happened
as events (``core.handle(event, now)``) and carries out the actions it gets back, in order. The
asyncio adapter (:mod:`rctclient.proxy.server`) is one driver; the tests are another, with a fake
clock and no sockets.

Events and actions are immutable named tuples rather than frozen dataclasses, for the reason the
decoder's events are (:mod:`rctclient.frame`): a few are made per request on the hot path, where a
named tuple is three times cheaper to build.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "Action",
    "ClientClosed",
    "ClientConnected",
    "ClientData",
    "CloseClient",
    "CloseUpstream",
    "ConnectUpstream",
    "Event",
    "SendToClient",
    "SendUpstream",
    "Timer",
    "UpstreamData",
    "UpstreamDown",
    "UpstreamUp",
    "Wakeup",
]

# -- events ------------------------------------------------------------------------------------------


class ClientConnected(NamedTuple):
    """A client connected. ``client`` is the driver's id for it, never reused; ``peer`` is for the logs."""

    client: int
    peer: str


class ClientData(NamedTuple):
    """Bytes arrived from a client."""

    client: int
    data: bytes


class ClientClosed(NamedTuple):
    """A client's connection ended (it closed, it failed, or the driver closed it: ``reason``)."""

    client: int
    reason: str = "closed"


class UpstreamUp(NamedTuple):
    """The connection to the inverter is established (after a :class:`ConnectUpstream`)."""


class UpstreamData(NamedTuple):
    """Bytes arrived from the inverter."""

    data: bytes


class UpstreamDown(NamedTuple):
    """The connection to the inverter failed or ended (after a :class:`ConnectUpstream` or while up)."""

    reason: str


class Timer(NamedTuple):
    """The time asked for by the last :class:`Wakeup` has come (an early or a spurious one does no harm)."""


Event = ClientConnected | ClientData | ClientClosed | UpstreamUp | UpstreamData | UpstreamDown | Timer

# -- actions -----------------------------------------------------------------------------------------


class SendToClient(NamedTuple):
    """Write ``data`` (whole frames, byte for byte as the inverter sent them) to a client."""

    client: int
    data: bytes


class CloseClient(NamedTuple):
    """Close a client's connection; the core has forgotten it already (no :class:`ClientClosed` is needed)."""

    client: int
    reason: str


class SendUpstream(NamedTuple):
    """Write ``data`` (request frames) to the inverter."""

    data: bytes


class ConnectUpstream(NamedTuple):
    """Open the connection to the inverter; report :class:`UpstreamUp` or :class:`UpstreamDown`."""


class CloseUpstream(NamedTuple):
    """Drop the connection to the inverter (it is dead); the core counts it as down already."""

    reason: str


class Wakeup(NamedTuple):
    """Deliver a :class:`Timer` event at ``at`` (the driver's clock); it replaces the previous wakeup."""

    at: float


Action = SendToClient | CloseClient | SendUpstream | ConnectUpstream | CloseUpstream | Wakeup

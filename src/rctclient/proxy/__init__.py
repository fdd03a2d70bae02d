"""``rctclient proxy``: one connection to the inverter, shared by any number of apps.

The inverter sends every answer to every connected client, so apps that poll it side by side get
each other's answers. The proxy keeps the only connection to the inverter and gives each client the
answers to its own requests: byte for byte as the inverter sent them, from a cache while young
enough, with requests for the same value coalesced and writes one at a time.

:class:`ProxyCore` is the sans-I/O core (events in, actions out: :mod:`rctclient.proxy.events`);
:class:`ProxyServer` runs it with asyncio. The command line form is ``rctclient proxy``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .cache import AnswerCache, request_key
from .config import ProxyConfig, ProxyConfigError, WritePolicy
from .core import ProxyCore
from .events import (
    Action,
    ClientClosed,
    ClientConnected,
    ClientData,
    CloseClient,
    CloseUpstream,
    ConnectUpstream,
    Event,
    SendToClient,
    SendUpstream,
    Timer,
    UpstreamData,
    UpstreamDown,
    UpstreamUp,
    Wakeup,
)
from .stats import ProxyStats

if TYPE_CHECKING:
    from .server import ProxyServer

__all__ = [
    "Action",
    "AnswerCache",
    "ClientClosed",
    "ClientConnected",
    "ClientData",
    "CloseClient",
    "CloseUpstream",
    "ConnectUpstream",
    "Event",
    "ProxyConfig",
    "ProxyConfigError",
    "ProxyCore",
    "ProxyServer",
    "ProxyStats",
    "SendToClient",
    "SendUpstream",
    "Timer",
    "UpstreamData",
    "UpstreamDown",
    "UpstreamUp",
    "Wakeup",
    "WritePolicy",
    "request_key",
]


def __getattr__(name: str) -> object:
    # The asyncio adapter is loaded on first use: the core stays free of event loops and sockets.
    if name == "ProxyServer":
        from .server import ProxyServer  # noqa: PLC0415

        globals()[name] = ProxyServer
        return ProxyServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

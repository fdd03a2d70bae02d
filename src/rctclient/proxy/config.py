"""The proxy's settings: limits, ages, timeouts and what to do with writes."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Final, Literal

from ..exceptions import RctClientException
from ..registry import REGISTRY, Registry

__all__ = ["ProxyConfig", "ProxyConfigError", "WritePolicy"]


class ProxyConfigError(RctClientException, ValueError):
    """A setting of the proxy is out of range or cannot be parsed (the caller's fault)."""


_MODES: Final = ("forward", "deny", "allow")


@dataclass(frozen=True, slots=True)
class WritePolicy:
    """What happens to a client's WRITE: ``forward`` it, ``deny`` it, or ``allow`` only some OIDs.

    A denied write is dropped, logged and counted; the protocol has no negative answer, so the
    client times out. Queries of time series and of the event table are WRITEs on the wire but
    change nothing: they are always forwarded.
    """

    mode: Literal["forward", "deny", "allow"] = "forward"
    #: The object IDs that ``allow`` lets through.
    allowed: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise ProxyConfigError(f"write policy must be one of {', '.join(_MODES)}, not {self.mode!r}")
        if self.mode == "allow" and not self.allowed:
            raise ProxyConfigError("an allow-list needs at least one OID")

    @classmethod
    def parse(cls, text: str, registry: Registry = REGISTRY) -> WritePolicy:
        """``forward``, ``deny`` or ``allow:NAME,0xID,...`` (OID names or object IDs).

        :raises ProxyConfigError: the text is none of these.
        :raises RegistryKeyError: an OID of the allow-list is not known.
        """
        value = text.strip()
        head, sep, rest = value.partition(":")
        head = head.strip().lower()
        if not sep:
            if head in ("forward", "deny"):
                return cls(head)  # type: ignore[arg-type]  # narrowed by the test above
            raise ProxyConfigError(f"--writes: expected forward, deny or allow:OID,..., not {text!r}")
        if head != "allow":
            raise ProxyConfigError(f"--writes: expected allow:OID,... , not {text!r}")
        allowed: set[int] = set()
        for item in rest.split(","):
            name = item.strip()
            if not name:
                continue
            allowed.add(registry.resolve(name).object_id)
        if not allowed:
            raise ProxyConfigError("--writes allow: needs at least one OID")
        return cls("allow", frozenset(allowed))

    def permits(self, object_id: int) -> bool:
        if self.mode == "forward":
            return True
        return self.mode == "allow" and object_id in self.allowed

    def __str__(self) -> str:
        if self.mode != "allow":
            return self.mode
        names = sorted(REGISTRY.get_by_id(o).name if o in REGISTRY else f"0x{o:08X}" for o in self.allowed)
        return "allow:" + ",".join(names)


@dataclass(frozen=True, slots=True)
class ProxyConfig:
    """Everything the core needs to know. Times are seconds.

    :ivar cache_max_age: a READ is answered from the cache while the value is at most this old
        (0: never).
    :ivar static_max_age: the same for values that never change at run time (serial numbers,
        versions, names: ``ObjectInfo.static``).
    :ivar request_timeout: how long an upstream request waits for its answer before it is sent
        once more (READs), and again before its waiting clients are given up.
    :ivar max_inflight: the most requests on the wire to the inverter at once.
    :ivar writes: the write policy.
    :ivar max_client_requests: a client with more requests outstanding is closed.
    :ivar max_queued_writes: WRITEs waiting for their turn, over all clients; more are dropped.
    :ivar max_cache_entries: values kept (the registry bounds the OIDs, not the plant addresses).
    :ivar dead_after: no byte from the inverter for this long while requests are outstanding
        means the connection is dead.
    :ivar reconnect_initial: first delay before connecting again (doubled up to ``reconnect_max``).
    :ivar max_request_payload: the largest request payload a client may send (bounds its buffer).
    """

    cache_max_age: float = 10.0
    static_max_age: float = 3600.0
    request_timeout: float = 2.0
    max_inflight: int = 8
    writes: WritePolicy = WritePolicy()
    max_client_requests: int = 256
    max_queued_writes: int = 64
    max_cache_entries: int = 4096
    dead_after: float = 60.0
    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0
    max_request_payload: int = 1024

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "writes":
                if not isinstance(value, WritePolicy):
                    raise ProxyConfigError(f"writes must be a WritePolicy, not {value!r}")
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ProxyConfigError(f"{f.name} must be a finite number, not {value!r}")
            lowest = 0 if f.name in ("cache_max_age", "static_max_age") else 1
            if f.name in ("request_timeout", "dead_after", "reconnect_initial", "reconnect_max"):
                if value <= 0:
                    raise ProxyConfigError(f"{f.name} must be positive, not {value!r}")
            elif value < lowest:
                raise ProxyConfigError(f"{f.name} must be at least {lowest}, not {value!r}")
        if self.reconnect_max < self.reconnect_initial:
            raise ProxyConfigError("reconnect_max must not be less than reconnect_initial")

"""The reading operations: one value, its payload, many values at once, the battery status, the cached value.

Each ``*_op`` function returns an :data:`~rctclient.protocol.core.Op`: a generator that yields the
requests it needs and returns its result; the clients run it with their driver. A value read is
typed ``Any``: its type is the OID's data type (float, int, bool, str...), known only at run time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

from ..exceptions import RctClientException
from ..registry import REGISTRY, ObjectInfo, Registry
from .core import Call, Op, Value

__all__ = [
    "BatteryStatus",
    "LastValue",
    "ReadManyResult",
    "battery_status_op",
    "make_last_value",
    "read_many_op",
    "read_op",
    "read_raw_op",
    "value_op",
]

BATTERY_STATUS_OID: Final = "battery.bat_status"

T = TypeVar("T")


def value_op(value: T) -> Op[T]:
    """An operation that needs no request (a dry-run write): it returns ``value`` at once."""
    return value
    yield  # a generator all the same


def read_op(info: ObjectInfo, timeout: float | None = None) -> Op[Any]:
    reqs = yield [Call(info, timeout=timeout)]
    assert reqs is not None
    return reqs[0].result()


def read_raw_op(info: ObjectInfo, timeout: float | None = None) -> Op[bytes]:
    reqs = yield [Call(info, timeout=timeout)]
    assert reqs is not None
    reqs[0].result()
    return reqs[0].raw


@dataclass(frozen=True, slots=True)
class ReadManyResult:
    """Values read by ``read_many``: ``values`` by name; ``errors`` by name for those that failed."""

    values: dict[str, Any]
    errors: dict[str, RctClientException]

    @property
    def ok(self) -> bool:
        return not self.errors

    def __getitem__(self, name: str) -> Any:
        if name in self.errors:
            raise self.errors[name]
        return self.values[name]

    def __contains__(self, name: object) -> bool:
        return name in self.values

    def __len__(self) -> int:
        return len(self.values)


def read_many_op(infos: Iterable[ObjectInfo], timeout: float | None = None) -> Op[ReadManyResult]:
    unique = list(dict.fromkeys(infos))
    reqs = yield [Call(info, timeout=timeout) for info in unique]
    assert reqs is not None
    values: dict[str, Any] = {}
    errors: dict[str, RctClientException] = {}
    for req in reqs:
        if req.error is None:
            values[req.info.name] = req.result()
        else:
            errors[req.info.name] = req.error
    return ReadManyResult(values, errors)


@dataclass(frozen=True, slots=True)
class BatteryStatus:
    """``battery.bat_status``: 0 is normal operation; anything else (calibration, balancing...) is not."""

    value: int

    @property
    def normal(self) -> bool:
        return self.value == 0

    def __str__(self) -> str:
        if self.normal:
            return "battery in normal operation (bat_status 0)"
        return f"battery not in normal operation (bat_status {self.value}, e.g. calibration or balancing)"


def battery_status_op(registry: Registry = REGISTRY, timeout: float | None = None) -> Op[BatteryStatus]:
    info = registry.resolve(BATTERY_STATUS_OID)
    reqs = yield [Call(info, timeout=timeout)]
    assert reqs is not None
    value = reqs[0].result()
    if isinstance(value, bool) or not isinstance(value, int):  # pragma: no cover - the registry says UINT16
        raise TypeError(f"{info.name} decoded to {value!r}, not an integer")
    return BatteryStatus(value)


@dataclass(frozen=True, slots=True)
class LastValue:
    """The last good value seen for an OID (answer to us or to anyone on the bus) and how old it is."""

    name: str
    value: Any
    #: Seconds since it was received.
    age: float
    #: When it was received (UTC, from the client's wall clock).
    received_at: datetime


def make_last_value(info: ObjectInfo, cached: tuple[Value, bytes, float] | None, now: float) -> LastValue | None:
    """A :class:`LastValue` from :meth:`ClientProtocol.cached` (the clients' ``last_value``)."""
    if cached is None:
        return None
    value, _raw, at = cached
    age = max(0.0, now - at)
    return LastValue(info.name, value, age, datetime.now(UTC) - timedelta(seconds=age))

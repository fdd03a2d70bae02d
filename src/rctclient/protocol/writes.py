"""Safe writes: the allow-list of writable OIDs, checking and encoding a write, and the verified write.

Values written and read back are typed ``Any``: like :meth:`~rctclient.client.Client.read`, their type
is the OID's data type (a float for most settings, a bool, an enum's integer), known at run time.
"""

from __future__ import annotations

import math
import struct
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Final

from ..exceptions import (
    RctClientException,
    UnsafeWrite,
    ValueEncodeError,
    WriteNotVerified,
    WriteOutOfBounds,
    WriteRefused,
)
from ..frame import command_for, make_frame
from ..registry import REGISTRY, ObjectInfo, Registry
from ..types import INTEGER_TYPES, DataType
from ..utils import decode_value, encode_value
from .core import Call, OidRef, Op, Sleep

__all__ = ["WritableSpec", "WritePlan", "WriteResult", "prepare_write", "writable", "write_op"]

_F32 = struct.Struct(">f")
_ZERO: Final = _F32.pack(0.0)
_QUERY_TYPES: Final = (DataType.TIMESERIES, DataType.EVENT_TABLE)


@dataclass(frozen=True, slots=True)
class WritableSpec:
    """An OID known to be writable in practice (from ``rctclient/data/writable.toml``)."""

    name: str
    kind: str  # bool, enum, fraction, power, number
    meaning: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    related: tuple[str, ...] = ()

    def check(self, value: float) -> str | None:
        """Why ``value`` is out of bounds, or None."""
        if self.min is not None and value < self.min:
            return f"{value!r} is below the minimum {self.min:g}"
        if self.max is not None and value > self.max:
            return f"{value!r} is above the maximum {self.max:g}"
        return None


_writable: Mapping[str, WritableSpec] | None = None


def writable() -> Mapping[str, WritableSpec]:
    """The OIDs known to be writable in practice, by name (read-only mapping, loaded once)."""
    global _writable  # noqa: PLW0603 - a lazily loaded constant
    if _writable is None:
        from importlib.resources import files  # noqa: PLC0415 - only needed when writing

        text = files("rctclient").joinpath("data", "writable.toml").read_text(encoding="utf-8")
        specs: dict[str, WritableSpec] = {}
        for name, row in tomllib.loads(text).items():
            specs[name] = WritableSpec(
                name=name,
                kind=str(row["kind"]),
                meaning=str(row["meaning"]),
                unit=str(row.get("unit", "")),
                min=row.get("min"),
                max=row.get("max"),
                decimals=row.get("decimals"),
                related=tuple(row.get("related", ())),
            )
        _writable = MappingProxyType(specs)
    return _writable


@dataclass(frozen=True, slots=True)
class WritePlan:
    """A checked, encoded write: what :func:`prepare_write` returns and a dry run shows."""

    info: ObjectInfo
    spec: WritableSpec | None
    #: The value as given, and as it will be stored (rounded, and to single precision for FLOAT).
    requested: Any
    written: Any
    payload: bytes
    #: The bytes that go on the wire.
    frame: bytes

    def result(self, *, dry_run: bool = False, answered: bool | None = None, answer: Any = None) -> WriteResult:
        """The :class:`WriteResult` of this write: a dry run (nothing sent), or the write and its answer."""
        info = self.info
        return WriteResult(
            name=info.name,
            object_id=info.object_id,
            requested=self.requested,
            written=self.written,
            frame=self.frame,
            dry_run=dry_run,
            answered=answered,
            answer=answer,
            spec=self.spec,
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to a write.

    ``answered``: the device answered the WRITE (None for a dry run); ``answer`` is the value it
    answered with. ``read_back`` is the value read after the write; ``verified`` is True when it
    equals the written value (within single-precision tolerance for floats), None when not checked.
    """

    name: str
    object_id: int
    requested: Any
    written: Any
    frame: bytes
    dry_run: bool = False
    answered: bool | None = None
    answer: Any = None
    read_back: Any = None
    verified: bool | None = None
    spec: WritableSpec | None = None


def prepare_write(
    oid: OidRef,
    value: Any,
    *,
    force: bool = False,
    address: int | None = None,
    registry: Registry = REGISTRY,
) -> WritePlan:
    """Check and encode a write, without any I/O.

    The OID must be on the allow-list (:func:`writable`) and the value within its bounds, unless
    ``force`` is given, which skips both (the value must still fit the data type).

    :raises UnsafeWrite: the OID is not known to be safe to write (and not ``force``).
    :raises WriteOutOfBounds: the value is out of bounds or of the wrong kind.
    :raises RegistryKeyError: the OID is unknown.
    """
    info = registry.resolve(oid)
    spec = writable().get(info.name)
    data_type = info.request_data_type
    if spec is None and not force:
        raise UnsafeWrite(
            f"{info.name} is not on the list of OIDs known to be safe to write; pass force=True to write it anyway"
        )
    written = value
    if data_type is DataType.BOOL:
        if not isinstance(value, bool) and value not in (0, 1):
            raise WriteOutOfBounds(f"{info.name} takes a boolean, not {value!r}")
        written = bool(value)
    elif data_type is DataType.FLOAT:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise WriteOutOfBounds(f"{info.name} takes a finite number, not {value!r}")
        written = float(value)
        if spec is not None and spec.decimals is not None:
            written = round(written, spec.decimals)
    elif data_type in (DataType.STRING, DataType.UNKNOWN) or data_type in _QUERY_TYPES:
        pass
    elif isinstance(value, bool) or not isinstance(value, int):
        raise WriteOutOfBounds(f"{info.name} takes an integer, not {value!r}")
    elif not force and data_type is DataType.ENUM and info.enum_map and value not in info.enum_map:
        known = ", ".join(f"{k}={v}" for k, v in sorted(info.enum_map.items()))
        raise WriteOutOfBounds(f"{value!r} is not a value of {info.name} (known: {known})")
    if spec is not None and not force and isinstance(written, int | float) and not isinstance(written, bool):
        problem = spec.check(written)
        if problem is not None:
            raise WriteOutOfBounds(f"{info.name}: {problem}{f' {spec.unit}' if spec.unit else ''}")
    try:
        payload = encode_value(data_type, written)
    except ValueEncodeError as exc:
        raise WriteOutOfBounds(f"{info.name}: {exc}") from None
    if data_type in (DataType.FLOAT, DataType.BOOL) or data_type in INTEGER_TYPES:
        written = decode_value(data_type, payload)
    if data_type is DataType.FLOAT and written == 0.0 and payload != _ZERO:
        # -0.0 (or a tiny negative value that single precision rounds to it) would go out as 0x80000000:
        # zero is what is meant, and a device's firmware need not take a negative zero for one.
        written, payload = 0.0, _ZERO
    command = command_for("write", len(payload), plant=address is not None)
    frame = make_frame(command, info.object_id, payload, address or 0)
    return WritePlan(info=info, spec=spec, requested=value, written=written, payload=payload, frame=frame)


def _same(read: Any, written: Any) -> bool:
    """Whether a read-back value equals the written one (floats within single-precision tolerance)."""
    if isinstance(written, float) and isinstance(read, int | float) and not isinstance(read, bool):
        expected = _F32.unpack(_F32.pack(written))[0]
        return math.isclose(read, expected, rel_tol=1e-6, abs_tol=1e-6)
    if isinstance(written, bool):
        return bool(read) == written
    return bool(read == written)


def write_op(
    plan: WritePlan, *, verify: bool = True, verify_attempts: int = 3, verify_delay: float = 0.2
) -> Op[WriteResult]:
    """Write and read back. Raises WriteRefused or WriteNotVerified (with the result attached)."""
    info = plan.info
    reqs = yield [Call(info, payload=plan.payload)]
    assert reqs is not None
    write = reqs[0]
    if write.error is not None and write.attempts == 0:
        raise write.error  # never sent: nothing happened
    answered = write.ok
    base = plan.result(answered=answered, answer=write.value if answered else None)
    if not verify:
        return base
    read_back: Any = None
    got_value = False
    last_error: RctClientException | None = None
    for attempt in range(verify_attempts):
        if attempt or not answered:
            yield Sleep(verify_delay)
        reqs = yield [Call(info)]
        assert reqs is not None
        if not reqs[0].ok:
            last_error = reqs[0].error
            continue
        read_back, got_value = reqs[0].value, True
        if _same(read_back, plan.written):
            return replace(base, read_back=read_back, verified=True)
    result = replace(base, read_back=read_back, verified=False)
    if got_value:
        raise WriteRefused(
            f"{info.name}: wrote {_fmt(plan.written)} but the device holds {_fmt(read_back)}"
            f" ({'answered' if answered else 'no answer to the write'})",
            result,
        )
    raise WriteNotVerified(f"{info.name}: the write could not be read back: {last_error}", result)


def _fmt(value: Any) -> str:
    """A value for a message: floats with single precision's 7 significant digits."""
    return f"{value:.7g}" if isinstance(value, float) else repr(value)

"""Client and AsyncClient expose the same request API: same methods, same parameters, results T vs coroutine of T."""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from typing import Any

import pytest

from rctclient._clientbase import ClientBase, operation
from rctclient.aio import AsyncClient
from rctclient.client import Client

#: Methods a transport adds for itself; the context managers differ by name (``with`` / ``async with``).
TRANSPORT_ONLY = {"__enter__", "__exit__", "__aenter__", "__aexit__"}
#: Methods without I/O: plain on both clients.
NO_IO = {"last_value", "resolve"}


def public_methods(cls: type) -> dict[str, Callable[..., Any]]:
    methods = {}
    for name in dir(cls):
        if name.startswith("_") or name in TRANSPORT_ONLY:
            continue
        attr = inspect.getattr_static(cls, name)
        if isinstance(attr, property):
            continue
        methods[name] = getattr(cls, name)
    return methods


def shape(func: Callable[..., Any]) -> tuple[list[tuple[str, Any, Any, Any]], Any]:
    """Parameters (name, kind, default, annotation) and return annotation, with annotations resolved."""
    hints = typing.get_type_hints(func)
    params = [
        (p.name, p.kind, p.default, hints.get(p.name, inspect.Parameter.empty))
        for p in inspect.signature(func).parameters.values()
    ]
    return params, hints.get("return", inspect.Parameter.empty)


def test_both_clients_have_the_same_public_methods() -> None:
    sync, asyn = public_methods(Client), public_methods(AsyncClient)
    assert sorted(sync) == sorted(asyn)
    # every request method of the shared base is there (and nothing of it was forgotten)
    api = {name for name, attr in vars(ClientBase).items() if isinstance(attr, operation)}
    assert api == {"read", "read_raw", "read_many", "write", "history", "query", "events", "battery_status"}
    assert api <= set(sync)


@pytest.mark.parametrize("name", sorted(public_methods(Client)))
def test_same_parameters_and_matching_results(name: str) -> None:
    sync, asyn = getattr(Client, name), getattr(AsyncClient, name)
    sync_params, sync_result = shape(sync)
    async_params, async_result = shape(asyn)
    assert sync_params == async_params, name
    # T from a blocking method, a coroutine function whose result is T from an asyncio one
    assert sync_result == async_result, name
    assert not inspect.iscoroutinefunction(sync), name
    assert inspect.iscoroutinefunction(asyn) is (name not in NO_IO), name


def test_the_api_methods_look_hand_written() -> None:
    # what help() and documentation tools show: the name, the docstring, the parameters, the result type
    for cls in (Client, AsyncClient):
        read = cls.read
        assert read.__name__ == "read" and read.__doc__ is not None and "RctTimeout" in read.__doc__
        signature = inspect.signature(read)
        assert list(signature.parameters) == ["self", "oid", "timeout"]
        assert signature.return_annotation is Any
    assert inspect.signature(Client.write).parameters["verify_attempts"].default == 3


def test_the_typed_results() -> None:
    from rctclient.protocol import BatteryStatus, ReadManyResult, WriteResult
    from rctclient.types import EventTable, Timeseries

    hints = {name: typing.get_type_hints(getattr(Client, name))["return"] for name in public_methods(Client)}
    assert hints["read_raw"] is bytes
    assert hints["read_many"] is ReadManyResult
    assert hints["write"] is WriteResult
    assert hints["battery_status"] is BatteryStatus
    assert hints["query"] == Timeseries | EventTable

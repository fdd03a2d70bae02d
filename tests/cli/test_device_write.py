"""write-value against a simulator: dry run, confirmation, verification and the distinct failures."""

from __future__ import annotations

import pytest

from rctclient.cli._common import EXIT_BAD_INPUT, EXIT_DEVICE, EXIT_NOT_FOUND, EXIT_NOT_VERIFIED
from rctclient.cli._parse import parse_value
from rctclient.exceptions import WriteNotVerified, WriteOutOfBounds
from rctclient.frame import make_frame
from rctclient.registry import REGISTRY
from rctclient.simulator import SimulatorThread
from rctclient.types import Command, DataType
from rctclient.utils import encode_value

from ._helpers import at, run

SOC_MIN = "power_mng.soc_min"
SOC_MIN_ID = 0xCE266F0F


def test_dry_run_prints_the_frame_and_needs_no_device(closed_port: int) -> None:
    r = run("write-value", "-h", "127.0.0.1", "-p", str(closed_port), "--dry-run", SOC_MIN, "30%")
    assert r.code == 0, r
    expected = make_frame(Command.WRITE, SOC_MIN_ID, encode_value(DataType.FLOAT, 0.3))
    assert f"frame: {expected.hex()}" in r.out.splitlines()
    r = run("write-value", "--dry-run", "power_mng.battery_power_extern", "-2000")
    assert r.code == 0 and "-2000 W" in r.out


def test_write_yes_is_verified(fresh_sim: SimulatorThread) -> None:
    fresh_sim.model.set(SOC_MIN, 0.07)
    r = run("write-value", *at(fresh_sim), SOC_MIN, "0.25", "--yes")
    assert r.code == 0, r
    assert "current value: 0.07 (7 %)" in r.out and "new value:     0.25 (25 %)" in r.out
    assert "written and verified" in r.out.splitlines()[-1]
    assert fresh_sim.model.get(SOC_MIN) == pytest.approx(0.25)
    r = run("write-value", *at(fresh_sim), "power_mng.soc_strategy", "external", "-y")
    assert r.code == 0 and fresh_sim.model.get("power_mng.soc_strategy") == 2
    r = run("write-value", *at(fresh_sim), "power_mng.use_grid_power_enable", "on", "-y")
    assert r.code == 0 and fresh_sim.model.get("power_mng.use_grid_power_enable") is True


def test_confirmation_declined_writes_nothing(fresh_sim: SimulatorThread) -> None:
    fresh_sim.model.set(SOC_MIN, 0.07)
    r = run("write-value", *at(fresh_sim), SOC_MIN, "50%", stdin="n\n")
    assert r.code == 1 and "Write it?" in r.err
    assert fresh_sim.model.get(SOC_MIN) == pytest.approx(0.07)
    r = run("write-value", *at(fresh_sim), SOC_MIN, "50%", stdin="y\n")
    assert r.code == 0 and fresh_sim.model.get(SOC_MIN) == pytest.approx(0.5)


def test_battery_status_warning(fresh_sim: SimulatorThread) -> None:
    fresh_sim.model.set("battery.bat_status", 8, fixed=True)
    r = run("write-value", *at(fresh_sim), SOC_MIN, "0.2", "-y")
    assert r.code == 0 and "not in normal operation" in r.err


def test_refused_out_of_bounds_not_allowed(fresh_sim: SimulatorThread) -> None:
    r = run("write-value", *at(fresh_sim), "power_mng.battery_power_extern", "-9000", "-y")
    assert r.code == EXIT_BAD_INPUT and "below the minimum" in r.err and r.err.count("\n") == 1
    r = run("write-value", *at(fresh_sim), SOC_MIN, "abc", "-y")
    assert r.code == EXIT_BAD_INPUT and "cannot read 'abc'" in r.err
    r = run("write-value", *at(fresh_sim), "battery.soc", "0.5", "-y")
    assert r.code == EXIT_BAD_INPUT and "--force" in r.err
    r = run("write-value", *at(fresh_sim), "battery.sco", "0.5", "-y")
    assert r.code == EXIT_NOT_FOUND and "did you mean" in r.err
    # the device keeps its own value: refused
    fresh_sim.model.set("power_mng.soc_max", 0.9, fixed=True)
    r = run("write-value", *at(fresh_sim), "power_mng.soc_max", "0.8", "-y")
    assert r.code == EXIT_DEVICE and "holds" in r.err and r.err.count("\n") == 1


def test_force_writes_an_unlisted_oid(fresh_sim: SimulatorThread) -> None:
    r = run("write-value", *at(fresh_sim), "battery.soc_target", "0.6", "-y", "--force")
    assert r.code == 0, r
    assert "not on the list" in r.err and fresh_sim.model.get("battery.soc_target") == pytest.approx(0.6)


def test_not_verified_has_its_own_exit_code(fresh_sim: SimulatorThread, monkeypatch: pytest.MonkeyPatch) -> None:
    from rctclient.client import Client

    def unverified(self: Client, *args: object, **kwargs: object) -> None:
        raise WriteNotVerified("power_mng.soc_min: the write could not be read back: timeout")

    monkeypatch.setattr(Client, "write", unverified)
    r = run("write-value", *at(fresh_sim), SOC_MIN, "0.2", "-y")
    assert r.code == EXIT_NOT_VERIFIED and "could not be read back" in r.err


def test_parse_value() -> None:
    def parse(name: str, text: str) -> object:
        return parse_value(REGISTRY.resolve(name), text)

    assert parse("power_mng.use_grid_power_enable", "on") is True
    assert parse("power_mng.soc_min", "15%") == pytest.approx(0.15)
    assert parse("power_mng.soc_strategy", "external") == 2
    assert parse("power_mng.soc_strategy", "0x3") == 3
    with pytest.raises(WriteOutOfBounds):
        parse("power_mng.soc_min", "lots")
    # a percentage only for fractions: 50% of a power in W is a mistake, not 0.5 W
    assert parse("power_mng.battery_power_extern", "-1500") == -1500.0
    with pytest.raises(WriteOutOfBounds, match="percentage"):
        parse("power_mng.battery_power_extern", "50%")


def test_parse_value_is_no_longer_in_the_library() -> None:
    import rctclient.protocol

    with pytest.raises(AttributeError, match=r"moved to the command line tool"):
        rctclient.protocol.parse_value  # noqa: B018


def test_a_label_typed_wrongly_lists_the_labels(fresh_sim: SimulatorThread) -> None:
    # Before: "invalid literal for int() with base 0: 'Bogus'"
    r = run("write-value", *at(fresh_sim), "power_mng.soc_strategy", "Bogus", "-y")
    assert r.code == EXIT_BAD_INPUT and r.err.count("\n") == 1
    assert "int()" not in r.err and "'External' (2)" in r.err and "'Internal' (4)" in r.err
    r = run("write-value", *at(fresh_sim), "power_mng.soc_min", "lots", "-y")
    assert r.code == EXIT_BAD_INPUT and r.err.strip().endswith("not a number") and "float" not in r.err

"""The core and the request core are sans-I/O: they import no sockets, event loops, threads, selectors or clocks."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rctclient

PACKAGE = Path(rctclient.__file__).resolve().parent
CORE = ["types", "_values", "exceptions", "frame", "utils", "registry", "faults", "describe", "_data"]
#: The request core: every module of the package rctclient.protocol.
REQUEST_CORE = sorted(f"protocol.{path.stem}" for path in (PACKAGE / "protocol").glob("*.py"))
FORBIDDEN = {"socket", "asyncio", "threading", "select", "selectors", "ssl", "subprocess"}
#: The request core is told the time by its caller: no clock, no sleeping.
FORBIDDEN_IN_REQUEST_CORE = FORBIDDEN | {"time"}


def _imports(module: str) -> set[str]:
    path = PACKAGE / (module.replace(".", "/") + ".py")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    return imported


def test_the_request_core_is_a_package_of_several_modules() -> None:
    assert {"protocol.__init__", "protocol.core", "protocol.ops", "protocol.writes"} <= set(REQUEST_CORE)


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io(module: str) -> None:
    imported = _imports(module)
    assert not imported & FORBIDDEN, f"rctclient.{module} imports {sorted(imported & FORBIDDEN)}"


@pytest.mark.parametrize("module", REQUEST_CORE)
def test_request_core_module_imports_no_io_and_no_clock(module: str) -> None:
    imported = _imports(module)
    bad = imported & FORBIDDEN_IN_REQUEST_CORE
    assert not bad, f"rctclient.{module} imports {sorted(bad)}"


def test_importing_the_core_and_the_request_core_loads_no_io_module() -> None:
    modules = [*CORE, "protocol"]
    code = (
        "import sys; before = set(sys.modules); "
        + "; ".join(f"import rctclient.{m}" for m in modules)
        + "; print(sorted((set(sys.modules) - before) & "
        + repr(FORBIDDEN | {"click"})
        + "))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"

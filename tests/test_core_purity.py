"""The core is sans-I/O: it imports no sockets, event loops, threads or selectors."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rctclient

PACKAGE = Path(rctclient.__file__).resolve().parent
CORE = ["types", "_values", "exceptions", "frame", "utils", "registry", "faults", "describe", "_data"]
FORBIDDEN = {"socket", "asyncio", "threading", "select", "selectors", "ssl", "subprocess"}


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"rctclient.{module} imports {sorted(imported & FORBIDDEN)}"


def test_importing_the_core_loads_no_io_module() -> None:
    code = (
        "import sys; before = set(sys.modules); "
        + "; ".join(f"import rctclient.{m}" for m in CORE)
        + "; print(sorted((set(sys.modules) - before) & "
        + repr(FORBIDDEN)
        + "))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"

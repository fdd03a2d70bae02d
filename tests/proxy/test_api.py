"""The proxy's public names are pinned, and its core is sans-I/O like the package's."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rctclient.proxy

CORE = ["events", "config", "cache", "stats", "scheduler", "core"]
FORBIDDEN = {"socket", "asyncio", "threading", "select", "selectors", "ssl", "subprocess"}
PACKAGE = Path(rctclient.proxy.__file__).resolve().parent


def test_public_names_are_pinned() -> None:
    assert rctclient.proxy.__all__ == [
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
    for name in rctclient.proxy.__all__:
        assert getattr(rctclient.proxy, name) is not None


@pytest.mark.parametrize("module", CORE)
def test_core_module_imports_no_io(module: str) -> None:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN


def test_importing_the_core_loads_no_io_module() -> None:
    loaded = FORBIDDEN - {"threading"}  # the standard library's logging imports threading
    code = (
        "import sys; before = set(sys.modules); import rctclient.proxy.core, rctclient.proxy; "
        f"print(sorted((set(sys.modules) - before) & {loaded!r}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_the_docs_list_every_metric() -> None:
    from rctclient.proxy.metrics import METRICS

    page = (PACKAGE.parent.parent.parent / "docs" / "proxy.md").read_text(encoding="utf-8")
    listed = {line.split("`")[1].split("{")[0] for line in page.splitlines() if line.startswith("| `rctclient_proxy_")}
    assert listed == set(METRICS)

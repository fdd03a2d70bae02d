"""The layers: the core and the request core are sans-I/O (no sockets, event loops, threads, selectors, no
clock in the request core), and no layer imports one above it (docs/architecture.md)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import rctclient

PACKAGE = Path(rctclient.__file__).resolve().parent
CORE = [
    "types",
    "_values",
    "exceptions",
    "frame",
    "_framebuffer",
    "_framecrc",
    "_frameparse",
    "utils",
    "registry",
    "faults",
    "describe",
    "_data",
]
#: The request core: every module of the package rctclient.protocol.
REQUEST_CORE = sorted(f"protocol.{path.stem}" for path in (PACKAGE / "protocol").glob("*.py"))
FORBIDDEN = {"socket", "asyncio", "threading", "select", "selectors", "ssl", "subprocess"}
#: The request core is told the time by its caller: no clock, no sleeping.
FORBIDDEN_IN_REQUEST_CORE = FORBIDDEN | {"time"}


def _tree(module: str) -> ast.Module:
    return ast.parse((PACKAGE / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8"))


def _imports(module: str) -> set[str]:
    imported = set()
    for node in ast.walk(_tree(module)):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module.split(".")[0])
    return imported


def _package_imports(module: str) -> set[str]:
    """The rctclient modules that ``module`` imports at run time (``if TYPE_CHECKING:`` blocks left out)."""
    package = module.rsplit(".", 1)[0] if "." in module else ""
    found = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            return
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = package.split(".") if package else []
            base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
            target = ".".join([*base, node.module] if node.module else base)
            found.add(target.split(".")[0] if target else "")
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("rctclient."):
            found.add(node.module.split(".")[1])
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(_tree(module))
    return found - {""}


#: The layers, bottom up; a module may import its own layer and those below.
LAYERS = {
    "core": set(CORE),
    "request core": {"protocol"},
    "I/O stacks": {"_clientbase", "client", "aio", "simulator", "pcap", "proxy", "monitor"},
    "CLI": {"cli", "_entry", "__main__"},
}


#: Every module of the I/O stacks (the clients, simulator, capture reader, proxy and monitor packages).
IO_STACKS = sorted(
    str(path.relative_to(PACKAGE).with_suffix("")).replace("/", ".")
    for path in PACKAGE.rglob("*.py")
    if path.relative_to(PACKAGE).parts[0].removesuffix(".py") in LAYERS["I/O stacks"]
)


def test_every_io_stack_module_is_checked() -> None:
    assert {"client", "aio", "simulator.server", "pcap.reader", "proxy.core", "monitor.daemon"} <= set(IO_STACKS)


@pytest.mark.parametrize("module", [*CORE, *REQUEST_CORE, *IO_STACKS])
def test_no_layer_imports_one_above_it(module: str) -> None:
    names = list(LAYERS)
    layer = next(i for i, name in enumerate(names) if module.split(".", maxsplit=1)[0] in LAYERS[name])
    above = set().union(*(LAYERS[name] for name in names[layer + 1 :]))
    assert not _package_imports(module) & above, f"rctclient.{module} imports {_package_imports(module) & above}"


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

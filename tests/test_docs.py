"""The README and the usage page are true: their examples run, their commands are the ones CI runs."""

from __future__ import annotations

import doctest
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from rctclient.cli import cli

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import readme_commands  # noqa: E402

PAGES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES)
def test_examples_run_as_written(page: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the checkout
    result = doctest.testfile(str(ROOT / page), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    run, test = readme_commands.commands(text)
    assert text.index(run) < text.index(test) < text.index("## ")
    assert run.startswith("python3 -m venv .venv && ") and test.startswith("python3 -m venv .venv && ")
    assert "rctclient " in run
    assert "pytest" in test and "mypy" in test and "ruff check" in test
    assert "readme_commands.py --test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def _all_commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += _all_commands(command, prefix + name + " ")
    return found


@pytest.mark.parametrize(("name", "command"), _all_commands(cli), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_has_help_with_an_example(name: str, command: click.Command) -> None:
    assert command.help, f"{name} has no help"
    if not isinstance(command, click.Group):
        assert "Example" in command.help, f"{name} help shows no example"
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden and param.name != "help":
            assert param.help, f"{name} {param.opts} has no help"


def test_cli_reference_is_current() -> None:
    out = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "cli_reference.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr


def test_missing_click_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "click.py").write_text("raise ImportError('not installed')\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-m", "rctclient", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.strip() == "Error: the rctclient command line tool needs click: pip install 'rctclient[cli]'"


def test_cli_runs_as_a_real_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rctclient", "decode", "002b0508959930bf3f590f868810"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "battery.soc" in out.stdout and "0.8478931188583374" in out.stdout
    assert out.stderr == ""

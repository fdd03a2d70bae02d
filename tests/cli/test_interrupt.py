"""Ctrl-C and the end of input at a prompt, in a real process."""

from __future__ import annotations

import subprocess
import sys

from ._helpers import interrupt


def test_ctrl_c_at_the_confirmation_prompt_exits_130() -> None:
    args = ["write-value", "--simulate", "power_mng.soc_min", "0.3"]
    code, _, err = interrupt(args, lambda seen: "new value" in seen, settle=0.3)  # at the prompt by then
    assert code == 130
    assert err.strip().endswith("Error: interrupted")
    assert "Traceback" not in err


def test_end_of_input_at_the_prompt_writes_nothing() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "rctclient", "write-value", "--simulate", "power_mng.soc_min", "0.3"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert out.returncode == 1
    assert out.stderr.strip().endswith("Error: aborted")
    assert "written" not in out.stdout

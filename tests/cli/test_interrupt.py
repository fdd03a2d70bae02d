"""Ctrl-C and the end of input at a prompt, in a real process."""

from __future__ import annotations

import signal
import subprocess
import sys
import time


def test_ctrl_c_at_the_confirmation_prompt_exits_130() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "rctclient", "write-value", "--simulate", "power_mng.soc_min", "0.3"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        seen = ""
        while "new value" not in seen and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        time.sleep(0.3)  # at the prompt now
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 130
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

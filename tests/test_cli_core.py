"""The CLI commands of the core: decode and registry."""

from __future__ import annotations

import json

from click.testing import CliRunner

from rctclient import __version__
from rctclient.cli import cli
from rctclient.cli._common import EXIT_BAD_INPUT, EXIT_NOT_FOUND


def run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0 and __version__ in out


def test_decode_table() -> None:
    code, out, err = run("decode", "002b0508959930bf3f590f868810", "2b0104959930bf0d65")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split() == ["OFFSET", "KIND", "COMMAND", "ID", "NAME", "VALUE", "FLAGS"]
    assert "RESPONSE  0x959930BF  battery.soc  0.8478931188583374 (84.8 %)" in lines[1]
    assert lines[2].split()[:5] == ["14", "frame", "READ", "0x959930BF", "battery.soc"]


def test_decode_json_and_separators() -> None:
    code, out, _ = run("decode", "--json", "0x2b:01:04 95 99 30 bf 0d 65")
    assert code == 0
    (row,) = json.loads(out)
    assert row["name"] == "battery.soc" and row["command"] == "READ" and row["id"] == "0x959930BF"


def test_decode_stdin_and_problems() -> None:
    stdin = "2b0508959930bf3f590f868811 2b77 41542b0d 2b3ce1 2b0506959930bf3f59fba6"
    code, out, _ = run("decode", "--json", "-", stdin=stdin)
    assert code == 0
    rows = json.loads(out)
    assert [r["kind"] for r in rows] == ["crc-mismatch", "garbage", "keep-alive", "extension", "frame"]
    assert "crc mismatch" in rows[0]["flags"][0]
    assert rows[1]["flags"] == ["invalid command"]
    # an answer whose payload was cut short (the CRC still matches): flagged, not a traceback
    assert rows[4]["flags"][0].startswith("bad payload")


def test_decode_bad_hex_is_a_clear_error() -> None:
    code, out, err = run("decode", "2b01zz")
    assert code == EXIT_BAD_INPUT
    assert out == ""
    assert err.strip() == "Error: not hexadecimal: 'z' at position 4"
    code, _, err = run("decode", "2b0")
    assert code == EXIT_BAD_INPUT and "odd number" in err


def test_registry_show() -> None:
    code, out, _ = run("registry", "show", "power_mng.soc_strategy")
    assert code == 0
    assert "name:          power_mng.soc_strategy" in out
    assert "      2  External" in out
    code, out, _ = run("registry", "show", "0x959930bf", "--json")
    assert json.loads(out)["name"] == "battery.soc"


def test_registry_unknown_name_suggests() -> None:
    code, out, err = run("registry", "show", "battery.sox")
    assert code == EXIT_NOT_FOUND and out == ""
    assert "did you mean" in err and "battery.soc" in err
    assert "Traceback" not in err


def test_registry_list_and_search() -> None:
    code, out, _ = run("registry", "list", "--csv")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "id,name,request_type,response_type,unit,description"
    assert len(lines) == 1 + 895
    code, out, _ = run("registry", "list", "--group", "fault", "--json")
    assert sorted(r["name"] for r in json.loads(out)) == [f"fault[{i}].flt" for i in range(4)]
    code, _, err = run("registry", "list", "--group", "nope")
    assert code == EXIT_NOT_FOUND and "known groups" in err
    code, out, _ = run("registry", "search", "fault[*].flt", "--json")
    assert len(json.loads(out)) == 4
    code, _, _ = run("registry", "search", "no-such-thing")
    assert code == EXIT_NOT_FOUND

"""The config: the default loads back, every mistake is one line naming the key, the docs show the default."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from rctclient.monitor.config import (
    DEFAULT_CONFIG,
    MonitorConfigError,
    default_config,
    influx_from_url,
    load_config,
    mqtt_from_url,
    parse_config,
    parse_listen,
)
from rctclient.monitor.plan import build_plan

ROOT = Path(__file__).resolve().parents[2]


def test_default_config_loads_back() -> None:
    config = default_config()
    assert config.devices[0].host == "192.168.0.10"
    assert config.poll.fast == 10.0 and config.poll.static == 3600.0
    assert config.prometheus.enabled and not config.mqtt.enabled and not config.influx.enabled
    # every key of every table is in the printed default (commented or not)
    for table in ("mqtt", "influx"):
        fields = type(getattr(config, table)).__dataclass_fields__
        for name in fields:
            assert f"{name} =" in DEFAULT_CONFIG, name


def test_docs_show_the_default_config() -> None:
    text = (ROOT / "docs" / "monitor.md").read_text(encoding="utf-8")
    start = text.index("<!-- config -->\n```toml\n") + len("<!-- config -->\n```toml\n")
    end = text.index("```\n<!-- /config -->")
    assert text[start:end] == DEFAULT_CONFIG, (
        "paste the output of rctclient monitor --print-config into docs/monitor.md"
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("", "config: device: at least one [[device]]"),
        ("[[device]]\nport = 1", "config: device[0].host: missing"),
        ("[[device]]\nhost = 'a'\nport = 70000", "config: device[0].port: expected an integer 1..65535, got 70000"),
        ("[[device]]\nhost = 'a'\nhots = 'b'", "config: unknown key 'device[0].hots'"),
        ("[[device]]\nhost = 'a'\n[mqtt]\nrefresh = 'x'", "config: mqtt.refresh: expected a number >= 1, got 'x'"),
        ("[[device]]\nhost = 'a'\n[mqtt]\ntopic = 'a/#'", "config: mqtt.topic: not a usable MQTT topic prefix"),
        ("[[device]]\nhost = 'a'\n[poll]\nfast = 0", "config: poll.fast: expected a number >= 1, got 0"),
        ("[[device]]\nhost = 'a'\n[poll]\nadd = { fast = ['nope*'] }", "config: poll.add.fast: 'nope*' matches no OID"),
        ("[[device]]\nhost = 'a'\n[poll]\nadd = { hourly = ['x'] }", "config: unknown key 'poll.add.hourly'"),
        ("[[device]]\nhost = 'a'\n[influx]\nbucket = 'b'", "config: influx.org: missing"),
        ("[[device]]\nhost = 'a'\n[influx]\nurl = 'ftp://x'", "config: influx.url: expected http://host:port"),
        ("[[device]]\nhost = 'a'\n[stdout]\nformat = 'csv'", "config: stdout.format:"),
        ("[[device]]\nhost = 'a'\n[log]\nlevel = 'loud'", "config: log.level:"),
        ("[[device]]\nhost = 'a'\n[[device]]\nhost = 'a'", "config: device[1].name: 'a:8899' is used twice"),
        ("[[device]]\nhost = 'a'\n[mqtt]\nenabled = 'yes'", "config: mqtt.enabled: expected true or false"),
        ("colour = 1", "config: unknown key 'colour'"),
    ],
)
def test_mistakes_are_one_line_naming_the_key(toml: str, message: str) -> None:
    with pytest.raises(MonitorConfigError) as info:
        config = parse_config(tomllib.loads(toml))
        build_plan(config.poll)  # the OID names are checked when the plan is made
    text = str(info.value)
    assert text.startswith(message), text
    assert "\n" not in text


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(MonitorConfigError, match=r"^config: cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[[device]\nhost=", encoding="utf-8")
    with pytest.raises(MonitorConfigError, match=r"not valid TOML"):
        load_config(bad)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(MonitorConfigError, match=r"not UTF-8"):
        load_config(binary)


def test_quick_start_urls() -> None:
    assert parse_listen("127.0.0.1:9831") == ("127.0.0.1", 9831)
    assert parse_listen(":9000") == ("127.0.0.1", 9000)
    assert parse_listen("9000") == ("127.0.0.1", 9000)
    with pytest.raises(MonitorConfigError, match="--prometheus"):
        parse_listen("host:port")
    assert mqtt_from_url("mqtts://u%40x:p@broker") == {
        "enabled": True, "host": "broker", "port": 8883, "tls": True, "username": "u@x", "password": "p",
    }  # fmt: skip
    with pytest.raises(MonitorConfigError, match="--mqtt"):
        mqtt_from_url("http://broker")
    assert influx_from_url("http://db:8086?db=rct") == {"enabled": True, "url": "http://db:8086", "database": "rct"}
    v2 = parse_config({"device": {"host": "a"}, "influx": influx_from_url("http://db:8086?org=o&bucket=b&token=t")})
    assert v2.influx.v2 and v2.influx.token == "t"
    with pytest.raises(MonitorConfigError, match="unknown parameter"):
        influx_from_url("http://db:8086?database=rct")


def test_docs_show_the_metrics_of_the_catalog() -> None:
    from rctclient.monitor.catalog import metrics_table

    text = (ROOT / "docs" / "monitor.md").read_text(encoding="utf-8")
    start = text.index("<!-- metrics -->\n") + len("<!-- metrics -->\n")
    assert text[start : text.index("<!-- /metrics -->")] == metrics_table()

"""The proxy's rules, scripted on the sans-I/O core with a fake clock and no sockets."""

from __future__ import annotations

import logging

import pytest

from rctclient.frame import make_bad_frame, make_frame
from rctclient.proxy import (
    ClientClosed,
    ClientConnected,
    ClientData,
    CloseClient,
    CloseUpstream,
    ConnectUpstream,
    ProxyConfig,
    SendToClient,
    SendUpstream,
    UpstreamData,
    UpstreamDown,
    UpstreamUp,
    WritePolicy,
)
from rctclient.types import Command

from ._playbook import Playbook, frames_of, oid, req, resp, sent_to, sent_up, write_req

SOC = "battery.soc"
GRID = "g_sync.p_ac_grid_sum_lp"
SOC_MIN = "power_mng.soc_min"
SERIAL = "battery.bms_sn"  # static: it never changes at run time
MINUTES_SOC = "logger.minutes_soc_log_ts"  # a time series: written timestamps are queries
NAMES = [
    "battery.soc",
    "g_sync.p_ac_grid_sum_lp",
    "g_sync.p_ac_load_sum_lp",
    "dc_conv.dc_conv_struct[0].p_dc",
    "dc_conv.dc_conv_struct[1].p_dc",
    "g_sync.p_acc_lp",
    "db.temp1",
    "db.temp2",
    "battery.voltage",
    "battery.current",
    "grid_mon[0].u_over.time",
    "g_sync.u_l_rms[0]",
]


@pytest.fixture
def pb() -> Playbook:
    book = Playbook()
    book.up()
    book.connect(1, 2)
    return book


def test_start_connects_first() -> None:
    book = Playbook()
    assert book.start() == [ConnectUpstream()]
    assert book(UpstreamUp()) == []


# -- rule 1: byte-exact answers --------------------------------------------------------------------


def test_answers_are_forwarded_byte_for_byte_even_when_split_and_noisy(pb: Playbook) -> None:
    # a payload with bytes that need escaping: what the inverter sent is passed on as it is
    answer = resp(SOC, b"+-\x2b\x2d")
    assert b"-+" in answer and b"--" in answer
    pb.read(1, SOC)
    wire = b"\x00\x00AT+\r" + answer
    out = pb(UpstreamData(wire[:7]))
    out += pb(UpstreamData(wire[7:12]))
    out += pb(UpstreamData(wire[12:]))
    assert out == [SendToClient(1, answer)]


def test_a_sender_that_does_not_escape_is_passed_on_unchanged(pb: Playbook) -> None:
    # the decoder accepts a frame whose '-' was not escaped (its CRC decides); the client gets those bytes
    frame = make_frame(Command.RESPONSE, oid(SOC), b"\x3f\x2d\x01\x02")
    raw = frame.replace(b"--", b"-")
    assert raw != frame and frames_of(raw)
    pb.read(1, SOC)
    assert pb(UpstreamData(raw)) == [SendToClient(1, raw)]


# -- rule 2: routing --------------------------------------------------------------------------------


def test_an_answer_goes_only_to_the_clients_that_asked(pb: Playbook) -> None:
    pb.connect(3)
    pb.read(1, SOC)
    pb.read(2, GRID)
    out = pb.answer(GRID, 100.0) + pb.answer(SOC, 0.5)
    assert out == [SendToClient(2, resp(GRID, 100.0)), SendToClient(1, resp(SOC, 0.5))]
    # a second answer for the same request (a late or duplicated one) goes to nobody
    assert pb.answer(SOC, 0.5) == []
    assert pb.core.stats.unrequested == 1


def test_foreign_traffic_is_counted_and_never_delivered(pb: Playbook) -> None:
    pb.read(1, SOC)
    foreign = [
        req(GRID),  # another app's READ echoed by the inverter
        write_req(SOC_MIN, 0.2),  # another app's WRITE
        b"AT+\r",
        b"\x00\x00\x00",
        make_bad_frame(Command.RESPONSE, oid(SOC), b"\x3f\x00\x00\x00", crc_xor=0x1234),
        make_bad_frame(Command.RESPONSE, oid(GRID), b"\x3f\x00\x00\x00", crc_xor=0x0001),
        b"\x00",
        resp("db.temp1", 30.0),  # an answer nobody asked for (another app's)
    ]
    out = pb(UpstreamData(b"".join(foreign)))
    assert out == []
    stats = pb.core.stats
    assert (stats.foreign_frames, stats.keepalives, stats.upstream_crc_errors) == (2, 1, 2)
    assert stats.upstream_garbage_bytes == 4
    assert stats.unrequested == 1
    # the real answer still arrives and goes where it belongs
    assert pb.answer(SOC, 0.5) == [SendToClient(1, resp(SOC, 0.5))]


def test_a_foreign_write_drops_the_cached_value(pb: Playbook) -> None:
    pb.read(1, SOC_MIN)
    pb.answer(SOC_MIN, 0.1)
    pb(UpstreamData(write_req(SOC_MIN, 0.3)))  # someone else writes it
    assert pb.read(2, SOC_MIN) == [SendUpstream(req(SOC_MIN))]


def test_plant_frames_are_keyed_by_address(pb: Playbook) -> None:
    a, b = 0x20000101, 0x20000102
    out = pb.read(1, SOC, a) + pb.read(2, SOC, b) + pb.read(2, SOC)
    assert sent_up(out) == req(SOC, a) + req(SOC, b) + req(SOC)
    assert pb.answer(SOC, 0.2, b) == [SendToClient(2, resp(SOC, 0.2, b))]
    assert pb.answer(SOC, 0.1, a) == [SendToClient(1, resp(SOC, 0.1, a))]
    assert pb.answer(SOC, 0.3) == [SendToClient(2, resp(SOC, 0.3))]


# -- rule 3: the cache ------------------------------------------------------------------------------


def test_cache_serves_within_max_age_then_asks_again(pb: Playbook) -> None:
    pb.read(1, SOC)
    pb.answer(SOC, 0.5)
    pb.advance(10.0)
    assert pb.read(2, SOC) == [SendToClient(2, resp(SOC, 0.5))]
    pb.advance(0.01)
    assert pb.read(2, SOC) == [SendUpstream(req(SOC))]


def test_static_values_are_kept_longer(pb: Playbook) -> None:
    pb.read(1, SERIAL)
    pb.answer(SERIAL, "BMS123")
    pb.advance(3000.0)
    assert pb.read(2, SERIAL) == [SendToClient(2, resp(SERIAL, "BMS123"))]
    pb.advance(601.0)
    assert pb.read(2, SERIAL) == [SendUpstream(req(SERIAL))]


def test_max_age_zero_disables_the_cache_but_not_coalescing() -> None:
    pb = Playbook(ProxyConfig(cache_max_age=0, static_max_age=0))
    pb.up()
    pb.connect(1, 2)
    assert pb.read(1, SOC) == [SendUpstream(req(SOC))]
    assert pb.read(2, SOC) == []
    assert len(pb.answer(SOC, 0.5)) == 2
    assert pb.read(1, SOC) == [SendUpstream(req(SOC))]


def test_a_truncated_answer_reaches_its_asker_but_is_never_kept(pb: Playbook) -> None:
    pb.read(1, SOC)
    cut = resp(SOC, b"\x3f\x00")  # a FLOAT cut to 2 bytes under a valid CRC
    assert pb(UpstreamData(cut)) == [SendToClient(1, cut)]
    assert pb.core.stats.truncated == 1
    assert pb.read(1, SOC) == [SendUpstream(req(SOC))]


def test_unrequested_answers_refresh_the_cache(pb: Playbook) -> None:
    pb.answer(GRID, -300.0)  # the vendor portal's poll, on the shared bus
    assert pb.read(1, GRID) == [SendToClient(1, resp(GRID, -300.0))]
    assert pb.core.stats.upstream_requests == 0


def test_the_cache_is_bounded() -> None:
    pb = Playbook(ProxyConfig(max_cache_entries=3))
    pb.up()
    for i, name in enumerate(NAMES[:5]):
        pb.answer(name, float(i))
    assert len(pb.core.cache) == 3


# -- rule 4: coalescing and pacing ------------------------------------------------------------------


def test_ten_clients_one_upstream_read_then_none() -> None:
    pb = Playbook()
    pb.up()
    clients = range(1, 11)
    pb.connect(*clients)
    out = []
    for c in clients:
        out += pb.read(c, SOC)
    assert out == [SendUpstream(req(SOC))]
    answered = pb.answer(SOC, 0.42)
    assert sorted(a.client for a in answered if isinstance(a, SendToClient)) == list(clients)
    pb.advance(1.0)
    again = [a for c in clients for a in pb.read(c, SOC)]
    assert not sent_up(again) and len(again) == 10
    assert pb.core.stats.upstream_requests == 1


def test_at_most_max_inflight_on_the_wire(pb: Playbook) -> None:
    out = []
    for name in NAMES:
        out += pb.read(1, name)
    assert len(frames_of(sent_up(out))) == 8
    assert pb.core.scheduler.inflight == 8
    out = pb.answer(NAMES[0], 1.0)
    assert sent_up(out) == req(NAMES[8])


def test_round_robin_one_pipelining_client_does_not_starve_another(pb: Playbook) -> None:
    for name in NAMES:
        pb.read(1, name)  # 8 go out, 4 wait in client 1's queue
    assert pb.read(2, "battery.soc_target") == []  # waits for a slot: one turn of client 1 at most
    assert sent_up(pb.answer(NAMES[0], 1.0)) == req(NAMES[8])
    assert sent_up(pb.answer(NAMES[1], 1.0)) == req("battery.soc_target")
    assert sent_up(pb.answer(NAMES[2], 1.0)) == req(NAMES[9])


def test_unanswered_read_is_sent_once_more_then_given_up_and_late_answer_still_kept(pb: Playbook) -> None:
    pb.read(1, SOC)
    assert pb.advance(1.99) == []
    assert pb.advance(0.02) == [SendUpstream(req(SOC))]
    assert pb.core.stats.resends == 1
    assert pb.advance(2.0) == []
    assert pb.core.stats.timeouts == 1
    assert pb.answer(SOC, 0.5) == []  # late: kept, counted, sent to nobody
    assert pb.core.stats.unrequested == 1
    assert pb.read(2, SOC) == [SendToClient(2, resp(SOC, 0.5))]


def test_a_late_answer_reaches_the_remaining_waiters(pb: Playbook) -> None:
    pb.read(1, SOC)
    pb.advance(2.0)  # re-sent
    pb.read(2, SOC)
    assert pb.answer(SOC, 0.5) == [SendToClient(1, resp(SOC, 0.5)), SendToClient(2, resp(SOC, 0.5))]


def test_a_clients_own_retry_is_sent_again_at_once(pb: Playbook) -> None:
    pb.read(1, SOC)
    pb.advance(0.1)
    assert pb.read(1, SOC) == []  # too soon to be a retry of a lost answer
    pb.advance(0.5)
    assert pb.read(1, SOC) == [SendUpstream(req(SOC))]
    assert pb.read(2, SOC) == []  # another client's READ joins without a re-send
    answered = pb.answer(SOC, 0.5)
    assert sent_to(answered, 1) == resp(SOC, 0.5) * 3
    assert sent_to(answered, 2) == resp(SOC, 0.5)


# -- rule 5: writes ---------------------------------------------------------------------------------


def test_two_writers_are_sequential_and_each_gets_its_answer(pb: Playbook) -> None:
    assert pb(ClientData(1, write_req(SOC_MIN, 0.2))) == [SendUpstream(write_req(SOC_MIN, 0.2))]
    assert pb(ClientData(2, write_req(SOC_MIN, 0.3))) == []
    out = pb.answer(SOC_MIN, 0.2)
    assert out == [SendToClient(1, resp(SOC_MIN, 0.2)), SendUpstream(write_req(SOC_MIN, 0.3))]
    assert pb.answer(SOC_MIN, 0.3) == [SendToClient(2, resp(SOC_MIN, 0.3))]
    assert pb.core.stats.writes_forwarded == 2


def test_a_read_during_a_write_waits_for_it_and_sees_the_written_value(pb: Playbook) -> None:
    pb.read(1, SOC_MIN)
    pb.answer(SOC_MIN, 0.1)  # cached
    pb(ClientData(1, write_req(SOC_MIN, 0.3)))
    assert pb.read(2, SOC_MIN) == []  # neither the stale cached value nor a READ on the wire
    out = pb.answer(SOC_MIN, 0.3)
    assert out == [SendToClient(1, resp(SOC_MIN, 0.3)), SendToClient(2, resp(SOC_MIN, 0.3))]
    assert pb.read(2, SOC_MIN) == [SendToClient(2, resp(SOC_MIN, 0.3))]


def test_a_write_waits_for_a_read_of_its_key_on_the_wire(pb: Playbook) -> None:
    pb.read(1, SOC_MIN)
    assert pb(ClientData(2, write_req(SOC_MIN, 0.3))) == []
    out = pb.answer(SOC_MIN, 0.1)
    assert out == [SendToClient(1, resp(SOC_MIN, 0.1)), SendUpstream(write_req(SOC_MIN, 0.3))]


def test_an_unanswered_write_frees_the_lane_after_the_timeout_and_is_never_resent(pb: Playbook) -> None:
    pb(ClientData(1, write_req(SOC_MIN, 0.2)))
    pb(ClientData(2, write_req(SOC_MIN, 0.3)))
    pb.read(2, SOC_MIN)
    out = pb.advance(2.0)
    # the first write is given up (not sent again); the second goes; the READ waits for that one
    assert sent_up(out) == write_req(SOC_MIN, 0.3)
    out = pb.advance(2.0)  # unanswered as well: the READ gets a READ of its own
    assert sent_up(out) == req(SOC_MIN)
    assert pb.answer(SOC_MIN, 0.3) == [SendToClient(2, resp(SOC_MIN, 0.3))]
    assert pb.core.stats.writes_forwarded == 2


def test_deny_sends_nothing_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    pb = Playbook(ProxyConfig(writes=WritePolicy("deny")))
    pb.up()
    pb.connect(1)
    with caplog.at_level(logging.INFO, "rctclient.proxy"):
        assert pb(ClientData(1, write_req(SOC_MIN, 0.2))) == []
    assert pb.core.stats.writes_denied == 1
    assert "client1: power_mng.soc_min = 0.2" in caplog.text and "denied" in caplog.text
    # history pages are asked for with a WRITE but change nothing: they still go
    query = make_frame(Command.WRITE, oid(MINUTES_SOC), b"\x66\x00\x00\x00")
    assert pb(ClientData(1, query)) == [SendUpstream(query)]


def test_allow_list(caplog: pytest.LogCaptureFixture) -> None:
    pb = Playbook(ProxyConfig(writes=WritePolicy.parse(f"allow:{SOC_MIN}")))
    pb.up()
    pb.connect(1)
    assert pb(ClientData(1, write_req("power_mng.soc_max", 0.9))) == []
    with caplog.at_level(logging.INFO, "rctclient.proxy"):
        assert pb(ClientData(1, write_req(SOC_MIN, 0.2))) == [SendUpstream(write_req(SOC_MIN, 0.2))]
    assert "client1: power_mng.soc_min = 0.2 forwarded" in caplog.text


def test_a_write_whose_payload_does_not_fit_is_not_forwarded(pb: Playbook) -> None:
    bad = make_frame(Command.WRITE, oid(SOC_MIN), b"\x01\x02")
    assert pb(ClientData(1, bad)) == []
    assert pb.core.stats.writes_denied == 1


def test_queries_are_routed_by_their_timestamp(pb: Playbook) -> None:
    q1 = make_frame(Command.WRITE, oid(MINUTES_SOC), b"\x66\x00\x00\x00")
    q2 = make_frame(Command.WRITE, oid(MINUTES_SOC), b"\x65\x00\x00\x00")
    assert pb(ClientData(1, q1)) == [SendUpstream(q1)]
    assert pb(ClientData(2, q2)) == []  # one at a time
    assert pb(ClientData(2, q1)) == []  # the same query: joins
    stale = resp(MINUTES_SOC, b"\x64\x00\x00\x00")  # an answer to an older query
    assert pb(UpstreamData(stale)) == []
    page1 = resp(MINUTES_SOC, b"\x66\x00\x00\x00" + b"\x65\xff\xff\x00\x3f\x00\x00\x00")
    out = pb(UpstreamData(page1))
    assert out == [SendToClient(1, page1), SendToClient(2, page1), SendUpstream(q2)]
    page2 = resp(MINUTES_SOC, b"\x65\x00\x00\x00")
    assert pb(UpstreamData(page2)) == [SendToClient(2, page2)]
    assert len(pb.core.cache) == 0


# -- rule 6: other commands -------------------------------------------------------------------------


def test_periodic_reads_responses_and_extensions_from_clients_are_not_forwarded(pb: Playbook) -> None:
    data = (
        make_frame(Command.READ_PERIODICALLY, oid(SOC))
        + b"+<\xe1"
        + resp(SOC, 0.9)
        + b"AT+\r"
        + req(GRID)  # the app's session goes on
    )
    assert pb(ClientData(1, data)) == [SendUpstream(req(GRID))]
    assert pb.core.stats.client_dropped == 3


def test_empty_data_changes_nothing(pb: Playbook) -> None:
    assert pb(ClientData(1, b"")) == [] and pb(UpstreamData(b"")) == []
    assert pb.read(1, SOC) == [SendUpstream(req(SOC))]
    assert pb.answer(SOC, 0.5) == [SendToClient(1, resp(SOC, 0.5))]


def test_garbage_from_a_client_never_reaches_the_inverter(pb: Playbook) -> None:
    junk = b"+x" * 100 + b"\x00" * 50 + make_bad_frame(Command.WRITE, oid(SOC_MIN), b"\x00\x00\x00\x00", crc_xor=7)
    assert pb(ClientData(1, junk)) == []
    assert pb.core.stats.client_crc_errors == 1
    assert pb.core.stats.client_garbage_bytes >= 250
    assert pb.read(1, SOC) == [SendUpstream(req(SOC))]


# -- rule 7: upstream loss --------------------------------------------------------------------------


def test_upstream_loss_keeps_clients_serves_cache_and_resends_reads_not_writes(
    pb: Playbook, caplog: pytest.LogCaptureFixture
) -> None:
    pb.read(1, SOC)
    pb.answer(SOC, 0.5)
    pb.read(1, GRID)
    pb(ClientData(2, write_req(SOC_MIN, 0.2)))
    with caplog.at_level(logging.INFO, "rctclient.proxy"):
        out = pb(UpstreamDown("connection reset"))
    assert not any(isinstance(a, CloseClient) for a in out)
    assert out == [ConnectUpstream()]  # it was a good connection: try again at once
    assert pb.read(2, SOC) == [SendToClient(2, resp(SOC, 0.5))]  # from the cache
    assert pb(UpstreamDown("connection refused")) == []
    assert pb.advance(0.5) == []
    assert pb.advance(1.0) == [ConnectUpstream()]  # after about a second
    assert pb(UpstreamUp()) == [SendUpstream(req(GRID))]  # the READ with a waiter; the write is never re-sent
    assert pb.answer(GRID, 5.0) == [SendToClient(1, resp(GRID, 5.0))]
    assert pb.core.stats.writes_forwarded == 1
    assert [r.levelname for r in caplog.records if r.levelno >= logging.WARNING] == ["WARNING"]


def test_reconnect_backoff_doubles_to_a_minute_with_one_warning(caplog: pytest.LogCaptureFixture) -> None:
    pb = Playbook()
    pb.start()
    delays = []
    with caplog.at_level(logging.INFO, "rctclient.proxy"):
        for _ in range(10):
            assert pb(UpstreamDown("connection refused")) == []
            started = pb.now
            while True:
                if pb.advance(0.05) == [ConnectUpstream()]:
                    break
            delays.append(pb.now - started)
        assert pb(UpstreamUp()) == []
        pb.connect(1)
        pb.read(1, SOC)
        pb.answer(SOC, 0.5)
    expected = [1, 2, 4, 8, 16, 32, 60, 60, 60, 60]
    for got, want in zip(delays, expected, strict=True):
        assert want * 0.85 <= got <= want * 1.15
    records = [r for r in caplog.records if r.name == "rctclient.proxy"]
    assert [r.levelname for r in records] == ["WARNING", "INFO"]
    assert "cannot connect to inverter" in records[0].message
    assert "answers again" in records[1].message
    assert pb.core.stats.upstream_failures == 10


def test_reads_wait_while_the_inverter_is_away_until_their_timeout() -> None:
    pb = Playbook()
    pb.start()
    pb(UpstreamDown("refused"))  # the proxy starts while the inverter is off
    pb.connect(1)
    assert pb.read(1, SOC) == []
    pb.advance(4.0)
    assert pb.core.stats.timeouts == 1
    pb.read(1, SOC)
    pb.advance(1.0)  # the reconnect is due
    assert sent_up(pb(UpstreamUp())) == req(SOC)  # served as soon as it appears


def test_silence_with_requests_outstanding_is_a_dead_connection(pb: Playbook) -> None:
    pb.read(1, SOC)
    pb.advance(59.0)
    assert pb.core.upstream_up
    out = pb.advance(1.0)
    assert isinstance(out[0], CloseUpstream) and ConnectUpstream() not in out
    assert not pb.core.upstream_up
    # no requests outstanding: silence is fine
    book = Playbook()
    book.up()
    assert book.advance(600.0) == []
    assert book.core.upstream_up


# -- rule 8: slow and hostile clients ---------------------------------------------------------------


def test_a_client_past_its_request_cap_is_closed_alone() -> None:
    pb = Playbook(ProxyConfig(max_client_requests=5))
    pb.up()
    pb.connect(1, 2)
    burst = b"".join(req(name) for name in NAMES[:7])
    out = pb(ClientData(1, burst))
    # closed before its requests went out: they never do
    assert out == [CloseClient(1, "more than 5 requests outstanding")]
    assert pb.core.clients == 1
    assert pb.read(2, NAMES[0]) == [SendUpstream(req(NAMES[0]))]
    assert pb.answer(NAMES[0], 1.0) == [SendToClient(2, resp(NAMES[0], 1.0))]


def test_too_many_clients_are_refused() -> None:
    pb = Playbook(max_clients=2)
    pb.up()
    pb.connect(1, 2)
    assert pb(ClientConnected(3, "client3")) == [CloseClient(3, "too many clients")]
    assert pb.core.stats.clients_rejected == 1


def test_a_disconnect_purges_the_client_at_once(pb: Playbook) -> None:
    for name in NAMES:
        pb.read(1, name)
    pb.read(2, NAMES[10])  # joins client 1's queued READ
    pb(ClientData(1, write_req(SOC_MIN, 0.2)))
    pb(ClientData(1, write_req(SOC_MIN, 0.3)))  # queued behind the first: dropped with its client
    pb(ClientClosed(1))
    sched = pb.core.scheduler
    assert list(sched.reads) == [oid(n) for n in NAMES[:8]] + [oid(NAMES[10])]
    assert sched.queued == 1 and sched.inflight == 8
    # the answers of client 1's requests go to nobody; client 2's READ goes out in its turn
    out = pb.answer(NAMES[0], 1.0)
    assert sent_up(out) == req(NAMES[10])
    out = pb.answer(NAMES[10], 3.0)
    assert out == [SendToClient(2, resp(NAMES[10], 3.0))]


def test_churn_leaves_no_state_behind(pb: Playbook) -> None:
    for c in range(10, 60):
        pb(ClientConnected(c, f"client{c}"))
        pb(ClientData(c, b"".join(req(n) for n in NAMES) + write_req(SOC_MIN, 0.1) + b"+garbage"))
        pb(ClientClosed(c))
    pb.advance(10.0)
    sizes = pb.core.scheduler.sizes()
    assert sizes == dict.fromkeys(sizes, 0) | {"clients": 2}

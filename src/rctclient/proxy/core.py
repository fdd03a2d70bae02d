"""The proxy's sans-I/O core: one connection to the inverter shared by any number of clients.

:class:`ProxyCore` is fed events (:mod:`rctclient.proxy.events`) with the time they happened and
returns the actions to carry out. It never blocks and does no I/O, so every rule below is tested
with a fake clock and no sockets.

* Clients only ever receive byte-exact frames that the inverter sent (live or from the cache): the
  upstream stream is decoded with :class:`~rctclient.frame.FrameDecoder` and each answer is sliced
  out of a copy of the stream by its ``offset`` and ``size``.
* An answer for key K (object ID, and plant address for PLANT frames) goes only to clients waiting
  for K, once per request. Answers nobody waits for refresh the cache and are counted. Requests of
  other apps echoed by the inverter, keep-alives, noise and frames with a bad CRC are counted and
  skipped.
* READs are answered from the cache while young enough, join a READ of the same key that is
  already waiting (coalescing), or wait in their client's queue; queues are drained round-robin
  with at most ``max_inflight`` requests on the wire. A READ unanswered after ``request_timeout``
  is sent once more; after another ``request_timeout`` its clients are given up.
* WRITEs go one at a time, first come first served; the key's cached value is dropped and READs of
  the key wait for the WRITE's answer. The proxy never sends a WRITE again on its own.
* READ_PERIODICALLY (it would change the device for every app), RESPONSE frames from clients and
  the vendor app's EXTENSION are not forwarded.
* The connection to the inverter is re-made with an exponential backoff (1 s to 60 s, jittered);
  an outage is logged once. READs on the wire when it was lost are sent again, WRITEs never.
"""

from __future__ import annotations

import logging
import math
import random
from typing import Final

from ..describe import describe_event, format_value
from ..frame import CRCMismatch, Extension, Frame, FrameDecoder, KeepAlive, command_for, make_frame
from ..protocol import ReconnectPolicy
from ..registry import REGISTRY, Registry
from ..types import Command
from ..utils import decode_lossless
from .cache import AnswerCache, oid_facts, request_key
from .config import ProxyConfig
from .events import (
    Action,
    ClientClosed,
    ClientConnected,
    ClientData,
    CloseClient,
    CloseUpstream,
    ConnectUpstream,
    Event,
    SendToClient,
    SendUpstream,
    Timer,
    UpstreamData,
    UpstreamDown,
    UpstreamUp,
    Wakeup,
)
from .scheduler import INFLIGHT, QUERY, READ, WRITE, Client, Entry, Scheduler
from .stats import ProxyStats

__all__ = ["ProxyCore"]

log = logging.getLogger("rctclient.proxy")
#: One line per client request and per answer of the inverter (``rctclient proxy -v``).
traffic = logging.getLogger("rctclient.proxy.traffic")

_READ: Final = Command.READ
_PLANT_READ: Final = Command.PLANT_READ
_RESPONSES: Final = frozenset(
    {Command.RESPONSE, Command.LONG_RESPONSE, Command.PLANT_RESPONSE, Command.PLANT_LONG_RESPONSE}
)
_WRITES: Final = frozenset({Command.WRITE, Command.LONG_WRITE, Command.PLANT_WRITE, Command.PLANT_LONG_WRITE})
#: Distinct request segments remembered with their decoded frame (clients poll the same few).
_MAX_KNOWN_REQUESTS: Final = 4096
#: A client asking again for what it already waits for (its own retry) makes the proxy send it
#: again, but not sooner than this part of ``request_timeout`` after the last send.
_RETRY_FRACTION: Final = 0.25
#: The most rejected connections logged per minute (the rest are counted).
_REJECT_LOG_INTERVAL: Final = 60.0


class ProxyCore:
    """Events in, actions out. Times are seconds on one monotonic clock of the driver's.

    Call :meth:`start` once, then :meth:`handle` for every event; carry out the returned actions
    in order. ``stats`` counts what happened; ``cache`` and ``scheduler`` are exposed for tests.

    :param config: limits, ages and the write policy.
    :param upstream: how the inverter is named in the logs.
    :param rng: the random source of the reconnect jitter (seed it in tests).
    """

    def __init__(
        self,
        config: ProxyConfig | None = None,
        *,
        upstream: str = "inverter",
        max_clients: int = 64,
        registry: Registry = REGISTRY,
        rng: random.Random | None = None,
    ) -> None:
        config = config if config is not None else ProxyConfig()
        self.config = config
        self.upstream = upstream
        self.max_clients = max_clients
        self.stats = ProxyStats()
        self.cache = AnswerCache(config.cache_max_age, config.static_max_age, config.max_cache_entries, registry)
        self.scheduler = Scheduler(config.max_inflight, config.request_timeout)
        self._registry = registry
        self._facts = oid_facts(registry)
        self._timeout = config.request_timeout
        self._policy = config.writes
        self._max_requests = config.max_client_requests
        self._reconnect = ReconnectPolicy(
            initial=config.reconnect_initial, maximum=config.reconnect_max, rng=rng or random.Random()
        )
        # the connection to the inverter
        self._started = False
        self._up = False
        self._connecting = False
        self._connections = 0
        self._reconnect_at: float | None = None
        self._decoder: FrameDecoder | None = None
        self._stream = b""  # the bytes of the upstream stream from offset _base on, not decoded yet or being decoded
        self._base = 0
        self._garbage_seen = 0
        self._useful = False  # a valid frame arrived on this connection
        # when the first request was sent since the last byte arrived (the dead connection check)
        self._unanswered_since: float | None = None
        self._outage_since: float | None = None
        self._attempts = 0
        self._last_reject_log = -_REJECT_LOG_INTERVAL
        # what one handle() call produces
        self._out: list[Action] = []
        self._client_out: dict[int, list[bytes]] = {}
        self._up_out: list[bytes] = []
        self._wakeup: float | None = None
        self._known: dict[bytes, Frame] = {}
        self._handlers = {
            ClientData: self._on_client_data,
            UpstreamData: self._on_upstream_data,
            Timer: self._on_timer,
            ClientConnected: self._on_client_connected,
            ClientClosed: self._on_client_closed,
            UpstreamUp: self._on_upstream_up,
            UpstreamDown: self._on_upstream_down,
        }

    # -- the driver's interface -------------------------------------------------------------------

    @property
    def upstream_up(self) -> bool:
        return self._up

    @property
    def clients(self) -> int:
        return len(self.scheduler.clients)

    def start(self, now: float) -> list[Action]:
        """Begin: the first action connects to the inverter."""
        if not self._started:
            self._started = True
            self._connect(now)
        return self._flush()

    def handle(self, event: Event, now: float) -> list[Action]:
        """Process one event that happened at ``now``; returns what to do, in order."""
        self._handlers[type(event)](event, now)  # type: ignore[operator]  # each handler takes its own event type
        return self._flush()

    def _flush(self) -> list[Action]:
        out: list[Action] = []
        if self._client_out:
            for client_id, parts in self._client_out.items():
                out.append(SendToClient(client_id, b"".join(parts) if len(parts) > 1 else parts[0]))
            self._client_out = {}
        if self._out:
            out.extend(self._out)
            self._out = []
        if self._up_out:
            up = self._up_out
            out.append(SendUpstream(b"".join(up) if len(up) > 1 else up[0]))
            self._up_out = []
        # A later time than the one announced needs no new wakeup: the announced one comes first,
        # finds nothing due and announces the next (one spurious timer instead of a reschedule per answer).
        at = self._next_wakeup()
        if at is not None and (self._wakeup is None or at < self._wakeup):
            self._wakeup = at
            out.append(Wakeup(at))
        return out

    def _next_wakeup(self) -> float | None:
        at = self.scheduler.next_due()
        other = self._reconnect_at
        if other is None and self._up and self._unanswered_since is not None:
            other = self._unanswered_since + self.config.dead_after
        if other is not None and (at is None or other < at):
            return other
        return at

    # -- clients ----------------------------------------------------------------------------------

    def _on_client_connected(self, event: ClientConnected, now: float) -> None:
        sched = self.scheduler
        if len(sched.clients) >= self.max_clients:
            self.stats.clients_rejected += 1
            self._out.append(CloseClient(event.client, "too many clients"))
            if now - self._last_reject_log >= _REJECT_LOG_INTERVAL:
                self._last_reject_log = now
                log.warning("%s refused: already %d clients (--max-clients)", event.peer, len(sched.clients))
            return
        sched.add_client(event.client, event.peer, FrameDecoder(max_payload=self.config.max_request_payload))
        if traffic.isEnabledFor(logging.INFO):
            traffic.info("%s connected (%d clients)", event.peer, len(sched.clients))

    def _on_client_closed(self, event: ClientClosed, now: float) -> None:
        client = self.scheduler.clients.get(event.client)
        if client is None:
            return
        if event.reason != "closed":
            self.stats.clients_closed += 1
            log.warning("%s closed: %s", client.peer, event.reason)
        elif traffic.isEnabledFor(logging.INFO):
            traffic.info("%s disconnected", client.peer)
        self._forget(client, now)

    def _close(self, client: Client, reason: str, now: float) -> None:
        """Close a client for exceeding a limit: it alone."""
        self.stats.clients_closed += 1
        log.warning("%s closed: %s", client.peer, reason)
        self._out.append(CloseClient(client.id, reason))
        self._forget(client, now)

    def _forget(self, client: Client, now: float) -> None:
        self._client_out.pop(client.id, None)
        self._count_garbage(client)
        for entry in self.scheduler.remove_client(client.id):
            followers = self.scheduler.finish(entry)
            if entry.kind == WRITE and log.isEnabledFor(logging.INFO):
                log.info("write from %s: %s not forwarded: the client left before its turn", client.peer, entry.note)
            self._requeue(entry, followers, now)

    def _count_garbage(self, client: Client) -> None:
        garbage = client.decoder.stats.garbage_bytes
        self.stats.client_garbage_bytes += garbage - client.garbage_seen
        client.garbage_seen = garbage

    def _on_client_data(self, event: ClientData, now: float) -> None:
        client = self.scheduler.clients.get(event.client)
        data = event.data
        if client is None or not data:  # (empty bytes would tell the decoder that the stream ended)
            return
        decoder = client.decoder
        # A segment that is exactly one request seen before (a client polling) skips the decoder;
        # it is idle then, so nothing it holds is passed over.
        frame = self._known.get(data)
        if frame is not None and not decoder.buffered:
            self._request(client, frame, now)
        else:
            idle = not decoder.buffered
            decoder.feed(data)
            first = True
            for ev in decoder.events():
                if type(ev) is Frame:
                    if first and idle and not decoder.buffered and ev.size == len(data):
                        if len(self._known) >= _MAX_KNOWN_REQUESTS:
                            self._known.clear()
                        self._known[bytes(data)] = ev
                    if not self._request(client, ev, now):
                        return  # closed
                elif isinstance(ev, CRCMismatch):
                    self.stats.client_crc_errors += 1
                elif isinstance(ev, Extension):
                    self.stats.client_dropped += 1  # the vendor app's: consumed, its session goes on
                elif isinstance(ev, KeepAlive):
                    self.stats.keepalives += 1
                first = False
            self._count_garbage(client)
        self._pump(now)

    def _request(self, client: Client, frame: Frame, now: float) -> bool:
        """One request of a client; False if the client was closed for it."""
        if client.outstanding >= self._max_requests:
            self._close(client, f"more than {self._max_requests} requests outstanding", now)
            return False
        command = frame.command
        if command is _READ or command is _PLANT_READ:
            self._read(client, frame, now)
        elif command in _WRITES:
            self._write(client, frame, now)
        else:
            self.stats.client_dropped += 1
            if traffic.isEnabledFor(logging.INFO):
                self._log_request(client, frame, "not forwarded")
        return True

    def _read(self, client: Client, frame: Frame, now: float) -> None:
        stats = self.stats
        stats.reads += 1
        oid = frame.id
        address = frame.address if frame.command is _PLANT_READ else None
        key = request_key(oid, address)
        sched = self.scheduler
        facts = self._facts.get(oid)
        if facts is not None and facts.query:
            # a time series or the event table: its answers are told apart in the lane only
            request = make_frame(frame.command, oid, b"", frame.address)
            self._lane(client, QUERY, key, address, frame, request, None, now)
            return
        write = sched.lane_last.get(key)
        if write is not None:
            stats.coalesced += 1
            sched.follow(write, client)
            if traffic.isEnabledFor(logging.INFO):
                self._log_request(client, frame, "waits for the write")
            return
        hit = self.cache.lookup(key, oid, now)
        if hit is not None:
            stats.cache_hits += 1
            stats.answers += 1
            out = self._client_out.get(client.id)
            if out is None:
                self._client_out[client.id] = [hit[0]]
            else:
                out.append(hit[0])
            if traffic.isEnabledFor(logging.INFO):
                self._log_request(client, frame, f"from the cache ({hit[1]:.1f} s old)")
            return
        entry = sched.reads.get(key)
        if entry is None:
            request = make_frame(frame.command, oid, b"", frame.address)
            sched.submit_read(key, oid, address, request, client, now)
            if traffic.isEnabledFor(logging.INFO):
                self._log_request(client, frame, "to the inverter")
            return
        stats.coalesced += 1
        self._join(entry, client, now)
        if traffic.isEnabledFor(logging.INFO):
            self._log_request(client, frame, "joins a waiting request")

    def _join(self, entry: Entry, client: Client, now: float) -> None:
        """``client`` waits for ``entry`` too; if it waited for it already, this is its retry: send again."""
        retry = entry in client.entries
        self.scheduler.join(entry, client)
        if (
            retry
            and entry.state == INFLIGHT
            and self._up
            and (entry.kind != READ or entry.sends < 2)
            and now - entry.sent_at >= _RETRY_FRACTION * self._timeout
        ):
            self._resend(entry, now)

    def _resend(self, entry: Entry, now: float) -> None:
        self.scheduler.resend(entry, now)
        if self._unanswered_since is None:
            self._unanswered_since = now
        self._up_out.append(entry.frame)
        self.stats.upstream_requests += 1
        self.stats.resends += 1

    def _write(self, client: Client, frame: Frame, now: float) -> None:
        stats = self.stats
        oid = frame.id
        plant = Command.is_plant(frame.command)
        address = frame.address if plant else None
        key = request_key(oid, address)
        payload = frame.data
        request = make_frame(command_for("write", len(payload), plant=plant), oid, payload, frame.address)
        facts = self._facts.get(oid)
        if facts is not None and facts.query:
            stats.queries += 1
            self._lane(client, QUERY, key, address, frame, request, payload[:4], now)
            return
        stats.writes += 1
        note = self._describe_write(frame)
        refusal = self._refusal(frame)
        if refusal is None and len(self.scheduler.lane) >= self.config.max_queued_writes:
            refusal = f"{len(self.scheduler.lane)} writes wait already"
        if refusal is not None:
            stats.writes_denied += 1
            log.warning("write from %s: %s denied (%s)", client.peer, note, refusal)
            return
        entry = self._lane(client, WRITE, key, address, frame, request, None, now)
        if entry is not None:
            entry.note = note
            self.cache.drop(key)

    def _refusal(self, frame: Frame) -> str | None:
        """Why a WRITE is not forwarded, or None."""
        if not self._policy.permits(frame.id):
            return f"--writes {self._policy}"
        info = self._registry.get_by_id(frame.id) if frame.id in self._registry else None
        if info is not None:
            try:
                decode_lossless(info.request_data_type, frame.data)
            except ValueError:  # PayloadDecodeError
                return f"the payload does not fit {info.request_data_type.name}"
        return None

    def _lane(
        self,
        client: Client,
        kind: int,
        key: int,
        address: int | None,
        frame: Frame,
        request: bytes,
        stamp: bytes | None,
        now: float,
    ) -> Entry | None:
        """Queue a WRITE or a query in the lane, or join the same one (a query, or the client's own retry)."""
        sched = self.scheduler
        for entry in (sched.lane_inflight, sched.lane_last.get(key)):
            same = entry is not None and entry.key == key and entry.frame == request
            if same and entry is not None and (kind == QUERY or entry in client.entries):
                self.stats.coalesced += 1
                self._join(entry, client, now)
                if traffic.isEnabledFor(logging.INFO):
                    self._log_request(client, frame, "joins the same request")
                return None
        entry = sched.submit_lane(kind, key, frame.id, address, request, client, now, stamp)
        if traffic.isEnabledFor(logging.INFO):
            self._log_request(client, frame, "to the inverter")
        return entry

    # -- sending ----------------------------------------------------------------------------------

    def _pump(self, now: float) -> None:
        """Send what may be sent."""
        sched = self.scheduler
        if not self._up or not (sched.ring or sched.lane or sched.resume):
            return
        entries = sched.take(now)
        if not entries:
            return
        if self._unanswered_since is None:
            self._unanswered_since = now
        stats = self.stats
        for entry in entries:
            self._up_out.append(entry.frame)
            stats.upstream_requests += 1
            if entry.kind == WRITE:
                stats.writes_forwarded += 1
                if log.isEnabledFor(logging.INFO):
                    log.info("write from %s: %s forwarded", self._peer_of(entry), entry.note)

    def _peer_of(self, entry: Entry) -> str:
        clients = self.scheduler.clients
        return ", ".join(clients[c].peer for c in entry.waiters if c in clients) or "a client that left"

    # -- the inverter's answers -------------------------------------------------------------------

    def _on_upstream_data(self, event: UpstreamData, now: float) -> None:
        decoder = self._decoder
        data = event.data
        if decoder is None or not data:
            return  # late bytes of a connection that was given up
        self._unanswered_since = None
        stream = self._stream + data if self._stream else data
        decoder.feed(data)
        stats = self.stats
        base = self._base
        for ev in decoder.events():
            if type(ev) is Frame:
                command = ev.command
                if command in _RESPONSES:
                    start = ev.offset - base
                    self._answer(ev, stream[start : start + ev.size], now)
                else:
                    stats.foreign_frames += 1
                    if command in _WRITES:  # another app writes it: the kept value is stale
                        self.cache.drop(request_key(ev.id, ev.address if Command.is_plant(command) else None))
            elif isinstance(ev, CRCMismatch):
                stats.upstream_crc_errors += 1
            elif isinstance(ev, KeepAlive):
                stats.keepalives += 1
            elif isinstance(ev, Extension):
                stats.foreign_frames += 1
        garbage = decoder.stats.garbage_bytes
        stats.upstream_garbage_bytes += garbage - self._garbage_seen
        self._garbage_seen = garbage
        # keep only the bytes the decoder has not decoded yet: later frames start there
        keep = decoder.buffered
        end = base + len(stream)
        if keep:
            self._stream = stream[len(stream) - keep :] if keep < len(stream) else stream
            self._base = end - len(self._stream)
        else:
            self._stream = b""
            self._base = end
        self._pump(now)

    def _answer(self, frame: Frame, raw: bytes, now: float) -> None:
        if not self._useful:
            self._useful = True
            self._back(now)
        oid = frame.id
        address = frame.address if Command.is_plant(frame.command) else None
        key = request_key(oid, address)
        payload = frame.data
        sched = self.scheduler
        stats = self.stats
        fits = self.cache.fits(oid, payload)
        if not fits:
            stats.truncated += 1
        entry = sched.lane_inflight
        if entry is None or entry.key != key or not _same_stamp(entry.stamp, payload):
            entry = sched.reads.get(key)
        if entry is not None:
            if entry.state == INFLIGHT:
                stats.latency.observe(now - entry.sent_at)
            answered = sched.finish(entry)
            self._deliver(answered, raw)
        else:
            answered = []
            stats.unrequested += 1
        kept = fits and key not in sched.lane_pending and self.cache.store(key, oid, raw, payload, now)
        if traffic.isEnabledFor(logging.INFO):
            self._log_answer(frame, answered, kept)

    def _deliver(self, clients: list[int], raw: bytes) -> None:
        out = self._client_out
        for client_id in clients:
            parts = out.get(client_id)
            if parts is None:
                out[client_id] = [raw]
            else:
                parts.append(raw)
        self.stats.answers += len(clients)

    # -- timers -----------------------------------------------------------------------------------

    def _on_timer(self, event: Timer, now: float) -> None:
        self._wakeup = None
        sched = self.scheduler
        for entry in sched.due(now):
            if entry.state != INFLIGHT:
                self._expire(entry, now)  # waited too long for its turn
            elif not entry.waiters and not entry.followers:
                sched.finish(entry)  # everyone who asked has left
            elif entry.kind != WRITE and entry.sends < 2 and self._up:
                self._resend(entry, now)
            else:
                self._expire(entry, now)
        if self._reconnect_at is not None and now >= self._reconnect_at:
            self._connect(now)
        since = self._unanswered_since
        if self._up and since is not None and now >= since + self.config.dead_after:  # the wakeup's own sum
            reason = f"no byte for {self.config.dead_after:g} s while requests were waiting"
            self._out.append(CloseUpstream(reason))
            self._down(reason, now)
        self._pump(now)

    def _expire(self, entry: Entry, now: float) -> None:
        """Give up an entry: its clients get no answer (they time out themselves); a WRITE's followers get a READ."""
        followers = entry.followers
        answered = self.scheduler.finish(entry)
        self.stats.timeouts += len(answered) - len(followers)
        if entry.kind == WRITE:
            self.cache.drop(entry.key)  # written or not: nobody knows
            if log.isEnabledFor(logging.INFO):
                what = "not answered in time" if entry.sends else "not forwarded: the inverter was not reachable"
                log.info("write from %s: %s %s", self._peer_of(entry), entry.note, what)
        if traffic.isEnabledFor(logging.INFO):
            traffic.info("%s: %d client request(s) timed out", self._entry_name(entry), len(answered) - len(followers))
        self._requeue(entry, followers, now)

    def _requeue(self, entry: Entry, followers: list[int], now: float) -> None:
        """READs that waited for a WRITE that was not answered (or not sent): they need a READ of their own."""
        clients = self.scheduler.clients
        followers = [c for c in followers if c in clients]
        if not followers:
            return
        command = command_for("read", plant=entry.address is not None)
        request = make_frame(command, entry.object_id, b"", entry.address or 0)
        read = self.scheduler.park(entry.key, entry.object_id, entry.address, request, now)
        for client_id in followers:
            self.scheduler.join(read, clients[client_id])

    # -- the connection to the inverter -----------------------------------------------------------

    def _connect(self, now: float) -> None:
        self._reconnect_at = None
        self._connecting = True
        self._attempts += 1
        self._out.append(ConnectUpstream())

    def _on_upstream_up(self, event: UpstreamUp, now: float) -> None:
        if not self._connecting:
            return
        self._connecting = False
        self._up = True
        if self._connections:
            self.stats.reconnects += 1
        self._connections += 1
        self._reconnect.succeeded()
        self._decoder = FrameDecoder()
        self._stream = b""
        self._base = 0
        self._garbage_seen = 0
        self._useful = False
        self._unanswered_since = None
        log.debug("connected to %s", self.upstream)
        self._pump(now)

    def _on_upstream_down(self, event: UpstreamDown, now: float) -> None:
        if self._up or self._connecting:
            self._down(event.reason, now)

    def _down(self, reason: str, now: float) -> None:
        was_up = self._up
        self._up = False
        self._connecting = False
        self._decoder = None
        self._stream = b""
        self.stats.upstream_failures += 1
        delay = self._reconnect.lost(now, useful=self._useful) if was_up else self._reconnect.failed(now)
        if self._outage_since is None:  # one warning per outage: until a connection carries a frame again
            self._outage_since = now
            self._attempts = 0
            log.warning(
                "%s %s: %s; cached values are served, connecting again every %g..%g s",
                "lost the connection to" if was_up else "cannot connect to",
                self.upstream,
                reason,
                self.config.reconnect_initial,
                self.config.reconnect_max,
            )
        else:
            log.debug("%s: %s (attempt %d)", self.upstream, reason, self._attempts)
        self._useful = False
        sched = self.scheduler
        write = sched.park_inflight()
        if write is not None:  # never sent again: its clients time out, its followers get a READ
            self._expire(write, now)
        if delay <= 0:
            self._connect(now)
        else:
            self._reconnect_at = now + delay

    def _back(self, now: float) -> None:
        """The first valid frame on a connection: the outage (if any) is over."""
        if self._outage_since is not None:
            log.info(
                "%s answers again after %.0f s (%d connection attempts)",
                self.upstream,
                now - self._outage_since,
                self._attempts,
            )
            self._outage_since = None
            self._attempts = 0

    # -- logs -------------------------------------------------------------------------------------

    def _describe(self, frame: Frame) -> tuple[str, str]:
        """The OID name (with the plant address) and the value of a frame, for a log line."""
        d = describe_event(frame, self._registry)
        name = d.name or f"0x{frame.id:08X}"
        if d.address is not None:
            name += f" @0x{d.address:08X}"
        text = d.text
        if isinstance(d.value, float) and math.isfinite(d.value):
            # a FLOAT carries 7 significant digits: 0.2, not 0.20000000298023224
            text = format_value(float(f"{d.value:.7g}"), self._registry.get_by_id(frame.id))
        if "bad payload" in " ".join(d.flags):
            text += " [does not fit its type]"
        return name, text

    def _describe_write(self, frame: Frame) -> str:
        name, text = self._describe(frame)
        return f"{name} = {text or '0x' + frame.data.hex()}"

    def _entry_name(self, entry: Entry) -> str:
        info = self._registry.get_by_id(entry.object_id) if entry.object_id in self._registry else None
        name = info.name if info is not None else f"0x{entry.object_id:08X}"
        return name if entry.address is None else f"{name} @0x{entry.address:08X}"

    def _log_request(self, client: Client, frame: Frame, outcome: str) -> None:
        name, text = self._describe(frame)
        value = f" {text}" if text and not Command.is_read(frame.command) else ""
        traffic.info("%s > %s %s%s: %s", client.peer, frame.command.name, name, value, outcome)

    def _log_answer(self, frame: Frame, answered: list[int], kept: bool) -> None:
        name, text = self._describe(frame)
        clients = self.scheduler.clients
        to = ", ".join(clients[c].peer for c in answered if c in clients) or "nobody"
        traffic.info("%s < %s %s %s -> %s%s", self.upstream, frame.command.name, name, text, to, " (kept)" * kept)


def _same_stamp(stamp: bytes | None, payload: bytes) -> bool:
    """Whether an answer's payload is for the query with timestamp ``stamp`` (None: any answer is).

    A payload cut shorter than its header cannot tell; it goes to the query on the wire, the only
    one for its key.
    """
    return stamp is None or len(payload) < 4 or payload[:4] == stamp

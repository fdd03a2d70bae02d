"""The simulator's asyncio server: connections, request handling, the shared bus and fault injection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..describe import describe_event
from ..exceptions import PayloadDecodeError
from ..frame import Event, Frame, FrameDecoder, command_for, make_bad_frame, make_frame
from ..registry import REGISTRY, ObjectInfo
from ..types import Command, DataType
from ..utils import decode_value
from .bus import Bus, Pending
from .clock import Clock
from .config import (
    ConfigError,
    FaultProfile,
    PortalSettings,
    SimulatorConfig,
    check_host,
    check_idle_timeout,
    check_max_clients,
    load_config,
    load_snapshot,
    parse_snapshot,
)
from .connection import Connection
from .counters import Counters
from .devices import DEFAULT_DEVICE, UnknownDevice, device_spec
from .model import DeviceModel, ModelError, ModelParams

__all__ = ["Counters", "Simulator", "SimulatorThread"]

log = logging.getLogger("rctclient.simulator")

#: READ_PERIODICALLY registrations per device.
MAX_PERIODIC = 64
#: Refusals of connections within this many seconds of the first are one burst (logged once).
_REFUSAL_BURST = 10.0
#: Seconds after the start of the portal's first round (then every period).
_PORTAL_FIRST = 0.5
#: Answer frames remembered by (command, OID, address, payload).
_MAX_CACHED_ANSWERS = 4096
_KNOWN_IDS = frozenset(info.object_id for info in REGISTRY.all())
#: What unsolicited answers show (those of these that nobody asked for)
_UNSOLICITED = tuple(
    REGISTRY.get_by_name(name)
    for name in (
        "battery.soc",
        "g_sync.p_ac_grid_sum_lp",
        "g_sync.p_ac_load_sum_lp",
        "dc_conv.dc_conv_struct[0].p_dc",
        "g_sync.p_acc_lp",
        "db.temp1",
    )
)


class Simulator:
    """An RCT Power device (or a plant of them) on a TCP port.

    ``async with Simulator(port=0, seed=1, faults="ideal") as sim:`` starts it; ``sim.port`` is the
    port the OS picked; ``sim.model`` is the (first) device's :class:`DeviceModel`; ``sim.counters``
    counts requests, answers and injected faults.

    :param host: address to listen on; 127.0.0.1 by default (the protocol has no security at all).
    :param port: TCP port, 0 for any free one.
    :param seed: everything random (model values, faults) derives from it (default 1, or the config's).
    :param faults: a profile name (``ideal``, ``realistic``, ``hostile``) or a :class:`FaultProfile`.
    :param clock: the device time (default: real time); freeze or accelerate it in tests.
    :param shared_bus: every answer goes to all connected clients, like the real Wi-Fi module.
    :param plant: the number of devices (PLANT commands address them; ``sim.addresses``).
    :param config: a :class:`SimulatorConfig` or the path of a TOML file; explicit arguments win.
    :param snapshot: a JSON snapshot (its path, or its parsed form: the whole file or just its name -> value
        mapping), served as fixed values.
    :param night_silent: answer nothing while the first device's solar power is 0.
    :param device_model: the device model's name (see :data:`~rctclient.simulator.DEVICES`; default
        ``storage-dc-6``, or the config's).
    :param portal: the vendor portal's traffic on the shared bus: a :class:`PortalSettings`, or False
        (off) / True (the default settings); default on, or the config's.
    :param max_clients: connections open at once; more are refused (closed at once, logged once per
        burst). Default 256, or the config's.
    :param idle_timeout: seconds after which a connection that sent nothing (and has no
        READ_PERIODICALLY registration), or that has not read its answers, is closed; 0 never.
        Real time, checked every half of it. Default 600, or the config's.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int | None = None,
        faults: str | FaultProfile | None = None,
        clock: Clock | None = None,
        shared_bus: bool | None = None,
        plant: int | None = None,
        config: SimulatorConfig | str | Path | None = None,
        snapshot: str | Path | dict[str, Any] | None = None,
        night_silent: bool | None = None,
        max_clients: int | None = None,
        idle_timeout: float | None = None,
        device_model: str | None = None,
        portal: PortalSettings | bool | None = None,
    ) -> None:
        cfg = load_config(config) if isinstance(config, str | Path) else (config or SimulatorConfig())
        self.host = check_host(host)
        self.port = port
        self.seed = seed if seed is not None else (cfg.seed if cfg.seed is not None else 1)
        if faults is None:
            faults = cfg.faults or "ideal"
        self.faults = FaultProfile.named(faults) if isinstance(faults, str) else faults
        self.clock = clock or Clock()
        self.shared_bus = (
            shared_bus if shared_bus is not None else (cfg.shared_bus if cfg.shared_bus is not None else True)
        )
        self.night_silent = cfg.night_silent if night_silent is None else night_silent
        self.max_clients = check_max_clients(cfg.max_clients if max_clients is None else max_clients)
        self.idle_timeout = check_idle_timeout(cfg.idle_timeout if idle_timeout is None else idle_timeout)
        count = plant if plant is not None else (cfg.plant or 1)
        if count < 1:
            raise ConfigError("a plant has at least one device")
        if cfg.addresses and plant in (None, len(cfg.addresses)):
            addresses = list(cfg.addresses)
        else:
            addresses = [0x2000_0000 + (self.seed % 0x10000) * 0x100 + i + 1 for i in range(count)]
        self.addresses = addresses
        try:
            self.spec = device_spec(device_model if device_model is not None else cfg.device)
            params = cfg.params
            if self.spec.name != (cfg.device or DEFAULT_DEVICE):  # another device than the config's: its numbers
                params = ModelParams.from_mapping(cfg.model_overrides, ModelParams.for_device(self.spec))
        except (UnknownDevice, ModelError) as exc:
            raise ConfigError(str(exc)) from None
        self.devices = [
            DeviceModel(seed=self.seed, clock=self.clock, address=a, index=i, params=params, spec=self.spec)
            for i, a in enumerate(addresses)
        ]
        if portal is None:
            portal = cfg.portal if cfg.portal is not None else PortalSettings()
        elif isinstance(portal, bool):
            portal = PortalSettings(enabled=portal)
        self.portal = portal
        self._by_address = {d.address: d for d in self.devices}
        try:
            if cfg.values:
                self.devices[0].update(cfg.values, fixed=True)
            for address, values in cfg.device_values.items():
                device = self._by_address.get(address)
                if device is None:
                    raise ConfigError(f"config: [[plant.device]] address 0x{address:X} is not in the plant")
                device.update(values, fixed=True)
            if snapshot is not None:
                values = load_snapshot(snapshot) if isinstance(snapshot, str | Path) else parse_snapshot(snapshot)
                self.devices[0].update(values, fixed=True)
        except ModelError as exc:
            raise ConfigError(str(exc)) from None
        self.counters = Counters()
        self._rng = random.Random(self.seed)
        self._shared: Bus | None = Bus(self.counters) if self.shared_bus else None
        self._conns: set[Connection] = set()
        self._server: asyncio.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._silent = False
        self._silent_until = 0.0
        # per device: (object id, plant address or None) -> connections that asked
        self._periodic: dict[int, dict[tuple[int, int | None], set[Connection]]] = {d.address: {} for d in self.devices}
        self._periodic_wake: asyncio.Event | None = None  # created in start(), on the loop
        self._tasks: list[asyncio.Task[None]] = []
        self._verbose = log.isEnabledFor(logging.INFO)
        self._requests: dict[bytes, Frame] = {}
        self._asked: set[int] = set()  # the OIDs requested so far (unsolicited answers are for others)
        self._answers: dict[tuple[int, int, int, bytes], bytes] = {}
        self._refused_in_burst = 0

    # -- public API -----------------------------------------------------------------------------

    @property
    def model(self) -> DeviceModel:
        """The first device (the one that answers the non-PLANT commands)."""
        return self.devices[0]

    def device(self, address: int) -> DeviceModel:
        return self._by_address[address]

    async def start(self) -> None:
        """Start listening (on the same port again after :meth:`stop`)."""
        if self._server is not None:
            return
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._verbose = log.isEnabledFor(logging.INFO)
        self._server = await loop.create_server(
            lambda: Connection(self), self.host, self.port, reuse_address=True, backlog=512
        )
        sock = self._server.sockets[0]
        self.port = sock.getsockname()[1]
        self._periodic_wake = asyncio.Event()
        self._tasks = [loop.create_task(self._periodic_loop(d)) for d in self.devices]
        if self.idle_timeout > 0:
            self._tasks.append(loop.create_task(self._sweep_loop()))
        if self.portal.enabled and self._shared is not None:
            self._tasks.append(loop.create_task(self._portal_loop(self._shared)))
        log.info(
            "listening on %s:%d (%d device%s)", self.host, self.port, len(self.devices), "s"[: len(self.devices) > 1]
        )

    async def stop(self) -> None:
        """Close the listener and every connection (the model keeps its state)."""
        server, self._server = self._server, None
        if server is not None:
            # Stop accepting, then let the connections accepted just before be set up: closing the server
            # between the two steps fails them in asyncio 3.11 ("Error on transport creation", a leaked socket).
            loop = asyncio.get_running_loop()
            for sock in server.sockets:
                with contextlib.suppress(NotImplementedError, ValueError, OSError):
                    loop.remove_reader(sock.fileno())
            for _ in range(3):
                await asyncio.sleep(0)
            server.close()
        self.drop_connections()
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        for result in await asyncio.gather(*tasks, return_exceptions=True):
            if isinstance(result, Exception):
                log.error("a background task of the simulator had failed", exc_info=result)
        if server is not None:
            await server.wait_closed()
        await asyncio.sleep(0)  # the dropped connections close their sockets

    async def restart(self) -> None:
        """Stop and start again on the same port (clients see their connections drop)."""
        await self.stop()
        await self.start()

    def drop_connections(self) -> None:
        """Close every client connection at once (the listener stays)."""
        for conn in list(self._conns):
            if conn.transport is not None:
                conn.transport.abort()
        if self._shared is not None:
            self._shared.clear()

    def set_silent(self, silent: bool = True) -> None:
        """Go silent (accept connections, answer nothing), as a device at night; False to wake up."""
        self._silent = silent

    @property
    def silent(self) -> bool:
        return self._is_silent()

    def set_faults(self, faults: str | FaultProfile) -> None:
        self.faults = FaultProfile.named(faults) if isinstance(faults, str) else faults

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- connection limits -----------------------------------------------------------------------

    def _refuse(self) -> None:
        """A connection over ``max_clients`` was refused: logged once per burst of refusals."""
        self.counters.refused += 1
        self._refused_in_burst += 1
        if self._refused_in_burst == 1:
            log.warning("%d connections open (the limit): refusing new ones", self.max_clients)
            if self._loop is not None:
                self._loop.call_later(_REFUSAL_BURST, self._end_refusal_burst)

    def _end_refusal_burst(self) -> None:
        refused, self._refused_in_burst = self._refused_in_burst, 0
        if refused > 1:
            log.warning("refused %d connections in %g s (limit %d)", refused, _REFUSAL_BURST, self.max_clients)

    async def _sweep_loop(self) -> None:
        while True:
            await asyncio.sleep(self.idle_timeout / 2)
            self._sweep(time.monotonic())

    def _sweep(self, now: float) -> None:
        """Close the connections that sent nothing, or read nothing, for ``idle_timeout`` seconds."""
        timeout = self.idle_timeout
        listening: set[Connection] = set()
        for regs in self._periodic.values():
            for conns in regs.values():
                listening |= conns
        for conn in list(self._conns):
            if conn.paused:
                if now - conn.paused_since >= timeout:
                    conn.drop_slow(f"has not read its answers for {timeout:g} s")
            elif conn.received != conn.seen:
                conn.seen = conn.received
                conn.quiet_since = now
            elif now - conn.quiet_since >= timeout and conn not in listening and conn.transport is not None:
                self.counters.idle_dropped += 1
                log.info("%s sent nothing for %g s: closed", conn.peer, timeout)
                conn.transport.close()

    # -- the vendor portal -------------------------------------------------------------------------

    async def _portal_loop(self, bus: Bus) -> None:
        """The portal's rounds (see :class:`PortalSettings`), in real time like the network they come over."""
        settings = self.portal
        infos = [REGISTRY.get_by_name(name) for name in settings.oids]
        requests = [make_frame(Command.READ, info.object_id) for info in infos]
        await asyncio.sleep(min(_PORTAL_FIRST, settings.period))
        while True:
            if bus.conns:  # nobody listening: the portal's round changes nothing anyone could see
                try:
                    self._portal_round(bus, infos, requests)
                except Exception:  # a bug: logged, and the next round is tried all the same
                    log.exception("the portal's round failed")
            await asyncio.sleep(settings.period)

    def _portal_round(self, bus: Bus, infos: list[ObjectInfo], requests: list[bytes]) -> None:
        device = self.devices[0]
        silent = self._is_silent()
        for info, request in zip(infos, requests, strict=True):
            self.counters.portal_requests += 1
            bus.queue(Pending(request, counted=False))
            if self._verbose:
                self._log_frame("portal", ">", request)
            if silent:
                continue
            try:
                payload = device.encode(info)
            except (ValueError, ModelError):
                continue
            self._answer(bus, info.object_id, payload, None, portal=True)
        bus.flush()

    # -- request handling ------------------------------------------------------------------------

    def _note_asked(self, events: list[Event]) -> None:
        """The OIDs of a burst are asked for before their answers are queued (see _unsolicited_oid)."""
        self._asked.update(e.id for e in events if type(e) is Frame and e.id in _KNOWN_IDS)

    def _is_silent(self) -> bool:
        if self._silent:
            return True
        if self._silent_until and time.monotonic() < self._silent_until:
            return True
        if self.night_silent:
            model = self.devices[0]
            return bool(
                model.get("dc_conv.dc_conv_struct[0].p_dc") <= 0 and model.get("dc_conv.dc_conv_struct[1].p_dc") <= 0
            )
        return False

    def _handle(self, conn: Connection, frame: Frame) -> None:
        counters = self.counters
        counters.requests += 1
        command = frame.command
        if self._verbose:
            self._log_frame(conn.peer, ">", frame)
        if Command.is_response(command):
            counters.ignored += 1
            return
        if Command.is_plant(command):
            device = self._by_address.get(frame.address)
            if device is None:
                counters.unknown_address += 1
                log.info("%s address 0x%08X is not in the plant: no answer", conn.peer, frame.address)
                return
            address: int | None = frame.address
        else:
            device = self.devices[0]
            address = None
        try:
            info = REGISTRY.get_by_id(frame.id)
        except KeyError:
            counters.unknown_oid += 1
            log.info("%s unknown OID 0x%08X: no answer", conn.peer, frame.id)
            return
        self._asked.add(info.object_id)
        faults = self.faults
        silent = (self._silent or self._silent_until or self.night_silent) and self._is_silent()
        if not silent and faults.silence and self._rng.random() < faults.silence:
            # a silence starts only while the device talks: one already running is neither cut short
            # nor stretched beyond silence_duration by the requests that arrive during it
            low, high = faults.silence_duration
            self._silent_until = time.monotonic() + self._rng.uniform(low, high)
            counters.fault("silence")
            silent = True
        if silent:
            counters.silenced += 1
            return
        if faults.interrupt:
            self._interrupt(conn.bus)
        if Command.is_write(command):
            payload = self._write(conn, device, info, frame)
            if payload is None:
                return
            if faults.write_unanswered and self._rng.random() < faults.write_unanswered:
                counters.fault("write_unanswered")
                return
        else:
            if command in (Command.READ_PERIODICALLY, Command.PLANT_READ_PERIODICALLY):
                self._register(conn, device, info, address)
            try:
                payload = device.encode(info)
            except (ValueError, ModelError) as exc:  # a fixed value that does not encode
                log.warning("%s cannot encode %s: %s", conn.peer, info.name, exc)
                return
        self._answer(conn.bus, info.object_id, payload, address, (conn,), conn)

    def _write(self, conn: Connection, device: DeviceModel, info: ObjectInfo, frame: Frame) -> bytes | None:
        data_type = info.request_data_type
        try:
            if data_type >= DataType.TIMESERIES:
                raise PayloadDecodeError(f"{info.name} cannot be written", data_type, frame.data)
            value = decode_value(data_type, frame.data)
        except (PayloadDecodeError, ValueError) as exc:
            self.counters.bad_writes += 1
            log.info("%s write to %s not stored: %s", conn.peer, info.name, exc)
            return None
        if info.response_data_type in (DataType.TIMESERIES, DataType.EVENT_TABLE):
            assert isinstance(value, int)
            return device.encode_history(info, value)
        try:
            device.write(info, value)
        except (ModelError, ValueError) as exc:
            self.counters.bad_writes += 1
            log.info("%s write to %s not stored: %s", conn.peer, info.name, exc)
            return None
        if info.name == "pas.period" and value == 0:
            self._periodic[device.address].clear()
        return device.encode(info)

    def _register(self, conn: Connection, device: DeviceModel, info: ObjectInfo, address: int | None) -> None:
        regs = self._periodic[device.address]
        key = (info.object_id, address)
        if key not in regs and len(regs) >= MAX_PERIODIC:
            log.info("%s READ_PERIODICALLY list full (%d): %s not added", conn.peer, MAX_PERIODIC, info.name)
            return
        regs.setdefault(key, set()).add(conn)
        if self._periodic_wake is not None:
            self._periodic_wake.set()

    async def _periodic_loop(self, device: DeviceModel) -> None:
        regs = self._periodic[device.address]
        wake = self._periodic_wake
        assert wake is not None
        due: float | None = None
        while True:
            period = device.get("pas.period")
            if not regs or period <= 0:
                due = None
                wake.clear()
                await wake.wait()
                continue
            now = self.clock.now()
            if due is None or due < now - period:
                due = now + period
            await self.clock.sleep_until(due)
            due += period
            if self._is_silent():
                continue
            try:
                self._send_periodic(device, regs)
            except Exception:  # a bug: logged, and the next round is tried all the same
                log.exception("READ_PERIODICALLY answers of device 0x%08X failed", device.address)

    def _send_periodic(self, device: DeviceModel, regs: dict[tuple[int, int | None], set[Connection]]) -> None:
        buses: set[Bus] = set()
        shared = self._shared
        for (oid, address), conns in list(regs.items()):
            info = REGISTRY.get_by_id(oid)
            try:
                payload = device.encode(info)
            except (ValueError, ModelError):
                continue
            if shared is not None:  # one answer on the bus: the registrants get it at once, the others hear it
                self._answer(shared, oid, payload, address, direct=frozenset(conns), periodic=True)
                buses.add(shared)
            else:
                for conn in conns:
                    self._answer(conn.bus, oid, payload, address, direct=(conn,), periodic=True)
                    buses.add(conn.bus)
        for bus in buses:
            bus.flush()

    def _answer(
        self,
        bus: Bus,
        oid: int,
        payload: bytes,
        address: int | None,
        direct: Collection[Connection] = (),
        source: Connection | None = None,
        periodic: bool = False,
        portal: bool = False,
    ) -> None:
        """Build an answer, apply the faults and queue it on the bus (see :class:`Pending` for ``direct``)."""
        faults = self.faults
        rng = self._rng
        counters = self.counters
        if faults.lost_answer and rng.random() < faults.lost_answer:
            counters.fault("lost_answer")
            return
        if faults.truncated_payload and payload and rng.random() < faults.truncated_payload:
            counters.fault("truncated_payload")
            payload = payload[: rng.randrange(len(payload))]
        crc_xor = 0
        if faults.wrong_crc and rng.random() < faults.wrong_crc:
            counters.fault("wrong_crc")
            crc_xor = rng.randrange(1, 0x10000)
        command = command_for("response", len(payload), plant=address is not None)
        if crc_xor:
            data = make_bad_frame(command, oid, payload, address or 0, crc_xor=crc_xor)
        else:
            key = (command, oid, address or 0, payload)
            cached = self._answers.get(key)
            if cached is None:
                cached = make_frame(command, oid, payload, address or 0)
                if len(self._answers) >= _MAX_CACHED_ANSWERS:
                    self._answers.clear()
                self._answers[key] = cached
            data = cached
        if periodic:
            counters.periodic_answers += 1
        elif portal:
            counters.portal_answers += 1
        entry = Pending(data, direct, source, counted=not portal)
        low, high = faults.latency
        if high > 0 and self._loop is not None:
            delay = rng.uniform(low, high)
            if delay > 0:
                entry.timer = self._loop.call_later(delay, bus.ready, entry)
        bus.queue(entry)
        if self._verbose:
            self._log_frame("*" if self._shared is not None else next(iter(bus.conns), None), "<", data)
        if faults.unsolicited and rng.random() < faults.unsolicited:
            counters.fault("unsolicited")
            info = self._unsolicited_oid(rng)
            extra = make_frame(Command.RESPONSE, info.object_id, self.devices[0].encode(info))
            bus.queue(Pending(extra, exposed=True))

    def _unsolicited_oid(self, rng: random.Random) -> ObjectInfo:
        """An OID that nobody asked for, so that its answer cannot pass for the answer to a request."""
        asked = self._asked
        candidates = [info for info in _UNSOLICITED if info.object_id not in asked]
        if not candidates:
            candidates = [
                info
                for info in REGISTRY.all()
                if info.response_data_type is DataType.FLOAT and info.object_id not in asked
            ] or list(_UNSOLICITED)
        return candidates[rng.randrange(len(candidates))]

    def _interrupt(self, bus: Bus) -> None:
        """A request arrived: answers still being prepared may be cut off (they go out cut, in their turn)."""
        rate = self.faults.interrupt
        rng = self._rng
        for entry in bus.pending:
            if entry.exposed:  # each answer is at risk once: from the first request that follows it
                continue
            entry.exposed = True
            if rng.random() < rate:
                self.counters.fault("interrupt")
                entry.data = entry.data[: rng.randrange(1, len(entry.data))]
                entry.cut = True
                if entry.timer is not None:  # the device was sending it when the request came in
                    entry.timer.cancel()
                    entry.timer = None

    # -- logging ---------------------------------------------------------------------------------

    def _log_frame(self, peer: Any, direction: str, frame: Frame | bytes) -> None:
        if isinstance(frame, bytes):
            decoder = FrameDecoder()
            decoder.feed(frame)
            decoder.feed(b"")
            event = decoder.next_event()
            if not event:
                return
        else:
            event = frame
        d = describe_event(event)  # type: ignore[arg-type]
        stamp = datetime.fromtimestamp(self.clock.now(), UTC).strftime("%H:%M:%S.%f")[:-3]
        who = peer.peer if isinstance(peer, Connection) else str(peer)
        name = d.name or (f"0x{d.object_id:08X}" if d.object_id is not None else "")
        address = f" @0x{d.address:08X}" if d.address is not None else ""
        flags = f" [{', '.join(d.flags)}]" if d.flags else ""
        text = f" {d.text}" if d.text else ""
        log.info("%s %s %s %s%s %s%s%s", stamp, who, direction, d.command or d.kind, address, name, text, flags)


class SimulatorThread:
    """A :class:`Simulator` running in a background thread, for synchronous code.

    ``with SimulatorThread(port=0, seed=1, faults="ideal") as sim:`` — the same arguments as
    :class:`Simulator`; ``sim.port``, ``sim.model``, ``sim.counters``, ``sim.set_silent()``,
    ``sim.restart()``, ``sim.drop_connections()``, ``sim.stop()``. ``loop_factory`` (keyword only)
    makes the thread's event loop, e.g. ``uvloop.new_event_loop``; default: asyncio's own.
    """

    def __init__(self, *, loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None, **kwargs: Any) -> None:
        self.simulator = Simulator(**kwargs)
        self._loop_factory = loop_factory
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._stopped: asyncio.Event | None = None

    @property
    def port(self) -> int:
        return self.simulator.port

    @property
    def host(self) -> str:
        return self.simulator.host

    @property
    def model(self) -> DeviceModel:
        return self.simulator.model

    @property
    def counters(self) -> Counters:
        return self.simulator.counters

    @property
    def devices(self) -> list[DeviceModel]:
        return self.simulator.devices

    @property
    def addresses(self) -> list[int]:
        return self.simulator.addresses

    def start(self) -> SimulatorThread:
        if self._thread is not None:
            return self
        self._ready.clear()
        self._thread = threading.Thread(target=self._run, name="rctclient-simulator", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            error, self._error = self._error, None
            self._thread.join()
            self._thread = None
            raise error
        return self

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            try:
                await self.simulator.start()
            except BaseException as exc:
                self._error = exc
                self._ready.set()
                return
            self._ready.set()
            try:
                await self._stopped.wait()
            finally:
                await self.simulator.stop()

        with asyncio.Runner(loop_factory=self._loop_factory) as runner:
            runner.run(main())

    def call(self, func: Callable[[], Any]) -> Any:
        """Run ``func`` on the simulator's event loop and return its result (a coroutine is awaited)."""
        loop = self._loop
        if loop is None or self._thread is None:
            raise RuntimeError("the simulator thread is not running")

        async def run() -> Any:
            result = func()
            if asyncio.iscoroutine(result):
                result = await result
            return result

        return asyncio.run_coroutine_threadsafe(run(), loop).result(timeout=30)

    def set_silent(self, silent: bool = True) -> None:
        self.simulator.set_silent(silent)

    def set_faults(self, faults: str | FaultProfile) -> None:
        self.call(lambda: self.simulator.set_faults(faults))

    def drop_connections(self) -> None:
        self.call(self.simulator.drop_connections)

    def restart(self) -> None:
        self.call(self.simulator.restart)

    def stop(self) -> None:
        thread = self._thread
        if thread is None:
            return
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        thread.join(timeout=30)
        self._thread = None
        self._loop = None

    def __enter__(self) -> SimulatorThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

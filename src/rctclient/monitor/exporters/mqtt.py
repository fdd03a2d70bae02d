"""The MQTT exporter (aiomqtt): states, availability, Home Assistant discovery and optional control.

Each device has its own broker connection (made once its serial number is known), so its last will
can be its availability topic: ``<topic>/<serial>/availability`` is ``online`` while the monitor
polls a device that answers, ``offline`` when the device is silent, when the monitor stops, and
(through the will) when the monitor dies. States go to ``<topic>/<serial>/<key>``, retained, when
they change and again every ``refresh`` seconds; a value that became unavailable gets an empty
payload (which also removes the retained message). Discovery configs are published at connect, when
the plan changes and when Home Assistant announces ``online`` on ``<prefix>/status``.

With ``control = true``, ``<topic>/<serial>/<key>/set`` writes the allow-listed settings: each
command goes through :meth:`rctclient.aio.AsyncClient.write` (the allow-list, the bounds check and
the read-back of ``write-value``), at most one per ``control_interval`` per device, is logged, and
its outcome is published (not retained) on ``<topic>/<serial>/<key>/result``. Retained commands are
ignored: a command is executed when it is sent, never again at a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import os
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiomqtt

from ...exceptions import RctClientException
from ...protocol import WriteResult, writable
from ..config import MqttConfig
from ..state import Snapshot
from . import Exporter, Mailbox, command_value, faults_of, state_text
from .homeassistant import Topics, discovery_messages, exported

__all__ = ["MqttExporter", "Writer"]

log = logging.getLogger("rctclient.monitor.mqtt")

#: Writes a setting of a device: (device label, OID name, value) -> the verified write's result.
Writer = Callable[[str, str, Any], Awaitable[WriteResult]]

_BACKOFF_MAX = 60.0
#: Messages published together (aiomqtt warns about more than 10 pending calls).
_BATCH = 10
_WRITE_TIMEOUT = 30.0


def _tls(config: MqttConfig) -> aiomqtt.TLSParameters | None:
    if not config.tls:
        return None
    return aiomqtt.TLSParameters(ca_certs=config.ca_file, certfile=config.cert_file, keyfile=config.key_file)


class _Link:
    """One device's connection to the broker."""

    def __init__(self, exporter: MqttExporter, device: str, serial: str) -> None:
        self.exporter = exporter
        self.config = exporter.config
        self.device = device
        self.topics = Topics(self.config.topic, serial, self.config.discovery_prefix)
        self.snapshots: Mailbox[Snapshot] = Mailbox(16)
        self.latest: Snapshot | None = None
        self.client: aiomqtt.Client | None = None
        self.connected = False
        self.published: dict[str, tuple[str, float]] = {}
        self._discovered: tuple[Any, ...] | None = None
        self._outage_since: float | None = None
        self._last_command = -float("inf")
        self.task: asyncio.Task[None] | None = None

    # -- the connection ------------------------------------------------------------------------------

    async def run(self) -> None:
        c = self.config
        backoff = 1.0
        while True:
            try:
                async with aiomqtt.Client(
                    c.host,
                    c.port,
                    username=c.username,
                    password=c.password,
                    identifier=f"rctclient-{self.topics.root.rsplit('/', 1)[-1]}-{os.getpid()}",
                    will=aiomqtt.Will(self.topics.availability, "offline", qos=1, retain=True),
                    keepalive=c.keepalive,
                    tls_params=_tls(c),
                    timeout=10.0,
                ) as client:
                    self.client = client
                    self._connected()
                    backoff = 1.0
                    await self._serve(client)
            except aiomqtt.MqttError as exc:
                self._outage(str(exc) or type(exc).__name__)
            except Exception:  # a bug here must not end this device's publishing for good
                log.exception("MQTT publishing failed (%s); connecting again", self.device)
            finally:
                self.client = None
                self.connected = False
            await asyncio.sleep(backoff)
            backoff = min(_BACKOFF_MAX, backoff * 2)

    def _connected(self) -> None:
        self.connected = True
        where = f"{self.config.host}:{self.config.port}"
        if self._outage_since is not None:
            log.info(
                "MQTT broker %s is back after %.0f s (%s)", where, time.monotonic() - self._outage_since, self.device
            )
            self._outage_since = None
        else:
            log.info("MQTT connected to %s, publishing under %s (%s)", where, self.topics.root, self.device)

    def _outage(self, error: str) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            log.warning(
                "MQTT broker %s:%d is not reachable: %s (retrying; %s)",
                self.config.host,
                self.config.port,
                error,
                self.device,
            )

    async def _serve(self, client: aiomqtt.Client) -> None:
        if self.config.discovery:
            await client.subscribe(self.topics.ha_status)
        if self.config.control:
            await client.subscribe(self.topics.commands, qos=1)
        self.published.clear()
        self._discovered = None
        if self.latest is not None:
            await self._publish(client, self.latest, force=True)
        messages = asyncio.ensure_future(self._messages(client))
        snapshots = asyncio.ensure_future(self._snapshots(client))
        try:
            done, _ = await asyncio.wait((messages, snapshots), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()  # raises the MqttError that ended it
        finally:
            for task in (messages, snapshots):
                task.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.gather(messages, snapshots, return_exceptions=True)

    async def _snapshots(self, client: aiomqtt.Client) -> None:
        while True:
            await self.snapshots.wait(None)
            for snapshot in self.snapshots.take():
                self.latest = snapshot
                await self._publish(client, snapshot)

    async def _messages(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            topic = message.topic.value
            payload = message.payload if isinstance(message.payload, bytes) else str(message.payload or "").encode()
            if topic == self.topics.ha_status:
                if payload.strip() == b"online" and self.latest is not None:
                    log.info("Home Assistant is online: publishing discovery again (%s)", self.device)
                    self._discovered = None
                    await self._publish(client, self.latest, force=True)
            elif topic.endswith("/set") and self.config.control:
                if message.retain:
                    log.warning("ignored a retained command on %s (commands must not be retained)", topic)
                    continue
                await self._command(client, topic.rsplit("/", 2)[-2], payload)

    # -- publishing ----------------------------------------------------------------------------------

    async def _send_all(self, client: aiomqtt.Client, messages: list[tuple[str, str]]) -> None:
        """Publish retained messages together: paho queues them in order and writes them in one go (awaiting
        each in turn costs a socket write and several loop iterations per message). No timeout per message:
        a broken connection ends this link's tasks, and with them these publishes."""
        for start in range(0, len(messages), _BATCH):  # aiomqtt warns beyond 10 pending calls
            batch = messages[start : start + _BATCH]
            await asyncio.gather(*(client.publish(t, p, retain=True, timeout=math.inf) for t, p in batch))

    def _due(self, topic: str, payload: str, now: float, force: bool) -> bool:
        """Whether a state is to be published now (changed, due for a refresh, or forced); records it if so."""
        last = self.published.get(topic)
        if not force and last is not None and last[0] == payload and now - last[1] < self.config.refresh:
            return False
        if last is None and payload == "" and not force:
            return False  # nothing was published there: nothing to clear
        self.published[topic] = (payload, now)
        return True

    async def _publish(self, client: aiomqtt.Client, snapshot: Snapshot, *, force: bool = False) -> None:
        now = time.monotonic()
        messages: list[tuple[str, str]] = []
        if self.config.discovery:
            messages += self._discovery(snapshot)
        availability = "online" if snapshot.up else "offline"
        if self._due(self.topics.availability, availability, now, force):
            messages.append((self.topics.availability, availability))
        if snapshot.up:
            tier = snapshot.tier
            for q in snapshot.plan.quantities():
                if exported(q) and (force or q.tier == tier):
                    topic, payload = self.topics.state(q.key), state_text(q, snapshot.value(q.oid))
                    if self._due(topic, payload, now, force):
                        messages.append((topic, payload))
            if force or tier == "fast":
                faults = faults_of(snapshot)
                payload = ""
                if faults is not None:
                    active = [{"bit": f.bit, "description": f.description} for f in faults]
                    payload = json.dumps({"count": len(faults), "faults": active})
                if self._due(self.topics.faults, payload, now, force):
                    messages.append((self.topics.faults, payload))
        await self._send_all(client, messages)

    def _discovery(self, snapshot: Snapshot) -> list[tuple[str, str]]:
        """The discovery configs to publish (none if the plan and the identity did not change)."""
        ident = tuple(sorted((k, str(v)) for k, v in snapshot.identity.items()))
        key = (tuple(q.key for q in snapshot.plan.quantities()), ident)
        if key == self._discovered:
            return []
        messages: list[tuple[str, str]] = []
        for topic, config in discovery_messages(snapshot, self.topics, control=self.config.control):
            if config is None:
                if self._discovered is None:  # cleanups once per connection
                    messages.append((topic, ""))
                continue
            messages.append((topic, json.dumps(config, separators=(",", ":"), ensure_ascii=False)))
        self._discovered = key
        return messages

    # -- control -------------------------------------------------------------------------------------

    async def _command(self, client: aiomqtt.Client, key: str, payload: bytes) -> None:
        latest = self.latest
        quantity = None if latest is None else next((q for q in latest.plan.quantities() if q.key == key), None)
        text = payload.decode("utf-8", "replace").strip()[:100]
        result: dict[str, Any] = {"key": key, "requested": text, "ok": False}
        if quantity is None or quantity.oid not in writable():
            result["error"] = f"{key} cannot be written (not on the safe-write allow-list)"
        elif time.monotonic() - self._last_command < self.config.control_interval:
            result["error"] = f"too many commands: at most one per {self.config.control_interval:g} s"
        elif self.exporter.writer is None:
            result["error"] = "control is not available"
        else:
            self._last_command = time.monotonic()
            try:
                value = command_value(quantity, text)
                async with asyncio.timeout(_WRITE_TIMEOUT):
                    written = await self.exporter.writer(self.device, quantity.oid, value)
                result.update(ok=True, oid=quantity.oid, value=written.read_back)
                state = (self.topics.state(key), state_text(quantity, written.read_back))
                if self._due(*state, time.monotonic(), True):
                    await self._send_all(client, [state])
            except (RctClientException, TimeoutError) as exc:
                result.update(oid=quantity.oid, error=str(exc) or type(exc).__name__)
        if result["ok"]:
            log.info("control: %s (%s) set to %s, verified (%s)", key, result["oid"], result["value"], self.device)
        else:
            log.warning("control: %s = %r refused: %s (%s)", key, text, result["error"], self.device)
        await client.publish(self.topics.result(key), json.dumps(result, default=str), qos=1, retain=False)

    async def close(self) -> None:
        client = self.client
        if client is not None and self.connected:
            with contextlib.suppress(aiomqtt.MqttError):
                await client.publish(self.topics.availability, "offline", qos=1, retain=True, timeout=2.0)
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(BaseException):
                await self.task


class MqttExporter(Exporter):
    name = "mqtt"

    def __init__(self, config: MqttConfig, writer: Writer | None = None) -> None:
        self.config = config
        self.writer = writer
        self.links: dict[str, _Link] = {}

    @property
    def connected(self) -> bool:
        return all(link.connected for link in self.links.values())

    @property
    def dropped(self) -> int:
        return sum(link.snapshots.dropped for link in self.links.values())

    @property
    def queued(self) -> int:
        return sum(len(link.snapshots) for link in self.links.values())

    def offer(self, snapshot: Snapshot) -> None:
        if not snapshot.serial:
            return
        link = self.links.get(snapshot.device)
        if link is None:
            link = self.links[snapshot.device] = _Link(self, snapshot.device, snapshot.serial)
            link.task = asyncio.get_running_loop().create_task(link.run(), name=f"mqtt {snapshot.device}")
        if link.connected:
            link.snapshots.put(snapshot)
        else:  # only the latest matters: it is published in full at the next connection
            link.latest = snapshot

    async def close(self) -> None:
        await asyncio.gather(*(link.close() for link in self.links.values()))

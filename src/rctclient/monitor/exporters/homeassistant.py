"""Home Assistant MQTT discovery payloads, as pure functions of a snapshot (no I/O; tested as data).

One Home Assistant device per inverter (identifiers ``rctclient_<serial>``, name, manufacturer, model,
serial number, software version) and the battery as a sub-device (``via_device``). Every entity has a
``unique_id`` made of the serial number and the catalog key, so ids are stable across restarts and
many sites can share one broker. Availability is the device's topic (``online``/``offline``, also the
MQTT last will) and the entity's own state topic: an empty state (a value that became unavailable)
makes the entity unavailable rather than showing a stale or zero value. Energy totals are
``total_increasing`` in Wh and never negative (feed-in totals are published as their magnitude).
With ``mqtt.control`` the settings on the package's safe-write allow-list become number, select and
switch entities; their bounds are the allow-list's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ... import __version__
from ...protocol import WritableSpec, writable
from ...registry import REGISTRY
from ...types import DataType
from ..catalog import Quantity
from ..state import Snapshot

__all__ = [
    "COMPONENTS",
    "Topics",
    "device_block",
    "discovery_messages",
    "entity_config",
    "safe_id",
]

MANUFACTURER = "RCT Power"
ORIGIN = {"name": "rctclient", "sw_version": __version__}
#: The components this module may publish; a key's config under the others is removed (empty retained).
COMPONENTS = ("sensor", "binary_sensor", "number", "select", "switch")
#: The largest value a number entity offers where the allow-list has no upper bound (the device limits it).
UNBOUNDED_POWER_MAX = 20000.0

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def safe_id(text: str) -> str:
    """``text`` usable as an MQTT topic level and a Home Assistant id (no ``/``, ``+``, ``#``...)."""
    return _UNSAFE.sub("_", text) or "_"


@dataclass(frozen=True, slots=True)
class Topics:
    """The topics of one device: ``<base>/<serial>/...`` and the discovery configs,
    ``<discovery prefix>/<component>/rctclient_<serial>/<key>/config``."""

    base: str
    serial: str
    discovery_prefix: str = "homeassistant"

    @property
    def root(self) -> str:
        return f"{self.base}/{safe_id(self.serial)}"

    @property
    def availability(self) -> str:
        return f"{self.root}/availability"

    @property
    def faults(self) -> str:
        return f"{self.root}/faults"

    def state(self, key: str) -> str:
        return f"{self.root}/{key}"

    def command(self, key: str) -> str:
        return f"{self.root}/{key}/set"

    def result(self, key: str) -> str:
        return f"{self.root}/{key}/result"

    @property
    def commands(self) -> str:
        return f"{self.root}/+/set"

    def config(self, component: str, key: str) -> str:
        return f"{self.discovery_prefix}/{component}/rctclient_{safe_id(self.serial)}/{key}/config"

    @property
    def ha_status(self) -> str:
        return f"{self.discovery_prefix}/status"


def _label(oid: str, value: Any) -> str:
    if not isinstance(value, int):
        return ""
    return (REGISTRY.resolve(oid).enum_map or {}).get(value, str(value))


def device_block(snapshot: Snapshot, part: str = "inverter") -> dict[str, Any]:
    """The ``device`` of the inverter, or of its battery (``part="battery"``, linked with ``via_device``)."""
    ident = snapshot.identity
    inverter_id = f"rctclient_{safe_id(snapshot.serial)}"
    if part == "battery":
        block: dict[str, Any] = {
            "identifiers": [f"{inverter_id}_battery"],
            "name": f"{snapshot.name} Battery",
            "manufacturer": MANUFACTURER,
            "model": _label("power_mng.battery_type", ident.get("power_mng.battery_type")) or "Battery",
            "via_device": inverter_id,
        }
        if ident.get("battery.bms_sn"):
            block["serial_number"] = str(ident["battery.bms_sn"])
        if ident.get("battery.bms_software_version"):
            block["sw_version"] = str(ident["battery.bms_software_version"])
        return block
    block = {
        "identifiers": [inverter_id],
        "name": snapshot.name,
        "manufacturer": MANUFACTURER,
        "model": "Inverter",
        "serial_number": snapshot.serial,
    }
    if ident.get("svnversion"):
        block["sw_version"] = str(ident["svnversion"])
    if ident.get("parameter_file"):
        block["hw_version"] = str(ident["parameter_file"])
    return block


def _scaled(q: Quantity) -> str:
    if q.ha_scale == 1.0:
        return "{{ value }}"
    return f"{{{{ (value | float * {q.ha_scale:g}) | round(2) }}}}"


def _component(q: Quantity, spec: WritableSpec | None) -> str:
    info = REGISTRY.resolve(q.oid)
    if spec is not None:
        if spec.kind == "bool":
            return "switch"
        if spec.kind == "enum":
            return "select"
        return "number"
    if info.response_data_type is DataType.BOOL:
        return "binary_sensor"
    return "sensor"


def _enum_options(q: Quantity, spec: WritableSpec | None = None) -> list[str]:
    labels = REGISTRY.resolve(q.oid).enum_map or {}
    items = sorted(labels.items())
    if spec is not None:
        items = [
            (k, v) for k, v in items if (spec.min is None or k >= spec.min) and (spec.max is None or k <= spec.max)
        ]
    return list(dict.fromkeys(label for _, label in items))


def entity_config(q: Quantity, snapshot: Snapshot, topics: Topics, *, control: bool) -> tuple[str, dict[str, Any]]:
    """(component, config payload) of one value's entity."""
    spec = writable().get(q.oid) if control else None
    component = _component(q, spec)
    state_topic = topics.state(q.key)
    config: dict[str, Any] = {
        "name": q.title,
        "unique_id": f"rctclient_{safe_id(snapshot.serial)}_{q.key}",
        "state_topic": state_topic,
        "availability": [
            {"topic": topics.availability},
            {"topic": state_topic, "value_template": "{{ 'offline' if value == '' else 'online' }}"},
        ],
        "availability_mode": "all",
        "device": device_block(snapshot, q.device),
        "origin": ORIGIN,
    }
    if q.diagnostic:
        config["entity_category"] = "diagnostic"
    if component in ("binary_sensor", "switch"):
        config.update(payload_on="true", payload_off="false")
        if component == "switch":
            config.update(state_on="true", state_off="false", command_topic=topics.command(q.key))
        return component, config
    if component == "select":
        config.update(options=_enum_options(q, spec), command_topic=topics.command(q.key))
        return component, config
    if q.unit:
        config["unit_of_measurement"] = q.unit
    if q.device_class:
        config["device_class"] = q.device_class
    if component == "number":
        assert spec is not None
        scale = q.ha_scale
        low = 0.0 if spec.min is None else spec.min * scale
        high = (spec.max * scale) if spec.max is not None else UNBOUNDED_POWER_MAX
        config.update(
            command_topic=topics.command(q.key),
            min=low,
            max=high,
            step=1,
            mode="box",
            value_template=_scaled(q),
        )
        if scale != 1.0:
            config["command_template"] = f"{{{{ value / {scale:g} }}}}"
        if q.device_class != "power":
            config.pop("device_class", None)
        return component, config
    if q.kind == "enum":
        config.update(device_class="enum", options=_enum_options(q))
        return component, config
    if q.state_class:
        config["state_class"] = q.state_class
    if q.ha_scale != 1.0:
        config["value_template"] = _scaled(q)
        config["suggested_display_precision"] = 1
    elif q.energy:
        config["suggested_display_precision"] = 0
    return component, config


def faults_config(snapshot: Snapshot, topics: Topics) -> dict[str, Any]:
    """The sensor of the active faults: their number, and the list as an attribute."""
    return {
        "name": "Active faults",
        "unique_id": f"rctclient_{safe_id(snapshot.serial)}_faults",
        "state_topic": topics.faults,
        "value_template": "{{ value_json.count }}",
        "json_attributes_topic": topics.faults,
        "json_attributes_template": "{{ {'faults': value_json.faults} | tojson }}",
        "availability": [{"topic": topics.availability}],
        "state_class": "measurement",
        "entity_category": "diagnostic",
        "icon": "mdi:alert-circle-outline",
        "device": device_block(snapshot),
        "origin": ORIGIN,
    }


def exported(q: Quantity) -> bool:
    """Whether a value gets an entity and a state topic of its own (static values and fault words do not)."""
    return q.kind not in ("static", "faults")


def discovery_messages(snapshot: Snapshot, topics: Topics, *, control: bool) -> list[tuple[str, dict[str, Any] | None]]:
    """(topic, payload) of every config of the device; None payloads remove configs of other components."""
    messages: list[tuple[str, dict[str, Any] | None]] = []
    allow = writable()
    for q in snapshot.plan.quantities():
        if not exported(q):
            continue
        component, config = entity_config(q, snapshot, topics, control=control)
        messages.append((topics.config(component, q.key), config))
        if q.oid in allow:  # the same key may have been published as another component before
            messages.extend((topics.config(other, q.key), None) for other in COMPONENTS if other != component)
    messages.append((topics.config("sensor", "faults"), faults_config(snapshot, topics)))
    return messages

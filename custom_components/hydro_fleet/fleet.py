"""The fleet: MQTT subscriptions, node discovery, state fan-out and commands.

One wildcard subscription per topic kind serves every node (a thousand nodes cost six
subscriptions, not thousands). Each payload is parsed once with the protocol package
and fanned out to the node's entities. Bad payloads are logged once per node and topic
kind until that node sends a good one again; nothing bad reaches an entity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
import logging
from typing import Any
from uuid import uuid4

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import (
    ATTR_DATA,
    ATTR_EVENT_TYPE,
    ATTR_NODE_ID,
    COMMAND_TIMEOUT,
    CONF_WATER_LOW_PERCENT,
    DEFAULT_WATER_LOW_PERCENT,
    DOMAIN,
    EVENT_NODE,
    signal_node_discovered,
)
from .node import Node, Section
from .protocol import (
    AVAILABILITY_ONLINE,
    Ack,
    Backfill,
    Command,
    CommandAction,
    Event,
    EventType,
    HealthKey,
    NodeConfig,
    Plan,
    ProtocolError,
    SensorType,
    State,
    Topic,
    TopicKind,
    UnsupportedVersionError,
    encode,
    parse_topic,
    wildcard,
)
from .ranges import Range, node_ranges
from .repairs import FleetIssues
from .statistics import BackfillImporter

_LOGGER = logging.getLogger(__name__)
_SHOWN_EVENTS = frozenset(EventType)

__all__ = ["HydroFleet", "HydroFleetConfigEntry", "Node"]


def _payload(msg: mqtt.ReceiveMessage) -> bytes | str:
    """The raw payload (subscriptions use ``encoding=None``, so bytes; never a bytearray to the parser)."""
    payload = msg.payload
    return bytes(payload) if isinstance(payload, bytearray) else payload


def _changed_keys(old: Mapping[str, object], new: Mapping[str, object]) -> frozenset[str]:
    """The keys whose value differs between two samples (added and dropped keys included)."""
    if old == new:
        return frozenset()
    changed = {key for key, value in new.items() if key not in old or old[key] != value}
    changed.update(old.keys() - new.keys())
    return frozenset(changed)


def _state_of(node: Node, payload: bytes | str) -> State:
    state = State.parse(payload)
    node.config.check_readings(state.readings)
    return state


def _backfill_of(node: Node, payload: bytes | str) -> Backfill:
    backfill = Backfill.parse(payload)
    for sample in backfill.samples:
        node.config.check_readings(sample.readings, f"samples[{sample.seq}].readings")
    return backfill


class HydroFleet:
    """Runtime data of the config entry (``entry.runtime_data``)."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry[HydroFleet], prefix: str) -> None:
        self.hass = hass
        self.entry = entry
        self.prefix = prefix
        self.nodes: dict[str, Node] = {}
        # Availability can arrive before a node's config (retained messages race).
        self._online: dict[str, bool] = {}
        self._pending_acks: dict[str, asyncio.Future[Ack]] = {}
        self._reported_bad: set[tuple[str, TopicKind]] = set()
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self.created_entities: set[tuple[str, str]] = set()  # (platform, unique_id)
        # Each node's device, registered once per discovery; entities link to it directly.
        self.devices: dict[str, dr.DeviceEntry] = {}
        self.issues = FleetIssues(hass, entry.options)
        # Ranges per node, parsed from the options once (status sensors read them every sample).
        self._ranges: dict[str, dict[SensorType, Range]] = {}
        self.backfill = BackfillImporter(hass, entry.entry_id)

    @property
    def options(self) -> Mapping[str, Any]:
        return self.entry.options

    def ranges(self, node_id: str) -> dict[SensorType, Range]:
        """The probe ranges in force for a node (its options, else the defaults)."""
        ranges = self._ranges.get(node_id)
        if ranges is None:
            ranges = self._ranges[node_id] = node_ranges(self.entry.options, node_id)
        return ranges

    def _update_shown(self, node: Node, keys: frozenset[str] | None = None) -> frozenset[str] | None:
        """Bring what the node's reading entities show up to date; what changed (see Shown.update)."""
        threshold = float(self.entry.options.get(CONF_WATER_LOW_PERCENT, DEFAULT_WATER_LOW_PERCENT))
        return node.shown.update(node.config, node.state, self.ranges(node.node_id), threshold, keys)

    async def async_start(self) -> None:
        """Subscribe to every node's topics."""
        await self.backfill.async_load()
        handlers: dict[TopicKind, Callable[[mqtt.ReceiveMessage], None]] = {
            TopicKind.CONFIG: self._on_config,
            TopicKind.AVAILABILITY: self._on_availability,
            TopicKind.STATE: self._on_state,
            TopicKind.BACKFILL: self._on_backfill,
            TopicKind.EVENT: self._on_event,
            TopicKind.ACK: self._on_ack,
        }
        for kind, handler in handlers.items():
            self._unsubscribe.append(
                await mqtt.async_subscribe(self.hass, wildcard(self.prefix, kind), handler, qos=1, encoding=None)
            )

    @callback
    def async_stop(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()
        for future in self._pending_acks.values():
            future.cancel()
        self.issues.async_stop()

    @callback
    def async_options_updated(self) -> None:
        """Ranges and thresholds changed: entities recompute, repairs use the new limits."""
        self.issues.options = self.entry.options
        self._ranges.clear()
        for node in self.nodes.values():
            self._update_shown(node)
            node.async_notify()

    # --- incoming ------------------------------------------------------------

    def _node_id(self, topic: str) -> tuple[str, TopicKind] | None:
        return parse_topic(self.prefix, topic)

    def _report_bad(self, node_id: str, kind: TopicKind, err: ProtocolError) -> None:
        """Log a bad payload once per node and topic kind, until a good one comes."""
        if isinstance(err, UnsupportedVersionError) and kind is TopicKind.CONFIG:
            self.issues.unsupported_version(node_id, err.version)
        if (node_id, kind) in self._reported_bad:
            _LOGGER.debug("Ignored another bad %s payload from %s: %s", kind, node_id, err)
            return
        self._reported_bad.add((node_id, kind))
        if isinstance(err, UnsupportedVersionError):
            _LOGGER.warning("Ignored %s from node %s: %s", kind, node_id, err)
        else:
            _LOGGER.warning("Ignored a malformed %s payload from node %s: %s", kind, node_id, err)

    def _good(self, node_id: str, kind: TopicKind) -> None:
        self._reported_bad.discard((node_id, kind))

    @callback
    def _on_config(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        node_id, kind = parsed
        if not msg.payload:
            self._remove_node(node_id)
            return
        try:
            config = NodeConfig.parse(_payload(msg))
            if config.node_id != node_id:
                raise ProtocolError(f"node_id {config.node_id!r} does not match the topic's {node_id!r}")
        except ProtocolError as err:
            self._report_bad(node_id, kind, err)
            return
        self._good(node_id, kind)
        self.issues.supported_version(node_id)
        self.issues.config_seen(node_id, config.name, config.machine_id)
        node = self.nodes.get(node_id)
        if node is None:
            node = Node(config=config, topics=Topic(self.prefix, node_id), online=self._online.get(node_id, False))
            self.nodes[node_id] = node
            _LOGGER.debug("Discovered node %s (%s)", node_id, config.kind)
            if not node.online:
                self.issues.node_offline(node_id, config.name)
        else:
            if node.config == config:
                return
            self._remove_dropped_entities(node.config, config)
            node.config = config
            self._update_shown(node)
        self._register_device(config)
        async_dispatcher_send(self.hass, signal_node_discovered(self.entry.entry_id), node)
        node.async_notify()

    def _register_device(self, config: NodeConfig) -> None:
        self.devices[config.node_id] = dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, config.node_id)},
            name=config.name,
            manufacturer=config.manufacturer,
            model=config.model,
            sw_version=config.sw_version,
            hw_version=config.hw_version,
            serial_number=config.machine_id,
            configuration_url=config.configuration_url,
            # HA puts a new device in this area (creating it if needed); a user's choice is never overridden.
            suggested_area=config.area,
        )

    def _remove_dropped_entities(self, old: NodeConfig, new: NodeConfig) -> None:
        """A discovery update that drops a sensor, pump or plan removes its entities."""
        ent_reg = er.async_get(self.hass)
        old_keys = {s.key for s in old.sensors} | {p.key for p in old.pumps} | {p.key for p in old.plans}
        kept = {s.key for s in new.sensors} | {p.key for p in new.pumps} | {p.key for p in new.plans}
        dropped = old_keys - kept
        if not dropped:
            return
        prefixes = tuple(f"{old.node_id}_{key}" for key in dropped)
        for entity in er.async_entries_for_config_entry(ent_reg, self.entry.entry_id):
            # Unique ids are <node>_<key> or <node>_<key>_<aspect> (status, plan fields...).
            if any(entity.unique_id == p or entity.unique_id.startswith(f"{p}_") for p in prefixes):
                ent_reg.async_remove(entity.entity_id)

    def _remove_node(self, node_id: str) -> None:
        """An empty retained config means the node was removed: so is its device."""
        self.issues.node_removed(node_id)
        self.devices.pop(node_id, None)
        node = self.nodes.pop(node_id, None)
        if node is None:
            return
        dev_reg = dr.async_get(self.hass)
        if device := dev_reg.async_get_device(identifiers={(DOMAIN, node_id)}):
            dev_reg.async_update_device(device.id, remove_config_entry_id=self.entry.entry_id)
        _LOGGER.info("Node %s removed itself; its device is gone", node_id)

    @callback
    def async_forget(self, node_id: str) -> None:
        """Drop a node the user deleted; clear its retained config so it does not come back."""
        self.nodes.pop(node_id, None)
        self.issues.node_removed(node_id)
        self.entry.async_create_task(
            self.hass,
            mqtt.async_publish(self.hass, Topic(self.prefix, node_id).config, b"", qos=1, retain=True, encoding=None),
        )

    @callback
    def _on_availability(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        node_id, _ = parsed
        online = msg.payload in (AVAILABILITY_ONLINE, AVAILABILITY_ONLINE.encode())
        self._online[node_id] = online
        node = self.nodes.get(node_id)
        if node is None:
            return
        if online:
            self.issues.node_online(node_id)
        else:
            self.issues.node_offline(node_id, node.config.name)
        if node.online != online:
            node.online = online
            node.async_notify()

    def _known_node_message[T](
        self, msg: mqtt.ReceiveMessage, parse: Callable[[Node, bytes | str], T]
    ) -> tuple[Node, T] | None:
        """``parse`` the message of a discovered node; None (the problem logged once) if it is bad or unknown."""
        parsed = self._node_id(msg.topic)
        if parsed is None or (node := self.nodes.get(parsed[0])) is None:
            return None
        node_id, kind = parsed
        try:
            value = parse(node, _payload(msg))
        except ProtocolError as err:
            self._report_bad(node_id, kind, err)
            return None
        self._good(node_id, kind)
        return node, value

    @callback
    def _on_state(self, msg: mqtt.ReceiveMessage) -> None:
        if (message := self._known_node_message(msg, _state_of)) is None:
            return
        node, state = message
        node_id = node.node_id
        previous = node.state
        node.state = state
        changed: set[Section] = set()
        shown_keys: frozenset[str] | None = None
        if previous is None:
            changed.add(Section.READINGS)
            self._update_shown(node)
        elif changed_keys := _changed_keys(previous.readings, state.readings) | _changed_keys(
            previous.problems, state.problems
        ):
            # Only the entities whose shown value changed are called: a reading that moved
            # within its probe's normal range calls its sensor, not its status or the problems.
            shown_keys = self._update_shown(node, changed_keys)
            if shown_keys:
                changed.add(Section.READINGS)
        if previous is None or previous.pumps != state.pumps:
            changed.add(Section.PUMPS)
        if previous is None or previous.health != state.health:
            changed.add(Section.HEALTH)
        if state.plans:
            plans = {k: v for k, v in state.plans.items() if any(p.key == k for p in node.config.plans)}
            if any(node.plans.get(k) != v for k, v in plans.items()):
                node.plans.update(plans)
                changed.add(Section.PLANS)
        if not state.health.keys() <= node.health_keys:
            # A health value seen for the first time gets its diagnostic sensor.
            node.health_keys = node.health_keys | state.health.keys()
            async_dispatcher_send(self.hass, signal_node_discovered(self.entry.entry_id), node)
        last_calibration = state.health.get(HealthKey.LAST_CALIBRATION)
        if previous is None or previous.health.get(HealthKey.LAST_CALIBRATION) != last_calibration:
            self.issues.calibration_seen(node_id, node.config.name, last_calibration)
        if changed:
            node.async_notify(frozenset(changed), shown_keys)

    @callback
    def _on_backfill(self, msg: mqtt.ReceiveMessage) -> None:
        if (message := self._known_node_message(msg, _backfill_of)) is not None:
            self.backfill.async_import(*message)

    @callback
    def _on_event(self, msg: mqtt.ReceiveMessage) -> None:
        if (message := self._known_node_message(msg, lambda _node, payload: Event.parse(payload))) is None:
            return
        node, event = message
        if event.type not in _SHOWN_EVENTS:
            _LOGGER.debug("Node %s sent event type %s, which is not shown", node.node_id, event.type)
            return
        self.fire_event(node, event)

    @callback
    def fire_event(self, node: Node, event: Event) -> None:
        """Hand an event to the node's event entities and to the bus (logbook, device triggers)."""
        node.async_notify_event(event)
        device = dr.async_get(self.hass).async_get_device(identifiers={(DOMAIN, node.node_id)})
        self.hass.bus.async_fire(
            EVENT_NODE,
            {
                ATTR_DEVICE_ID: device.id if device else None,
                ATTR_NODE_ID: node.node_id,
                ATTR_EVENT_TYPE: event.type,
                ATTR_DATA: event.data,
            },
        )

    @callback
    def _on_ack(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        node_id, kind = parsed
        try:
            ack = Ack.parse(_payload(msg))
        except ProtocolError as err:
            self._report_bad(node_id, kind, err)
            return
        future = self._pending_acks.get(f"{node_id}/{ack.id}")
        if future is not None and not future.done():
            future.set_result(ack)

    # --- outgoing --------------------------------------------------------------

    async def async_command(
        self, node: Node, action: CommandAction, target: str | None = None, params: dict[str, Any] | None = None
    ) -> Ack:
        """Send a command and wait for the node's ack; raise a translated error if it fails."""
        command = Command(id=uuid4().hex, action=action, target=target, params=params or {})
        key = f"{node.node_id}/{command.id}"
        future: asyncio.Future[Ack] = self.hass.loop.create_future()
        self._pending_acks[key] = future
        placeholders = {"node": node.config.name, "action": str(action)}
        try:
            await mqtt.async_publish(self.hass, node.topics.cmd, encode(command), qos=1, encoding=None)
            async with asyncio.timeout(COMMAND_TIMEOUT):
                ack = await future
        except TimeoutError:
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="command_timeout", translation_placeholders=placeholders
            ) from None
        finally:
            self._pending_acks.pop(key, None)
        if not ack.ok:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="command_rejected",
                translation_placeholders=placeholders | {"reason": ack.message or str(ack.code)},
            )
        return ack

    async def async_set_plan(self, node: Node, plan_key: str, plan: Plan) -> Plan:
        """Send a plan; it is shown once the node confirms it (in the ack, or its next state)."""
        ack = await self.async_command(node, CommandAction.SET_PLAN, plan_key, plan.to_dict())
        confirmed = plan
        if "plan" in ack.result:
            try:
                confirmed = Plan.from_dict(ack.result["plan"], "result.plan")
            except ProtocolError as err:
                _LOGGER.warning("Node %s confirmed a plan that is not valid: %s", node.node_id, err)
        node.plans[plan_key] = confirmed
        node.async_notify()
        return confirmed


type HydroFleetConfigEntry = ConfigEntry[HydroFleet]

"""The fleet: MQTT subscriptions, parsing, and the fan-out of states, backfill and events.

One wildcard subscription per topic kind serves every node (a thousand nodes cost six
subscriptions, not thousands). Each payload is parsed once with the protocol package
and handed on: configs and availability to ``discovery``, acks to ``commands``, states
to the node (``Node.apply_state``) and its entities. Bad payloads are logged once per
node and topic kind until that node sends a good one again; nothing bad reaches an entity.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
import logging
from typing import Any

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import ATTR_DEVICE_ID
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.dispatcher import async_dispatcher_send
from homeassistant.helpers.event import async_track_time_interval

from .commands import Commands
from .const import (
    ATTR_DATA,
    ATTR_EVENT_TYPE,
    ATTR_NODE_ID,
    DOMAIN,
    EVENT_NODE,
    signal_node_discovered,
)
from .discovery import Discovery
from .node import Node
from .photos import Photos
from .protocol import (
    AVAILABILITY_ONLINE,
    Ack,
    Backfill,
    Event,
    EventType,
    HealthKey,
    NodeConfig,
    ProtocolError,
    SensorType,
    State,
    TopicKind,
    UnsupportedVersionError,
    parse_topic,
    wildcard,
)
from .ranges import Range, node_ranges
from .repairs import FleetIssues
from .settings import NodeSettings
from .statistics import BackfillImporter

_LOGGER = logging.getLogger(__name__)
_SHOWN_EVENTS = frozenset(EventType)
# A calibration grows overdue with time alone, while a node keeps reporting the same date.
CALIBRATION_CHECK_INTERVAL = timedelta(days=1)

__all__ = ["HydroFleet", "HydroFleetConfigEntry", "Node"]


def _payload(msg: mqtt.ReceiveMessage) -> bytes | str:
    """The raw payload (subscriptions use ``encoding=None``, so bytes; never a bytearray to the parser)."""
    payload = msg.payload
    return bytes(payload) if isinstance(payload, bytearray) else payload


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
        self._reported_bad: set[tuple[str, TopicKind]] = set()
        self._unsubscribe: list[CALLBACK_TYPE] = []
        self.created_entities: set[tuple[str, str]] = set()  # (platform, unique_id)
        self.issues = FleetIssues(hass, entry.options)
        # Ranges per node, parsed from the options once (status sensors read them every sample).
        self._ranges: dict[str, dict[SensorType, Range]] = {}
        self.backfill = BackfillImporter(hass, entry.entry_id)
        self.discovery = Discovery(self)
        self.commands = Commands(hass)
        self.photos = Photos(self)
        self.settings = NodeSettings(self)
        self.broker_connected = True

    @property
    def options(self) -> Mapping[str, Any]:
        return self.entry.options

    def ranges(self, node_id: str) -> dict[SensorType, Range]:
        """The probe ranges in force for a node (its options, else the defaults)."""
        ranges = self._ranges.get(node_id)
        if ranges is None:
            ranges = self._ranges[node_id] = node_ranges(self.entry.options, node_id)
        return ranges

    def update_shown(self, node: Node) -> None:
        """Recompute all that the node's reading entities show (config or options changed)."""
        node.update_shown(self.ranges(node.node_id))

    async def async_start(self) -> None:
        """Subscribe to every node's topics, and follow HA's connection to the broker."""
        await self.backfill.async_load()
        self.broker_connected = mqtt.is_connected(self.hass)
        self._unsubscribe.append(mqtt.async_subscribe_connection_status(self.hass, self._on_connection_status))
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
        self._unsubscribe.append(
            async_track_time_interval(self.hass, self._check_calibrations, CALIBRATION_CHECK_INTERVAL)
        )
        await self.photos.async_start()

    @callback
    def async_stop(self) -> None:
        while self._unsubscribe:
            self._unsubscribe.pop()()
        self.commands.async_cancel_all()
        self.issues.async_stop()
        self.photos.async_stop()

    @callback
    def async_options_updated(self) -> None:
        """Ranges and thresholds changed: entities recompute, repairs use the new limits."""
        self.issues.options = self.entry.options
        self._ranges.clear()
        for node in self.nodes.values():
            self.update_shown(node)
            node.async_notify()
        self.settings.async_options_updated()
        self._check_calibrations()

    @callback
    def _check_calibrations(self, _now: datetime | None = None) -> None:
        """Raise or clear calibration_overdue for every node by its last reported calibration."""
        for node in self.nodes.values():
            if node.state is not None:
                last_calibration = node.state.health.get(HealthKey.LAST_CALIBRATION)
                self.issues.calibration_seen(node.node_id, node.config.name, last_calibration)

    @callback
    def _on_connection_status(self, connected: bool) -> None:
        """HA lost or regained the broker: every node's entities go unavailable or come back.

        On reconnect HA's MQTT client subscribes again and the broker hands over the
        retained configs and availability, so each node is then shown as it says it is.
        """
        if connected == self.broker_connected:
            return
        self.broker_connected = connected
        if connected:
            _LOGGER.info("MQTT connection back: Hydro Fleet nodes show what they report again")
        else:
            _LOGGER.warning("MQTT connection lost: Hydro Fleet nodes are unavailable until it returns")
        for node in self.nodes.values():
            node.broker_connected = connected
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
        # Any valid message shows the node speaks this protocol version: a repair raised by
        # one stray message of another version goes with the next good one, of any kind.
        self.issues.supported_version(node_id)

    @callback
    def _on_config(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        node_id, kind = parsed
        if not msg.payload:
            self.discovery.async_node_removed(node_id)
            return
        try:
            config = NodeConfig.parse(_payload(msg))
            if config.node_id != node_id:
                raise ProtocolError(f"node_id {config.node_id!r} does not match the topic's {node_id!r}")
        except ProtocolError as err:
            self._report_bad(node_id, kind, err)
            return
        self._good(node_id, kind)
        self.discovery.async_config_received(config)

    @callback
    def _on_availability(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        online = msg.payload in (AVAILABILITY_ONLINE, AVAILABILITY_ONLINE.encode())
        self.discovery.async_availability_received(parsed[0], online)

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
        previous = node.state
        changed, shown_keys = node.apply_state(state, self.ranges(node.node_id))
        if not state.health.keys() <= node.health_keys:
            # A health value seen for the first time gets its diagnostic sensor.
            node.health_keys = node.health_keys | state.health.keys()
            async_dispatcher_send(self.hass, signal_node_discovered(self.entry.entry_id), node)
        last_calibration = state.health.get(HealthKey.LAST_CALIBRATION)
        if previous is None or previous.health.get(HealthKey.LAST_CALIBRATION) != last_calibration:
            self.issues.calibration_seen(node.node_id, node.config.name, last_calibration)
        if changed:
            node.async_notify(changed, shown_keys)

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
        self.fire_event(node, self.photos.linked(node.node_id, event))

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
        self._good(node_id, kind)
        self.commands.async_ack_received(node_id, ack)


type HydroFleetConfigEntry = ConfigEntry[HydroFleet]

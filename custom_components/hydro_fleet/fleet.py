"""The fleet: MQTT subscriptions, node discovery, state fan-out and commands.

One wildcard subscription per topic kind serves every node (a thousand nodes cost four
subscriptions, not thousands). Each payload is parsed once with the protocol package
and fanned out to the node's entities. Bad payloads are logged once per node and topic
kind until that node sends a good one again; nothing bad reaches an entity.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
import logging
from typing import Any
from uuid import uuid4

from homeassistant.components import mqtt
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.dispatcher import async_dispatcher_send

from .const import COMMAND_TIMEOUT, DOMAIN, signal_node_discovered
from .protocol import (
    AVAILABILITY_ONLINE,
    Ack,
    Command,
    CommandAction,
    NodeConfig,
    ProtocolError,
    State,
    Topic,
    TopicKind,
    UnsupportedVersionError,
    encode,
    parse_topic,
    wildcard,
)

_LOGGER = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class Node:
    """What the integration knows of one node: its discovery config and latest report."""

    config: NodeConfig
    topics: Topic
    online: bool = False
    state: State | None = None
    _listeners: list[Callable[[], None]] = field(default_factory=list)

    @property
    def node_id(self) -> str:
        return self.config.node_id

    @property
    def available(self) -> bool:
        return self.online

    @callback
    def async_add_listener(self, listener: Callable[[], None]) -> CALLBACK_TYPE:
        """Call ``listener`` on every change; returns the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def async_notify(self) -> None:
        for listener in list(self._listeners):
            listener()


class HydroFleet:
    """Runtime data of the config entry (``entry.runtime_data``)."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry, prefix: str) -> None:
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

    async def async_start(self) -> None:
        """Subscribe to every node's topics."""
        handlers: dict[TopicKind, Callable[[mqtt.ReceiveMessage], None]] = {
            TopicKind.CONFIG: self._on_config,
            TopicKind.AVAILABILITY: self._on_availability,
            TopicKind.STATE: self._on_state,
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

    # --- incoming ------------------------------------------------------------

    def _node_id(self, topic: str) -> tuple[str, TopicKind] | None:
        return parse_topic(self.prefix, topic)

    def _report_bad(self, node_id: str, kind: TopicKind, err: ProtocolError) -> None:
        """Log a bad payload once per node and topic kind, until a good one comes."""
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
            config = NodeConfig.parse(msg.payload)
            if config.node_id != node_id:
                raise ProtocolError(f"node_id {config.node_id!r} does not match the topic's {node_id!r}")
        except ProtocolError as err:
            self._report_bad(node_id, kind, err)
            return
        self._good(node_id, kind)
        node = self.nodes.get(node_id)
        if node is None:
            node = Node(config=config, topics=Topic(self.prefix, node_id), online=self._online.get(node_id, False))
            self.nodes[node_id] = node
            _LOGGER.debug("Discovered node %s (%s)", node_id, config.kind)
        else:
            if node.config == config:
                return
            self._remove_dropped_entities(node.config, config)
            node.config = config
        self._register_device(config)
        async_dispatcher_send(self.hass, signal_node_discovered(self.entry.entry_id), node)
        node.async_notify()

    def _register_device(self, config: NodeConfig) -> None:
        dr.async_get(self.hass).async_get_or_create(
            config_entry_id=self.entry.entry_id,
            identifiers={(DOMAIN, config.node_id)},
            name=config.name,
            manufacturer=config.manufacturer,
            model=config.model,
            sw_version=config.sw_version,
            hw_version=config.hw_version,
            configuration_url=config.configuration_url,
        )

    def _remove_dropped_entities(self, old: NodeConfig, new: NodeConfig) -> None:
        """A discovery update that drops a sensor or pump removes its entity."""
        ent_reg = er.async_get(self.hass)
        kept = {s.key for s in new.sensors} | {p.key for p in new.pumps}
        for key in {s.key for s in old.sensors} | {p.key for p in old.pumps}:
            if key in kept:
                continue
            unique_id = f"{old.node_id}_{key}"
            for platform in ("sensor", "switch"):
                if entity_id := ent_reg.async_get_entity_id(platform, DOMAIN, unique_id):
                    ent_reg.async_remove(entity_id)

    def _remove_node(self, node_id: str) -> None:
        """An empty retained config means the node was removed: so is its device."""
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
        self.hass.async_create_task(
            mqtt.async_publish(self.hass, Topic(self.prefix, node_id).config, b"", qos=1, retain=True, encoding=None)
        )

    @callback
    def _on_availability(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        node_id, _ = parsed
        online = msg.payload in (AVAILABILITY_ONLINE, AVAILABILITY_ONLINE.encode())
        self._online[node_id] = online
        if (node := self.nodes.get(node_id)) is not None and node.online != online:
            node.online = online
            node.async_notify()

    @callback
    def _on_state(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None or (node := self.nodes.get(parsed[0])) is None:
            return
        node_id, kind = parsed
        try:
            state = State.parse(msg.payload)
            node.config.check_readings(state.readings)
        except ProtocolError as err:
            self._report_bad(node_id, kind, err)
            return
        self._good(node_id, kind)
        node.state = state
        node.async_notify()

    @callback
    def _on_ack(self, msg: mqtt.ReceiveMessage) -> None:
        parsed = self._node_id(msg.topic)
        if parsed is None:
            return
        node_id, kind = parsed
        try:
            ack = Ack.parse(msg.payload)
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


type HydroFleetConfigEntry = ConfigEntry[HydroFleet]

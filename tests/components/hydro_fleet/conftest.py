"""Fixtures for the integration's tests in Home Assistant's own test harness."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
import json
import time
from typing import Any
from unittest.mock import PropertyMock, patch

from homeassistant.components import mqtt
from homeassistant.const import Platform
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message, snapshot_platform
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from custom_components.hydro_fleet.const import CONF_PREFIX, DOMAIN
from hydro_fleet_protocol import (
    Ack,
    CameraConfig,
    Command,
    CommandAction,
    HealthKey,
    NodeConfig,
    Plan,
    PlanType,
    PumpRun,
    PumpState,
    State,
    encode,
)
from tests.pi_node import pi_node_config


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let HA load custom_components/hydro_fleet."""


@pytest.fixture
def entity_registry_enabled_by_default() -> Iterator[None]:
    """Every entity enabled, also those off by default (HA core's fixture of the same name)."""
    with patch(
        "homeassistant.helpers.entity.Entity.entity_registry_enabled_default",
        return_value=True,
        new_callable=PropertyMock,
    ):
        yield


node_config = pi_node_config

# The Pi of the sensor and binary sensor snapshots has a camera whose last photo failed,
# and whose disk budget dropped photos: the camera's health entities are in the snapshots.
CAMERA_NODE = node_config(cameras=(CameraConfig("plant", "Plant", photo_interval=60),))
CAMERA_NODE_HEALTH = {"uptime": 1, HealthKey.CAMERA_OK: False, HealthKey.PHOTOS_DROPPED: 3}


PLAN = Plan(type=PlanType.MOISTURE, volume_ml=250, threshold=35, check_interval=600, min_pause=3600)


def node_state(
    seq: int = 1,
    pump_on: bool = False,
    health: dict[str, Any] | None = None,
    problems: dict[str, Any] | None = None,
    plans: dict[str, Plan] | None = None,
    water_low: bool | None = False,
    **readings: Any,
) -> State:
    values = {
        "tds": 700.0,
        "ec": 1400.0,
        "ph": 6.1,
        "moisture": 45.5,
        "water_level": 80.0,
        "water_temperature": 21.5,
    } | readings
    return State(
        ts=1_700_000_000.0 + seq,
        seq=seq,
        readings=values,
        # A running pump's deadline lies ahead of HA's clock: past it, HA shows the pump off.
        pumps={"pump": PumpState(on=pump_on, until=time.time() + 600 if pump_on else None)},
        health={"uptime": seq} if health is None else health,
        problems=problems or {},
        plans={"plan": PLAN} if plans is None else plans,
        water_low=water_low,  # the node's dry-run decision, as a Pi bridge sends it
    )


def publish(hass: HomeAssistant, node_id: str, kind: str, payload: Any) -> None:
    if not isinstance(payload, str | bytes):
        payload = encode(payload) if hasattr(payload, "to_dict") else json.dumps(payload)
    async_fire_mqtt_message(hass, f"hydro_fleet/{node_id}/{kind}", payload)


@pytest.fixture
async def setup_integration(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> MockConfigEntry:
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done()
    return entry


async def online_node(
    hass: HomeAssistant, node_id: str = "pi-1", config: NodeConfig | None = None, **state: Any
) -> None:
    publish(hass, node_id, "config", config or node_config(node_id))
    publish(hass, node_id, "availability", "online")
    publish(hass, node_id, "state", node_state(**state))
    await hass.async_block_till_done()


def node_ack(command: Command, config: NodeConfig) -> Ack:
    """The ack a node sends: a ``pump_on`` beyond the pump's max runtime runs for the max
    runtime and says it was clipped (pi_bridge/commands.py and the ESPHome node do the same)."""
    pump = next((p for p in config.pumps if p.key == command.target), None)
    if command.action is not CommandAction.PUMP_ON or pump is None:
        return Ack(command.id, ok=True)
    asked = command.params.get(PumpRun.DURATION)
    clipped = asked is not None and asked > pump.max_runtime
    result: dict[str, Any] = {
        PumpRun.DURATION: pump.max_runtime if asked is None or clipped else asked,
        PumpRun.CLIPPED: clipped,
    }
    if clipped:
        result[PumpRun.REQUESTED] = asked
    return Ack(command.id, ok=True, result=result)


class FakeNode:
    """Answers commands the integration publishes, through HA's (mocked) MQTT client.

    The mocked paho client loops every publish back to subscribers, so the command
    travels the same path it does to a real node.
    """

    def __init__(self, hass: HomeAssistant) -> None:
        self.hass = hass
        self.commands: list[Command] = []
        self.respond: Callable[[Command], Ack | None] = lambda command: Ack(command.id, ok=True)

    @callback
    def _on_command(self, msg: mqtt.ReceiveMessage) -> None:
        command = Command.parse(msg.payload)
        self.commands.append(command)
        if (ack := self.respond(command)) is not None:
            node_id = msg.topic.split("/")[1]
            self.hass.loop.call_soon(publish, self.hass, node_id, "ack", ack)


@pytest.fixture
async def fake_node(hass: HomeAssistant, setup_integration: MockConfigEntry) -> AsyncIterator[FakeNode]:
    node = FakeNode(hass)
    unsubscribe = await mqtt.async_subscribe(hass, "hydro_fleet/+/cmd", node._on_command, encoding=None)
    yield node
    unsubscribe()


async def snapshot_node_platform(
    hass: HomeAssistant,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
    platform: str,
    config: NodeConfig | None = None,
    **state: Any,
) -> None:
    """Set up only ``platform``, discover pi-1 with a sample, and snapshot its entities' registry entries and states.

    As HA core's per-platform tests do (``snapshot_platform``): every entity enabled, one
    platform loaded, the registry entry and the state of each compared with the snapshot.
    """
    entry = MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN)
    entry.add_to_hass(hass)
    with patch("custom_components.hydro_fleet.PLATFORMS", [Platform(platform)]):
        assert await hass.config_entries.async_setup(entry.entry_id)
        await hass.async_block_till_done()
        await online_node(hass, config=config, **state)
    await snapshot_platform(hass, entity_registry, snapshot, entry.entry_id)

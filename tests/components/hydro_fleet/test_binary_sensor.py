"""The binary_sensor platform: every entity of a Pi node, its registry entry and its state (snapshot)."""

from __future__ import annotations

from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.typing import MqttMockHAClient
from syrupy.assertion import SnapshotAssertion

from .conftest import CAMERA_NODE, CAMERA_NODE_HEALTH, snapshot_node_platform


@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_binary_sensor_entities(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, entity_registry: er.EntityRegistry, snapshot: SnapshotAssertion
) -> None:
    await snapshot_node_platform(
        hass, entity_registry, snapshot, "binary_sensor", CAMERA_NODE, health=CAMERA_NODE_HEALTH
    )

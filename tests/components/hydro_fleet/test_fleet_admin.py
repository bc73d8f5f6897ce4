"""Reconfigure, deleting stale devices, and health sensors that appear when reported."""

from __future__ import annotations

from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_mqtt_message
from pytest_homeassistant_custom_component.typing import MqttMockHAClient, WebSocketGenerator

from custom_components.hydro_fleet.const import DOMAIN
from hydro_fleet_protocol import encode

from .conftest import node_config, node_state, online_node, publish


async def test_reconfigure_changes_the_prefix_and_resubscribes(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, setup_integration: MockConfigEntry
) -> None:
    result = await setup_integration.start_reconfigure_flow(hass)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "reconfigure"
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"prefix": "farm/+"})
    assert result["errors"] == {"prefix": "invalid_prefix"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {"prefix": "/farm/"})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert setup_integration.data == {"prefix": "farm"}
    assert setup_integration.runtime_data.prefix == "farm"
    # The reloaded entry listens under the new prefix.
    async_fire_mqtt_message(hass, "farm/pi-5/config", encode(node_config("pi-5")))
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-5")}) is not None


async def test_stale_device_can_be_deleted_but_not_an_online_one(
    hass: HomeAssistant,
    hass_ws_client: WebSocketGenerator,
    mqtt_mock: MqttMockHAClient,
    setup_integration: MockConfigEntry,
) -> None:
    assert await async_setup_component(hass, "config", {})
    await online_node(hass)
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")})
    client = await hass_ws_client(hass)

    async def remove() -> dict:
        await client.send_json_auto_id(
            {
                "type": "config/device_registry/remove_config_entry",
                "config_entry_id": setup_integration.entry_id,
                "device_id": device.id,
            }
        )
        return await client.receive_json()

    assert (await remove())["success"] is False  # online: it would come straight back
    assert dr.async_get(hass).async_get(device.id) is not None

    publish(hass, "pi-1", "availability", "offline")
    await hass.async_block_till_done()
    mqtt_mock.async_publish.reset_mock()
    assert (await remove())["success"] is True
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get(device.id) is None
    # Its retained discovery is cleared so that it does not come back on restart.
    mqtt_mock.async_publish.assert_called_once_with("hydro_fleet/pi-1/config", b"", 1, True)


async def test_health_sensors_appear_when_reported_and_are_diagnostic(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass, health={})
    assert hass.states.get("sensor.pi_1_cpu_temperature") is None
    publish(
        hass,
        "pi-1",
        "state",
        node_state(
            seq=2,
            health={
                "uptime": 3600,
                "rssi": -61,
                "cpu_temperature": 48.3,
                "disk_free": 10240,
                "battery": 87,
                "last_calibration": 1_699_000_000,
                "firmware": "bridge 0.2.0",
                "unknown_key": 1,
            },
        ),
    )
    await hass.async_block_till_done()
    ent_reg = er.async_get(hass)
    enabled = {
        "sensor.pi_1_battery": "87",
        "sensor.pi_1_last_calibration": "2023-11-03T08:26:40+00:00",
    }
    for entity_id, value in enabled.items():
        assert hass.states.get(entity_id).state == value, entity_id
        assert ent_reg.async_get(entity_id).entity_category == "diagnostic"
    for entity_id in (
        "sensor.pi_1_last_restart",
        "sensor.pi_1_signal_strength",
        "sensor.pi_1_free_disk",
        "sensor.pi_1_firmware",
        "sensor.pi_1_cpu_temperature",
    ):
        entry = ent_reg.async_get(entity_id)
        assert entry is not None, entity_id
        assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
        assert entry.entity_category == "diagnostic"

    publish(hass, "pi-1", "availability", "offline")
    await hass.async_block_till_done()
    assert hass.states.get("sensor.pi_1_battery").state == STATE_UNAVAILABLE


async def test_a_discovery_update_renames_the_device_and_its_entities(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    publish(hass, "pi-1", "config", node_config(name="Greenhouse", sw_version="0.2.0"))
    publish(hass, "pi-1", "state", node_state(seq=2, ph=6.3))
    await hass.async_block_till_done()
    device = dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-1")})
    assert (device.name, device.sw_version) == ("Greenhouse", "0.2.0")
    state = hass.states.get("sensor.pi_1_ph")
    assert state.attributes["friendly_name"] == "Greenhouse pH"
    assert er.async_get(hass).async_get("sensor.pi_1_ph").device_id == device.id


async def test_a_node_removed_before_its_entities_were_added_leaves_nothing(
    hass: HomeAssistant, setup_integration: MockConfigEntry, caplog: pytest.LogCaptureFixture
) -> None:
    # Entities are added in a batch after the burst; the node is gone by then.
    publish(hass, "pi-9", "config", node_config("pi-9"))
    publish(hass, "pi-9", "config", "")
    await hass.async_block_till_done()
    assert dr.async_get(hass).async_get_device(identifiers={(DOMAIN, "pi-9")}) is None
    assert [s.entity_id for s in hass.states.async_all() if "pi_9" in s.entity_id] == []
    assert "Error adding entity" not in caplog.text
    # ...and it can come back with all its entities.
    await online_node(hass, "pi-9")
    assert hass.states.get("sensor.pi_9_ph").state == "6.1"

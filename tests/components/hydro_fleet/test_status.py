"""Probe status sensors, the problem binary sensors, and ranges from the options flow."""

from __future__ import annotations

from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, InvalidData
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
import voluptuous as vol

from hydro_fleet_protocol import SensorConfig, SensorType

from .conftest import node_config, node_state, online_node, publish


async def _send(hass: HomeAssistant, **kwargs: object) -> None:
    publish(hass, "pi-1", "state", node_state(**kwargs))  # type: ignore[arg-type]
    await hass.async_block_till_done()


async def test_status_follows_default_hydroponics_ranges(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    status = hass.states.get("sensor.pi_1_ph_status")
    assert status.state == "normal"
    assert status.attributes["options"] == ["normal", "warning", "critical", "sensor_fault"]
    assert (status.attributes["normal_min"], status.attributes["normal_max"]) == (5.5, 6.5)
    assert hass.states.get("binary_sensor.pi_1_needs_attention").state == STATE_OFF
    assert hass.states.get("binary_sensor.pi_1_water_low").state == STATE_OFF

    await _send(hass, seq=2, ph=6.8)
    assert hass.states.get("sensor.pi_1_ph_status").state == "warning"
    attention = hass.states.get("binary_sensor.pi_1_needs_attention")
    assert attention.state == STATE_ON
    assert attention.attributes["reasons"] == ["ph: warning"]

    await _send(hass, seq=3, ph=7.4)
    assert hass.states.get("sensor.pi_1_ph_status").state == "critical"

    # A probe the node reports as faulty has no reading and a sensor_fault status.
    await _send(hass, seq=4, ph=None, problems={"ph": "disconnected"})
    assert hass.states.get("sensor.pi_1_ph").state == STATE_UNKNOWN
    assert hass.states.get("sensor.pi_1_ph_status").state == "sensor_fault"
    assert hass.states.get("binary_sensor.pi_1_needs_attention").attributes["reasons"] == ["ph: sensor_fault"]

    await _send(hass, seq=5)
    assert hass.states.get("sensor.pi_1_ph_status").state == "normal"
    assert hass.states.get("binary_sensor.pi_1_needs_attention").state == STATE_OFF


async def test_water_low_from_a_float_switch(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    """A node that sends no decision of its own (``State.water_low``) but has a float
    switch: the switch is its word (an ESPHome node refuses pumps on it)."""
    await online_node(hass)
    config = node_config()
    sensors = (*config.sensors[:4], SensorConfig("float", SensorType.WATER_LOW))
    publish(hass, "pi-1", "config", node_config(sensors=sensors))
    await _send(hass, seq=3, float=True, water_low=None)
    assert hass.states.get("binary_sensor.pi_1_water_low").state == STATE_ON
    await _send(hass, seq=4, float=False, water_low=None)
    assert hass.states.get("binary_sensor.pi_1_water_low").state == STATE_OFF


async def test_options_flow_sets_thresholds_and_one_nodes_ranges(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    await _send(hass, seq=2, ph=6.8, water_level=22.0)
    assert hass.states.get("sensor.pi_1_ph_status").state == "warning"

    result = await hass.config_entries.options.async_init(setup_integration.entry_id)
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "init"
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "offline_minutes": 10,
            "calibration_days": 60,
            "water_low_percent": 25,
            "node": "pi-1",
        },
    )
    assert result["step_id"] == "ranges"
    assert result["description_placeholders"] == {"node": "pi-1"}
    ranges = {
        "ph": {"critical_min": 5.0, "normal_min": 5.8, "normal_max": 7.0, "critical_max": 7.5},
        "tds": {"critical_min": 300, "normal_min": 500, "normal_max": 1250, "critical_max": 1750},
        "ec": {"critical_min": 600, "normal_min": 1000, "normal_max": 2500, "critical_max": 3500},
        "moisture": {"critical_min": 15, "normal_min": 30, "normal_max": 70, "critical_max": 90},
        "water_temperature": {"critical_min": 15, "normal_min": 18, "normal_max": 24, "critical_max": 28},
        "water_level": {"critical_min": 10, "normal_min": 25, "normal_max": 100, "critical_max": 100},
    }
    bad = {**ranges, "ph": {"critical_min": 7.0, "normal_min": 5.8, "normal_max": 7.0, "critical_max": 7.5}}
    result = await hass.config_entries.options.async_configure(result["flow_id"], bad)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"ph": "range_order"}
    result = await hass.config_entries.options.async_configure(result["flow_id"], ranges)
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()

    assert setup_integration.options["ranges"]["pi-1"]["ph"] == [5.0, 5.8, 7.0, 7.5]
    # Applied at once, without a reload.
    assert hass.states.get("sensor.pi_1_ph_status").state == "normal"
    assert hass.states.get("sensor.pi_1_ph_status").attributes["normal_max"] == 7.0


async def test_options_flow_without_a_node_saves_thresholds_only(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    result = await hass.config_entries.options.async_init(setup_integration.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {
            "offline_minutes": 5,
            "calibration_days": 30,
            "water_low_percent": 20,
        },
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert dict(setup_integration.options) == {
        "offline_minutes": 5,
        "calibration_days": 30,
        "water_low_percent": 20,
        "photo_keep_count": 2000,
        "photo_keep_days": 90,
    }


async def test_options_flow_offers_only_real_nodes(hass: HomeAssistant, setup_integration: MockConfigEntry) -> None:
    """No sentinel "no node" option (hassfest refuses '-' as a key): the field is optional."""
    await online_node(hass)
    result = await hass.config_entries.options.async_init(setup_integration.entry_id)
    node_field = next(key for key in result["data_schema"].schema if key == "node")
    assert isinstance(node_field, vol.Optional)
    assert result["data_schema"].schema[node_field].config["options"] == ["pi-1"]
    with pytest.raises(InvalidData):
        await hass.config_entries.options.async_configure(
            result["flow_id"], {"offline_minutes": 5, "calibration_days": 30, "node": "-"}
        )


async def test_new_ranges_show_even_when_the_status_stays(
    hass: HomeAssistant, setup_integration: MockConfigEntry
) -> None:
    await online_node(hass)
    assert hass.states.get("sensor.pi_1_ph_status").state == "normal"
    hass.config_entries.async_update_entry(
        setup_integration, options={**setup_integration.options, "ranges": {"pi-1": {"ph": [5.0, 5.8, 7.0, 7.5]}}}
    )
    await hass.async_block_till_done()
    status = hass.states.get("sensor.pi_1_ph_status")
    assert status.state == "normal"
    assert (status.attributes["normal_min"], status.attributes["normal_max"]) == (5.8, 7.0)
    assert (status.attributes["critical_min"], status.attributes["critical_max"]) == (5.0, 7.5)

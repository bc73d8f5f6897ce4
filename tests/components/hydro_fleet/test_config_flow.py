"""The config flow: from MQTT discovery and from the user."""

from __future__ import annotations

from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.hydro_fleet.const import CONF_PREFIX, DOMAIN
from hydro_fleet_protocol import encode

from .conftest import node_config


def _discovery(payload: bytes, topic: str = "hydro_fleet/pi-1/config") -> MqttServiceInfo:
    return MqttServiceInfo(
        topic=topic, payload=payload, qos=1, retain=True, subscribed_topic="hydro_fleet/+/config", timestamp=0
    )


async def test_discovery_starts_a_flow_that_creates_the_entry(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_MQTT}, data=_discovery(encode(node_config()))
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "confirm"
    assert result["description_placeholders"] == {"name": "pi-1"}

    result = await hass.config_entries.flow.async_configure(result["flow_id"], {})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_PREFIX: "hydro_fleet"}
    await hass.async_block_till_done()


async def test_discovery_with_a_bad_payload_aborts(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    for payload in (b"", b"{nope", b'{"v": 1, "node_id": "pi-1", "kind": "toaster"}'):
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": config_entries.SOURCE_MQTT}, data=_discovery(payload)
        )
        assert result["type"] is FlowResultType.ABORT
        assert result["reason"] == "invalid_discovery_info"


async def test_second_discovery_aborts_when_configured(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "hydro_fleet"}, unique_id=DOMAIN).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_MQTT},
        data=_discovery(encode(node_config("pi-2")), "hydro_fleet/pi-2/config"),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] in ("already_configured", "single_instance_allowed")


async def test_user_flow_validates_the_prefix(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.FORM
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PREFIX: "bad/#"})
    assert result["errors"] == {CONF_PREFIX: "invalid_prefix"}
    result = await hass.config_entries.flow.async_configure(result["flow_id"], {CONF_PREFIX: "greenhouse/"})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["data"] == {CONF_PREFIX: "greenhouse"}
    await hass.async_block_till_done()


async def test_user_flow_needs_mqtt(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "mqtt_not_configured"


async def test_adding_once_set_up_says_how_a_node_joins(hass: HomeAssistant, mqtt_mock: MqttMockHAClient) -> None:
    """The integration page's button ("Add a node") explains instead of aborting with "already set up"."""
    MockConfigEntry(domain=DOMAIN, data={CONF_PREFIX: "greenhouse"}, unique_id=DOMAIN).add_to_hass(hass)
    result = await hass.config_entries.flow.async_init(DOMAIN, context={"source": config_entries.SOURCE_USER})
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "add_node"
    assert result["description_placeholders"]["prefix"] == "greenhouse"
    assert result["description_placeholders"]["broker"].endswith(":1883")
    assert len(hass.config_entries.async_entries(DOMAIN)) == 1

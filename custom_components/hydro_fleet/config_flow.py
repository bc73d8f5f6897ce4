"""Config flow: started by the first node's MQTT discovery, or by the user."""

from __future__ import annotations

from typing import Any

from homeassistant.components.mqtt import valid_subscribe_topic
from homeassistant.config_entries import ConfigFlow, ConfigFlowResult
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
import voluptuous as vol

from .const import CONF_PREFIX, DOMAIN
from .protocol import DEFAULT_PREFIX, NodeConfig, ProtocolError, TopicKind, parse_topic


class HydroFleetConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry serves the whole fleet (``single_config_entry`` in the manifest)."""

    VERSION = 1

    def __init__(self) -> None:
        self._prefix = DEFAULT_PREFIX
        self._node_name: str | None = None

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """A node published its discovery config."""
        await self.async_set_unique_id(DOMAIN)
        self._abort_if_unique_id_configured()
        prefix = discovery_info.subscribed_topic.split("/", 1)[0]
        parsed = parse_topic(prefix, discovery_info.topic)
        if parsed is None or parsed[1] is not TopicKind.CONFIG or not discovery_info.payload:
            return self.async_abort(reason="invalid_discovery_info")
        try:
            config = NodeConfig.parse(discovery_info.payload)
        except ProtocolError:
            return self.async_abort(reason="invalid_discovery_info")
        self._prefix = prefix
        self._node_name = config.name
        self.context["title_placeholders"] = {"name": config.name}
        return await self.async_step_confirm()

    async def async_step_confirm(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask before adding the fleet."""
        if user_input is not None:
            return self.async_create_entry(title="Hydro Fleet", data={CONF_PREFIX: self._prefix})
        self._set_confirm_only()
        return self.async_show_form(step_id="confirm", description_placeholders={"name": self._node_name or ""})

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Set up by hand, with the topic prefix the nodes use."""
        await self.async_set_unique_id(DOMAIN)
        self._abort_if_unique_id_configured()
        if not self.hass.config_entries.async_entries("mqtt"):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            prefix = user_input[CONF_PREFIX].strip().strip("/")
            try:
                valid_subscribe_topic(f"{prefix}/+/config")
                if not prefix or "+" in prefix or "#" in prefix:
                    raise vol.Invalid("wildcard")
            except vol.Invalid:
                errors[CONF_PREFIX] = "invalid_prefix"
            else:
                return self.async_create_entry(title="Hydro Fleet", data={CONF_PREFIX: prefix})
        return self.async_show_form(
            step_id="user",
            data_schema=vol.Schema({vol.Required(CONF_PREFIX, default=DEFAULT_PREFIX): str}),
            errors=errors,
        )

"""Config flow: started by the first node's MQTT discovery, or by the user; options and reconfigure."""

from __future__ import annotations

from typing import Any

from homeassistant.components.mqtt import valid_subscribe_topic
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers import selector
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo
import voluptuous as vol

from .const import (
    CONF_CALIBRATION_DAYS,
    CONF_OFFLINE_MINUTES,
    CONF_PHOTO_KEEP_COUNT,
    CONF_PHOTO_KEEP_DAYS,
    CONF_PREFIX,
    CONF_RANGES,
    CONF_WATER_LOW_PERCENT,
    DEFAULT_CALIBRATION_DAYS,
    DEFAULT_OFFLINE_MINUTES,
    DEFAULT_PHOTO_KEEP_COUNT,
    DEFAULT_PHOTO_KEEP_DAYS,
    DOMAIN,
)
from .protocol import DEFAULT_PREFIX, NodeConfig, ProtocolError, SensorType, TopicKind, parse_topic
from .ranges import DEFAULT_RANGES, Range, node_ranges

CONF_NODE = "node"
_RANGE_FIELDS = ("critical_min", "normal_min", "normal_max", "critical_max")


def _clean_prefix(raw: str) -> str | None:
    """The prefix as typed, or None if it cannot be an MQTT topic level without wildcards."""
    prefix = raw.strip().strip("/")
    try:
        valid_subscribe_topic(f"{prefix}/+/config")
    except vol.Invalid:
        return None
    if not prefix or "+" in prefix or "#" in prefix:
        return None
    return prefix


def _prefix_schema(default: str) -> vol.Schema:
    return vol.Schema({vol.Required(CONF_PREFIX, default=default): str})


class HydroFleetConfigFlow(ConfigFlow, domain=DOMAIN):
    """One entry serves the whole fleet (unique id ``hydro_fleet``); nodes join it by discovery."""

    VERSION = 1

    def __init__(self) -> None:
        self._prefix = DEFAULT_PREFIX
        self._node_name: str | None = None

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> HydroFleetOptionsFlow:
        return HydroFleetOptionsFlow()

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """A node published its discovery config."""
        await self.async_set_unique_id(DOMAIN)
        self._abort_if_unique_id_configured()
        prefix = discovery_info.subscribed_topic.split("/", 1)[0]
        parsed = parse_topic(prefix, discovery_info.topic)
        if parsed is None or parsed[1] is not TopicKind.CONFIG or not discovery_info.payload:
            return self.async_abort(reason="invalid_discovery_info")
        try:
            payload = discovery_info.payload
            config = NodeConfig.parse(bytes(payload) if isinstance(payload, bytearray) else payload)
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
        """Set up by hand, with the topic prefix the nodes use; once set up, say how a node joins.

        The integration page's button starts this flow ("Add a node"): with the fleet set
        up there is nothing to add by hand, since every node joins by announcing itself.
        """
        if entries := self._async_current_entries(include_ignore=False):
            return self.async_abort(reason="add_node", description_placeholders=self._join_placeholders(entries[0]))
        await self.async_set_unique_id(DOMAIN)
        self._abort_if_unique_id_configured()
        if not self.hass.config_entries.async_entries("mqtt"):
            return self.async_abort(reason="mqtt_not_configured")
        errors: dict[str, str] = {}
        if user_input is not None:
            if (prefix := _clean_prefix(user_input[CONF_PREFIX])) is None:
                errors[CONF_PREFIX] = "invalid_prefix"
            else:
                return self.async_create_entry(title="Hydro Fleet", data={CONF_PREFIX: prefix})
        return self.async_show_form(step_id="user", data_schema=_prefix_schema(DEFAULT_PREFIX), errors=errors)

    def _join_placeholders(self, entry: ConfigEntry) -> dict[str, str]:
        """Where a new node must connect: the MQTT broker HA uses, and the fleet's topic prefix."""
        mqtt_entries = self.hass.config_entries.async_entries("mqtt")
        broker = mqtt_entries[0].data.get("broker", "") if mqtt_entries else ""
        port = mqtt_entries[0].data.get("port", 1883) if mqtt_entries else 1883
        return {"broker": f"{broker}:{port}", "prefix": entry.data.get(CONF_PREFIX, DEFAULT_PREFIX)}

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the topic prefix; the entry reloads and resubscribes."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            if (prefix := _clean_prefix(user_input[CONF_PREFIX])) is None:
                errors[CONF_PREFIX] = "invalid_prefix"
            else:
                return self.async_update_reload_and_abort(entry, data_updates={CONF_PREFIX: prefix})
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_prefix_schema(entry.data.get(CONF_PREFIX, DEFAULT_PREFIX)),
            errors=errors,
        )


def _minutes(maximum: int, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=1, max=maximum, step=1, mode=selector.NumberSelectorMode.BOX, unit_of_measurement=unit
        )
    )


class HydroFleetOptionsFlow(OptionsFlow):
    """Fleet thresholds, then optionally one node's probe ranges."""

    def __init__(self) -> None:
        self._options: dict[str, Any] = {}
        self._node_id: str | None = None

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        options = self.config_entry.options
        if user_input is not None:
            # Left empty: only the fleet-wide thresholds are saved. (No sentinel option for
            # "no node": every valid translation key is also a valid node id.)
            node_id = user_input.pop(CONF_NODE, None)
            self._options = {**options, **user_input}
            if CONF_WATER_LOW_PERCENT not in user_input:
                # Left empty: HA sends no threshold and each node keeps its own.
                self._options.pop(CONF_WATER_LOW_PERCENT, None)
            if node_id:
                self._node_id = node_id
                return await self.async_step_ranges()
            return self.async_create_entry(data=self._options)
        fleet = getattr(self.config_entry, "runtime_data", None)  # unset while the entry is not loaded
        nodes = sorted(fleet.nodes) if fleet is not None else []
        schema = vol.Schema(
            {
                vol.Required(
                    CONF_OFFLINE_MINUTES, default=options.get(CONF_OFFLINE_MINUTES, DEFAULT_OFFLINE_MINUTES)
                ): _minutes(10080, "min"),
                vol.Required(
                    CONF_CALIBRATION_DAYS, default=options.get(CONF_CALIBRATION_DAYS, DEFAULT_CALIBRATION_DAYS)
                ): _minutes(3650, "d"),
                vol.Optional(
                    CONF_WATER_LOW_PERCENT, description={"suggested_value": options.get(CONF_WATER_LOW_PERCENT)}
                ): _minutes(100, "%"),
                vol.Required(
                    CONF_PHOTO_KEEP_COUNT, default=options.get(CONF_PHOTO_KEEP_COUNT, DEFAULT_PHOTO_KEEP_COUNT)
                ): _minutes(1_000_000, "photos"),
                vol.Required(
                    CONF_PHOTO_KEEP_DAYS, default=options.get(CONF_PHOTO_KEEP_DAYS, DEFAULT_PHOTO_KEEP_DAYS)
                ): _minutes(36500, "d"),
                vol.Optional(CONF_NODE): selector.SelectSelector(
                    selector.SelectSelectorConfig(options=nodes, mode=selector.SelectSelectorMode.DROPDOWN)
                ),
            }
        )
        return self.async_show_form(step_id="init", data_schema=schema)

    async def async_step_ranges(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Normal and critical bounds of each probe type for one node."""
        assert self._node_id is not None
        errors: dict[str, str] = {}
        current = node_ranges(self._options, self._node_id)
        if user_input is not None:
            ranges: dict[str, list[float]] = {}
            for sensor_type in DEFAULT_RANGES:
                values = user_input.get(str(sensor_type), {})
                parsed = Range.from_list([values.get(name) for name in _RANGE_FIELDS])
                if parsed is None:
                    errors[str(sensor_type)] = "range_order"
                else:
                    ranges[str(sensor_type)] = parsed.as_list()
            if not errors:
                all_ranges = {**self._options.get(CONF_RANGES, {}), self._node_id: ranges}
                return self.async_create_entry(data={**self._options, CONF_RANGES: all_ranges})
        number = vol.Coerce(float)
        schema = vol.Schema(
            {
                vol.Required(str(sensor_type)): section(
                    vol.Schema(
                        {
                            vol.Required(name, default=value): number
                            for name, value in zip(_RANGE_FIELDS, current[sensor_type].as_list(), strict=True)
                        }
                    ),
                    {"collapsed": sensor_type is not SensorType.PH},
                )
                for sensor_type in DEFAULT_RANGES
            }
        )
        return self.async_show_form(
            step_id="ranges", data_schema=schema, errors=errors, description_placeholders={"node": self._node_id}
        )

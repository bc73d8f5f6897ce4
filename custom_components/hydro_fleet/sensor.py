"""Sensors: every reading a node announces in its discovery config."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import (
    CONCENTRATION_PARTS_PER_MILLION,
    PERCENTAGE,
    SIGNAL_STRENGTH_DECIBELS_MILLIWATT,
    EntityCategory,
    UnitOfConductivity,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry, Node
from .protocol import SensorConfig, SensorType

PARALLEL_UPDATES = 0

_MEASUREMENT = SensorStateClass.MEASUREMENT
# What each protocol sensor type is in Home Assistant. Units are HA's canonical ones for
# the type; the node's announced unit only matters for temperature (C or F).
DESCRIPTIONS: dict[SensorType, SensorEntityDescription] = {
    SensorType.TDS: SensorEntityDescription(
        key="tds", translation_key="tds", native_unit_of_measurement=CONCENTRATION_PARTS_PER_MILLION,
        state_class=_MEASUREMENT,
    ),
    SensorType.EC: SensorEntityDescription(
        key="ec", device_class=SensorDeviceClass.CONDUCTIVITY, translation_key="ec",
        native_unit_of_measurement=UnitOfConductivity.MICROSIEMENS_PER_CM, state_class=_MEASUREMENT,
    ),
    SensorType.PH: SensorEntityDescription(key="ph", device_class=SensorDeviceClass.PH, state_class=_MEASUREMENT),
    SensorType.MOISTURE: SensorEntityDescription(
        key="moisture", device_class=SensorDeviceClass.MOISTURE, native_unit_of_measurement=PERCENTAGE,
        state_class=_MEASUREMENT,
    ),
    SensorType.WATER_LEVEL: SensorEntityDescription(
        key="water_level", translation_key="water_level", native_unit_of_measurement=PERCENTAGE,
        state_class=_MEASUREMENT,
    ),
    SensorType.WATER_TEMPERATURE: SensorEntityDescription(
        key="water_temperature", translation_key="water_temperature", device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS, state_class=_MEASUREMENT,
    ),
    SensorType.TEMPERATURE: SensorEntityDescription(
        key="temperature", device_class=SensorDeviceClass.TEMPERATURE,
        native_unit_of_measurement=UnitOfTemperature.CELSIUS, state_class=_MEASUREMENT,
    ),
    SensorType.HUMIDITY: SensorEntityDescription(
        key="humidity", device_class=SensorDeviceClass.HUMIDITY, native_unit_of_measurement=PERCENTAGE,
        state_class=_MEASUREMENT,
    ),
    SensorType.BATTERY: SensorEntityDescription(
        key="battery", device_class=SensorDeviceClass.BATTERY, native_unit_of_measurement=PERCENTAGE,
        state_class=_MEASUREMENT,
    ),
    SensorType.VOLTAGE: SensorEntityDescription(
        key="voltage", device_class=SensorDeviceClass.VOLTAGE, native_unit_of_measurement=UnitOfElectricPotential.VOLT,
        state_class=_MEASUREMENT,
    ),
    SensorType.CURRENT: SensorEntityDescription(
        key="current", device_class=SensorDeviceClass.CURRENT, native_unit_of_measurement=UnitOfElectricCurrent.AMPERE,
        state_class=_MEASUREMENT,
    ),
    SensorType.SIGNAL: SensorEntityDescription(
        key="signal", device_class=SensorDeviceClass.SIGNAL_STRENGTH,
        native_unit_of_measurement=SIGNAL_STRENGTH_DECIBELS_MILLIWATT, state_class=_MEASUREMENT,
        entity_category=EntityCategory.DIAGNOSTIC, entity_registry_enabled_default=False,
    ),
    SensorType.COUNT: SensorEntityDescription(key="count", state_class=_MEASUREMENT),
    SensorType.TEXT: SensorEntityDescription(key="text"),
    SensorType.TIMESTAMP: SensorEntityDescription(key="timestamp", device_class=SensorDeviceClass.TIMESTAMP),
}
_NUMERIC = frozenset(DESCRIPTIONS) - {SensorType.TEXT, SensorType.TIMESTAMP}


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up sensors for every discovered node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterable[HydroFleetSensor]:
        return (HydroFleetSensor(fleet, node, s) for s in node.config.sensors if s.type in DESCRIPTIONS)

    async_setup_node_platform(hass, entry, async_add_entities, "sensor", entities_for)


class HydroFleetSensor(HydroFleetEntity, SensorEntity):
    """One reading of a node."""

    def __init__(self, fleet: HydroFleet, node: Node, sensor: SensorConfig) -> None:
        super().__init__(fleet, node, sensor.key)
        self.sensor = sensor
        description = DESCRIPTIONS[sensor.type]
        if sensor.type is SensorType.TEXT and sensor.options:
            self._attr_device_class = SensorDeviceClass.ENUM
            self._attr_options = list(sensor.options)
        if sensor.diagnostic:
            self._attr_entity_category = EntityCategory.DIAGNOSTIC
        if sensor.unit in (UnitOfTemperature.FAHRENHEIT, "F") and description.device_class is \
                SensorDeviceClass.TEMPERATURE:
            self._attr_native_unit_of_measurement = UnitOfTemperature.FAHRENHEIT
        if sensor.precision is not None:
            self._attr_suggested_display_precision = sensor.precision
        self.entity_description = description
        if sensor.name:
            self._attr_name = sensor.name
        elif description.translation_key is None and description.device_class is None:
            self._attr_name = sensor.key.replace("_", " ").capitalize()
        self._attr_native_value = self._value()

    def _value(self) -> StateType | datetime:
        """The latest reading, or None when there is none or it is not plausible."""
        state = self.node.state
        if state is None:
            return None
        value = state.readings.get(self.sensor.key)
        if value is None:
            return None
        sensor = self.sensor
        if sensor.type in _NUMERIC:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            if (sensor.minimum is not None and value < sensor.minimum) or (
                sensor.maximum is not None and value > sensor.maximum
            ):
                return None
            return value
        if sensor.type is SensorType.TIMESTAMP:
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 32503680000:
                return None
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str) or (sensor.options and value not in sensor.options):
            return None
        return value

    @callback
    def _handle_node_update(self) -> None:
        value = self._value()
        # Only write when something a user can see changed: most of HA's cost per state
        # is the state machine and the recorder, not us.
        if value == self._attr_native_value and self._attr_available_written == self.available:
            return
        self._attr_native_value = value
        self._attr_available_written = self.available
        self.async_write_ha_state()

    _attr_available_written: bool | None = None

"""Sensors: every reading a node announces, its health, and a status per probe."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from homeassistant.components.sensor import (
    DOMAIN as SENSOR_DOMAIN,
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
    UnitOfInformation,
    UnitOfTemperature,
)
from homeassistant.core import HomeAssistant, ServiceResponse
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.typing import StateType

from .assist import ASKED_ABOUT
from .calibration import CALIBRATABLE, async_calibrate
from .const import DOMAIN
from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node, Section
from .protocol import HealthKey, Reading, SensorConfig, SensorType, SlotStatus, StationStatus
from .ranges import STATUS_TYPES, ProbeStatus, Range
from .readings import valid_timestamp
from .shown import status_key

PARALLEL_UPDATES = 0

_DIAGNOSTIC = EntityCategory.DIAGNOSTIC


def _measurement(
    key: str, device_class: SensorDeviceClass | None, unit: str | None, **fields: Any
) -> SensorEntityDescription:
    """A numeric value with long-term statistics (state class measurement)."""
    return SensorEntityDescription(
        key=key,
        device_class=device_class,
        native_unit_of_measurement=unit,
        state_class=SensorStateClass.MEASUREMENT,
        **fields,
    )


def _diagnostic(description: SensorEntityDescription, *, enabled: bool = False) -> SensorEntityDescription:
    """A diagnostic sensor; off until the user turns it on unless ``enabled``."""
    return replace(description, entity_category=_DIAGNOSTIC, entity_registry_enabled_default=enabled)


_CELSIUS = UnitOfTemperature.CELSIUS
# What each protocol sensor type is in Home Assistant. Units are HA's canonical ones for
# the type; the node's announced unit only matters for temperature (C or F).
DESCRIPTIONS: dict[SensorType, SensorEntityDescription] = {
    SensorType.TDS: _measurement(
        "tds", None, CONCENTRATION_PARTS_PER_MILLION, translation_key="tds", suggested_display_precision=0
    ),
    SensorType.EC: _measurement(
        "ec",
        SensorDeviceClass.CONDUCTIVITY,
        UnitOfConductivity.MICROSIEMENS_PER_CM,
        translation_key="ec",
        suggested_display_precision=0,
    ),
    SensorType.PH: _measurement("ph", SensorDeviceClass.PH, None, suggested_display_precision=2),
    SensorType.MOISTURE: _measurement(
        "moisture", SensorDeviceClass.MOISTURE, PERCENTAGE, suggested_display_precision=1
    ),
    SensorType.WATER_LEVEL: _measurement(
        "water_level", None, PERCENTAGE, translation_key="water_level", suggested_display_precision=0
    ),
    SensorType.WATER_TEMPERATURE: _measurement(
        "water_temperature",
        SensorDeviceClass.TEMPERATURE,
        _CELSIUS,
        translation_key="water_temperature",
        suggested_display_precision=1,
    ),
    SensorType.TEMPERATURE: _measurement(
        "temperature", SensorDeviceClass.TEMPERATURE, _CELSIUS, suggested_display_precision=1
    ),
    SensorType.HUMIDITY: _measurement(
        "humidity", SensorDeviceClass.HUMIDITY, PERCENTAGE, suggested_display_precision=0
    ),
    SensorType.BATTERY: _measurement("battery", SensorDeviceClass.BATTERY, PERCENTAGE),
    SensorType.VOLTAGE: _measurement("voltage", SensorDeviceClass.VOLTAGE, UnitOfElectricPotential.VOLT),
    SensorType.CURRENT: _measurement("current", SensorDeviceClass.CURRENT, UnitOfElectricCurrent.AMPERE),
    SensorType.SIGNAL: _diagnostic(
        _measurement("signal", SensorDeviceClass.SIGNAL_STRENGTH, SIGNAL_STRENGTH_DECIBELS_MILLIWATT)
    ),
    SensorType.COUNT: _measurement("count", None, None),
    SensorType.TEXT: SensorEntityDescription(key="text"),
    SensorType.TIMESTAMP: SensorEntityDescription(key="timestamp", device_class=SensorDeviceClass.TIMESTAMP),
}

# Enum sensors whose options are one of the protocol's vocabularies: their translation key.
VOCABULARIES: dict[frozenset[str], str] = {
    frozenset(StationStatus): "station_status",
    frozenset(SlotStatus): "slot_status",
}

# Health values of State.health, all diagnostic. Chatty or rarely useful ones start disabled.
HEALTH_DESCRIPTIONS: dict[HealthKey, SensorEntityDescription] = {
    HealthKey.UPTIME: _diagnostic(
        SensorEntityDescription(key="uptime", translation_key="last_restart", device_class=SensorDeviceClass.TIMESTAMP)
    ),
    HealthKey.RSSI: _diagnostic(
        _measurement("rssi", SensorDeviceClass.SIGNAL_STRENGTH, SIGNAL_STRENGTH_DECIBELS_MILLIWATT)
    ),
    HealthKey.CPU_TEMPERATURE: _diagnostic(
        _measurement(
            "cpu_temperature",
            SensorDeviceClass.TEMPERATURE,
            _CELSIUS,
            translation_key="cpu_temperature",
            suggested_display_precision=0,
        )
    ),
    HealthKey.DISK_FREE: _diagnostic(
        _measurement(
            "disk_free",
            SensorDeviceClass.DATA_SIZE,
            UnitOfInformation.MEGABYTES,
            translation_key="disk_free",
            suggested_display_precision=0,
        )
    ),
    HealthKey.BATTERY: _diagnostic(DESCRIPTIONS[SensorType.BATTERY], enabled=True),
    HealthKey.LAST_CALIBRATION: _diagnostic(
        SensorEntityDescription(
            key="last_calibration", translation_key="last_calibration", device_class=SensorDeviceClass.TIMESTAMP
        ),
        enabled=True,
    ),
    HealthKey.FIRMWARE: _diagnostic(SensorEntityDescription(key="firmware", translation_key="firmware")),
    # Photos the node's disk budget pushed out while the broker was away: lost for good, so shown.
    HealthKey.PHOTOS_DROPPED: _diagnostic(
        SensorEntityDescription(
            key="photos_dropped", translation_key="photos_dropped", state_class=SensorStateClass.TOTAL_INCREASING
        ),
        enabled=True,
    ),
}
_HEALTH_NUMBERS = frozenset({HealthKey.RSSI, HealthKey.CPU_TEMPERATURE, HealthKey.DISK_FREE, HealthKey.BATTERY})
# Health values of the camera: their entities exist only on nodes that announce one.
_CAMERA_HEALTH = frozenset({HealthKey.PHOTOS_DROPPED})
# A restart time computed from uptime jitters by the sample's clock; rounding to this
# keeps the state still between restarts.
_RESTART_GRANULARITY = 60


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up sensors for every discovered node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[HydroFleetEntity]:
        for sensor in node.config.sensors:
            if sensor.type in DESCRIPTIONS:
                yield HydroFleetSensor(fleet, node, sensor)
            if sensor.type in STATUS_TYPES:
                yield ProbeStatusSensor(fleet, node, sensor)
        for key in node.health_keys:
            if key in HEALTH_DESCRIPTIONS and (node.config.cameras or key not in _CAMERA_HEALTH):
                yield HealthSensor(fleet, node, HealthKey(key))

    async_setup_node_platform(hass, entry, async_add_entities, "sensor", entities_for)


class _NodeSensor(HydroFleetEntity, SensorEntity):
    """A sensor of a node; unless it says otherwise, ``_shown`` is its native value."""

    @abstractmethod
    def _shown(self) -> object:
        """What the entity shows now; each kind of sensor says how it gets it."""

    def _show(self, shown: Any) -> None:
        self._attr_native_value = shown

    async def async_calibrate_probe(self, **values: Any) -> ServiceResponse:
        """The ``hydro_fleet.calibrate`` action; only probe sensors (below) can."""
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="not_calibratable",
            translation_placeholders={"entity": self.entity_id},
        )


class HydroFleetSensor(_NodeSensor):
    """One reading of a node."""

    _sections = frozenset({Section.READINGS})

    def __init__(self, fleet: HydroFleet, node: Node, sensor: SensorConfig) -> None:
        super().__init__(fleet, node, sensor.key)
        self.sensor = sensor
        self._keys = frozenset({sensor.key})
        description = DESCRIPTIONS[sensor.type]
        if sensor.type is SensorType.TEXT and sensor.options:
            self._attr_device_class = SensorDeviceClass.ENUM
            self._attr_options = list(sensor.options)
            # A known vocabulary has translated states and icons; the name stays the node's.
            self._attr_translation_key = VOCABULARIES.get(frozenset(sensor.options))
        if sensor.type is SensorType.COUNT and sensor.unit:
            # A count's unit is whatever the node counts in ("%", "ms").
            self._attr_native_unit_of_measurement = sensor.unit
        if sensor.icon:
            self._attr_icon = sensor.icon
        if sensor.diagnostic:
            # Troubleshooting values (a heartbeat's time, per-slot hardware, per-reason counters)
            # change often or matter rarely: off until the user turns them on, and out of the logbook.
            self._attr_entity_category = _DIAGNOSTIC
            self._attr_entity_registry_enabled_default = False
        else:
            self._asked_about = sensor.type in ASKED_ABOUT
        if (
            sensor.unit in (UnitOfTemperature.FAHRENHEIT, "F")
            and description.device_class is SensorDeviceClass.TEMPERATURE
        ):
            self._attr_native_unit_of_measurement = UnitOfTemperature.FAHRENHEIT
        if sensor.precision is not None:
            self._attr_suggested_display_precision = sensor.precision
        self.entity_description = description
        if sensor.name:
            self._attr_name = sensor.name
        elif description.translation_key is None and description.device_class is None:
            self._attr_name = sensor.key.replace("_", " ").capitalize()
        self._show(self._shown())

    def get_initial_entity_options(self) -> er.EntityOptionsType | None:
        """HA's options for a new entry, plus the suggested display precision.

        Without it HA stores the precision with a registry update right after creating
        the entry: one more registry event, recorded event and state write per reading
        sensor, 6,000 of them when a 1,000-node fleet is first discovered. HA still
        updates the entry itself when a unit conversion adjusts the precision.
        """
        options = super().get_initial_entity_options()
        if (precision := self.suggested_display_precision) is None:
            return options
        return {**(options or {}), SENSOR_DOMAIN: {"suggested_display_precision": precision}}

    def _shown(self) -> StateType | datetime:
        """The latest reading, or None when there is none or it is not plausible."""
        return self.node.shown.values.get(self.key)

    async def async_calibrate_probe(self, **values: Any) -> ServiceResponse:
        if self.sensor.type not in CALIBRATABLE:
            return await super().async_calibrate_probe(**values)
        return await async_calibrate(self.fleet, self.node, self.sensor, values)


class HealthSensor(_NodeSensor):
    """One health value of a node (diagnostic)."""

    _sections = frozenset({Section.HEALTH})

    def __init__(self, fleet: HydroFleet, node: Node, key: HealthKey) -> None:
        super().__init__(fleet, node, f"health_{key}")
        self.health_key = key
        self.entity_description = HEALTH_DESCRIPTIONS[key]
        self._show(self._shown())

    def _shown(self) -> StateType | datetime:
        state = self.node.state
        if state is None:
            return None
        value: Reading = state.health.get(self.health_key)
        key = self.health_key
        if key in _HEALTH_NUMBERS:
            if isinstance(value, bool) or not isinstance(value, int | float):
                return None
            if key is HealthKey.BATTERY and not 0 <= value <= 100:
                return None
            return value
        if key is HealthKey.UPTIME:
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                return None
            started = valid_timestamp(round((state.ts - value) / _RESTART_GRANULARITY) * _RESTART_GRANULARITY)
            return started
        if key is HealthKey.PHOTOS_DROPPED:
            return value if type(value) is int and value >= 0 else None
        if key is HealthKey.LAST_CALIBRATION:
            return valid_timestamp(value)
        return value if isinstance(value, str) else None


class ProbeStatusSensor(_NodeSensor):
    """Normal, warning, critical or sensor fault for one probe, from the node's ranges."""

    _attr_device_class = SensorDeviceClass.ENUM
    _sections = frozenset({Section.READINGS})

    def __init__(self, fleet: HydroFleet, node: Node, sensor: SensorConfig) -> None:
        super().__init__(fleet, node, sensor.key, "status")
        self._attr_options = [str(s) for s in ProbeStatus]
        self.sensor = sensor
        self._keys = frozenset({status_key(sensor.key)})
        self._attr_translation_key = f"{sensor.type}_status"
        if sensor.name:
            self._attr_translation_key = "probe_status"
            self._attr_translation_placeholders = {"probe": sensor.name}
        self._show(self._shown())

    def _shown(self) -> tuple[str | None, Range]:
        """The probe's status, and the ranges in force (shown as attributes)."""
        status = self.node.shown.statuses.get(self.key)
        return None if status is None else str(status), self.fleet.ranges(self.node.node_id)[self.sensor.type]

    def _show(self, shown: Any) -> None:
        status, probe_range = shown
        self._attr_native_value = status
        self._attr_extra_state_attributes = {
            "normal_min": probe_range.normal_min,
            "normal_max": probe_range.normal_max,
            "critical_min": probe_range.critical_min,
            "critical_max": probe_range.critical_max,
        }

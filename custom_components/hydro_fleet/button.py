"""Buttons: one-press calibration steps with the usual solutions (707 ppm, pH 4/7/10, dry/wet).

Other standards go through the ``hydro_fleet.calibrate`` action on the probe's sensor.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from homeassistant.components.button import ButtonEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .calibration import DEFAULT_STANDARD_PPM, PH_BUFFERS, TWO_POINT_NAMES, async_calibrate
from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import NO_SECTIONS, Node
from .protocol import SensorConfig, SensorType

PARALLEL_UPDATES = 0


def _steps(sensor: SensorConfig) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(aspect, translation key, params) of each button a probe gets."""
    if sensor.type is SensorType.TDS:
        yield "calibrate", "calibrate_tds", {"standard_ppm": DEFAULT_STANDARD_PPM}
    elif sensor.type is SensorType.PH:
        for buffer in PH_BUFFERS:
            yield f"calibrate_{buffer:g}", f"calibrate_ph_{buffer:g}", {"buffer": buffer}
    elif sensor.type in TWO_POINT_NAMES:
        for point in TWO_POINT_NAMES[sensor.type]:
            yield f"calibrate_{point}", f"calibrate_{sensor.type}_{point}", {"point": point}


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up calibration buttons for every calibratable probe of every node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[CalibrationButton]:
        for sensor in node.config.sensors:
            for aspect, translation_key, params in _steps(sensor):
                yield CalibrationButton(fleet, node, sensor, aspect, translation_key, params)

    async_setup_node_platform(hass, entry, async_add_entities, "button", entities_for)


class CalibrationButton(HydroFleetEntity, ButtonEntity):
    """Press with the probe in the named solution or state; the result shows as a calibration event."""

    _attr_entity_category = EntityCategory.CONFIG
    # Used once a month at most, and eight per Pi: a fleet should not carry them all in the
    # state machine. Enable the ones you use, or call hydro_fleet.calibrate on the probe.
    _attr_entity_registry_enabled_default = False
    _sections = NO_SECTIONS

    def __init__(
        self,
        fleet: HydroFleet,
        node: Node,
        sensor: SensorConfig,
        aspect: str,
        translation_key: str,
        params: dict[str, Any],
    ) -> None:
        super().__init__(fleet, node, sensor.key, aspect)
        self.sensor = sensor
        self.params = params
        self._attr_translation_key = translation_key

    async def async_press(self) -> None:
        await async_calibrate(self.fleet, self.node, self.sensor, self.params)

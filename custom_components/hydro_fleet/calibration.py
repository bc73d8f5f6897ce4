"""Probe calibration: the steps each probe type supports, sent as ``calibrate`` commands.

Follows the Pi bridge: ``target`` is the probe's sensor key; params are
``standard_ppm`` (TDS, K from a standard solution), ``buffer`` 4/7/10 and optional
``restart`` (pH, one point per command, 2 or 3 points in all), ``point`` dry/wet
(moisture) or empty/full (water level). The ack's ``result`` holds what the node computed.
"""

from __future__ import annotations

import time
from typing import Any

from homeassistant.exceptions import ServiceValidationError

from .const import DOMAIN
from .fleet import HydroFleet
from .node import Node
from .protocol import CommandAction, Event, EventType, SensorConfig, SensorType

CALIBRATABLE = frozenset({SensorType.TDS, SensorType.PH, SensorType.MOISTURE, SensorType.WATER_LEVEL})
PH_BUFFERS = (4.0, 7.0, 10.0)
DEFAULT_STANDARD_PPM = 707.0
TWO_POINT_NAMES: dict[SensorType, tuple[str, str]] = {
    SensorType.MOISTURE: ("dry", "wet"),
    SensorType.WATER_LEVEL: ("empty", "full"),
}


def calibration_params(sensor: SensorConfig, values: dict[str, Any]) -> dict[str, Any]:
    """Check what the user gave for this probe type; raise a translated error if it does not fit."""

    def invalid(expected: str) -> ServiceValidationError:
        return ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_calibration",
            translation_placeholders={"probe": sensor.key, "expected": expected},
        )

    if sensor.type is SensorType.TDS:
        return {"standard_ppm": float(values.get("standard_ppm", DEFAULT_STANDARD_PPM))}
    if sensor.type is SensorType.PH:
        buffer = values.get("buffer")
        if buffer is None or float(buffer) not in PH_BUFFERS:
            raise invalid("buffer: 4, 7 or 10")
        return {"buffer": float(buffer), "restart": bool(values.get("restart", False))}
    if sensor.type in TWO_POINT_NAMES:
        names = TWO_POINT_NAMES[sensor.type]
        if values.get("point") not in names:
            raise invalid(f"point: {names[0]} or {names[1]}")
        return {"point": values["point"]}
    raise invalid("a TDS, pH, moisture or water level probe")


async def async_calibrate(
    fleet: HydroFleet, node: Node, sensor: SensorConfig, values: dict[str, Any]
) -> dict[str, Any]:
    """Run one calibration step; the node's result is returned and shown as a calibration event."""
    params = calibration_params(sensor, values)
    ack = await fleet.commands.async_command(node, CommandAction.CALIBRATE, sensor.key, params)
    result: dict[str, Any] = {"probe": sensor.key, **params, **ack.result}
    shown = {k: v for k, v in result.items() if isinstance(v, str | int | float | bool)}
    fleet.fire_event(node, Event(ts=time.time(), type=EventType.CALIBRATION, data=shown))
    return result

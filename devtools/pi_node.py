"""A Raspberry Pi node's config as the bridge announces it, for tests and benchmarks."""

from __future__ import annotations

import dataclasses
from typing import Any

from hydro_fleet_protocol import NodeConfig, NodeKind, PlanConfig, PumpConfig, SensorConfig, SensorType

# The six probes a Pi carries.
PI_SENSORS = (
    SensorConfig("tds", SensorType.TDS, unit="ppm", minimum=0, maximum=5000, precision=0),
    SensorConfig("ec", SensorType.EC, unit="uS/cm", minimum=0, maximum=10000, precision=0),
    SensorConfig("ph", SensorType.PH, minimum=0, maximum=14, precision=2),
    SensorConfig("moisture", SensorType.MOISTURE, unit="%", minimum=0, maximum=100, precision=1),
    SensorConfig("water_level", SensorType.WATER_LEVEL, unit="%", minimum=0, maximum=100),
    SensorConfig("water_temperature", SensorType.WATER_TEMPERATURE, unit="°C", minimum=-10, maximum=60),
)


def pi_node_config(node_id: str = "pi-1", **changes: Any) -> NodeConfig:
    """A Pi with the six probes, a pump and a plan; ``changes`` replace any of its fields."""
    config = NodeConfig(
        node_id=node_id,
        kind=NodeKind.PI,
        name=node_id,
        model="Raspberry Pi 4",
        manufacturer="Hydro Fleet",
        sw_version="0.1.0",
        sample_interval=5,
        sensors=PI_SENSORS,
        pumps=(PumpConfig("pump", name="Pump", max_runtime=30, flow_ml_per_min=600),),
        plans=(PlanConfig("plan", pump="pump", max_volume_ml=2000),),
    )
    return dataclasses.replace(config, **changes)

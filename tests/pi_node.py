"""A Raspberry Pi node's config as the bridge announces it (its probe table), for tests and benchmarks."""

from __future__ import annotations

import dataclasses
from typing import Any

from hydro_fleet_protocol import NodeConfig, NodeKind, PlanConfig, PumpConfig
from pi_bridge.probe_table import PROBES_BY_KEY

# The six probes a Pi carries by default, as the bridge announces them (one probe table).
PI_SENSORS = tuple(
    PROBES_BY_KEY[key].sensor for key in ("tds", "ec", "ph", "moisture", "water_level", "water_temperature")
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

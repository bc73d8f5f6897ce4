"""Select: the type of each watering plan (off, basic, moisture, time based)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import time
from typing import Any

from homeassistant.components.select import SelectEntity
from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node
from .plan import PlanEntity
from .protocol import PlanType

PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a plan type select for every plan slot of every node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterable[PlanTypeSelect]:
        return (PlanTypeSelect(fleet, node, plan) for plan in node.config.plans)

    async_setup_node_platform(hass, entry, async_add_entities, "select", entities_for)


class PlanTypeSelect(PlanEntity, SelectEntity):
    """Which plan the node runs; the time-based schedule is set with ``hydro_fleet.set_watering_times``."""

    _attr_entity_category = EntityCategory.CONFIG

    def __init__(self, fleet: HydroFleet, node: Node, plan: Any) -> None:
        super().__init__(fleet, node, plan, "type")
        self._attr_options = [str(t) for t in PlanType]
        self._attr_translation_key = "plan_type_named" if self.named else "plan_type"

    @property
    def current_option(self) -> str | None:
        return str(self.plan.type) if self.plan else None

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        return {"times": list(self.plan.times) if self.plan else []}

    async def async_select_option(self, option: str) -> None:
        await self.async_change_plan(type=PlanType(option))

    async def async_set_watering_times(self, times: list[time]) -> None:
        """The ``hydro_fleet.set_watering_times`` action: the schedule of a time-based plan."""
        await self.async_change_plan(times=tuple(sorted({t.strftime("%H:%M") for t in times})))

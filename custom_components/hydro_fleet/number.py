"""Numbers: volume, moisture threshold, check interval and minimum pause of each plan."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from homeassistant.components.number import NumberDeviceClass, NumberEntity, NumberEntityDescription, NumberMode
from homeassistant.const import PERCENTAGE, EntityCategory, UnitOfTime, UnitOfVolume
from homeassistant.core import HomeAssistant
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .entity import async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node
from .plan import PlanEntity
from .protocol import Plan, PlanConfig

PARALLEL_UPDATES = 0
_MINUTE = 60.0


@dataclass(frozen=True, kw_only=True)
class PlanNumberDescription(NumberEntityDescription):
    """A plan field: how to read it (in the entity's unit) and which Plan field it sets."""

    field: str
    # Node seconds -> entity minutes for the durations; 1 for the rest.
    scale: float = 1.0
    max_from_config: Callable[[PlanConfig], float] | None = None


def _minutes(field: str, *, minimum: int) -> PlanNumberDescription:
    """A plan duration, shown in whole minutes up to a week (the node counts seconds)."""
    return PlanNumberDescription(
        key=field,
        translation_key=f"plan_{field}",
        field=field,
        scale=_MINUTE,
        device_class=NumberDeviceClass.DURATION,
        native_unit_of_measurement=UnitOfTime.MINUTES,
        native_min_value=minimum,
        native_max_value=10080,
        native_step=1,
    )


DESCRIPTIONS = (
    PlanNumberDescription(
        key="volume",
        translation_key="plan_volume",
        field="volume_ml",
        device_class=NumberDeviceClass.VOLUME,
        native_unit_of_measurement=UnitOfVolume.MILLILITERS,
        native_min_value=0,
        native_step=10,
        max_from_config=lambda plan: plan.max_volume_ml,
    ),
    PlanNumberDescription(
        key="threshold",
        translation_key="plan_threshold",
        field="threshold",
        device_class=NumberDeviceClass.MOISTURE,
        native_unit_of_measurement=PERCENTAGE,
        native_min_value=0,
        native_max_value=100,
        native_step=1,
    ),
    _minutes("check_interval", minimum=1),
    _minutes("min_pause", minimum=0),
)


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up the plan numbers of every plan slot of every node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterator[PlanNumber]:
        for plan in node.config.plans:
            for description in DESCRIPTIONS:
                yield PlanNumber(fleet, node, plan, description)

    async_setup_node_platform(hass, entry, async_add_entities, "number", entities_for)


class PlanNumber(PlanEntity, NumberEntity):
    """One numeric field of a plan; the value shown is the one the node confirmed."""

    entity_description: PlanNumberDescription
    _attr_entity_category = EntityCategory.CONFIG
    _attr_mode = NumberMode.BOX

    def __init__(self, fleet: HydroFleet, node: Node, plan: PlanConfig, description: PlanNumberDescription) -> None:
        super().__init__(fleet, node, plan, description.key)
        self.entity_description = description
        if self.named:
            self._attr_translation_key = f"{description.translation_key}_named"
        if description.max_from_config is not None:
            self._attr_native_max_value = description.max_from_config(plan)

    @property
    def native_value(self) -> float | None:
        plan: Plan | None = self.plan
        raw = getattr(plan, self.entity_description.field) if plan else None
        return None if raw is None else raw / self.entity_description.scale

    async def async_set_native_value(self, value: float) -> None:
        await self.async_change_plan(**{self.entity_description.field: value * self.entity_description.scale})

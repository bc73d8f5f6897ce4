"""Shared logic of the watering plan entities: read the confirmed plan, change one field."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er

from .const import DOMAIN
from .entity import HydroFleetEntity
from .fleet import HydroFleet
from .node import Node, Section
from .protocol import Plan, PlanConfig, PlanType

# What a node that never reported a plan runs: nothing.
NO_PLAN = Plan(type=PlanType.OFF)
# The number entity (its unique id's aspect) that sets each plan field; see number.py.
PLAN_NUMBER_KEYS = {"volume_ml": "volume", "threshold": "threshold", "check_interval": "check_interval"}


class PlanEntity(HydroFleetEntity):
    """An entity showing one aspect of one plan slot; it changes only when the node confirms."""

    _sections = frozenset({Section.PLANS})

    def __init__(self, fleet: HydroFleet, node: Node, plan: PlanConfig, aspect: str) -> None:
        super().__init__(fleet, node, plan.key, aspect)
        self.plan_config = plan
        # A node with several plans names each; a single plan needs no name of its own.
        self.named = bool(plan.name) and len(node.config.plans) > 1
        if self.named:
            self._attr_translation_placeholders = {"plan": plan.name or ""}

    def _shown(self) -> object:
        return self.plan, self.node.config.plans

    @property
    def plan(self) -> Plan | None:
        """The plan as the node last confirmed it; None until it has said anything."""
        return self.node.plans.get(self.key)

    async def async_change_plan(self, **changes: Any) -> None:
        """Send the confirmed plan with ``changes`` applied; the state follows the node's answer.

        Numbers the plan lacks take their defaults (a node that reports none, such as an
        older bridge, still runs the plan a user picks); what a default cannot give (the
        times of a time-based plan, a volume of 0) is refused here, all of it at once.
        """
        plan = replace(self.plan or NO_PLAN, **changes).with_defaults(self.plan_config.max_volume_ml)
        if missing := plan.missing():
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="plan_incomplete",
                translation_placeholders={"node": self.node.config.name, "missing": self._in_words(missing)},
            )
        await self.fleet.commands.async_set_plan(self.node, self.key, plan)

    def _in_words(self, fields: tuple[str, ...]) -> str:
        """Plan fields as the user sees them: the names of the entities that set them."""
        ent_reg = er.async_get(self.hass)
        words = []
        for field in fields:
            if field == "times":
                words.append("the watering times (the Set watering times action)")
                continue
            unique_id = f"{self.node.node_id}_{self.key}_{PLAN_NUMBER_KEYS.get(field, field)}"
            entity_id = ent_reg.async_get_entity_id("number", DOMAIN, unique_id)
            state = self.hass.states.get(entity_id) if entity_id else None
            name = state.name if state else field.replace("_", " ")
            words.append(f"{name} above 0" if field == "volume_ml" else name)
        return ", ".join(words)

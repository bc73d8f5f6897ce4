"""Shared logic of the watering plan entities: read the confirmed plan, change one field."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from .entity import HydroFleetEntity
from .fleet import HydroFleet
from .node import Node, Section
from .protocol import Plan, PlanConfig, PlanType

# What a node that never reported a plan runs: nothing.
NO_PLAN = Plan(type=PlanType.OFF)


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
        """Send the confirmed plan with ``changes`` applied; the state follows the node's answer."""
        await self.fleet.commands.async_set_plan(self.node, self.key, replace(self.plan or NO_PLAN, **changes))

"""Pump switches: the state is what the node reports, commands go through acks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node, Section
from .protocol import CommandAction, PumpConfig

# Commands wait for the node's ack; HA must not fire them in parallel beyond what we await.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a switch for every pump of every node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterable[PumpSwitch]:
        return (PumpSwitch(fleet, node, pump) for pump in node.config.pumps)

    async_setup_node_platform(hass, entry, async_add_entities, "switch", entities_for)


class PumpSwitch(HydroFleetEntity, SwitchEntity):
    """A pump. Turning it on runs it until turned off or until the node's max runtime."""

    _attr_translation_key = "pump"
    _sections = frozenset({Section.PUMPS})

    def __init__(self, fleet: HydroFleet, node: Node, pump: PumpConfig) -> None:
        super().__init__(fleet, node, pump.key)
        if pump.name and len(node.config.pumps) > 1:
            self._attr_name = pump.name

    @property
    def _pump_config(self) -> PumpConfig | None:
        return next((p for p in self.node.config.pumps if p.key == self.key), None)

    def _fingerprint(self) -> object:
        state = self.node.state
        return (state.pumps.get(self.key) if state else None), self._pump_config

    @property
    def is_on(self) -> bool | None:
        state = self.node.state
        if state is None or (pump := state.pumps.get(self.key)) is None:
            return None
        return pump.on

    @property
    def extra_state_attributes(self) -> dict[str, Any]:
        state = self.node.state
        pump = state.pumps.get(self.key) if state else None
        config = self._pump_config
        return {
            "max_runtime": config.max_runtime if config else None,
            "runs_until": datetime.fromtimestamp(pump.until, UTC).isoformat() if pump and pump.until else None,
        }

    async def async_turn_on(self, **kwargs: Any) -> None:
        await self.fleet.commands.async_command(self.node, CommandAction.PUMP_ON, self.key)

    async def async_turn_off(self, **kwargs: Any) -> None:
        await self.fleet.commands.async_command(self.node, CommandAction.PUMP_OFF, self.key)

    async def async_run_pump(self, duration: float) -> None:
        """Run for ``duration`` seconds (the ``hydro_fleet.run_pump`` action).

        The node enforces its max runtime anyway; refusing here gives a clear error
        instead of a run that silently stops early.
        """
        config = self._pump_config
        max_runtime = config.max_runtime if config else 0.0
        if duration > max_runtime:
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="duration_over_max_runtime",
                translation_placeholders={
                    "entity": self.entity_id,
                    "duration": f"{duration:g}",
                    "max_runtime": f"{max_runtime:g}",
                },
            )
        await self.fleet.commands.async_command(self.node, CommandAction.PUMP_ON, self.key, {"duration": duration})

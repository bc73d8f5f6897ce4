"""Pump switches: the state is what the node reports, commands go through acks."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
import logging
from typing import Any

from homeassistant.components.switch import SwitchEntity
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, ServiceResponse, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.event import async_track_point_in_utc_time
from homeassistant.util import dt as dt_util

from .entity import HydroFleetEntity, async_setup_node_platform
from .fleet import HydroFleet, HydroFleetConfigEntry
from .node import Node, Section
from .protocol import CommandAction, PumpConfig, PumpRun, PumpState, State

_LOGGER = logging.getLogger(__name__)

# 0: no limit. Each command awaits its own node's ack (up to the command timeout); a
# limit would queue every pump in the fleet behind one slow or offline node.
PARALLEL_UPDATES = 0


async def async_setup_entry(
    hass: HomeAssistant, entry: HydroFleetConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Set up a switch for every pump of every node."""

    def entities_for(fleet: HydroFleet, node: Node) -> Iterable[PumpSwitch]:
        return (PumpSwitch(fleet, node, pump) for pump in node.config.pumps)

    async_setup_node_platform(hass, entry, async_add_entities, "switch", entities_for)


def _past_deadline(state: State, pump: PumpState, now: float) -> bool:
    """Whether the node's announced stop time (``until``) has passed with no later word.

    A state sampled after the deadline that still says on is a fresh confirmation and is
    believed; otherwise the node stops the pump at ``until`` whatever happens to HA, the
    broker or the network, so it is not shown running past it. (``until`` is the node's
    clock against HA's: both are expected to keep NTP time, as backfill timestamps do.)
    """
    return pump.until is not None and state.ts < pump.until <= now


class PumpSwitch(HydroFleetEntity, SwitchEntity):
    """A pump. Turning it on runs it until turned off or until the node's max runtime."""

    _attr_translation_key = "pump"
    _sections = frozenset({Section.PUMPS})
    _asked_about = True
    _deadline_timer: CALLBACK_TYPE | None = None
    # The latest deadline HA's timer reported reached (its word, not a reread of the clock).
    _reached: float = 0.0

    def __init__(self, fleet: HydroFleet, node: Node, pump: PumpConfig) -> None:
        super().__init__(fleet, node, pump.key)
        if pump.name and len(node.config.pumps) > 1:
            self._attr_name = pump.name

    @property
    def _pump_config(self) -> PumpConfig | None:
        return next((p for p in self.node.config.pumps if p.key == self.key), None)

    def _shown(self) -> object:
        state = self.node.state
        return (state.pumps.get(self.key) if state else None), self._pump_config, self.is_on

    @property
    def is_on(self) -> bool | None:
        state = self.node.state
        if state is None or (pump := state.pumps.get(self.key)) is None:
            return None
        return pump.on and not _past_deadline(state, pump, self._now())

    def _now(self) -> float:
        return max(dt_util.utcnow().timestamp(), self._reached)

    async def async_added_to_hass(self) -> None:
        await super().async_added_to_hass()
        self._schedule_deadline()
        self.async_on_remove(self._cancel_deadline)

    @callback
    def _handle_node_update(self) -> None:
        self._schedule_deadline()
        super()._handle_node_update()

    @callback
    def _cancel_deadline(self) -> None:
        if self._deadline_timer is not None:
            self._deadline_timer()
            self._deadline_timer = None

    @callback
    def _schedule_deadline(self) -> None:
        """Wake at the running pump's ``until`` to show it off unless the node said more since."""
        self._cancel_deadline()
        state = self.node.state
        pump = state.pumps.get(self.key) if state else None
        if (
            pump is None
            or not pump.on
            or pump.until is None
            or state is None
            or _past_deadline(state, pump, self._now())
        ):
            return
        self._deadline_timer = async_track_point_in_utc_time(
            self.hass, self._deadline_passed, dt_util.utc_from_timestamp(pump.until)
        )

    @callback
    def _deadline_passed(self, deadline: datetime) -> None:
        self._deadline_timer = None
        self._reached = max(self._reached, deadline.timestamp())
        super()._handle_node_update()

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

    async def async_run_pump(self, duration: float) -> ServiceResponse:
        """Run for ``duration`` seconds (the ``hydro_fleet.run_pump`` action).

        The node caps every run at the pump's max runtime and says so in its ack, so a
        longer duration runs for the max runtime rather than failing: an automation that
        asks too much still waters. The response says what the node granted.
        """
        ack = await self.fleet.commands.async_command(
            self.node, CommandAction.PUMP_ON, self.key, {PumpRun.DURATION: duration}
        )
        granted = ack.result.get(PumpRun.DURATION)
        if isinstance(granted, bool) or not isinstance(granted, int | float):
            granted = duration  # a node that does not report it ran what was asked
        clipped = ack.result.get(PumpRun.CLIPPED) is True
        if clipped:
            _LOGGER.info("%s runs for its max runtime, %g s, not the %g s asked for", self.entity_id, granted, duration)
        return {PumpRun.DURATION: granted, PumpRun.CLIPPED: clipped}

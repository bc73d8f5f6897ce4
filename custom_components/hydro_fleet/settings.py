"""Options that are node configuration: sent to the nodes, never a second rule in HA.

The water-low threshold decides whether a node refuses and stops its pumps, so it lives
on the node (with the node's hysteresis) and HA shows the node's decision
(``State.water_low``). Setting it in HA's options sends it to every node that reports
the setting in its config (``NodeConfig.extra``) with a different value, now and
whenever such a node announces itself again (a restarted bridge starts from its own file).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from homeassistant.core import callback
from homeassistant.exceptions import HomeAssistantError

from .const import CONF_WATER_LOW_PERCENT
from .node import Node
from .protocol import CommandAction, NodeSetting

if TYPE_CHECKING:
    from .fleet import HydroFleet

_LOGGER = logging.getLogger(__name__)


class NodeSettings:
    """Keeps each node's settings at what HA's options say, where the options say anything."""

    def __init__(self, fleet: HydroFleet) -> None:
        self.fleet = fleet
        # (node id, setting) -> value of a set_config in flight, so a config received
        # meanwhile does not send it twice.
        self._in_flight: dict[tuple[str, NodeSetting], float] = {}

    def wanted(self) -> dict[NodeSetting, float]:
        """The settings HA's options fix; left empty, each node keeps its own."""
        value = self.fleet.options.get(CONF_WATER_LOW_PERCENT)
        return {} if value is None else {NodeSetting.WATER_LOW_PCT: float(value)}

    @callback
    def async_options_updated(self) -> None:
        for node in list(self.fleet.nodes.values()):
            self.async_apply(node)

    @callback
    def async_apply(self, node: Node) -> None:
        """Send ``node`` the settings it supports and does not have yet (only while it is online)."""
        if not node.online:
            return  # it announces itself again when it comes back, and gets them then
        params: dict[str, float] = {}
        for setting, value in self.wanted().items():
            current = node.config.extra.get(setting)
            if isinstance(current, bool) or not isinstance(current, int | float):
                continue  # the node does not have this setting
            if float(current) == value or self._in_flight.get((node.node_id, setting)) == value:
                continue
            params[setting] = value
            self._in_flight[(node.node_id, setting)] = value
        if not params:
            return
        self.fleet.entry.async_create_background_task(
            self.fleet.hass, self._async_send(node, params), f"hydro_fleet set_config {node.node_id}"
        )

    async def _async_send(self, node: Node, params: dict[str, float]) -> None:
        try:
            await self.fleet.commands.async_command(node, CommandAction.SET_CONFIG, None, dict(params))
        except HomeAssistantError as err:
            # Tried again when the node next announces itself or the options change.
            _LOGGER.warning("Node %s did not take its settings %s: %s", node.node_id, params, err)
        else:
            _LOGGER.info("Node %s now runs with %s", node.node_id, params)
        finally:
            for setting in params:
                self._in_flight.pop((node.node_id, NodeSetting(setting)), None)

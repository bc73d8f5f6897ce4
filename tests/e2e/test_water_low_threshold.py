"""One water-low rule through the whole stack (issue #17 item 3): the threshold set in a real
Home Assistant's options reaches the simulated Pis as configuration, they refuse to water
by it, and HA's *Water low* shows their decision, not a rule of its own."""

from __future__ import annotations

import pytest

from devtools.homeassistant import HomeAssistant, HomeAssistantError

from .conftest import NODES, Stack

pytestmark = pytest.mark.e2e


def _set_threshold(hass: HomeAssistant, percent: float | None) -> None:
    entry_id = next(e["entry_id"] for e in hass.get("/api/config/config_entries/entry") if e["domain"] == "hydro_fleet")
    flow = hass.post("/api/config/config_entries/options/flow", {"handler": entry_id})
    data: dict[str, object] = {"offline_minutes": 30, "calibration_days": 30}  # no node: thresholds only
    if percent is not None:
        data["water_low_percent"] = percent
    result = hass.post(f"/api/config/config_entries/options/flow/{flow['flow_id']}", data)
    assert result["type"] == "create_entry", result


def _water_low(hass: HomeAssistant) -> list[str | None]:
    return [hass.state(f"binary_sensor.{node.replace('-', '_')}_water_low") for node in NODES]


def test_threshold_in_ha_becomes_the_nodes_rule(stack: Stack) -> None:
    hass = stack.hass
    hass.accept_discovery()
    # The simulated reservoirs are ~90 % full, the nodes' own limit 5 %: nobody is low.
    hass.wait_for(lambda: _water_low(hass) == ["off"] * len(NODES), 60, "every node's water low to be off")

    _set_threshold(hass, 95)
    hass.wait_for(lambda: _water_low(hass) == ["on"] * len(NODES), 30, "every node to decide it is low at 95 %")
    for bridge in stack.bridges.values():
        assert "water low threshold set to 95 % by the controller" in bridge.log()
    # The node waters by the same rule HA shows: the pump is refused, with the node's reason.
    # (Over the WebSocket API, which returns the action's error message; REST says only 500.)
    with pytest.raises(HomeAssistantError, match=r"water level \d+ % \(limit 95 %\)"):
        hass.ws_command(
            {
                "type": "call_service",
                "domain": "switch",
                "service": "turn_on",
                "target": {"entity_id": "switch.pi_1_pump"},
            }
        )
    assert hass.state("switch.pi_1_pump") == "off"

    _set_threshold(hass, 5)
    hass.wait_for(lambda: _water_low(hass) == ["off"] * len(NODES), 30, "every node to water again at 5 %")
    hass.call_service("switch", "turn_on", {"entity_id": "switch.pi_1_pump"})
    assert hass.state("switch.pi_1_pump") == "on"
